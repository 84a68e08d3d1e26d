"""Sprite model benchmark, per class: every billboard figure of docs/METRICS.md.

* sprites_per_s@256: ``generate_sprites(cls, seed, count=64, size=256)`` (prior draw, batched decode, clean-up,
  resampling: everything but PNG encoding), median of ``--runs`` (≥ 5) warm runs, model loaded.
* border_alpha: mean over every sprite the speed runs made.
* gram_dist and diversity_ratio: 16 generated sprites (seeds 0–15's first sprite, 256² area-resized to 128²)
  against 16 held-out corpus sprites (128², seeds training never used), both composited over mid grey 0.5,
  with the real-vs-real and blurred-vs-real reference rows beside gram_dist.
* Realism and structure, at 256²: R = 48 held-out corpus sprites ``generate_sprite(cls, HELD_OUT_SEED + i, 256)``,
  G = ``generate_sprites(cls, seed=0, count=48, size=256)``, floor set R' = the next 48 held-out seeds:
  sprite_c2st (G vs R, floor R' vs R); sprite_c2st_recon (R against the reconstructions of R', each encoded
  whole and decoded and cleaned as a draw is: the autoencoder's ceiling, which no prior can beat); medians of the silhouette figures (components, holes, edge_complexity)
  of G beside those of R; hue_w1 (G vs R, floor R' vs R).
Sheets: ``benchmarks/out/sprites_<class>.png``: row 1 held-out corpus over white, row 2 generated over white,
rows 3–4 the same over black. Prints a table and one JSON line. Usage:
    python benchmarks/sprites.py [--model DIR] [--classes a,b] [--runs 5] [--batch 64] [--size 256] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from scenegen import metrics
from scenegen.data.sprites_procedural import HELD_OUT_SEED, generate_sprite, held_out_sprites
from scenegen.imaging import over, save_png
from scenegen.sprite_gen import generate_sprites, load_sprite_model

SAMPLES = 16
PATCH = 128
GREY = 0.5
STRUCTURE_SAMPLES = 48
SHEET_COUNT = 8
GAP = 8
OUT_DIR = Path(__file__).resolve().parent / "out"


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


def silhouette_medians(sprites: list[np.ndarray]) -> dict[str, float]:
    figures = [metrics.silhouette_figures(s[..., 3]) for s in sprites]
    return {k: float(np.median([f[k] for f in figures])) for k in ("components", "holes", "edge_complexity")}


def reconstruct(model, cls: str, sprites: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Each sprite encoded whole at the model's native size, decoded and cleaned as generate_sprites does."""
    from scenegen.model.sample import decode_sprites
    from scenegen.model.sprite_prior import encode_class_latents
    from scenegen.sprite_gen import _class_prior, finish_sprite

    index = model.classes.index(cls)
    native = _class_prior(model, index).grid[1] * model.config.scale  # the size the prior encoded
    decoded = decode_sprites(model, encode_class_latents(model.vae, sprites, native), index)
    return [finish_sprite(sprite, size) for sprite in decoded]


def structure_figures(model, cls: str, size: int, n: int) -> tuple[dict[str, float], dict[str, list[np.ndarray]]]:
    """sprite_c2st, silhouette medians and hue_w1, each with its reference; also the sprites for the sheet."""
    real = [generate_sprite(cls, HELD_OUT_SEED + i, size) for i in range(n)]
    real_b = [generate_sprite(cls, HELD_OUT_SEED + n + i, size) for i in range(n)]
    gen = generate_sprites(cls, seed=0, count=n, size=size, model=model)
    sil_g, sil_r = silhouette_medians(gen), silhouette_medians(real)
    figures = {
        "sprite_c2st": metrics.sprite_c2st(real, gen),
        "sprite_c2st_recon": metrics.sprite_c2st(real, reconstruct(model, cls, real_b, size)),
        "sprite_c2st_floor": metrics.sprite_c2st(real, real_b),
    }
    for k in ("components", "holes", "edge_complexity"):
        figures[f"{k}_generated"] = sil_g[k]
        figures[f"{k}_corpus"] = sil_r[k]
    figures["hue_w1"] = metrics.hue_w1(gen, real)
    figures["hue_w1_floor"] = metrics.hue_w1(real_b, real)
    return figures, {"real": real, "gen": gen}


