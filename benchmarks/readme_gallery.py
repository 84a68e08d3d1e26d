"""The README's material gallery, made by the real command: ``scenegen material CLASS`` for every class.

Each row is one class: base colour | normal map | preview (lit sphere and 2×2 tiled swatch), all straight
from the files the command wrote. Writes ``assets/readme/materials_gallery.png`` (deterministic: the same
model and seed give the same bytes) and prints the Markdown to paste. Usage:
    python benchmarks/readme_gallery.py [--model DIR] [--seed 0] [--size 512] [--thumb 176] [--out assets/readme]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from scenegen.imaging import load_image, resize, save_png, to_uint

LABEL_W = 150
HEADER_H = 34
GAP = 4
BACKGROUND = 28  # 8-bit grey
TEXT = (235, 235, 235)


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.55) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, 1, cv2.LINE_AA)


def _materials(model: str | None, seed: int, size: int, folder: Path) -> dict[str, dict[str, Path]]:
    """Run ``scenegen material`` once per class (the cache makes reruns instant); {class: {map: path}}."""
    base = [sys.executable, "-m", "scenegen", "material"]
    extra = ["--model", model] if model else []
    listed = subprocess.run(base + ["--list", "--json"] + extra, capture_output=True, text=True)
    if listed.returncode != 0:
        raise SystemExit(listed.stderr.strip())
    out: dict[str, dict[str, Path]] = {}
    for cls in json.loads(listed.stdout)["classes"]:
        cmd = base + [cls, "--seed", str(seed), "--size", str(size), "--out", str(folder), "--json", "--quiet"] + extra
        started = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
        report = json.loads(result.stdout)["materials"][0]
        how = "cached" if report["cached"] else f"{report['seconds']:.1f} s"
        print(f"  scenegen material {cls} --seed {seed} --size {size}: {how} ({time.perf_counter() - started:.1f} s with start-up)")
        out[cls] = {key: Path(path) for key, path in report["files"].items()}
    return out


def compose(files: dict[str, dict[str, Path]], thumb: int) -> np.ndarray:
    """Rows of base colour | normal | preview (sphere | swatch), labelled; uint8 RGB."""
    width = LABEL_W + 4 * thumb + 3 * GAP
    rows = [np.full((HEADER_H, width, 3), BACKGROUND, np.uint8)]
    for title, x in (("base colour", LABEL_W), ("normal (OpenGL)", LABEL_W + thumb + GAP),
                     ("preview: lit sphere | 2x2 tiled", LABEL_W + 2 * (thumb + GAP))):
        _text(rows[0], title, x + 4, HEADER_H - 11)
    for cls, maps in files.items():
        row = np.full((thumb + GAP, width, 3), BACKGROUND, np.uint8)
        _text(row, cls.replace("_", " "), 10, thumb // 2 + 6, 0.6)
        tiles = [resize(load_image(maps["basecolor"]), thumb, thumb), resize(load_image(maps["normal"]), thumb, thumb),
                 resize(load_image(maps["preview"]), thumb, 2 * thumb)]
        x = LABEL_W
        for tile in tiles:
            row[:thumb, x : x + tile.shape[1]] = to_uint(tile, 8)
            x += tile.shape[1] + GAP
        rows.append(row)
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="material size passed to scenegen material")
    parser.add_argument("--thumb", type=int, default=176, help="pixels per map in the gallery")
    parser.add_argument("--out", default="assets/readme", help="folder for materials_gallery.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = _materials(args.model, args.seed, args.size, Path(folder))
        gallery = compose(files, args.thumb)
    path = save_png(Path(args.out) / "materials_gallery.png", gallery)
    print(f"wrote {path} ({gallery.shape[1]}×{gallery.shape[0]}, {len(files)} classes)")
    print("\nMarkdown:\n")
    print(f"![Every class: base colour, normal map and preview, made with `scenegen material CLASS --seed {args.seed} "
          f"--size {args.size}`]({Path(args.out) / 'materials_gallery.png'})")


if __name__ == "__main__":
    main()
