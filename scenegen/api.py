"""The public Python API: load a model, generate textures and materials, blend, train.

Everything the CLI, the worker and the add-on do goes through these functions: they validate their inputs
and call the model layer's pipelines (:mod:`scenegen.model.sample`) once. The only global state is a cache
of loaded models.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import ScenegenError
from .limits import MAX_SIZE, MAX_SPRITE_SIZE, MIN_SIZE, MIN_SPRITE_SIZE

if TYPE_CHECKING:  # imported where used: `scenegen info` needs neither cv2/PIL nor the map code
    from .materials import Material

MAX_GRAIN = 4.0
#: Filter scale of the PBR maps of generated textures: their texels have a fixed size whatever the canvas.
GENERATED_PIXEL_SCALE = 1.0
#: Grain strength by default: 0 since 0.4.0, whose autoencoder keeps fine detail itself (grain raised c2st).
DEFAULT_GRAIN = 0.0
PHOTO_MAX_SIDE = 2048  # a photo's longer side is capped at this many pixels before encoding (encoder memory)
MIN_PHOTO_SCALE, MAX_PHOTO_SCALE = 0.125, 4.0

_MODEL_CACHE: dict[str, Any] = {}


def shipped_model_dir(name: str) -> Path:
    """A shipped model directory (``default`` or ``sprites``): ``assets/models/NAME`` of this checkout, else
    ``<prefix>/share/scenegen/models/NAME`` where a wheel installed it."""
    checkout = Path(__file__).resolve().parent.parent / "assets" / "models" / name
    installed = Path(sys.prefix) / "share" / "scenegen" / "models" / name
    return installed if not (checkout / "config.json").is_file() and (installed / "config.json").is_file() else checkout


def default_model_dir() -> Path:
    """``$SCENEGEN_MODEL`` if set, else the shipped texture model (:func:`shipped_model_dir`)."""
    env = os.environ.get("SCENEGEN_MODEL")
    return Path(env) if env else shipped_model_dir("default")


def load_model(path: str | os.PathLike[str] | None = None):  # -> scenegen.model.weights.LoadedModel
    """Load (and cache) a verified model directory; no argument loads the shipped default model.

    Every call checks the directory's files again (a stat each while they are unchanged, see
    :mod:`scenegen.model.directory`), so a model changed on disk is reloaded, or refused if tampered.
    """
    from .model.directory import inspect

    root = Path(path) if path is not None else default_model_dir()
    if not root.exists():
        raise ScenegenError(f"{root}: model directory not found")
    info = inspect(root)
    key = str(root.resolve())
    cached = _MODEL_CACHE.get(key)
    if cached is None or cached.info is None or cached.info.identity != info.identity:
        # torch's import and the load leave ~170k long-lived objects: the collector is paused while they are
        # made (its full collections walked them three times, ~0.15 s of a cold command) and they are then
        # moved out of its generations, so no later collection walks them again, nor the one at exit
        collecting = gc.isenabled()
        gc.disable()
        try:
            from .model.weights import load_model_dir

            _configure_torch()
            _MODEL_CACHE[key] = load_model_dir(root, info)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
    return _MODEL_CACHE[key]


def _configure_torch() -> None:
    """Deterministic kernels (warn where torch has none). ``torch.use_deterministic_algorithms`` also sets
    ``torch._inductor.config.deterministic``, and importing that config imports the whole compiler stack
    (torch._dynamo, torch._inductor: ~0.8–1.9 s); scenegen never compiles, so only the flag eager kernels read
    is set, the very call that function makes after the config."""
    import torch

    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:  # pragma: no cover - a torch without the private setter
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


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


def check_grain(grain: float, what: str = "grain") -> float:
    """Refuse a grain strength outside [0, MAX_GRAIN] before any work is done."""
    if not isinstance(grain, (int, float)) or isinstance(grain, bool) or not 0.0 <= grain <= MAX_GRAIN:
        raise ScenegenError(f"{what} must be a number from 0 (none) to {MAX_GRAIN:g}, got {grain!r}")
    return float(grain)


def generate_texture(cls: str, seed: int = 0, size: int = 512, *, height: int | None = None, model=None,
                     grain: float = DEFAULT_GRAIN, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A seamless H×W×3 base-colour texture of class ``cls`` (tileable at any size, deterministic).

    ``grain`` adds the class's fitted fine grain on top of the decode at that strength (0 = the model's
    decode alone, the default).
    """
    from .model.sample import sample_texture

    m = _resolve(model)
    width, height = check_size(size), check_size(height if height is not None else size, "height")
    strength = check_grain(grain)
    return sample_texture(m, class_index(m, cls), height, width, int(seed), grain=strength, progress=progress)


def generate_material(cls: str, seed: int = 0, size: int = 512, *, model=None, name: str | None = None, grain: float = DEFAULT_GRAIN,
                      progress: Callable[[float], None] | None = None, **map_options: Any) -> Material:
    """A full PBR material (base colour, height, normal, roughness, AO) of class ``cls``.

    The base colour equals ``generate_texture(cls, seed, size, grain=grain)``; ``progress(fraction)`` is
    called as the decode advances. The size is checked before anything is loaded.
    """
    from .materials import derive_maps

    size = check_size(size)
    m = _resolve(model)
    basecolor = generate_texture(cls, seed, size, model=m, grain=grain, progress=progress)
    params = {"class": cls, "seed": int(seed), "size": int(size), "model_hash": m.model_hash}
    if grain != DEFAULT_GRAIN:
        params["grain"] = float(grain)
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name or f"{cls}_{seed}", params=params, **map_options)


