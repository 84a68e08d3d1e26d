"""Training data from a folder: one sub-folder per class, images of any size and common format.

Images are read once into memory (longest side capped), then each step draws random crops with
flips, 90° rotations and mild colour jitter from a generator seeded by (seed, step, rank), so a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScenegenError
from ..imaging import list_images, load_image, resize

MAX_SIDE = 1024


@dataclass
class PatchSet:
    """Images grouped by class, ready for cropping."""

    classes: tuple[str, ...]
    images: list[np.ndarray]  # H×W×C float32
    labels: np.ndarray  # class index per image
    skipped: list[str]

    def by_class(self, index: int) -> list[np.ndarray]:
        return [img for img, label in zip(self.images, self.labels) if label == index]


def _cap_size(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    factor = max_side / max(h, w)
    return resize(image, max(1, round(h * factor)), max(1, round(w * factor)))


def load_patch_set(folder: str | Path, *, channels: int = 3, min_size: int = 128, max_side: int = MAX_SIDE) -> PatchSet:
    """Read ``folder/<class>/*`` images. Unreadable or too-small files are skipped with one warning.

    Raises ScenegenError when the folder has no class sub-folders or a class has no usable image.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ScenegenError(f"{root}: training data folder not found")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise ScenegenError(f"{root}: expected one sub-folder per class (e.g. {root}/brick/*.png), found none")
    mode = "RGB" if channels == 3 else "RGBA"
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    for index, class_dir in enumerate(class_dirs):
        count, skipped_before = 0, len(skipped)
        for path in list_images(class_dir, skipped):  # symlink loops, FIFOs … are listed in skipped
            try:
                image = load_image(path, mode=mode)
            except ScenegenError as exc:
                skipped.append(f"{path} ({'too many pixels' if 'the limit is' in str(exc) else 'unreadable'})")
                continue
            if min(image.shape[:2]) < min_size:
                skipped.append(f"{path} (smaller than {min_size}px)")
                continue
            images.append(_cap_size(image, max_side))
            labels.append(index)
            count += 1
        if count == 0:
            reasons = sorted({entry.rsplit(" (", 1)[-1].rstrip(")") for entry in skipped[skipped_before:]})
            why = f"{len(skipped) - skipped_before} skipped: {', '.join(reasons)}" if reasons else "none found"
            raise ScenegenError(f"{class_dir}: class '{class_dir.name}' has no usable image ({why}; "
                                f"images need ≥ {min_size}px a side)")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} file(s): " + "; ".join(skipped), stacklevel=2)
    return PatchSet(tuple(p.name for p in class_dirs), images, np.asarray(labels, dtype=np.int64), skipped)


def _jitter(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rgb = crop[..., :3]
    grey = rgb.mean(axis=2, keepdims=True)
    saturation = rng.uniform(0.9, 1.1)
    contrast = rng.uniform(0.92, 1.08)
    brightness = rng.uniform(-0.04, 0.04)
    rgb = grey + (rgb - grey) * saturation
    rgb = (rgb - 0.5) * contrast + 0.5 + brightness
    out = crop.copy()
    out[..., :3] = np.clip(rgb, 0.0, 1.0)
    return out


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator, *, augment: bool = True) -> np.ndarray:
    """A size×size crop at a random place, randomly flipped/rotated/jittered."""
    h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    crop = image[y : y + size, x : x + size]
    if augment:
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop[::-1]
        crop = np.rot90(crop, int(rng.integers(0, 4)))
        crop = _jitter(np.ascontiguousarray(crop), rng)
    return np.ascontiguousarray(crop, dtype=np.float32)


def sample_batch(
    patches: PatchSet, batch: int, size: int, seed: int, step: int, rank: int = 0, *, augment: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic batch for (seed, step, rank): classes balanced, images uniform within a class."""
    rng = np.random.default_rng([seed, step, rank])
    n_classes = len(patches.classes)
    labels = rng.integers(0, n_classes, size=batch)
    crops = []
    for label in labels:
        candidates = np.flatnonzero(patches.labels == label)
        image = patches.images[int(candidates[rng.integers(0, len(candidates))])]
        crops.append(random_crop(image, size, rng, augment=augment))
    return np.stack(crops), labels.astype(np.int64)
