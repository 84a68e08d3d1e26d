"""The sprite prior: per class, a kernel density over the latent grids of whole training sprites.

A sprite is one object in its frame, so (unlike a texture) its latent grid cannot be quilted from pieces:
the whole grid must be drawn at once, and any draw far from the data decodes to a blob (the 0.3.0 prior, a
Gaussian mixture in 64 PCA dimensions plus per-element noise, made crowns without clumps and every flower
pink). After training, every class keeps ``ANCHORS`` exact encoder means of its training sprites (spread
over the corpus, so they carry its full range of shapes and colours) and, for each, its nearest anchors.

A draw picks an anchor, mirrors it left-right half of the time, and moves it a seeded fraction (at most
``MAX_MIX`` × temperature) of the way towards one of its nearest neighbours: a kernel density estimate with
a small bandwidth along the directions the data itself spans. Draws keep whole, well-formed layouts (tiers,
clumps, petals, facets) and every colour of the class; temperature 0 returns an anchor as it is. Each anchor
also records the colour statistics of its sprite, so the decode can be held to its palette (see
:mod:`scenegen.model.palette`: a briefly trained decoder drifts towards its class's average colour).
Stored as plain tensors (``sprite.<class>.<name>``) in prior.safetensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import ScenegenError

PREFIX = "sprite."
GRID_KEY = "sprite.grid"
ANCHORS = 48
NEIGHBOURS = 4
MAX_MIX = 0.3
_FIELDS = ("anchors", "neighbours")
PALETTE_FIELD = "palettes"  # optional: K×12 colour statistics of the anchors' opaque texels


@dataclass(frozen=True)
class ClassPrior:
    """One class's prior over latent grids of shape ``grid`` (L, h, w)."""

    grid: tuple[int, int, int]
    anchors: np.ndarray  # K×L×h×w: encoder means of training sprites
    neighbours: np.ndarray  # K×n: indices of each anchor's nearest other anchors
    palettes: np.ndarray | None = None  # K×12: colour mean + covariance of each anchor sprite's opaque texels

    def to_tensors(self, class_index: int) -> dict[str, torch.Tensor]:
        out = {f"{PREFIX}{class_index}.anchors": torch.from_numpy(np.ascontiguousarray(self.anchors, np.float32)).to(torch.float16),
               f"{PREFIX}{class_index}.neighbours": torch.from_numpy(np.ascontiguousarray(self.neighbours, np.int64))}
        if self.palettes is not None:
            out[f"{PREFIX}{class_index}.{PALETTE_FIELD}"] = torch.from_numpy(np.ascontiguousarray(self.palettes, np.float64))
        return out


def has_sprite_prior(tensors: dict[str, torch.Tensor], class_index: int) -> bool:
    return GRID_KEY in tensors and all(f"{PREFIX}{class_index}.{name}" in tensors for name in _FIELDS)


def load_class_prior(tensors: dict[str, torch.Tensor], class_index: int) -> ClassPrior:
    """The prior of one class from prior.safetensors tensors; ScenegenError when it is missing."""
    if not has_sprite_prior(tensors, class_index):
        raise ScenegenError(f"the model has no sprite prior for class index {class_index} (was it trained with --mode sprite?)")
    grid = tuple(int(v) for v in tensors[GRID_KEY].tolist())
    anchors = tensors[f"{PREFIX}{class_index}.anchors"].float().numpy()
    neighbours = tensors[f"{PREFIX}{class_index}.neighbours"].numpy().astype(np.int64)
    palettes = tensors.get(f"{PREFIX}{class_index}.{PALETTE_FIELD}")
    palettes = palettes.double().numpy() if palettes is not None else None
    if anchors.ndim != 4 or tuple(anchors.shape[1:]) != grid or len(neighbours) != len(anchors) \
            or (palettes is not None and palettes.shape != (len(anchors), 12)):
        raise ScenegenError(f"the sprite prior of class index {class_index} is malformed")
    return ClassPrior(grid=grid, anchors=anchors, neighbours=neighbours, palettes=palettes)  # type: ignore[arg-type]


def prior_tensors(priors: Sequence[ClassPrior]) -> dict[str, torch.Tensor]:
    """All classes' priors as one flat dict of tensors (plus the latent grid shape)."""
    if not priors:
        return {}
    out = {GRID_KEY: torch.tensor(list(priors[0].grid), dtype=torch.int64)}
    for index, prior in enumerate(priors):
        out.update(prior.to_tensors(index))
    return out


