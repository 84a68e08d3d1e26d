"""The README's sprite sheets, made by the real command: ``scenegen sprite CLASS --background white|black``.

For every class of the sprite model, the contact sheet the command writes over white and over black (halos
and dark fringes show on one or the other), one class per row. Writes ``assets/readme/sprites_white.png``
and ``assets/readme/sprites_black.png``. Usage:
    python benchmarks/readme_sprites.py [--model DIR] [--count 6] [--size 256] [--out assets/readme]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from scenegen.imaging import load_image, save_png, to_uint

LABEL_W = 150


def _sheets(model: str | None, count: int, size: int, background: str, folder: Path) -> dict[str, Path]:
    base = [sys.executable, "-m", "scenegen", "sprite"]
    extra = ["--model", model] if model else []
    listed = subprocess.run(base + ["--list"] + extra, capture_output=True, text=True, check=True)
    classes = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    sheets = {}
    for cls in classes:
        out = folder / background
        cmd = base + [cls, "--count", str(count), "--size", str(size), "--background", background, "--out", str(out), "--quiet"] + extra
        subprocess.run(cmd, check=True, capture_output=True)
        sheets[cls] = out / f"{cls}_contact_sheet.png"
    return sheets


def compose(sheets: dict[str, Path], background: str) -> np.ndarray:
    """One labelled row per class; uint8 RGB."""
    shade = 255 if background == "white" else 0
    ink = (0, 0, 0) if background == "white" else (235, 235, 235)
    images = {cls: to_uint(load_image(path)[..., :3], 8) for cls, path in sheets.items()}
    width = LABEL_W + max(img.shape[1] for img in images.values())
    rows = []
    for cls, img in images.items():
        row = np.full((img.shape[0], width, 3), shade, np.uint8)
        row[:, LABEL_W : LABEL_W + img.shape[1]] = img
        cv2.putText(row, cls.replace("_", " "), (8, img.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, ink, 1, cv2.LINE_AA)
        rows.append(row)
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="sprite model directory (default: the shipped one)")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default="assets/readme")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for background in ("white", "black"):
            sheet = compose(_sheets(args.model, args.count, args.size, background, Path(folder)), background)
            path = save_png(Path(args.out) / f"sprites_{background}.png", sheet)
            print(f"wrote {path} ({sheet.shape[1]}×{sheet.shape[0]})")
    print(json.dumps({"written": [f"{args.out}/sprites_white.png", f"{args.out}/sprites_black.png"]}))


if __name__ == "__main__":
    main()
