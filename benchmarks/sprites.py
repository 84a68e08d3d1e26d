"""Sprite model benchmark, per class: sprites_per_s@256, border_alpha, gram_dist, diversity_ratio (METRICS.md).

* sprites_per_s@256: ``generate_sprites(cls, seed, count=64, size=256)`` (prior draw, batched decode, clean-up,
  resampling: everything but PNG encoding), median of ``--runs`` (≥ 5) warm runs, model loaded.
* border_alpha: mean over every sprite the speed runs made.
* gram_dist and diversity_ratio: 16 generated sprites (seeds 0–15's first sprite, 256² area-resized to 128²)
  against 16 held-out corpus sprites (128², seeds training never used), both composited over mid grey 0.5,
  with the real-vs-real and blurred-vs-real reference rows beside gram_dist.
Prints a table and one JSON line. Usage:
    python benchmarks/sprites.py [--model DIR] [--classes a,b] [--runs 5] [--batch 64] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np
import torch

from scenegen import metrics
from scenegen.data.sprites_procedural import held_out_sprites
from scenegen.imaging import over
from scenegen.sprite_gen import generate_sprites, load_sprite_model

SAMPLES = 16
PATCH = 128
GREY = 0.5


def over_grey(sprites: list[np.ndarray] | np.ndarray, size: int = PATCH) -> np.ndarray:
    """RGBA sprites → N×size×size×3 composited over mid grey (area-resized first when larger)."""
    out = []
    for sprite in sprites:
        if sprite.shape[0] != size:
            sprite = np.clip(cv2.resize(sprite, (size, size), interpolation=cv2.INTER_AREA), 0.0, 1.0)
        out.append(over(sprite, np.full((size, size, 3), GREY, np.float32)))
    return np.stack(out)


def speed(model, cls: str, size: int, batch: int, runs: int) -> tuple[float, list[np.ndarray]]:
    """(sprites per second, every sprite made): median of ``runs`` warm runs of one batch each."""
    generate_sprites(cls, 1000, batch, size, model=model)  # warm-up
    times, made = [], []
    for run in range(runs):
        started = time.perf_counter()
        made += generate_sprites(cls, 2000 + run, batch, size, model=model)
        times.append(time.perf_counter() - started)
    return batch / float(np.median(times)), made


def evaluate_class(model, cls: str, size: int, batch: int, runs: int) -> dict[str, float]:
    per_s, made = speed(model, cls, size, batch, runs)
    generated = over_grey([generate_sprites(cls, seed, 1, size, model=model)[0] for seed in range(SAMPLES)])
    real = over_grey(held_out_sprites(cls, SAMPLES, PATCH))
    refs = metrics.gram_references(real)
    return {
        f"sprites_per_s@{size}": per_s,
        "border_alpha": metrics.border_alpha(made),
        "gram_dist": metrics.gram_dist(generated, real),
        "gram_real_vs_real": refs["real_vs_real"],
        "gram_blurred_vs_real": refs["blurred_vs_real"],
        "diversity_ratio": metrics.diversity_ratio(generated, real),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="sprite model directory (default: the shipped one)")
    parser.add_argument("--classes", default=None, help="comma-separated subset")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per class (median; at least 5)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    model = load_sprite_model(args.model)
    classes = args.classes.split(",") if args.classes else list(model.classes)
    started = time.perf_counter()
    rows = {cls: evaluate_class(model, cls, args.size, args.batch, max(5, args.runs)) for cls in classes}
    keys = list(next(iter(rows.values())).keys())
    print(f"sprites — model {model.model_hash[:12]}, {len(classes)} classes, batch {args.batch}, "
          f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    print(f"{'class':<15}" + "".join(f"{k:>22}" for k in keys))
    for cls, row in rows.items():
        print(f"{cls:<15}" + "".join(f"{row[k]:>22.3f}" for k in keys))
    rate = f"sprites_per_s@{args.size}"
    checks = {
        f"{rate}>=50": all(r[rate] >= 50 for r in rows.values()),
        "border_alpha<=0.01": all(r["border_alpha"] <= 0.01 for r in rows.values()),
        "diversity_ratio_in_0.6-1.4": all(0.6 <= r["diversity_ratio"] <= 1.4 for r in rows.values()),
        "gram_below_blur": sum(r["gram_dist"] < r["gram_blurred_vs_real"] for r in rows.values()),
    }
    print("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()) + f"; {time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "sprites", "model_hash": model.model_hash, "cores": os.cpu_count(),
                      "threads": torch.get_num_threads(), "batch": args.batch, "size": args.size,
                      "classes": rows, "checks": checks}))


if __name__ == "__main__":
    main()
