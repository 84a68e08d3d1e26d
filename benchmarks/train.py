"""Training on a user folder: wall seconds of ``scenegen train``, and, with ``--data``, how good the result is.

Without ``--data``: ``scenegen train --steps 200`` on the tests' photo folder (tests/photo_folder.py:
scikit-image's brick/grass/gravel photos, tinted and cropped, mixed sizes and formats, one corrupt and one tiny
file), in a fresh process (start-up, data loading, prior fitting included), then ``scenegen info``.

With ``--data DIR`` (one sub-folder per class, e.g. real photographed textures): per class the last
``--holdout`` files (sorted by name) are held out, unless ``--heldout DIR`` names a folder of held-out photos
with the same class sub-folders. The rest is fine-tuned from the shipped default model with
``scenegen train --data TRAIN --crop 96 --batch 8 --steps N --kl-weight 1e-4 --lr 5e-4`` (or each ``--model``
given is measured instead of training). Per class, on the held-out photos (never trained on), for
* the default model's ``texture_from_image`` (the baseline) and, for a class it knows, its class generation,
* each fine-tuned model's ``texture_from_image`` and its class generation (``generate_texture(cls, seed)``),
figures (docs/METRICS.md), all at the photo's own pixel scale, output ``--size``², seed 0:
photo_c2st (64² crops), colour_w1 (output vs photo), seam_ratio (base colour), and the held-out
reconstruction PSNR (encode → decode of the photo, borders of loss_margin px dropped; condition "any" as photos
use, and the class condition for a fine-tuned model). Sheet ``benchmarks/out/train_real_sheet.png``, per
held-out photo a row: photo | default from-image | per fine-tuned model: from-image, class generation.
Prints a table and one JSON line. Usage:
    python benchmarks/train.py [--steps 200] [--batch 8]
    python benchmarks/train.py --data DIR [--heldout DIR | --holdout 2] [--steps 300 | --model FT_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from photo_folder import make_photo_folder  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "out"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tga", ".webp", ".bmp", ".tif", ".tiff"}
CROP = 64
SHEET_SIDE = 256
GAP = 8
FINE_TUNE_ARGS = ("--crop", "96", "--batch", "8", "--kl-weight", "1e-4", "--lr", "5e-4")


def timing(steps: int, batch: int) -> None:
    """Wall seconds of ``scenegen train`` on the tests' photo folder."""
    with tempfile.TemporaryDirectory() as tmp:
        data = make_photo_folder(Path(tmp) / "photos")
        images = sum(1 for p in data.rglob("*") if p.is_file())
        out = Path(tmp) / "model"
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "scenegen", "train", "--data", str(data), "--out", str(out),
               "--steps", str(steps), "--batch", str(batch), "--quiet"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        info = subprocess.run([sys.executable, "-m", "scenegen", "info", str(out)], capture_output=True, text=True, check=True)
        grids = len(list((out / "samples").glob("*.png")))
    print(info.stdout.splitlines()[1])
    figures = {"benchmark": "train", "steps": steps, "batch": batch, "files": images, "train_s": round(wall, 1),
               "sample_grids": grids, "cores": os.cpu_count()}
    print(f"scenegen train --steps {steps} --batch {batch} on {images} files: {wall:.1f} s "
          f"({grids} sample grids, {os.cpu_count()} cores)")
    print(json.dumps(figures))


def class_files(folder: Path) -> dict[str, list[Path]]:
    """{class: sorted image files} of a folder with one sub-folder per class."""
    classes = {d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
               for d in sorted(folder.iterdir()) if d.is_dir()}
    classes = {c: files for c, files in classes.items() if files}
    if not classes:
        raise SystemExit(f"error: {folder}: no class sub-folders with images")
    return classes


def split_folder(data: Path, heldout: Path | None, holdout: int, tmp: Path) -> tuple[Path, dict[str, list[Path]], int]:
    """(training folder, {class: held-out files}, training file count)."""
    if heldout is not None:
        held = class_files(heldout)
        return data, held, sum(len(f) for f in class_files(data).values())
    train, held, count = tmp / "train", {}, 0
    for cls, files in class_files(data).items():
        if len(files) <= holdout:
            raise SystemExit(f"error: {data / cls}: {len(files)} images, need more than --holdout {holdout}")
        (train / cls).mkdir(parents=True)
        for f in files[:-holdout]:
            shutil.copy2(f, train / cls / f.name)
            count += 1
        held[cls] = files[-holdout:]
    return train, held, count


def fine_tune(train: Path, out: Path, steps: int) -> tuple[list[str], float]:
    cmd = ["scenegen", "train", "--data", str(train), "--out", str(out), *FINE_TUNE_ARGS, "--steps", str(steps), "--quiet"]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return cmd, time.perf_counter() - started


def recon_psnr(model, photo: np.ndarray, index: int) -> float:
    from scenegen import metrics
    from scenegen.model.sample import condition_weights, decode, encode

    margin = model.config.loss_margin
    latent = encode(model, photo)
    recon = decode(model, latent, condition_weights(model.config, index, *latent.shape[1:]))
    h, w = recon.shape[:2]
    return metrics.reconstruction_psnr(recon[margin:h - margin, margin:w - margin], photo[margin:h - margin, margin:w - margin])


def texture_figures(texture: np.ndarray, photo: np.ndarray) -> dict[str, float]:
    from scenegen import metrics

    return {"photo_c2st": metrics.photo_c2st(photo, texture, CROP), "colour_w1": metrics.colour_w1(texture, photo),
            "seam_ratio": metrics.seam_ratio(texture)}


