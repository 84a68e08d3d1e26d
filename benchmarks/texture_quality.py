"""Texture quality of a model, per class: every figure of docs/METRICS.md plus reconstruction PSNR.

Older figures (gram_dist with its two reference rows, hf_ratio, spectrum_dist, colour_w1, diversity_ratio,
recon_psnr_db, seam_ratio): generated samples (seeds 0–15, 128²) against held-out procedural patches of the
same class (seeds the training corpus never used, 256² centre-cropped to 128²).

Realism and structure (docs/METRICS.md, all at the corpus pixel scale, 256² images):
* c2st: R = 2 diagonal 128² quadrants of each of 24 held-out corpus images (48 crops, seeds 10000–10023),
  G = the same 2 quadrants of 24 generated 256² canvases (seeds 0–23), fold groups = source image / seed;
  at the API's default grain (``c2st``) and at the other grain (``c2st_grain1`` when the default is 0, the fitted
  grain; ``c2st_grain0`` otherwise); beside them the floor ``c2st_floor``:
  R against a disjoint real set (seeds 10024–10047) cut the same way.
* c2st_recon: the autoencoder's ceiling: R against the reconstructions (periodic encode → decode) of the
  disjoint real set; generation cannot beat it, so a high c2st with a high c2st_recon is the decoder's blur.
* regularity: median over the 24 generated canvases (default grain; and grain 0) and over the 24 held-out
  images.
* memorisation_ratio: the 48 generated crops and the 48 held-out crops against every training image of the
  class (``generate_texture(cls, s, 256)`` for ``corpus_seeds(120)``, plus the corpus's photo crops where the
  class has them and scikit-image is installed).
Sheets: ``benchmarks/out/texture_sheet.png`` (per class a row: 4 held-out corpus images | 4 generated
canvases, 256² each) and ``texture_sheet_grain1.png`` (or ``_grain0``). Prints a table and one JSON line. Usage:
    python benchmarks/texture_quality.py [--model DIR] [--classes a,b] [--big 2048] [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from scenegen import metrics
from scenegen.api import generate_texture, load_model
from scenegen.data import corpus
from scenegen.data.procedural import generate_texture as procedural_texture
from scenegen.imaging import save_png
from scenegen.model.sample import condition_weights, decode, encode

SAMPLES = 16
PATCH = 128
CANVAS = 256  # the corpus image size: generated canvases and held-out images share its pixel scale
TRAINING_PER_CLASS = 120
SHEET_COUNT = 4
GAP = 8
OUT_DIR = Path(__file__).resolve().parent / "out"
# (y, x) of the 128² quadrants taken from each 256² image: the two on the diagonal (no shared pixels).
QUADRANTS = ((0, 0), (PATCH, PATCH))
#: the API's default grain strength, read from its signature (so the script follows the API if it changes).
DEFAULT_GRAIN = float(inspect.signature(generate_texture).parameters["grain"].default)
#: the other grain the figures are also taken at: 1 (the fitted grain) when the default is none, else 0
ALT_GRAIN = 1.0 if DEFAULT_GRAIN == 0.0 else 0.0
ALT = f"grain{ALT_GRAIN:g}"


def reconstruction_psnr(model, real: np.ndarray, index: int) -> float:
    margin = model.config.loss_margin
    scores = []
    for image in real:
        latent = encode(model, image)
        recon = decode(model, latent, condition_weights(model.config, index, *latent.shape[1:]))
        scores.append(metrics.reconstruction_psnr(recon[margin:-margin, margin:-margin], image[margin:-margin, margin:-margin]))
    return float(np.mean(scores))


def _reconstruct(model, image: np.ndarray, index: int) -> np.ndarray:
    """Decode of the periodic encode of a tileable image (what the decoder keeps of it)."""
    latent = encode(model, image, periodic=True)
    return decode(model, latent, condition_weights(model.config, index, *latent.shape[1:]))


def seam(cls: str, model, size: int, seeds: range) -> float:
    return float(np.mean([metrics.seam_ratio(generate_texture(cls, s, size, model=model)) for s in seeds]))


def quadrant_crops(images: np.ndarray, labels: list) -> tuple[np.ndarray, list]:
    """The QUADRANTS crops of every image, with the image's label as each crop's fold group."""
    crops, groups = [], []
    for image, label in zip(images, labels):
        for y, x in QUADRANTS:
            crops.append(image[y : y + PATCH, x : x + PATCH])
            groups.append(label)
    return np.stack(crops), groups


_TRAINING: dict[str, np.ndarray] = {}


def training_images(cls: str) -> np.ndarray:
    """Every training image of the class at corpus settings (120 procedural + photo crops), cached in memory."""
    if cls not in _TRAINING:
        images = [procedural_texture(cls, s, CANVAS) for s in corpus.corpus_seeds(TRAINING_PER_CLASS)]
        photos = corpus._photo_loader()  # the corpus's own photo crops (None without scikit-image)
        if photos is not None and cls in corpus.PHOTO_SOURCES:
            images += [corpus._photo_crop(photos(cls), cls, i, CANVAS, 0) for i in range(corpus.PHOTOS_PER_CLASS)]
        _TRAINING[cls] = np.stack(images).astype(np.float32)
    return _TRAINING[cls]


def structure_figures(model, cls: str, n_real: int, n_gen: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """c2st (+ floor, grain 0), regularity and memorisation_ratio of one class; also the images for the sheets."""
    seeds = list(corpus.held_out_seeds(2 * n_real))
    real_a = np.stack([procedural_texture(cls, s, CANVAS) for s in seeds[:n_real]])
    real_b = np.stack([procedural_texture(cls, s, CANVAS) for s in seeds[n_real:]])
    gen = np.stack([generate_texture(cls, seed=s, size=CANVAS, model=model) for s in range(n_gen)])
    index = model.classes.index(cls)
    recon = np.stack([_reconstruct(model, image, index) for image in real_b])
    gen0 = np.stack([generate_texture(cls, seed=s, size=CANVAS, model=model, grain=ALT_GRAIN) for s in range(n_gen)])
    crops = {name: quadrant_crops(images, labels) for name, images, labels in (
        ("real_a", real_a, seeds[:n_real]), ("real_b", real_b, seeds[n_real:]), ("recon", recon, seeds[n_real:]),
        ("gen", gen, list(range(n_gen))), ("gen0", gen0, list(range(n_gen))))}
    feats = {name: metrics.c2st_features(c) for name, (c, _) in crops.items()}

    def c2st(a: str, b: str) -> float:
        return metrics.c2st_from_features(feats[a], feats[b], crops[a][1], crops[b][1])

    train = training_images(cls)
    figures = {
        "c2st": c2st("real_a", "gen"),
        f"c2st_{ALT}": c2st("real_a", "gen0"),
        "c2st_floor": c2st("real_a", "real_b"),
        "c2st_recon": c2st("real_a", "recon"),
        "regularity_generated": float(np.median([metrics.regularity(im) for im in gen])),
        f"regularity_generated_{ALT}": float(np.median([metrics.regularity(im) for im in gen0])),
        "regularity_corpus": float(np.median([metrics.regularity(im) for im in real_a])),
        "memorisation_ratio": metrics.memorisation_ratio(crops["gen"][0], crops["real_a"][0], train),
        f"memorisation_ratio_{ALT}": metrics.memorisation_ratio(crops["gen0"][0], crops["real_a"][0], train),
    }
    return figures, {"real": real_a[:SHEET_COUNT], "gen": gen[:SHEET_COUNT], "gen0": gen0[:SHEET_COUNT]}


def evaluate_class(model, cls: str, big: int, samples: int, n_real: int, n_gen: int) -> tuple[dict[str, float], dict]:
    index = model.classes.index(cls)
    # Held-out textures are generated at the corpus size (256²) and centre-cropped to 128², so that
    # real patches have the same pixel scale as the training crops the model learned from.
    full = corpus.held_out_textures(cls, samples, 2 * PATCH)
    real = full[:, PATCH // 2 : PATCH // 2 + PATCH, PATCH // 2 : PATCH // 2 + PATCH]
    generated = np.stack([generate_texture(cls, seed, PATCH, model=model) for seed in range(samples)])
    refs = metrics.gram_references(real)
    seams = {"seam_512": seam(cls, model, 512, range(4)), f"seam_{big}": seam(cls, model, big, range(1))} if big else {}
    structure, sheet = structure_figures(model, cls, n_real, n_gen)
    return {
        **structure,
        **seams,
        "gram_dist": metrics.gram_dist(generated, real),
        "gram_real_vs_real": refs["real_vs_real"],
        "gram_blurred_vs_real": refs["blurred_vs_real"],
        "hf_ratio": metrics.hf_ratio(generated, real),
        "spectrum_dist": metrics.spectrum_dist(generated, real),
        "colour_w1": metrics.colour_w1(generated, real),
        "diversity_ratio": metrics.diversity_ratio(generated, real),
        "recon_psnr_db": reconstruction_psnr(model, real, index),
    }, sheet


def write_sheet(path: Path, rows: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    """Per row: the real images side by side | a wider gap | the generated ones (white background)."""
    def strip(images: np.ndarray) -> np.ndarray:
        h = images.shape[1]
        parts = []
        for im in images:
            parts += [im[..., :3], np.ones((h, GAP, 3), np.float32)]
        return np.concatenate(parts[:-1], axis=1)

    lines = []
    for real, gen in rows:
        left, right = strip(real), strip(gen)
        lines += [np.concatenate([left, np.ones((left.shape[0], 4 * GAP, 3), np.float32), right], axis=1),
                  np.ones((GAP, left.shape[1] + 4 * GAP + right.shape[1], 3), np.float32)]
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(path, np.clip(np.concatenate(lines[:-1], axis=0), 0.0, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--classes", default=None, help="comma-separated subset")
    parser.add_argument("--big", type=int, default=None,
                        help="the large size for seam_ratio (0: skip the seam figures; default 2048, --quick: 0)")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer samples (figures are noisier)")
    parser.add_argument("--out", default=str(OUT_DIR), help="folder for the sheets")
    args = parser.parse_args()
    big = args.big if args.big is not None else (0 if args.quick else 2048)
    samples, n_real, n_gen = (8, 10, 10) if args.quick else (SAMPLES, 24, 24)
    model = load_model(args.model)
    classes = args.classes.split(",") if args.classes else list(model.classes)
    started = time.perf_counter()
    rows, sheets = {}, {}
    for cls in classes:
        rows[cls], sheets[cls] = evaluate_class(model, cls, big, samples, n_real, n_gen)
    out = Path(args.out)
    sheet_paths = [
        str(write_sheet(out / "texture_sheet.png", [(s["real"], s["gen"]) for s in sheets.values()])),
        str(write_sheet(out / f"texture_sheet_{ALT}.png", [(s["real"], s["gen0"]) for s in sheets.values()])),
    ]
    keys = list(next(iter(rows.values())).keys())
    params = model.meta.get("parameters")
    print(f"texture quality — model {model.path} ({params} parameters, hash {model.model_hash[:12]}), "
          f"{len(classes)} classes, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}"
          f", default grain {DEFAULT_GRAIN:g}{', QUICK' if args.quick else ''}")
    print(f"c2st/regularity/memorisation: R {2 * n_real} crops of {n_real} held-out images, G {2 * n_gen} crops of "
          f"{n_gen} canvases {CANVAS}², floor against {2 * n_real} crops of {n_real} other held-out images")
    print(f"{'figure':<30}" + "".join(f"{cls:>13}" for cls in classes))
    for k in keys:
        print(f"{k:<30}" + "".join(f"{rows[cls][k]:>13.3f}" for cls in classes))
    below_blur = sum(row["gram_dist"] < row["gram_blurred_vs_real"] for row in rows.values())
    print(f"gram_dist below blurred-vs-real: {below_blur}/{len(rows)} classes; sheets {', '.join(sheet_paths)}; "
          f"{time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "texture_quality", "model": str(model.path), "parameters": params,
                      "model_hash": model.model_hash, "default_grain": DEFAULT_GRAIN, "quick": args.quick, "cores": os.cpu_count(),
                      "threads": torch.get_num_threads(),
                      "protocol": {"real_crops": 2 * n_real, "real_images": n_real, "generated_crops": 2 * n_gen,
                                   "generated_seeds": n_gen, "crop": PATCH, "canvas": CANVAS,
                                   "old_figures_samples": samples,
                                   "training_images": {cls: len(training_images(cls)) for cls in classes}},
                      "classes": rows, "gram_below_blur": below_blur, "sheets": sheet_paths}))


if __name__ == "__main__":
    main()
