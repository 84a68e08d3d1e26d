"""Scene build and render speed (docs/METRICS.md: build_s, render_s).

* **build_s** (cold, warm): wall seconds of ``python -m scenegen build examples/<name>/scene.json`` in a fresh
  process, first with an empty cache (materials and sprites generated), then again (all cached).
* ``*_cpu_s``: the CPU seconds behind each figure (all threads), for machines shared with other work: on an
  idle 2-core machine the wall time is about the CPU time minus what ran in parallel.
* **render_s**: seconds to render one 1280×720 frame of the meadow with its billboards raised to exactly
  100,000 instances (an extra grass layer), median of ``--repeats`` renders, for antialias 1 and 2;
  setup (building the pyrender scene, culling) and drawing are reported separately.

Prints a table and one JSON line. Usage: ``python benchmarks/render.py [--skip-build] [--repeats 5]``.
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

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("meadow", "courtyard")
INSTANCES = 100_000


def build_seconds(example: str, cache: Path, out: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the child process, its "N hits, M generated" cache line) of one `scenegen build`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scenegen", "build", str(ROOT / "examples" / example / "scene.json"),
                           "--out", str(out), "--cache", str(cache)], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"build of {example} failed:\n{done.stderr}")
    cache_line = next((line.split(None, 1)[1] for line in done.stdout.splitlines() if line.startswith("cache ")), "?")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), cache_line


def hundred_thousand(cache: Path):
    """The meadow composed with an extra grass layer so that it holds exactly INSTANCES billboards."""
    from scenegen.cache import Cache
    from scenegen.build import CACHE_NAMESPACE, AssetStore, BuildOptions, model_refs
    from scenegen.scene.compose import compose
    from scenegen.scene.loader import load_scene
    from scenegen.scene.spec import ScatterSpec

    scene = load_scene(ROOT / "examples" / "meadow" / "scene.json")
    texture, sprite = model_refs(scene, BuildOptions())
    store = AssetStore(Cache(CACHE_NAMESPACE, cache), texture, sprite)
    composed, _ = compose(scene, store.resolve(scene))
    have = composed.counts()["billboards"]
    extra = ScatterSpec.model_validate({"name": "extra_grass", "sprite": "grass", "count": INSTANCES - have,
                                        "scale": {"min": 0.6, "max": 1.2}, "seed": 99})
    scene.spec.scatter.append(extra)
    composed, report = compose(scene, store.resolve(scene))
    if composed.counts()["billboards"] != INSTANCES:
        raise SystemExit(f"expected {INSTANCES} billboards, got {composed.counts()['billboards']} ({report.layers[-1]})")
    return composed


def render_seconds(composed, antialias: int, repeats: int) -> dict:
    from scenegen.scene.render import RenderSettings, render_scene

    settings = RenderSettings(width=1280, height=720, supersample=antialias, fog_density=0.006)
    totals, draws, setups, cpus, drawn = [], [], [], [], 0
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = render_scene(composed, settings)
        totals.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        draws.append(result.timings["render_draw_s"])
        setups.append(result.timings["render_setup_s"])
        drawn = result.drawn_instances
    return {"render_s": statistics.median(totals), "draw_s": statistics.median(draws), "cpu_s": statistics.median(cpus),
            "setup_s": statistics.median(setups), "drawn_instances": drawn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="only render_s")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", default=None, help="cache for render_s assets (default: a fresh one)")
    args = parser.parse_args()
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import torch

    figures: dict = {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                     "load_average_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="scenegen-bench-") as tmp:
        tmp_path = Path(tmp)
        cache = Path(args.cache) if args.cache else tmp_path / "cache"
        if not args.skip_build:
            for example in EXAMPLES:
                cold, cold_cpu, _ = build_seconds(example, tmp_path / f"cache-{example}", tmp_path / f"out-{example}-1")
                warm, warm_cpu, hits = build_seconds(example, tmp_path / f"cache-{example}", tmp_path / f"out-{example}-2")
                figures[f"warm_cache_{example}"] = hits
                figures[f"build_s_cold_{example}"] = round(cold, 2)
                figures[f"build_s_warm_{example}"] = round(warm, 2)
                figures[f"build_cpu_s_cold_{example}"] = round(cold_cpu, 2)
                figures[f"build_cpu_s_warm_{example}"] = round(warm_cpu, 2)
            cache = tmp_path / "cache-meadow"
        composed = hundred_thousand(cache)
        for antialias in (1, 2):
            r = render_seconds(composed, antialias, args.repeats)
            figures[f"render_s_100k_aa{antialias}"] = round(r["render_s"], 3)
            figures[f"draw_s_100k_aa{antialias}"] = round(r["draw_s"], 3)
            figures[f"render_cpu_s_100k_aa{antialias}"] = round(r["cpu_s"], 3)
            figures["drawn_instances_100k"] = r["drawn_instances"]
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    print(f"{'figure':<28} value   (1280×720, {INSTANCES:,} billboards; {figures['cores']} cores)")
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
