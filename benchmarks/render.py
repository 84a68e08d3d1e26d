"""Scene build and render speed (docs/METRICS.md: build_s, render_s), and what trimmed billboard cards save.

* **build_s** (cold, warm): wall seconds of ``python -m scenegen build examples/<name>/scene.json`` in a fresh
  process, first with an empty cache (materials and sprites generated), then again (all cached).
* ``*_cpu_s``: the CPU seconds behind each figure (all threads), for machines shared with other work: on an
  idle 2-core machine the wall time is about the CPU time minus what ran in parallel.
* **render_s**: seconds to render one 1280×720 frame of the meadow with its billboards raised to exactly
  100,000 instances (an extra grass layer), median of ``--repeats`` renders, for antialias 1 and 2;
  setup (building the pyrender scene, culling) and drawing are reported separately.
* **trimmed vs plain cards** (:func:`scenegen.sprites.card_outline`): the same frame with every billboard's
  cards as full rectangles (``trim=False``) is rendered alternately with the trimmed one, in the same
  conditions (``*_plain`` figures); the card area summed over the 100,000 instances (m², per sprite and in
  all), and how many pixels differ between the two, in the 100k frame and in the meadow as ``scenegen build``
  renders it (its own settings).

Prints a table and one JSON line. Usage: ``python benchmarks/render.py [--skip-build] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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
    """(the meadow composed with an extra grass layer so that it holds exactly INSTANCES billboards, the meadow
    as it is, its loaded scene, its resolved assets)."""
    from scenegen.cache import Cache
    from scenegen.build import CACHE_NAMESPACE, AssetStore, BuildOptions, model_refs
    from scenegen.scene.compose import compose
    from scenegen.scene.loader import load_scene
    from scenegen.scene.spec import ScatterSpec

    scene = load_scene(ROOT / "examples" / "meadow" / "scene.json")
    texture, sprite = model_refs(scene, BuildOptions())
    store = AssetStore(Cache(CACHE_NAMESPACE, cache), texture, sprite)
    assets = store.resolve(scene)
    meadow, _ = compose(scene, assets)
    have = meadow.counts()["billboards"]
    extra = ScatterSpec.model_validate({"name": "extra_grass", "sprite": "grass", "count": INSTANCES - have,
                                        "scale": {"min": 0.6, "max": 1.2}, "seed": 99})
    scene.spec.scatter.append(extra)
    composed, report = compose(scene, store.resolve(scene))
    if composed.counts()["billboards"] != INSTANCES:
        raise SystemExit(f"expected {INSTANCES} billboards, got {composed.counts()['billboards']} ({report.layers[-1]})")
    scene.spec.scatter.pop()
    return composed, meadow, scene, assets


def plain_cards(composed, scene, assets):
    """``composed`` with every billboard's cards as full rectangles (``trim=False``), everything else shared."""
    from scenegen.scene.compose import billboard_geometry

    plain: dict[int, object] = {}
    groups = []
    for group in composed.groups:
        geometry = group.geometry
        if group.billboard:
            if id(geometry) not in plain:
                sprite = geometry.material
                spec = scene.spec.sprites[sprite]
                variant = int(geometry.name.rsplit("_", 1)[1])
                plain[id(geometry)] = billboard_geometry(geometry.name, assets.sprites[sprite], variant, spec.height_m,
                                                         spec.kind, spec.alpha_cutoff, sprite, trim=False)
            geometry = plain[id(geometry)]
        groups.append(dataclasses.replace(group, geometry=geometry))
    return dataclasses.replace(composed, groups=groups)


def card_areas(composed) -> dict[str, float]:
    """Card area (m², both cards of a cross counted) summed over every billboard instance, per sprite."""
    areas: dict[str, float] = {}
    for group in composed.groups:
        if not group.billboard:
            continue
        g = group.geometry
        tri = g.positions[g.indices].astype(np.float64)
        mesh_area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
        scale2 = float((np.abs(group.scales[:, 0]) * np.abs(group.scales[:, 1])).sum())
        areas[g.material] = areas.get(g.material, 0.0) + mesh_area * scale2
    return areas


def differing_pixels(a, b) -> tuple[int, int]:
    """(pixels whose 8-bit colour differs, the largest 8-bit difference)."""
    a8, b8 = (np.round(np.asarray(x) * 255.0).astype(np.int16) for x in (a, b))
    diff = np.abs(a8 - b8)
    return int(diff.max(axis=2).astype(bool).sum()), int(diff.max())


def render_seconds(variants: dict, antialias: int, repeats: int) -> dict:
    """Renders of each of ``variants`` (name → composed scene), alternately, ``repeats`` times; medians per variant
    and the first frame of each."""
    from scenegen.scene.render import RenderSettings, render_scene

    settings = RenderSettings(width=1280, height=720, supersample=antialias, fog_density=0.006)
    runs = {name: {"totals": [], "draws": [], "setups": [], "cpus": [], "drawn": 0, "frame": None} for name in variants}
    for _ in range(repeats):
        for name, composed in variants.items():
            r = runs[name]
            started, cpu = time.perf_counter(), time.process_time()
            result = render_scene(composed, settings)
            r["totals"].append(time.perf_counter() - started)
            r["cpus"].append(time.process_time() - cpu)
            r["draws"].append(result.timings["render_draw_s"])
            r["setups"].append(result.timings["render_setup_s"])
            r["drawn"] = result.drawn_instances
            if r["frame"] is None:
                r["frame"] = result.color
    return {name: {"render_s": statistics.median(r["totals"]), "draw_s": statistics.median(r["draws"]),
                   "cpu_s": statistics.median(r["cpus"]), "setup_s": statistics.median(r["setups"]),
                   "drawn_instances": r["drawn"], "frame": r["frame"]} for name, r in runs.items()}


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
        composed, meadow, scene, assets = hundred_thousand(cache)
        plain = plain_cards(composed, scene, assets)
        trimmed_area, plain_area = card_areas(composed), card_areas(plain)
        for sprite in sorted(plain_area):
            figures[f"card_area_m2_{sprite}"] = f"{trimmed_area[sprite]:,.0f} of {plain_area[sprite]:,.0f}"
        figures["card_area_ratio_100k"] = round(sum(trimmed_area.values()) / sum(plain_area.values()), 3)
        for antialias in (1, 2):
            runs = render_seconds({"": composed, "_plain": plain}, antialias, args.repeats)
            for suffix, r in runs.items():
                figures[f"render_s_100k_aa{antialias}{suffix}"] = round(r["render_s"], 3)
                figures[f"draw_s_100k_aa{antialias}{suffix}"] = round(r["draw_s"], 3)
                figures[f"render_cpu_s_100k_aa{antialias}{suffix}"] = round(r["cpu_s"], 3)
                figures[f"drawn_instances_100k{suffix}"] = r["drawn_instances"]
            count, largest = differing_pixels(runs[""]["frame"], runs["_plain"]["frame"])
            figures[f"pixels_differing_100k_aa{antialias}"] = f"{count} (max {largest}/255)"
        from scenegen.build import BuildOptions
        from scenegen.build.pipeline import _render_settings
        from scenegen.scene.render import render_scene

        settings = _render_settings(scene, BuildOptions())
        frames = [render_scene(s, settings).color for s in (meadow, plain_cards(meadow, scene, assets))]
        count, largest = differing_pixels(*frames)
        figures["pixels_differing_meadow"] = f"{count} (max {largest}/255)"
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    print(f"{'figure':<28} value   (1280×720, {INSTANCES:,} billboards; {figures['cores']} cores)")
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
