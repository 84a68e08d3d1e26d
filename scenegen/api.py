"""The public Python API: load a model, generate textures and materials, blend, train.

Everything the CLI, the worker and the add-on do goes through these functions; none of them needs to
know about torch. The only global state is a cache of loaded models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import ScenegenError
from .imaging import load_image, resize
from .materials import Material, derive_maps

MIN_SIZE = 32
MAX_SIZE = 8192
MAX_GRAIN = 4.0
#: Filter scale of the PBR maps of generated textures: their texels have a fixed size whatever the canvas.
GENERATED_PIXEL_SCALE = 1.0
PHOTO_DETAIL = 384  # a photo's shorter side is brought to this many pixels before encoding

_MODEL_CACHE: dict[str, Any] = {}


def default_model_dir() -> Path:
    """``$SCENEGEN_MODEL`` if set, else ``assets/models/default`` of this checkout."""
    env = os.environ.get("SCENEGEN_MODEL")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "assets" / "models" / "default"


def load_model(path: str | os.PathLike[str] | None = None):  # -> scenegen.model.weights.LoadedModel
    """Load (and cache) a verified model directory; no argument loads the shipped default model."""
    from .model.weights import load_model_dir

    root = Path(path) if path is not None else default_model_dir()
    key = str(root.resolve())
    if key not in _MODEL_CACHE:
        if not root.exists():
            raise ScenegenError(f"{root}: model directory not found")
        _configure_torch()
        _MODEL_CACHE[key] = load_model_dir(root)
    return _MODEL_CACHE[key]


def _configure_torch() -> None:
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)


def _resolve(model) -> Any:
    return model if model is not None and not isinstance(model, (str, os.PathLike)) else load_model(model)


def class_index(model, cls: str) -> int:
    """Index of class ``cls`` in ``model``; a ScenegenError lists the valid names otherwise."""
    classes = list(_resolve(model).classes)
    if cls not in classes:
        raise ScenegenError(f"unknown class '{cls}'; this model knows: {', '.join(classes)}")
    return classes.index(cls)


def check_size(size: int, what: str = "size") -> int:
    """Refuse sizes outside [MIN_SIZE, MAX_SIZE] before any work is done."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise ScenegenError(f"{what} must be an integer number of pixels, got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ScenegenError(f"{what} {size} is outside the supported range {MIN_SIZE}–{MAX_SIZE} pixels")
    return int(size)


def _decode_at(model, latent: np.ndarray, weights: np.ndarray, height: int, width: int,
               progress: Callable[[float], None] | None = None, phase: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Decode a latent grid to a height×width×C float32 image in [0, 1] with bounded memory.

    Texture models larger than one tile (``TILE_CELLS`` latent cells a side) decode tile by tile, each
    tile with a wrap-around halo as wide as the decoder's receptive field, straight into one
    preallocated array: the result equals a whole-canvas decode (to float rounding), so no tile
    boundary can show, and peak memory is a few tiles' activations plus the output. Tiles run in
    parallel, one torch thread each, as many at once as torch has threads: no synchronisation inside
    the small convolutions, and the bytes do not depend on the machine's core count.
    ``progress(fraction)`` is called after each tile. Sizes that are not a multiple of the latent
    scale are Fourier-resampled one channel at a time.
    ``phase`` = (dy, dx) rolls the periodic result by that many pixels (tiles are written to their rolled
    place: no extra copy): generators pass a seeded phase within one latent cell, so the wrap-around edge
    is not always a cell boundary, where the decoder's steps run slightly larger than elsewhere.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    import torch

    from .model.sample import TILE_CELLS, decode, fourier_resize
    from .model.vae import receptive_halo

    cfg, scale = model.config, model.config.scale
    cells_y, cells_x = latent.shape[1:]
    if cfg.mode != "texture" or (cells_y <= TILE_CELLS and cells_x <= TILE_CELLS):
        image = np.roll(decode(model, latent, weights), phase, axis=(0, 1))
        if progress is not None:
            progress(1.0)
    else:
        halo = receptive_halo(cfg)
        image = np.empty((cells_y * scale, cells_x * scale, cfg.image_channels), dtype=np.float32)
        dy, dx = phase
        starts = [(y0, x0) for y0 in range(0, cells_y, TILE_CELLS) for x0 in range(0, cells_x, TILE_CELLS)]

        def decode_tile(y0: int, x0: int) -> None:
            th, tw = min(TILE_CELLS, cells_y - y0), min(TILE_CELLS, cells_x - x0)
            rows = np.arange(y0 - halo, y0 + th + halo) % cells_y
            cols = np.arange(x0 - halo, x0 + tw + halo) % cells_x
            piece = decode(model, latent[:, rows][:, :, cols], weights[:, rows][:, :, cols], tile=max(len(rows), len(cols)))
            target = np.ix_((np.arange(y0 * scale, (y0 + th) * scale) + dy) % image.shape[0],
                            (np.arange(x0 * scale, (x0 + tw) * scale) + dx) % image.shape[1])
            image[target] = piece[halo * scale : (halo + th) * scale, halo * scale : (halo + tw) * scale]

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(threads, len(starts)))) as pool:
                futures = [pool.submit(decode_tile, y0, x0) for y0, x0 in starts]
                try:
                    for done, future in enumerate(as_completed(futures), 1):
                        future.result()
                        if progress is not None:
                            progress(done / len(starts))
                except BaseException:  # an error or Ctrl-C: do not wait for the tiles not yet started
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            torch.set_num_threads(threads)
        try:  # glibc keeps the tiles' freed buffers in per-thread arenas: hand them back before the maps
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
            pass
    if image.shape[:2] != (height, width):
        resized = np.empty((height, width, image.shape[2]), dtype=np.float32)
        for c in range(image.shape[2]):  # one channel at a time: the FFT buffers stay a third as large
            resized[..., c] = fourier_resize(image[..., c : c + 1], height, width)[..., 0]
        image = resized
    return np.clip(image, 0.0, 1.0, out=image)


