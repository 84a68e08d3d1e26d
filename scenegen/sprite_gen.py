"""Generated billboard sprites: RGBA cut-outs of a class from the sprite model, ready for engines.

A sprite is drawn from the class's latent prior (one whole latent grid per sprite, see
scenegen.model.sprite_prior) and decoded at the model's native size (the size of the sprites its prior
encoded: 256² for the shipped model, decoded natively, not upscaled), 64 at a time. There its colour is first bled outward from the fairly opaque texels (the
decoder's colour is barely constrained where its alpha is low), then :func:`scenegen.sprites.clean_alpha`
makes the cut-out (edge at decoded alpha ``ALPHA_THRESHOLD``, antialiased, specks removed, empty frame,
colour bled under transparent texels). Finally it is resampled to the requested size: colour bicubic (it is
bled, so nothing dark comes in from outside), alpha bicubic then re-profiled to a 1.5-pixel edge; the frame
is cleared again and colour bled once more, so every transparent texel carries its nearest visible colour.

Everything the scene compositor and the batch exporter need is here: :func:`default_sprite_model_dir`,
:func:`load_sprite_model`, :func:`sprite_classes`, :func:`generate_sprites`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ScenegenError
from .limits import MAX_SPRITE_SIZE, MIN_SPRITE_SIZE
from .sprites import clean_alpha, clear_frame, dilate_colour, remove_specks

#: Spread of the prior draw (1 = as wide as the training sprites; lower stays closer to typical sprites).
DEFAULT_TEMPERATURE = 0.6
#: Decoded alpha at which the cut-out edge is placed. Below 0.5 because a VAE's decode softens thin parts
#: (stems, blades, petals) whose alpha then peaks below 0.5.
ALPHA_THRESHOLD = 0.4
#: Decoded alpha from which on the decoded colour is trusted (below, the nearest such colour is used).
RELIABLE_ALPHA = 0.6
_SEED_SALT = 0x5B17E
_PRIORS: dict[tuple[int, int], tuple[Any, Any]] = {}  # (id of a model's prior dict, class) → (that dict, ClassPrior)


def default_sprite_model_dir() -> Path:
    """``$SCENEGEN_SPRITE_MODEL`` if set, else the shipped sprite model (:func:`scenegen.api.shipped_model_dir`)."""
    from .api import shipped_model_dir

    env = os.environ.get("SCENEGEN_SPRITE_MODEL")
    return Path(env) if env else shipped_model_dir("sprites")


def load_sprite_model(path: str | os.PathLike[str] | None = None):  # -> scenegen.model.weights.LoadedModel
    """Load (and cache, shared with :func:`scenegen.api.load_model`) a sprite-mode model directory."""
    from .api import load_model

    model = load_model(path if path is not None else default_sprite_model_dir())
    _require_sprite_model(model)
    return model


def _require_sprite_model(model) -> None:
    if model.config.mode != "sprite":
        raise ScenegenError(f"{model.path}: is a {model.config.mode} model, not a sprite model "
                            f"(train one with `scenegen train --mode sprite`)")


def _resolve(model) -> Any:
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_sprite_model(model)
    _require_sprite_model(model)
    return model


def sprite_classes(model=None) -> tuple[str, ...]:
    """The sprite classes a model knows (the shipped sprite model by default)."""
    return tuple(_resolve(model).classes)


def check_sprite_size(size: int) -> int:
    """Refuse sprite sizes outside [MIN_SPRITE_SIZE, MAX_SPRITE_SIZE] before any work is done."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise ScenegenError(f"sprite size must be an integer number of pixels, got {size!r}")
    if not MIN_SPRITE_SIZE <= size <= MAX_SPRITE_SIZE:
        raise ScenegenError(f"sprite size {size} is outside the supported range {MIN_SPRITE_SIZE}–{MAX_SPRITE_SIZE} pixels")
    return int(size)


