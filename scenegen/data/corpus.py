"""The built-in texture training corpus: procedural textures plus a few scikit-image photos.

``build_texture_corpus`` writes ``<out_dir>/<class>/<class>_<NNNN>.png`` (one folder per class,
the layout ``scenegen train --data DIR`` expects) and records what it built in
``<out_dir>/corpus.json`` so that a second call with the same settings returns at once.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ScenegenError
from ..fsutil import atomic_write_text
from ..imaging import resize, save_png
from .procedural import GENERATOR_VERSION, MIN_SIZE, TEXTURE_CLASSES, generate_texture

MANIFEST_NAME = "corpus.json"
HELD_OUT_SEED = 10_000  # training seeds stay below this; held-out patches start here
PHOTOS_PER_CLASS = 8
PHOTO_VERSION = 1
# Class folder -> scikit-image ``data`` function providing a greyscale 512×512 photo of it.
PHOTO_SOURCES = {"brick": "brick", "grass": "grass", "gravel": "gravel"}

_PROCEDURAL_NAME = re.compile(r"^(?P<cls>[a-z_]+)_(?P<index>\d{4,})\.png$")
_PHOTO_NAME = re.compile(r"^(?P<cls>[a-z_]+)_photo_(?P<index>\d{2,})\.png$")


def default_corpus_dir() -> Path:
    """Where the corpus lives by default: ``$SCENEGEN_CACHE/corpus/textures`` if that variable
    is set, else ``./.cache/corpus/textures`` under the current directory."""
    cache = os.environ.get("SCENEGEN_CACHE")
    root = Path(cache) if cache else Path.cwd() / ".cache"
    return root / "corpus" / "textures"


def corpus_seeds(per_class: int, seed: int = 0) -> range:
    """Texture seeds used for every class of a corpus built with ``per_class`` and ``seed``."""
    return range(seed, seed + per_class)


def held_out_seeds(count: int = 16, seed: int = HELD_OUT_SEED) -> range:
    """Texture seeds used by :func:`held_out_textures`."""
    return range(seed, seed + count)


def procedural_path(out_dir: str | os.PathLike[str], cls: str, index: int) -> Path:
    """Path of the ``index``-th procedural texture of ``cls`` inside a corpus folder."""
    return Path(out_dir) / cls / f"{cls}_{index:04d}.png"


def photo_path(out_dir: str | os.PathLike[str], cls: str, index: int) -> Path:
    """Path of the ``index``-th photo crop of ``cls`` inside a corpus folder."""
    return Path(out_dir) / cls / f"{cls}_photo_{index:02d}.png"


def build_texture_corpus(
    out_dir: str | os.PathLike[str],
    per_class: int = 120,
    size: int = 256,
    seed: int = 0,
    include_photos: bool = True,
    progress: bool = False,
) -> dict[str, int]:
    """Write the texture corpus into ``out_dir`` and return the number of images per class.

    Image ``i`` of every class is ``generate_texture(cls, seed + i, size)``. With
    ``include_photos`` (and scikit-image installed) the brick, grass and gravel folders also get
    crops of scikit-image's photos. Files already written with the same settings are kept;
    files from other settings are replaced or removed, so the folder matches ``corpus.json``.
    In a folder without ``corpus.json`` every corpus file is (re)written and nothing is deleted.
    """
    _check_args(per_class, size, seed)
    out = Path(out_dir)
    photos = _photo_loader() if include_photos else None
    wanted = _manifest(per_class, size, seed, photos is not None)
    counts = {cls: per_class + (PHOTOS_PER_CLASS if photos and cls in PHOTO_SOURCES else 0) for cls in TEXTURE_CLASSES}
    jobs = _jobs(out, per_class, size, seed, photos)
    previous = _read_manifest(out)
    if previous == wanted and all(path.exists() for path, _, _ in jobs):
        return counts

    keep = {
        "procedural": _same(previous, wanted, ("generator_version", "size", "seed")),
        "photo": _same(previous, wanted, ("photos", "size", "seed", "photos_per_class")),
    }
    if previous is not None:  # only a folder we built before has files we may delete
        _remove_stale(out, wanted, keep)
    atomic_write_text(out / MANIFEST_NAME, json.dumps({**wanted, "complete": False}, indent=2) + "\n")
    todo = [(path, make) for path, make, kind in jobs if not (keep[kind] and path.exists())]
    for done, (path, make) in enumerate(todo, 1):
        save_png(path, make())
        if progress and (done % 50 == 0 or done == len(todo)):
            print(f"texture corpus: {done}/{len(todo)} images written to {out}", file=sys.stderr, flush=True)
    atomic_write_text(out / MANIFEST_NAME, json.dumps(wanted, indent=2) + "\n")
    return counts


def held_out_textures(cls: str, count: int = 16, size: int = 128, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """``count`` fresh procedural patches of ``cls`` (count×size×size×3 float32) for benchmarks.

    The default seeds (10000 onwards) never occur in a corpus, whose seeds must stay below 10000.
    """
    if cls not in TEXTURE_CLASSES:
        raise ValueError(f"unknown texture class {cls!r}; expected one of {', '.join(TEXTURE_CLASSES)}")
    if count < 1:
        raise ValueError("count must be >= 1")
    return np.stack([generate_texture(cls, s, size) for s in held_out_seeds(count, seed)])


# ----------------------------------------------------------------------------------------------


def _check_args(per_class: int, size: int, seed: int) -> None:
    if per_class < 1:
        raise ScenegenError("per_class must be at least 1")
    if size < MIN_SIZE:
        raise ScenegenError(f"corpus image size must be at least {MIN_SIZE}")
    if seed < 0 or seed + per_class > HELD_OUT_SEED:
        raise ScenegenError(
            f"corpus seeds {seed}..{seed + per_class - 1} must lie in 0..{HELD_OUT_SEED - 1} "
            "(higher seeds are reserved for held-out benchmark patches)"
        )


def _manifest(per_class: int, size: int, seed: int, photos: bool) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "classes": list(TEXTURE_CLASSES),
        "per_class": per_class,
        "size": size,
        "seed": seed,
        "photos": PHOTO_VERSION if photos else None,
        "photos_per_class": PHOTOS_PER_CLASS if photos else 0,
    }


def _read_manifest(out: Path) -> dict | None:
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same(previous: dict | None, wanted: dict, keys: tuple[str, ...]) -> bool:
    return previous is not None and all(previous.get(k) == wanted[k] for k in keys)


def _remove_stale(out: Path, wanted: dict, keep: dict[str, bool]) -> None:
    """Delete corpus files (only names this module writes) that the new settings do not keep."""
    for cls in TEXTURE_CLASSES:
        folder = out / cls
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            proc, photo = _PROCEDURAL_NAME.match(path.name), _PHOTO_NAME.match(path.name)
            if proc and proc["cls"] == cls:
                stale = not keep["procedural"] or int(proc["index"]) >= wanted["per_class"]
            elif photo and photo["cls"] == cls:
                stale = not keep["photo"] or int(photo["index"]) >= wanted["photos_per_class"]
            else:
                continue
            if stale:
                path.unlink()


def _jobs(
    out: Path, per_class: int, size: int, seed: int, photos: Callable[[str], np.ndarray] | None
) -> list[tuple[Path, Callable[[], np.ndarray], str]]:
    """Every file of the corpus: (path, function making its image, "procedural" or "photo")."""
    jobs: list[tuple[Path, Callable[[], np.ndarray], str]] = []
    for cls in TEXTURE_CLASSES:
        for i, s in enumerate(corpus_seeds(per_class, seed)):
            make = lambda c=cls, s=s: generate_texture(c, s, size)  # noqa: E731
            jobs.append((procedural_path(out, cls, i), make, "procedural"))
        if photos is not None and cls in PHOTO_SOURCES:
            for i in range(PHOTOS_PER_CLASS):
                make = lambda c=cls, i=i: _photo_crop(photos(c), c, i, size, seed)  # noqa: E731
                jobs.append((photo_path(out, cls, i), make, "photo"))
    return jobs


def _photo_loader() -> Callable[[str], np.ndarray] | None:
    """A function returning the greyscale photo (float32 H×W in [0, 1]) for a class, or None
    when scikit-image (which ships the photos offline) is not installed."""
    try:
        from skimage import data as skdata
    except ImportError:
        return None
    cache: dict[str, np.ndarray] = {}

    def load(cls: str) -> np.ndarray:
        if cls not in cache:
            raw = np.asarray(getattr(skdata, PHOTO_SOURCES[cls])())
            grey = raw if raw.ndim == 2 else raw[..., :3].mean(axis=-1)
            cache[cls] = (grey.astype(np.float32) / 255.0).clip(0.0, 1.0)
        return cache[cls]

    return load


def _photo_crop(photo: np.ndarray, cls: str, index: int, size: int, seed: int) -> np.ndarray:
    """A deterministic square crop of ``photo`` (random position, scale and flip) as RGB."""
    rng = np.random.default_rng([seed, index, TEXTURE_CLASSES.index(cls), 0xF070])
    h, w = photo.shape
    side = min(h, w, int(round(size * rng.uniform(1.0, 1.6))))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = photo[y : y + side, x : x + side]
    if cls == "brick":  # scikit-image stores the wall rotated by 90 degrees; lay courses flat
        crop = np.rot90(crop)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1, :]
    crop = resize(np.ascontiguousarray(crop), size, size)
    return np.repeat(crop[..., None], 3, axis=2)
