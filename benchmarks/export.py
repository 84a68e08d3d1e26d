"""Export throughput: items per minute with 1 worker, 2 workers and Ray (local, 2 actors) on the same library.

A library of N materials (default 40, 512², the model's classes in turn, seeds 0…) is exported three times
into fresh folders with the gltf target. Each run is a fresh ``scenegen export`` process timed from start
to the finished manifest (interpreter and torch start-up, worker spawn or Ray start, model loading included)
and, separately, at steady state (first to last finished item, from the files' modification times);
the CPU seconds of each run (all its processes) show the work itself, independent of other load. The
three manifests must be byte-identical. For reference it also times one material in-process with 1 and
with 2 torch threads (export pins 1 thread per item for determinism). Prints a table and one JSON line. Usage:
    python benchmarks/export.py [--model DIR] [--items 40] [--size 512] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scenegen import api


def make_library(folder: Path, model: Path, items: int, size: int) -> Path:
    classes = list(api.load_model(model).classes)
    per_class: dict[str, list[int]] = {}
    for i in range(items):
        per_class.setdefault(classes[i % len(classes)], []).append(i // len(classes))
    materials = [{"class": cls, "seeds": seeds, "sizes": [size]} for cls, seeds in per_class.items()]
    path = folder / "library.json"
    path.write_text(json.dumps({"name": "bench", "model": str(model.resolve()), "materials": materials}))
    return path


def timed_export(library: Path, out: Path, *args: str) -> dict:
    """Run ``scenegen export`` in a fresh process (what a user runs: start-up and model loading included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "scenegen", "export", str(library), "--out", str(out), "--quiet",
                             "--allow-outside", "--no-cache", *args],  # the library is in a temporary folder, the
                            # model is not; every run generates its items afresh (a shared cache would serve the later runs)
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"export failed: {result.stderr.strip()}")
    manifest = json.loads((out / "manifest.json").read_text())
    done = sorted(max((out / rel).stat().st_mtime_ns for rel in record["files"]) / 1e9
                  for record in manifest["materials"].values())
    steady = (len(done) - 1) / (done[-1] - done[0]) * 60.0 if len(done) > 2 and done[-1] > done[0] else float("nan")
    executor = result.stdout.split(" on ")[-1].splitlines()[0] if " on " in result.stdout else ""
    return {"wall_s": wall, "cpu_s": cpu, "items_per_min": 60.0 * len(done) / wall, "steady_items_per_min": steady,
            "executor": executor, "manifest": (out / "manifest.json").read_bytes()}


def material_seconds(model: Path, size: int, threads: int, repeats: int = 3) -> float:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    m = api.load_model(model)
    cls = m.classes[0]
    api.generate_material(cls, 0, size, model=m)  # warm-up
    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        api.generate_material(cls, seed, size, model=m)
        times.append(time.perf_counter() - t0)
    torch.set_num_threads(previous)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="texture model (default: the shipped one)")
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    model = Path(args.model) if args.model else api.default_model_dir()
    load_before = os.getloadavg()
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="scenegen-bench-export-") as tmp:
        root = Path(tmp)
        library = make_library(root, model, args.items, args.size)
        runs["1 worker"] = timed_export(library, root / "w1", "--workers", "1")
        runs["2 workers"] = timed_export(library, root / "w2", "--workers", "2")
        if not args.no_ray:
            runs["Ray, 2 workers"] = timed_export(library, root / "ray", "--workers", "2", "--ray", "local")
    one_thread = material_seconds(model, args.size, 1)
    two_threads = material_seconds(model, args.size, 2)
    identical = len({run["manifest"] for run in runs.values()}) == 1
    base = runs["1 worker"]["items_per_min"]

    print(f"export throughput — {args.items} materials at {args.size}², gltf target, {os.cpu_count()} cores, "
          f"load average before {load_before[0]:.1f}")
    print(f"{'run':<16}{'wall s':>9}{'cpu s':>8}{'items/min':>11}{'steady/min':>12}{'speed-up':>10}  executor")
    for name, run in runs.items():
        print(f"{name:<16}{run['wall_s']:>9.1f}{run['cpu_s']:>8.1f}{run['items_per_min']:>11.1f}"
              f"{run['steady_items_per_min']:>12.1f}{run['items_per_min'] / base:>9.2f}×  {run['executor']}")
    print(f"manifests byte-identical across runs: {identical}")
    print(f"one material in-process: {one_thread:.2f}s with 1 torch thread, {two_threads:.2f}s with 2")
    keys = {"1 worker": "w1", "2 workers": "w2", "Ray, 2 workers": "ray2"}
    print(json.dumps({
        "benchmark": "export", "model_hash": api.load_model(model).model_hash, "cores": os.cpu_count(),
        "items": args.items, "size": args.size, "threads_per_worker": 1,
        "items_per_min": {keys[k]: round(v["items_per_min"], 2) for k, v in runs.items()},
        "steady_items_per_min": {keys[k]: round(v["steady_items_per_min"], 2) for k, v in runs.items()},
        "cpu_s": {keys[k]: round(v["cpu_s"], 1) for k, v in runs.items()},
        "speedup_w2": round(runs["2 workers"]["items_per_min"] / base, 3),
        "speedup_ray2": round(runs["Ray, 2 workers"]["items_per_min"] / base, 3) if "Ray, 2 workers" in runs else None,
        "manifests_identical": identical,
        "material_s_1thread": round(one_thread, 3), "material_s_2threads": round(two_threads, 3),
        "load_average_before": round(load_before[0], 2), "load_average_after": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