def fit_class_prior(latents: np.ndarray, *, anchors: int = ANCHORS, neighbours: int = NEIGHBOURS,
                    palettes: np.ndarray | None = None) -> ClassPrior:
    """A class prior from ``latents`` (N×L×h×w encoder means, N ≥ 2): up to ``anchors`` of them, evenly
    spread over the set (it is in corpus order, so the spread is representative), with their nearest
    neighbours by L2 distance, and (optionally) the colour statistics ``palettes`` (N×12) of their sprites.
    Deterministic for the same input."""
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 4 or len(latents) < 2:
        raise ScenegenError(f"a sprite prior needs at least 2 latent grids of one shape, got {latents.shape}")
    picks = np.unique(np.linspace(0, len(latents) - 1, num=min(anchors, len(latents))).round().astype(int))
    kept = latents[picks].astype(np.float16).astype(np.float32)  # what will be stored
    flat = kept.reshape(len(kept), -1).astype(np.float64)
    sq = (flat**2).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T
    np.fill_diagonal(dist, np.inf)
    count = max(1, min(neighbours, len(kept) - 1))
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :count]
    kept_palettes = None if palettes is None else np.asarray(palettes, dtype=np.float64)[picks]
    return ClassPrior(grid=tuple(latents.shape[1:]), anchors=kept, neighbours=nearest,  # type: ignore[arg-type]
                      palettes=kept_palettes)


def sample_latent(prior: ClassPrior, rng: np.random.Generator, temperature: float = 0.6) -> np.ndarray:
    """One latent grid (L×h×w float32) drawn from ``prior`` with ``rng`` (see the module docstring)."""
    return sample_draw(prior, rng, temperature)[0]


def sample_draw(prior: ClassPrior, rng: np.random.Generator, temperature: float = 0.6) -> tuple[np.ndarray, np.ndarray | None]:
    """One latent grid and the colour statistics the draw's sprite should have (None without palettes)."""
    j = int(rng.integers(0, len(prior.anchors)))
    k = int(prior.neighbours[j, int(rng.integers(0, prior.neighbours.shape[1]))])
    t = MAX_MIX * float(temperature) * float(rng.random())
    mirror = bool(rng.random() < 0.5)
    z = (1.0 - t) * prior.anchors[j] + t * prior.anchors[k]
    palette = None if prior.palettes is None else (1.0 - t) * prior.palettes[j] + t * prior.palettes[k]
    return np.ascontiguousarray(z[:, :, ::-1] if mirror else z, dtype=np.float32), palette


def sprite_colour_stats(sprite: np.ndarray) -> np.ndarray:
    """Colour mean and covariance (12 numbers, as :func:`scenegen.model.palette.colour_stats`) of a straight-
    alpha RGBA sprite's fairly opaque texels (alpha > 0.5; the whole image if it has none)."""
    from .palette import colour_stats

    opaque = sprite[..., 3] > 0.5
    pixels = sprite[..., :3][opaque] if opaque.sum() >= 8 else sprite[..., :3].reshape(-1, 3)
    return colour_stats(pixels.reshape(-1, 1, 3))


@torch.no_grad()
def encode_class_latents(vae: torch.nn.Module, images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Encoder means (N×L×h×w) of square ``size``² versions of ``images``."""
    from ..imaging import resize

    batch = [img if img.shape[:2] == (size, size) else resize(img, size, size) for img in images]
    array = np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32)
    means = [vae.encoder(torch.from_numpy(array[i:i + 16]))[0] for i in range(0, len(array), 16)]
    return torch.cat(means).numpy()


def fit_sprite_prior(vae: torch.nn.Module, patches, cfg) -> dict[str, torch.Tensor]:
    """Encode each class's training sprites at their own size (the model's native output size) and fit one
    ClassPrior each: the tensors that go into prior.safetensors. ``patches`` is a scenegen.data.patches.PatchSet."""
    was_training = vae.training
    vae.eval()
    priors = []
    for index in range(len(cfg.classes)):
        images = patches.by_class(index)
        picks = np.unique(np.linspace(0, len(images) - 1, num=min(ANCHORS, len(images))).round().astype(int))
        size = (min(images[0].shape[:2]) // cfg.scale) * cfg.scale
        chosen = [images[i] for i in picks]
        palettes = np.stack([sprite_colour_stats(img) for img in chosen])
        priors.append(fit_class_prior(encode_class_latents(vae, chosen, size), palettes=palettes))
    vae.train(was_training)
    return prior_tensors(priors)