def write_sheet(path: Path, rows: list[list[np.ndarray]]) -> str:
    """Per row the images side by side, each shown at SHEET_SIDE² (area-resampled), white gaps."""
    from scenegen.imaging import resize, save_png

    def cell(im: np.ndarray) -> np.ndarray:
        return resize(im[..., :3].astype(np.float32), SHEET_SIDE, SHEET_SIDE) if im.shape[0] != SHEET_SIDE else im[..., :3]

    width = max(len(r) for r in rows) * (SHEET_SIDE + GAP) - GAP
    sheet = np.ones((len(rows) * (SHEET_SIDE + GAP) - GAP, width, 3), np.float32)
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            y, x = i * (SHEET_SIDE + GAP), j * (SHEET_SIDE + GAP)
            sheet[y:y + SHEET_SIDE, x:x + SHEET_SIDE] = cell(im)
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(save_png(path, np.clip(sheet, 0.0, 1.0)))


def measure(args: argparse.Namespace) -> None:
    import torch

    from scenegen.api import generate_texture, load_model, texture_from_image
    from scenegen.imaging import load_image

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train, held, train_files = split_folder(Path(args.data), Path(args.heldout) if args.heldout else None,
                                                args.holdout, Path(tmp))
        commands = []
        if args.model:
            model_dirs = [Path(m) for m in args.model]
        else:
            cmd, seconds = fine_tune(train, Path(tmp) / "ft", args.steps)
            commands.append({"command": " ".join(cmd), "train_s": round(seconds, 1)})
            model_dirs = [Path(tmp) / "ft"]
        default = load_model(None)
        tuned = [load_model(d) for d in model_dirs]
    labels = [f"ft{m.meta.get('training', {}).get('steps', '?')}" if isinstance(m.meta.get("training"), dict)
              else f"ft{i}" for i, m in enumerate(tuned)]
    scores: dict[str, dict[str, list[dict[str, float]]]] = {}
    sheet_rows = []
    for cls, files in held.items():
        per = scores.setdefault(cls, {})
        for f in files:
            photo = load_image(f)[..., :3].astype(np.float32)
            row = [photo]
            tex = texture_from_image(photo, args.size, 0, model=default)
            per.setdefault("default from-image", []).append(
                {**texture_figures(tex, photo), "recon_any_db": recon_psnr(default, photo, default.config.any_class)})
            row.append(tex)
            if cls in default.classes:
                gen = generate_texture(cls, 0, args.size, model=default)
                per.setdefault("default class gen", []).append(
                    {**texture_figures(gen, photo), "recon_class_db": recon_psnr(default, photo, default.classes.index(cls))})
            for label, model in zip(labels, tuned):
                if cls not in model.classes:
                    raise SystemExit(f"error: {model.path}: no class {cls!r} (it has {', '.join(model.classes)})")
                index = model.classes.index(cls)
                tex = texture_from_image(photo, args.size, 0, model=model)
                gen = generate_texture(cls, 0, args.size, model=model)
                recon = {"recon_any_db": recon_psnr(model, photo, model.config.any_class),
                         "recon_class_db": recon_psnr(model, photo, index)}
                per.setdefault(f"{label} from-image", []).append({**texture_figures(tex, photo), **recon})
                per.setdefault(f"{label} class gen", []).append({**texture_figures(gen, photo), **recon})
                row += [tex, gen]
            sheet_rows.append(row)
    table = {cls: {method: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for method, rs in per.items()}
             for cls, per in scores.items()}
    sheet = write_sheet(Path(args.out) / "train_real_sheet.png", sheet_rows)
    print(f"user folder {args.data}: {train_files} training photos, held out "
          + ", ".join(f"{c}: {len(f)}" for c, f in held.items())
          + f"; output {args.size}², c2st crops {CROP}², torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    for c in commands:
        print(f"{c['command']}: {c['train_s']:.0f} s")
    keys = ["photo_c2st", "colour_w1", "seam_ratio", "recon_any_db", "recon_class_db"]
    print(f"{'class':<9}{'method':<22}" + "".join(f"{k:>15}" for k in keys))
    for cls, per in table.items():
        for method, figs in per.items():
            print(f"{cls:<9}{method:<22}" + "".join(f"{figs[k]:>15.3f}" if k in figs else f"{'':>15}" for k in keys))
    print(f"sheet {sheet}; {time.perf_counter() - started:.0f}s")
    print(json.dumps({"benchmark": "train_real", "data": str(args.data), "training_files": train_files,
                      "heldout": {c: [f.name for f in fs] for c, fs in held.items()}, "size": args.size, "crop": CROP,
                      "models": {label: {"path": str(m.path), "model_hash": m.model_hash} for label, m in zip(labels, tuned)},
                      "commands": commands, "classes": table, "sheet": sheet}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 200; 300 with --data)")
    parser.add_argument("--batch", type=int, default=8, help="crops per step (timing run)")
    parser.add_argument("--data", default=None, help="a user folder, one sub-folder per class: measure the fine-tune")
    parser.add_argument("--heldout", default=None, help="held-out photos, same class sub-folders (default: --holdout)")
    parser.add_argument("--holdout", type=int, default=2, help="per class, hold out the last N files of --data")
    parser.add_argument("--model", action="append", default=None, help="a fine-tuned model to measure (repeatable; skips training)")
    parser.add_argument("--size", type=int, default=512, help="output size of from-image and class generation")
    parser.add_argument("--out", default=str(OUT_DIR), help="folder for the sheet")
    args = parser.parse_args()
    if args.data is None:
        timing(args.steps or 200, args.batch)
    else:
        args.steps = args.steps or 300
        measure(args)


if __name__ == "__main__":
    main()