def _non_negative(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ScenegenError(f"sprite {name} must be a non-negative integer, got {value!r}")
    return int(value)


def _class_prior(model, index: int):
    from .model.sprite_prior import load_class_prior

    key = (id(model.prior), index)
    if key not in _PRIORS or _PRIORS[key][0] is not model.prior:
        _PRIORS[key] = (model.prior, load_class_prior(model.prior, index))
    return _PRIORS[key][1]


def sprite_latents(model, index: int, seed: int, count: int, temperature: float = DEFAULT_TEMPERATURE,
                   first: int = 0) -> np.ndarray:
    """Latent grids ``first … first + count − 1`` of class ``index``; grid i depends only on (seed, class, i)."""
    return _draws(model, index, seed, count, temperature, first)[0]


def _draws(model, index: int, seed: int, count: int, temperature: float, first: int) -> tuple[np.ndarray, list]:
    """Latent grids and target palettes of draws ``first … first + count − 1``."""
    from .model.sprite_prior import sample_draw

    prior = _class_prior(model, index)
    draws = [sample_draw(prior, np.random.default_rng([seed, index, i, _SEED_SALT]), temperature)
             for i in range(first, first + count)]
    grids = np.stack([d[0] for d in draws]) if draws else np.zeros((0, *prior.grid), np.float32)
    return grids, [d[1] for d in draws]


def _decode_draws(model, index: int, seed: int, count: int, temperature: float, first: int) -> np.ndarray:
    from .model.sample import decode_sprites, hold_sprite_palettes

    grids, palettes = _draws(model, index, seed, count, temperature, first)
    return hold_sprite_palettes(decode_sprites(model, grids, index), palettes)


def finish_sprite(decoded: np.ndarray, size: int, threshold: float | None = None) -> np.ndarray:
    """A decoded RGBA sprite (native size) → a clean size×size sprite (see the module docstring).

    ``threshold``: the decoded alpha level that becomes the cut-out's edge (default ALPHA_THRESHOLD).
    """
    threshold = ALPHA_THRESHOLD if threshold is None else threshold
    # colour is only trusted where the decode is fairly opaque (the premultiplied loss barely constrains
    # it below): bleed it from there first, so no faint, dark decoder fringe becomes the cut-out's edge
    reliable = dilate_colour(np.clip(decoded, 0.0, 1.0), min_alpha=max(threshold, RELIABLE_ALPHA))
    clean = clean_alpha(reliable, threshold=threshold)
    if clean.shape[0] == size and clean.shape[1] == size:
        return clean
    factor = size / clean.shape[0]
    interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    out = np.clip(cv2.resize(clean, (size, size), interpolation=interp), 0.0, 1.0)
    alpha = out[..., 3]
    if factor > 1:  # the 1.5 px edge became 1.5·factor px wide: re-profile it around 0.5
        t = np.clip((alpha - 0.5) * factor + 0.5, 0.0, 1.0)
        alpha = t * t * (3.0 - 2.0 * t)
    alpha = clear_frame(remove_specks(alpha))  # resampling can leave islands the native-size clean-up never saw
    alpha[alpha < 0.5 / 255.0] = 0.0
    out[..., 3] = alpha
    return dilate_colour(out)


def generate_sprites(cls: str, seed: int = 0, count: int = 1, size: int = 256, *, model=None,
                     first: int = 0, temperature: float = DEFAULT_TEMPERATURE) -> list[np.ndarray]:
    """``count`` RGBA sprites of class ``cls``: float32 size×size×4, straight alpha, cleaned, standing on
    their foot at the bottom centre. Returns sprites ``first … first + count − 1`` of the seed's sequence:
    sprite i depends only on (model, cls, seed, i, size, temperature), never on ``count`` or batching.
    Unknown class or a size outside 64–512 is a ScenegenError.
    """
    from .api import class_index

    m = _resolve(model)
    size = check_sprite_size(size)
    count, seed, first = _non_negative("count", count), _non_negative("seed", seed), _non_negative("first", first)
    index = class_index(m, cls)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.number)) or not 0.0 <= temperature <= 2.0:
        raise ScenegenError(f"sprite temperature must be a number within 0–2, got {temperature!r}")
    decoded = _decode_draws(m, index, seed, count, float(temperature), first)
    if count < 4:
        sprites = [finish_sprite(sprite, size) for sprite in decoded]
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV releases the GIL: clean two sprites at once
            sprites = list(pool.map(lambda sprite: finish_sprite(sprite, size), decoded))
    for i, sprite in enumerate(sprites):
        if not (sprite[..., 3] >= 0.5).any():  # a rare draw that decodes to (almost) nothing
            sprites[i] = _fallback_sprite(m, index, seed, first + i, size)
    return sprites


def _fallback_sprite(model, index: int, seed: int, position: int, size: int) -> np.ndarray:
    """A draw at temperature 0 (a mixture component's mean: a typical sprite of the class), deterministic."""
    return finish_sprite(_decode_draws(model, index, seed, 1, 0.0, position)[0], size)