def _with_grain(image: np.ndarray, profile, seed: int, tag: int, strength: float, mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` plus the profile's grain (see :mod:`scenegen.model.grain`), seeded by (seed, tag, size)."""
    from .model.grain import add_grain

    if profile is None or strength <= 0:
        return image
    rng = np.random.default_rng([int(seed), int(tag), image.shape[0], image.shape[1], 11])
    return add_grain(image, profile.scaled(strength), rng, mask)


def _cell_phase(model, seed: int, tag: int, height: int, width: int) -> tuple[int, int]:
    """A seeded pixel offset within one latent cell (see ``_decode_at``'s ``phase``)."""
    rng = np.random.default_rng([int(seed), int(tag), height, width, 13])
    return int(rng.integers(0, model.config.scale)), int(rng.integers(0, model.config.scale))


def check_grain(grain: float, what: str = "grain") -> float:
    """Refuse a grain strength outside [0, MAX_GRAIN] before any work is done."""
    if not isinstance(grain, (int, float)) or isinstance(grain, bool) or not 0.0 <= grain <= MAX_GRAIN:
        raise ScenegenError(f"{what} must be a number from 0 (none) to {MAX_GRAIN:g}, got {grain!r}")
    return float(grain)


def generate_texture(cls: str, seed: int = 0, size: int = 512, *, height: int | None = None, model=None,
                     grain: float = 1.0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A seamless H×W×3 base-colour texture of class ``cls`` (tileable at any size, deterministic).

    ``grain`` scales the fine detail restored on top of the decode (0 = the bare VAE output, 1 = as fitted).
    """
    from .model.sample import class_grain, condition_weights, latent_cells, sample_texture_latent

    m = _resolve(model)
    width, height = check_size(size), check_size(height if height is not None else size, "height")
    strength = check_grain(grain)
    index = class_index(m, cls)
    cells_y, cells_x = latent_cells(height, m.config.scale), latent_cells(width, m.config.scale)
    latent = sample_texture_latent(m, index, cells_y, cells_x, int(seed))
    phase = _cell_phase(m, seed, index, height, width)
    image = _decode_at(m, latent, condition_weights(m.config, index, cells_y, cells_x), height, width, progress, phase)
    return _with_grain(image, class_grain(m, index), seed, index, strength)


def generate_material(cls: str, seed: int = 0, size: int = 512, *, model=None, name: str | None = None, grain: float = 1.0,
                      progress: Callable[[float], None] | None = None, **map_options: Any) -> Material:
    """A full PBR material (base colour, height, normal, roughness, AO) of class ``cls``.

    The base colour equals ``generate_texture(cls, seed, size, grain=grain)``; ``progress(fraction)`` is
    called as the decode advances. The size is checked before anything is loaded.
    """
    size = check_size(size)
    m = _resolve(model)
    basecolor = generate_texture(cls, seed, size, model=m, grain=grain, progress=progress)
    params = {"class": cls, "seed": int(seed), "size": int(size), "model_hash": m.model_hash}
    if grain != 1.0:
        params["grain"] = float(grain)
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name or f"{cls}_{seed}", params=params, **map_options)


def _photo_array(source: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    image = load_image(source) if not isinstance(source, np.ndarray) else np.asarray(source, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ScenegenError(f"photo must be an H×W×3 colour image, got shape {image.shape}")
    image = image[..., :3]
    short = min(image.shape[:2])
    if short < 64:
        raise ScenegenError(f"photo is {image.shape[1]}×{image.shape[0]} px; need at least 64 px on the shorter side")
    if short > PHOTO_DETAIL:
        factor = PHOTO_DETAIL / short
        image = resize(image, round(image.shape[0] * factor), round(image.shape[1] * factor))
    return image


def texture_from_image(source: str | os.PathLike[str] | np.ndarray, size: int = 512, seed: int = 0, *, model=None,
                       grain: float = 1.0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A new seamless texture with the look of a (non-tileable) photo: its latents re-quilted on a torus,
    plus the photo's own grain (what its reconstruction misses)."""
    from .model.sample import condition_weights, encode, latent_cells, photo_grain, quilt_from_latent

    width = check_size(size)
    strength = check_grain(grain)
    photo = _photo_array(source)
    m = _resolve(model)
    latent = encode(m, photo)
    cells = latent_cells(width, m.config.scale)
    quilted = quilt_from_latent(latent, cells, cells, int(seed))
    phase = _cell_phase(m, seed, m.config.any_class, width, width)
    image = _decode_at(m, quilted, condition_weights(m.config, m.config.any_class, cells, cells), width, width, progress, phase)
    profile = photo_grain(m, photo, latent) if strength > 0 else None
    return _with_grain(image, profile, seed, m.config.any_class, strength)


def material_from_image(source: str | os.PathLike[str] | np.ndarray, size: int = 512, seed: int = 0, *, model=None, name: str = "photo",
                        grain: float = 1.0, progress: Callable[[float], None] | None = None, **map_options: Any) -> Material:
    """A full PBR material with the look of the user's photo, seamless at ``size``."""
    size = check_size(size)
    m = _resolve(model)
    basecolor = texture_from_image(source, size, seed, model=m, grain=grain, progress=progress)
    params = {"source": str(source) if not isinstance(source, np.ndarray) else "array", "seed": int(seed), "size": int(size), "model_hash": m.model_hash}
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name, params=params, **map_options)


def blend_materials(a: str, b: str, mask: np.ndarray, seed: int = 0, *, seed_b: int | None = None, model=None, name: str | None = None, **map_options: Any) -> Material:
    """Class ``a`` where ``mask`` is 0 and class ``b`` where it is 1, blended in latent space.

    ``mask`` is H×W in [0, 1] and sets the output size; a periodic mask gives a tileable result.
    """
    from .model.sample import class_grain, condition_weights, latent_cells, sample_texture_latent

    m = _resolve(model)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim == 3:
        mask = mask[..., 0]
    height, width = check_size(mask.shape[0], "mask height"), check_size(mask.shape[1], "mask width")
    ia, ib = class_index(m, a), class_index(m, b)
    cy, cx = latent_cells(height, m.config.scale), latent_cells(width, m.config.scale)
    seed_b = int(seed if seed_b is None else seed_b)
    za = sample_texture_latent(m, ia, cy, cx, int(seed))
    zb = sample_texture_latent(m, ib, cy, cx, seed_b)
    t = np.clip(resize(mask[..., None], cy, cx)[..., 0], 0.0, 1.0)[None]
    latent = za * (1.0 - t) + zb * t
    weights = condition_weights(m.config, ia, cy, cx) * (1.0 - t) + condition_weights(m.config, ib, cy, cx) * t
    basecolor = _decode_at(m, latent.astype(np.float32), weights.astype(np.float32), height, width)
    t_pixels = np.clip(mask, 0.0, 1.0)  # each class's grain where that class is
    basecolor = _with_grain(basecolor, class_grain(m, ia), seed, ia, 1.0, 1.0 - t_pixels)
    basecolor = _with_grain(basecolor, class_grain(m, ib), seed_b, ib, 1.0, t_pixels)
    params = {"blend": [a, b], "seed": int(seed), "model_hash": m.model_hash}
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name or f"{a}_{b}_blend", params=params, **map_options)


def _size_range(mode: str) -> dict[str, int]:
    if mode == "sprite":
        from .sprite_gen import MAX_SPRITE_SIZE, MIN_SPRITE_SIZE

        return {"min": MIN_SPRITE_SIZE, "max": MAX_SPRITE_SIZE}
    return {"min": MIN_SIZE, "max": MAX_SIZE}


def model_info(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Classes, parameter count, sizes and hashes of a model directory (verifies it too)."""
    m = load_model(path)
    files = {name: {"sha256": sha, "bytes": (m.path / name).stat().st_size} for name, sha in m.meta["files"].items()}
    return {
        "path": str(m.path),
        "mode": m.config.mode,
        "classes": list(m.classes),
        "parameters": m.meta.get("parameters"),
        "latent": {"channels": m.config.latent_channels, "pixels_per_cell": m.config.scale},
        "sizes": _size_range(m.config.mode),
        "model_hash": m.model_hash,
        "files": files,
        "training": {k: v for k, v in m.meta.get("training", {}).items() if k in ("steps", "batch", "seed", "processes", "images", "wall_s")},
        "command": m.meta.get("command", ""),
        "metrics": m.meta.get("metrics", {}),
    }
