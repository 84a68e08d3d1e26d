"""Cold-process speed of the `scenegen` command: what a user waits for when calling it from a shell or a script.

* wall_s: median over ``--runs`` fresh processes (``python -m scenegen ARGS``, nothing preloaded) of the wall time
  seen by the caller, for ``--help``, ``info``, ``material`` at 512² with and without the preview (``--no-cache``:
  every run generates), ``sprite`` (8 at 256²) and ``build`` of examples/courtyard with its cache warm.
* shares: the same commands in ``--runs`` more fresh processes, each timed from inside: importing (every import
  statement, exclusive of the phases below), loading (model verification and load), generating (the model's
  pipelines, composing, rendering), writing (PNG encoding, the material preview and atomic writes; they run on
  worker threads, so this is the wait for them) and the rest (interpreter start, argument parsing, cache reads);
  medians of each.
* torch_import_s: median over fresh processes of ``import torch`` alone; material_s@512: median over processes of
  the median of 3 warm in-process ``api.generate_material`` calls (as benchmarks/generate.py). Every figure is taken
  once per round, ``--runs`` rounds, so a change of load on a shared machine affects them alike. Target (issue 16): cold ``material CLASS --size 512``
  ≤ 2 × material_s@512 + torch_import_s, all measured in this run; ``info`` ≤ 1.5 s; ``--help`` ≤ 0.3 s.
* items_per_s: ``scenegen material CLASS --variations 100 --size 512 --no-cache`` in one process (model loaded
  once), with and without previews.

Usage: python benchmarks/cli.py [--runs 5] [--batch 100] [--quick]  (prints a table and one JSON line, written
to benchmarks/out/cli.json too)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASES = ("import", "load", "generate", "write", "other")

#: Runs inside each instrumented child: times imports and phases (exclusive, main thread), then runs the CLI.
CHILD = r'''
import builtins, importlib, json, sys, threading, time
T0 = time.perf_counter()
MAIN = threading.get_ident()
acc = {"import": 0.0, "load": 0.0, "generate": 0.0, "write": 0.0}
depth = [0]
stack = []  # [phase, start, import total at start]
TARGETS = {
    "scenegen.model.directory": {"inspect": "load"},
    "scenegen.model.weights": {"load_model_dir": "load"},
    "scenegen.api": {"generate_material": "generate", "material_from_image": "generate", "blend_materials": "generate"},
    "scenegen.sprite_gen": {"generate_sprites": "generate"},
    "scenegen.scene.compose": {"compose": "generate"},
    "scenegen.scene.render": {"render_scene": "generate"},
    "scenegen.scene.gltf": {"scene_to_glb": "generate"},
    "scenegen.material_files": {"write_material": "write", "encode_material": "write"},
    "scenegen.imaging": {"save_png": "write", "encode_png": "write"},
    "scenegen.fsutil": {"atomic_write_bytes": "write"},
}
done = set()

def pause_top(now):
    if stack:
        phase, start, imp = stack[-1]
        acc[phase] += (now - start) - (acc["import"] - imp)

def wrap(fn, phase):
    def timed(*args, **kwargs):
        if threading.get_ident() != MAIN:
            return fn(*args, **kwargs)
        now = time.perf_counter()
        pause_top(now)
        stack.append([phase, now, acc["import"]])
        try:
            return fn(*args, **kwargs)
        finally:
            now = time.perf_counter()
            pause_top(now)
            stack.pop()
            if stack:
                stack[-1][1], stack[-1][2] = now, acc["import"]
    timed.__wrapped__ = fn
    return timed

def patch():
    for module, functions in TARGETS.items():
        if module in done or module not in sys.modules:
            continue
        mod = sys.modules[module]
        if all(hasattr(mod, name) for name in functions):
            for name, phase in functions.items():
                setattr(mod, name, wrap(getattr(mod, name), phase))
            done.add(module)

def timed_import(fn):
    def importer(*args, **kwargs):
        if depth[0] or threading.get_ident() != MAIN:
            try:
                return fn(*args, **kwargs)
            finally:
                patch()
        depth[0] = 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc["import"] += time.perf_counter() - start
            depth[0] = 0
            patch()
    return importer

builtins.__import__ = timed_import(builtins.__import__)
importlib.import_module = timed_import(importlib.import_module)
from scenegen.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:  # --help
    code = exc.code
acc["total"] = time.perf_counter() - T0
acc["code"] = code
with open(sys.argv[1], "w") as handle:
    json.dump(acc, handle)
if sys.argv[2] in ("build", "validate", "schema", "material", "sprite", "info", "gallery"):
    import os
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)  # as scenegen.cli.main does for these commands
'''


def fresh(args: list[str], env: dict, cwd: Path) -> float:
    """Wall time of one fresh ``python -m scenegen ARGS`` (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scenegen", *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"scenegen {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return wall


def instrumented(args: list[str], env: dict, cwd: Path) -> dict[str, float]:
    """Shares of one fresh, instrumented run (seconds per phase; 'other' = caller's wall minus the phases)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report = handle.name
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, report, *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"instrumented scenegen {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    phases = json.loads(Path(report).read_text())
    os.unlink(report)
    shares = {k: phases[k] for k in ("import", "load", "generate", "write")}
    shares["other"] = wall - sum(shares.values())
    shares["wall"] = wall
    return shares


def torch_import_s(env: dict) -> float:
    """``import torch`` alone, in a fresh process."""
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)


def material_s512(runs: int, env: dict, cls: str) -> float:
    code = ("import statistics, sys, time\nfrom scenegen import api\nm = api.load_model()\n"
            f"api.generate_material({cls!r}, 0, 512, model=m)\ntimes = []\n"
            f"for i in range({runs}):\n    t = time.perf_counter(); api.generate_material({cls!r}, i, 512, model=m)\n"
            "    times.append(time.perf_counter() - t)\nprint(statistics.median(times))\n")
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                                cwd=REPO).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command (default 5)")
    parser.add_argument("--batch", type=int, default=100, help="materials in the one-call throughput run (default 100)")
    parser.add_argument("--cls", default="grass", help="material class (default grass)")
    parser.add_argument("--quick", action="store_true", help="3 runs, a batch of 20")
    parser.add_argument("--only", default=None, help="comma-separated words: run only the commands whose label has one")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.batch = 3, 20
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="scenegen-cli-bench-"))
    env = {**os.environ, "SCENEGEN_CACHE": str(work / "cache"), "PYOPENGL_PLATFORM": os.environ.get("PYOPENGL_PLATFORM", "egl")}
    env.pop("SCENEGEN_MODEL", None)
    courtyard = str(REPO / "examples" / "courtyard" / "scene.json")
    commands = {
        "--help": ["--help"],
        "info": ["info"],
        "material 512² (preview)": ["material", args.cls, "--seed", "22", "--size", "512", "--out", str(work / "m"),
                                    "--no-cache", "--quiet"],
        "material 512² --no-preview": ["material", args.cls, "--seed", "22", "--size", "512", "--out", str(work / "m"),
                                       "--no-cache", "--no-preview", "--quiet"],
        "sprite 8 × 256²": ["sprite", "conifer", "--count", "8", "--size", "256", "--out", str(work / "s"), "--quiet"],
        "build courtyard (warm cache)": ["build", courtyard, "--out", str(work / "b")],
    }
    if args.only:
        words = args.only.split(",")
        commands = {k: v for k, v in commands.items() if any(w in k for w in words)}
    if "build courtyard (warm cache)" in commands:
        fresh(commands["build courtyard (warm cache)"], env, REPO)  # fills the cache (and the verified-hash records)

    figures: dict = {"benchmark": "cli", "cores": os.cpu_count(), "runs": args.runs, "commands": {}}
    # rounds: every figure once per round, so that a change of load on a shared machine hits them all alike
    torch_s, material_s, walls, parts = [], [], {k: [] for k in commands}, {k: [] for k in commands}
    for _ in range(args.runs):
        torch_s.append(torch_import_s(env))
        material_s.append(material_s512(3, env, args.cls))
        for label, argv in commands.items():
            walls[label].append(fresh(argv, env, REPO))
            parts[label].append(instrumented(argv, env, REPO))
    figures["torch_import_s"] = statistics.median(torch_s)
    figures["material_s@512"] = statistics.median(material_s)
    for label in commands:
        figures["commands"][label] = {"wall_s": statistics.median(walls[label]),
                                      **{f"{k}_s": statistics.median(p[k] for p in parts[label]) for k in PHASES},
                                      "instrumented_wall_s": statistics.median(p["wall"] for p in parts[label])}
    for preview in (True, False) if args.batch else ():
        argv = ["material", args.cls, "--seed", "0", "--variations", str(args.batch), "--size", "512", "--no-cache",
                "--quiet", "--out", str(work / "batch")] + ([] if preview else ["--no-preview"])
        wall = fresh(argv, env, REPO)
        figures[f"items_per_s{'' if preview else '_no_preview'}"] = args.batch / wall
        figures[f"batch_wall_s{'' if preview else '_no_preview'}"] = wall

    limits = {"material 512² (preview)": ("material_cold_s", 2 * figures["material_s@512"] + figures["torch_import_s"]),
              "info": ("info_s", 1.5), "--help": ("help_s", 0.3)}
    figures["targets"] = {name: {"value": figures["commands"][label]["wall_s"], "limit": limit,
                                 "ok": figures["commands"][label]["wall_s"] <= limit}
                          for label, (name, limit) in limits.items() if label in figures["commands"]}
    figures["wall_s"] = time.perf_counter() - started

    print(f"scenegen CLI, cold processes — {os.cpu_count()} cores, median of {args.runs} fresh processes each; "
          f"import torch {figures['torch_import_s']:.2f} s, in-process material_s@512 {figures['material_s@512']:.2f} s")
    print("| command | wall s | import | load | generate | write | other |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, row in figures["commands"].items():
        print(f"| `{label}` | {row['wall_s']:.2f} | " + " | ".join(f"{row[f'{k}_s']:.2f}" for k in PHASES) + " |")
    if args.batch:
        print(f"one call, {args.batch} materials at 512²: {figures['items_per_s']:.2f} items/s with previews, "
              f"{figures['items_per_s_no_preview']:.2f} without")
    for name, target in figures["targets"].items():
        print(f"target {name}: {target['value']:.2f} s ≤ {target['limit']:.2f} s: {'ok' if target['ok'] else 'MISSED'}")
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
