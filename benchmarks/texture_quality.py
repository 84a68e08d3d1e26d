"""Texture quality of a model, per class: every figure of METRICS.md plus reconstruction PSNR.

Generated samples (seeds 0–15, 128²) against held-out procedural patches of the same class (seeds the
training corpus never used). Prints a table and one JSON line. Usage:
    python benchmarks/texture_quality.py [--model DIR] [--classes a,b] [--big 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from scenegen import metrics
from scenegen.api import generate_texture, load_model
from scenegen.data.corpus import held_out_textures
from scenegen.model.sample import condition_weights, decode, encode

SAMPLES = 16
PATCH = 128


def reconstruction_psnr(model, real: np.ndarray, index: int) -> float:
    margin = model.config.loss_margin
    scores = []
    for image in real:
        latent = encode(model, image)
        recon = decode(model, latent, condition_weights(model.config, index, *latent.shape[1:]))
        scores.append(metrics.reconstruction_psnr(recon[margin:-margin, margin:-margin], image[margin:-margin, margin:-margin]))
    return float(np.mean(scores))


def seam(cls: str, model, size: int, seeds: range) -> float:
    return float(np.mean([metrics.seam_ratio(generate_texture(cls, s, size, model=model)) for s in seeds]))


def evaluate_class(model, cls: str, big: int) -> dict[str, float]:
    index = model.classes.index(cls)
    # Held-out textures are generated at the corpus size (256²) and centre-cropped to 128², so that
    # real patches have the same pixel scale as the training crops the model learned from.
    full = held_out_textures(cls, SAMPLES, 2 * PATCH)
    real = full[:, PATCH // 2 : PATCH // 2 + PATCH, PATCH // 2 : PATCH // 2 + PATCH]
    generated = np.stack([generate_texture(cls, seed, PATCH, model=model) for seed in range(SAMPLES)])
    refs = metrics.gram_references(real)
    seams = {"seam_512": seam(cls, model, 512, range(4)), f"seam_{big}": seam(cls, model, big, range(1))} if big else {}
    return {
        **seams,
        "gram_dist": metrics.gram_dist(generated, real),
        "gram_real_vs_real": refs["real_vs_real"],
        "gram_blurred_vs_real": refs["blurred_vs_real"],
        "hf_ratio": metrics.hf_ratio(generated, real),
        "spectrum_dist": metrics.spectrum_dist(generated, real),
        "colour_w1": metrics.colour_w1(generated, real),
        "diversity_ratio": metrics.diversity_ratio(generated, real),
        "recon_psnr_db": reconstruction_psnr(model, real, index),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--classes", default=None, help="comma-separated subset")
    parser.add_argument("--big", type=int, default=2048, help="the large size for seam_ratio (0: skip the seam figures)")
    args = parser.parse_args()
    model = load_model(args.model)
    classes = args.classes.split(",") if args.classes else list(model.classes)
    started = time.perf_counter()
    rows = {cls: evaluate_class(model, cls, args.big) for cls in classes}
    keys = list(next(iter(rows.values())).keys())
    print(f"texture quality — model {model.model_hash[:12]}, {len(classes)} classes, "
          f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    print(f"{'class':<13}" + "".join(f"{k:>21}" for k in keys))
    for cls, row in rows.items():
        print(f"{cls:<13}" + "".join(f"{row[k]:>21.3f}" for k in keys))
    below_blur = sum(row["gram_dist"] < row["gram_blurred_vs_real"] for row in rows.values())
    print(f"gram_dist below blurred-vs-real: {below_blur}/{len(rows)} classes; {time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "texture_quality", "model_hash": model.model_hash, "cores": os.cpu_count(),
                      "threads": torch.get_num_threads(), "classes": rows, "gram_below_blur": below_blur}))


if __name__ == "__main__":
    main()