def _photo_array(source: str | os.PathLike[str] | np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The photo as H×W×3 float32 at the pixel scale the material will have (``scale`` × the photo's own)."""
    from .imaging import load_image, resize

    image = load_image(source) if not isinstance(source, np.ndarray) else np.asarray(source, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ScenegenError(f"photo must be an H×W greyscale or H×W×3 colour image, got shape {image.shape}")
    image = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not MIN_PHOTO_SCALE <= scale <= MAX_PHOTO_SCALE:
        raise ScenegenError(f"photo scale must be a number from {MIN_PHOTO_SCALE:g} to {MAX_PHOTO_SCALE:g}, got {scale!r}")
    factor = float(scale)
    if max(image.shape[:2]) * factor > PHOTO_MAX_SIDE:  # bound the encoder's memory on huge photos
        factor = PHOTO_MAX_SIDE / max(image.shape[:2])
    if factor != 1.0:
        image = resize(image, max(1, round(image.shape[0] * factor)), max(1, round(image.shape[1] * factor)))
    short = min(image.shape[:2])
    if short < 64:
        raise ScenegenError(f"photo is {image.shape[1]}×{image.shape[0]} px at this scale; need at least 64 px on the shorter side")
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def texture_from_image(source: str | os.PathLike[str] | np.ndarray, size: int = 512, seed: int = 0, *, model=None,
                       grain: float = DEFAULT_GRAIN, scale: float = 1.0,
                       progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A new seamless texture with the look of a (non-tileable) photo: its latents re-quilted on a torus.

    ``scale``: texel scale relative to the photo (1 = the photo's own pixel scale; 0.5 = features half as large);
    ``grain`` adds the photo's own grain (what its reconstruction misses) at that strength.
    """
    from .model.sample import sample_photo_texture

    width = check_size(size)
    strength = check_grain(grain)
    photo = _photo_array(source, scale)
    m = _resolve(model)
    return sample_photo_texture(m, photo, width, width, int(seed), grain=strength, progress=progress)


def material_from_image(source: str | os.PathLike[str] | np.ndarray, size: int = 512, seed: int = 0, *, model=None, name: str = "photo",
                        grain: float = DEFAULT_GRAIN, scale: float = 1.0,
                        progress: Callable[[float], None] | None = None, **map_options: Any) -> Material:
    """A full PBR material with the look of the user's photo, seamless at ``size``."""
    from .materials import derive_maps

    size = check_size(size)
    m = _resolve(model)
    basecolor = texture_from_image(source, size, seed, model=m, grain=grain, scale=scale, progress=progress)
    params = {"source": str(source) if not isinstance(source, np.ndarray) else "array", "seed": int(seed), "size": int(size), "model_hash": m.model_hash}
    if scale != 1.0:
        params["scale"] = float(scale)
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name, params=params, **map_options)


def blend_materials(a: str, b: str, mask: np.ndarray, seed: int = 0, *, seed_b: int | None = None, model=None, name: str | None = None, **map_options: Any) -> Material:
    """Class ``a`` where ``mask`` is 0 and class ``b`` where it is 1, blended in latent space.

    ``mask`` is H×W in [0, 1] and sets the output size; a periodic mask gives a tileable result.
    """
    from .imaging import resize
    from .materials import derive_maps
    from .model.sample import condition_weights, decode_canvas, latent_cells, sample_texture_latent

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
    basecolor = decode_canvas(m, latent.astype(np.float32), weights.astype(np.float32), height, width)
    params = {"blend": [a, b], "seed": int(seed), "model_hash": m.model_hash}
    return derive_maps(basecolor, copy=False, pixel_scale=GENERATED_PIXEL_SCALE, name=name or f"{a}_{b}_blend", params=params, **map_options)


def _size_range(mode: str) -> dict[str, int]:
    if mode == "sprite":
        return {"min": MIN_SPRITE_SIZE, "max": MAX_SPRITE_SIZE}
    return {"min": MIN_SIZE, "max": MAX_SIZE}


def model_info(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Classes, parameter count, sizes and hashes of a model directory, without torch.

    Every file is verified against its SHA-256 and the weight files' safetensors headers are read (what
    loading would refuse first); the architecture itself is checked when the model is loaded.
    """
    from .model.directory import inspect, read_verified, safetensors_header

    root = Path(path) if path is not None else default_model_dir()
    m = inspect(root)
    for name in ("model.safetensors", "prior.safetensors"):
        safetensors_header(read_verified(m, name), str(m.file(name)))
    files = {name: {"sha256": sha, "bytes": m.file(name).stat().st_size} for name, sha in m.files.items()}
    training = m.meta.get("training") if isinstance(m.meta.get("training"), dict) else {}
    metrics = m.meta.get("metrics") if isinstance(m.meta.get("metrics"), dict) else {}
    return {
        "path": str(m.path),
        "mode": m.mode,
        "classes": list(m.classes),
        "parameters": m.meta.get("parameters"),
        "latent": {"channels": m.architecture.get("latent_channels", 8), "pixels_per_cell": m.pixels_per_cell},
        "sizes": _size_range(m.mode),
        "model_hash": m.model_hash,
        "identity": m.identity,
        "files": files,
        "training": {k: v for k, v in training.items() if k in ("steps", "batch", "seed", "processes", "images", "wall_s")},
        "command": str(m.meta.get("command", "")),
        "metrics": metrics,
    }
