"""Builds a small 'user photo folder' for tests: 3 classes, ~20 images of mixed sizes and formats.

Sources are scikit-image's bundled texture photos (brick, grass, gravel; BSD-3-Clause), tinted and
cropped so every file differs; formats cover PNG, JPEG, 16-bit PNG, greyscale, RGBA and CMYK JPEG,
plus one corrupt file and one tiny file that training must skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

TINTS = {"brick": (1.0, 0.55, 0.4), "grass": (0.45, 0.9, 0.35), "gravel": (0.8, 0.78, 0.72)}


def make_photo_folder(root: Path, per_class: int = 7, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for cls, tint in TINTS.items():
        grey = getattr(skdata, cls)().astype(np.float32) / 255.0
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            side = int(rng.integers(160, 400))
            y, x = rng.integers(0, grey.shape[0] - side), rng.integers(0, grey.shape[1] - side // 1)
            x = min(x, grey.shape[1] - side)
            crop = grey[y : y + side, x : x + side]
            rgb = np.clip(crop[..., None] * np.asarray(tint) * rng.uniform(0.85, 1.15), 0, 1)
            img8 = (rgb * 255).round().astype(np.uint8)
            kind = i % 6
            if kind == 0:
                Image.fromarray(img8).save(folder / f"{cls}_{i}.png")
            elif kind == 1:
                Image.fromarray(img8).save(folder / f"{cls}_{i}.jpg", quality=92)
            elif kind == 2:
                Image.fromarray((crop * 65535).astype(np.uint16)).save(folder / f"{cls}_{i}_16bit.png")
            elif kind == 3:
                Image.fromarray(img8).convert("L").save(folder / f"{cls}_{i}_grey.png")
            elif kind == 4:
                rgba = np.concatenate([img8, np.full(img8.shape[:2] + (1,), 255, np.uint8)], axis=2)
                Image.fromarray(rgba, "RGBA").save(folder / f"{cls}_{i}_rgba.png")
            else:
                Image.fromarray(img8).convert("CMYK").save(folder / f"{cls}_{i}_cmyk.jpg")
    (root / "brick" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "gravel" / "tiny.png")
    return root
