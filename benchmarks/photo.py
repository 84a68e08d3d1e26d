"""Materials from photos: scenegen ``material_from_image`` against G'MIC ``syntexturize_matchpatch``.

For scikit-image's brick, grass and gravel photos (512² greyscale, stacked to RGB, in [0, 1]):
* scenegen: ``material_from_image(photo, size=512, seed=0)``;
* G'MIC (when the ``gmic`` binary is installed; otherwise a note and no G'MIC figures):
  ``OMP_NUM_THREADS=1 gmic in.png srand 0 syntexturize_matchpatch 512,512 o out.png``: its patch match is
  random and, multi-threaded, not reproducible even with a seed, so the seed is fixed and it runs on one
  thread (then its output is bit-identical run to run). Its output's maps are derived with
  ``derive_maps(..., pixel_scale=GENERATED_PIXEL_SCALE)`` exactly as scenegen derives its own.
Figures (docs/METRICS.md), each output against the photo at its own pixel scale (no resampling):
* photo_c2st: non-overlapping 64² crops of the photo vs of the output's base colour, each crop its own group;
* colour_w1: output base colour vs photo;
* seam_ratio of every map (basecolor, normal, roughness, height, ao) at 512²; beside it the photo's own
  seam_ratio (what a non-tileable image scores).
* The autoencoder's ceiling on the photo: ``recon_psnr_db`` (the photo encoded and decoded under the 'any'
  condition that photos use, the model's loss margin cropped off) and ``photo_c2st_recon`` (photo crops against
  the reconstruction's): no sampler can make a material look more like the photo than its reconstruction does.
Sheet: ``benchmarks/out/photo_sheet.png``, per photo a row: photo | scenegen | G'MIC, 512² each.
Prints a table and one JSON line. Usage:
    python benchmarks/photo.py [--model DIR] [--classes brick,grass,gravel] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from scenegen import metrics
from scenegen.api import GENERATED_PIXEL_SCALE, load_model, material_from_image
from scenegen.imaging import load_image, save_png
from scenegen.materials import Material, derive_maps

PHOTOS = ("brick", "grass", "gravel")
SIZE = 512
CROP = 64
GAP = 8
MAPS = ("basecolor", "normal", "roughness", "height", "ao")
GMIC_TIMEOUT_S = 900
GMIC_ARGS = ("srand", "0", "syntexturize_matchpatch")
OUT_DIR = Path(__file__).resolve().parent / "out"


def load_photo(name: str) -> np.ndarray:
    """scikit-image's photo ``name``: greyscale → RGB float32 in [0, 1], at its own resolution."""
    from skimage import data

    raw = np.asarray(getattr(data, name)())
    grey = raw if raw.ndim == 2 else raw[..., :3].mean(axis=-1)
    return np.repeat((grey.astype(np.float32) / 255.0)[..., None], 3, axis=-1)


def gmic_texture(photo: np.ndarray, size: int) -> tuple[np.ndarray | None, float | None, str | None]:
    """(G'MIC's syntexturize_matchpatch output, seconds, note); (None, None, why) when it cannot run."""
    gmic = shutil.which("gmic")
    if gmic is None:
        return None, None, "gmic not installed (apt-get install -y gmic): G'MIC column skipped"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        save_png(src, photo)
        started = time.perf_counter()
        try:
            subprocess.run([gmic, str(src), *GMIC_ARGS, f"{size},{size}", "o", str(dst)], check=True,
                           capture_output=True, timeout=GMIC_TIMEOUT_S, env={**os.environ, "OMP_NUM_THREADS": "1"})
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            return None, None, f"gmic failed: {err}"
        return load_image(dst)[..., :3].astype(np.float32), time.perf_counter() - started, None


def material_figures(material: Material, photo: np.ndarray) -> dict[str, float]:
    figures = {
        "photo_c2st": metrics.photo_c2st(photo, material.basecolor, CROP),
        "colour_w1": metrics.colour_w1(material.basecolor, photo),
    }
    figures.update({f"seam_{name}": metrics.seam_ratio(getattr(material, name)) for name in MAPS})
    return figures


def reconstruction_figures(model, photo: np.ndarray) -> dict[str, float]:
    """recon_psnr_db and photo_c2st_recon of the photo (see the module docstring)."""
    from scenegen.model.sample import condition_weights, decode, encode, keep_grey

    latent = encode(model, photo)
    recon = decode(model, latent, condition_weights(model.config, model.config.any_class, *latent.shape[1:]))
    keep_grey(recon, photo)  # as material_from_image makes a grey photo's material grey
    m = model.config.loss_margin
    inner = (slice(m, -m), slice(m, -m))
    return {"recon_psnr_db": metrics.reconstruction_psnr(recon[inner], photo[inner]),
            "photo_c2st_recon": metrics.photo_c2st(photo[inner], recon[inner], CROP)}