def evaluate_class(model, cls: str, size: int, batch: int, runs: int, samples: int, n: int) -> tuple[dict[str, float], dict]:
    per_s, made = speed(model, cls, size, batch, runs)
    generated = over_grey([generate_sprites(cls, seed, 1, size, model=model)[0] for seed in range(samples)])
    real = over_grey(held_out_sprites(cls, samples, PATCH))
    refs = metrics.gram_references(real)
    structure, sheet = structure_figures(model, cls, size, n)
    return {
        f"sprites_per_s@{size}": per_s,
        "border_alpha": metrics.border_alpha(made),
        **structure,
        "gram_dist": metrics.gram_dist(generated, real),
        "gram_real_vs_real": refs["real_vs_real"],
        "gram_blurred_vs_real": refs["blurred_vs_real"],
        "diversity_ratio": metrics.diversity_ratio(generated, real),
    }, sheet


def write_sheet(path: Path, real: list[np.ndarray], gen: list[np.ndarray]) -> Path:
    """Rows: real over white, generated over white, real over black, generated over black (8-px grey gaps)."""
    def row(sprites: list[np.ndarray], background: float) -> np.ndarray:
        h = sprites[0].shape[0]
        parts = []
        for s in sprites:
            parts += [over(s, np.full(s.shape[:2] + (3,), background, np.float32)), np.full((h, GAP, 3), 0.5, np.float32)]
        return np.concatenate(parts[:-1], axis=1)

    rows = [row(real, 1.0), row(gen, 1.0), row(real, 0.0), row(gen, 0.0)]
    width = max(r.shape[1] for r in rows)
    lines = []
    for r in rows:
        lines += [np.concatenate([r, np.full((r.shape[0], width - r.shape[1], 3), 0.5, np.float32)], axis=1),
                  np.full((GAP, width, 3), 0.5, np.float32)]
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(path, np.clip(np.concatenate(lines[:-1], axis=0), 0.0, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="sprite model directory (default: the shipped one)")
    parser.add_argument("--classes", default=None, help="comma-separated subset")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per class (median; at least 5)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 sprites per set for the structure figures")
    parser.add_argument("--out", default=str(OUT_DIR), help="folder for the sheets")
    args = parser.parse_args()
    n = 20 if args.quick else STRUCTURE_SAMPLES
    samples = 8 if args.quick else SAMPLES
    model = load_sprite_model(args.model)
    classes = args.classes.split(",") if args.classes else list(model.classes)
    started = time.perf_counter()
    rows, sheets = {}, []
    for cls in classes:
        rows[cls], sheet = evaluate_class(model, cls, args.size, args.batch, max(5, args.runs), samples, n)
        count = min(SHEET_COUNT, n)
        sheets.append(str(write_sheet(Path(args.out) / f"sprites_{cls}.png", sheet["real"][:count], sheet["gen"][:count])))
    keys = list(next(iter(rows.values())).keys())
    params = model.meta.get("parameters")
    print(f"sprites — model {model.path} ({params} parameters, hash {model.model_hash[:12]}), {len(classes)} classes, "
          f"batch {args.batch}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}"
          f"{', QUICK' if args.quick else ''}")
    print(f"structure figures at {args.size}²: R {n} held-out corpus sprites, G {n} generated (seed 0), "
          f"floor R' = the next {n} held-out seeds")
    print(f"{'figure':<26}" + "".join(f"{cls:>15}" for cls in classes))
    for k in keys:
        print(f"{k:<26}" + "".join(f"{rows[cls][k]:>15.3f}" for cls in classes))
    rate = f"sprites_per_s@{args.size}"
    checks = {
        f"{rate}>=50": all(r[rate] >= 50 for r in rows.values()),
        "border_alpha<=0.01": all(r["border_alpha"] <= 0.01 for r in rows.values()),
        "diversity_ratio_in_0.6-1.4": all(0.6 <= r["diversity_ratio"] <= 1.4 for r in rows.values()),
        "gram_below_blur": sum(r["gram_dist"] < r["gram_blurred_vs_real"] for r in rows.values()),
    }
    print("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()) + f"; sheets {', '.join(sheets)}; "
          f"{time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "sprites", "model": str(model.path), "parameters": params,
                      "model_hash": model.model_hash, "quick": args.quick, "cores": os.cpu_count(),
                      "threads": torch.get_num_threads(), "batch": args.batch, "size": args.size,
                      "structure_samples": n, "old_figures_samples": samples,
                      "classes": rows, "checks": checks, "sheets": sheets}))


if __name__ == "__main__":
    main()