def write_sheet(path: Path, rows: list[list[np.ndarray | None]]) -> Path:
    """Per row: the images side by side (a missing one is a grey square of the row's height), white gaps."""
    height = max(im.shape[0] for row in rows for im in row if im is not None)
    lines = []
    for row in rows:
        parts = []
        for im in row:
            im = np.full((height, height, 3), 0.5, np.float32) if im is None else im[..., :3]
            pad = np.ones((height - im.shape[0], im.shape[1], 3), np.float32)
            parts += [np.concatenate([im, pad], axis=0), np.ones((height, GAP, 3), np.float32)]
        lines.append(np.concatenate(parts[:-1], axis=1))
    width = max(line.shape[1] for line in lines)
    lines = [np.concatenate([line, np.ones((height, width - line.shape[1], 3), np.float32)], axis=1) for line in lines]
    sheet = np.concatenate([x for line in lines for x in (line, np.ones((GAP, width, 3), np.float32))][:-1], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(path, np.clip(sheet, 0.0, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--classes", default=None, help=f"comma-separated subset of {','.join(PHOTOS)}")
    parser.add_argument("--quick", action="store_true", help="smoke run: the first photo only unless --classes")
    parser.add_argument("--no-gmic", action="store_true", help="skip the G'MIC column")
    parser.add_argument("--out", default=str(OUT_DIR), help="folder for the sheet")
    args = parser.parse_args()
    names = args.classes.split(",") if args.classes else (list(PHOTOS[:1]) if args.quick else list(PHOTOS))
    model = load_model(args.model)
    started = time.perf_counter()
    rows: dict[str, dict] = {}
    sheet_rows, notes = [], []
    for name in names:
        photo = load_photo(name)
        t0 = time.perf_counter()
        material = material_from_image(photo, size=SIZE, seed=0, model=model)
        row = {"photo_seam_ratio": metrics.seam_ratio(photo), "scenegen_s": time.perf_counter() - t0,
               **reconstruction_figures(model, photo)}
        row.update({f"scenegen_{k}": v for k, v in material_figures(material, photo).items()})
        gmic_out, gmic_s, note = (None, None, "--no-gmic: G'MIC column skipped") if args.no_gmic else gmic_texture(photo, SIZE)
        if gmic_out is not None:
            gmic_material = derive_maps(gmic_out, pixel_scale=GENERATED_PIXEL_SCALE, name=f"gmic_{name}")
            row["gmic_s"] = gmic_s
            row.update({f"gmic_{k}": v for k, v in material_figures(gmic_material, photo).items()})
        elif note not in notes:
            notes.append(note)
        rows[name] = row
        sheet_rows.append([photo, material.basecolor, gmic_out])
    sheet = str(write_sheet(Path(args.out) / "photo_sheet.png", sheet_rows))
    print(f"photo materials — model {model.path} ({model.meta.get('parameters')} parameters, hash "
          f"{model.model_hash[:12]}), output {SIZE}², c2st crops {CROP}², torch threads {torch.get_num_threads()}, "
          f"cores {os.cpu_count()}")
    keys = ["photo_c2st", "colour_w1"] + [f"seam_{m}" for m in MAPS]
    print(f"{'photo':<9}{'method':<10}" + "".join(f"{k:>15}" for k in keys) + f"{'seconds':>10}")
    for name, row in rows.items():
        print(f"{name:<9}{'photo':<10}" + f"{'':>15}{'':>15}{row['photo_seam_ratio']:>15.3f}"
              f"   (reconstruction: {row['recon_psnr_db']:.2f} dB, photo_c2st_recon {row['photo_c2st_recon']:.3f})")
        for method in ("scenegen", "gmic"):
            if f"{method}_photo_c2st" in row:
                print(f"{'':<9}{method:<10}" + "".join(f"{row[f'{method}_{k}']:>15.3f}" for k in keys)
                      + f"{row[f'{method}_s']:>10.1f}")
    for note in notes:
        print(f"note: {note}")
    print(f"sheet {sheet}; {time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "photo", "model": str(model.path), "parameters": model.meta.get("parameters"),
                      "model_hash": model.model_hash, "size": SIZE, "crop": CROP, "cores": os.cpu_count(),
                      "threads": torch.get_num_threads(),
                      "gmic_command": f"OMP_NUM_THREADS=1 gmic in.png {' '.join(GMIC_ARGS)} {SIZE},{SIZE} o out.png",
                      "photos": rows, "notes": notes, "sheet": sheet}))


if __name__ == "__main__":
    main()
