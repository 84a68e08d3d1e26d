"""Inference: encode images to latent grids, sample latent grids, decode them (tiled, periodic).

Large canvases decode tile by tile: each tile takes a wrap-around halo of latent context at least as
wide as the decoder's receptive field, so the stitched result equals a whole-canvas decode and no
tile boundary can show; peak memory is bounded by the tile size, not the canvas.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import ModelConfig
from .grain import GrainProfile, fit_grain, profile_from_tensors
from .prior import QuiltSettings, bank_key, quilt
from .vae import VAE, receptive_halo
from .weights import LoadedModel

TILE_CELLS = 64
MIN_SPRITE_BATCH = 4  # see decode_sprites
MIN_SOURCES = 3  # bank grids a texture canvas quilts from, at least ...
SOURCE_CELLS = 8  # ... and one more per this many latent cells of canvas side


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


@torch.no_grad()
def encode(model: LoadedModel, image: np.ndarray) -> np.ndarray:
    """Encoder mean (L×h×w) of an H×W×C image; H, W are cropped to multiples of the latent scale."""
    scale = model.config.scale
    h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    mean, _ = model.vae.encoder(_to_tensor(image[:h, :w]))
    return mean[0].numpy()


def condition_weights(config: ModelConfig, class_index: int, height: int, width: int) -> np.ndarray:
    """One-hot conditioning weights (num_conditions×h×w) for a single class (or the 'any' condition)."""
    weights = np.zeros((config.num_conditions, height, width), dtype=np.float32)
    weights[class_index] = 1.0
    return weights


def _condition_map(vae: VAE, weights: np.ndarray) -> torch.Tensor:
    table = vae.decoder.embedding.weight  # conditions × C
    return torch.einsum("kc,khw->chw", table, torch.from_numpy(weights))[None]


@torch.no_grad()
def decode(model: LoadedModel, latent: np.ndarray, weights: np.ndarray, tile: int = TILE_CELLS) -> np.ndarray:
    """Decode an L×h×w latent grid under conditioning ``weights`` to an H×W×C float32 image.

    Texture models treat the grid as periodic (circular halo); sprite models decode in one piece.
    """
    vae, cfg = model.vae, model.config
    z = torch.from_numpy(np.ascontiguousarray(latent, dtype=np.float32))[None]
    cond = _condition_map(vae, np.ascontiguousarray(weights, dtype=np.float32))
    h, w = z.shape[2:]
    if cfg.mode != "texture" or (h <= tile and w <= tile):
        return vae.decoder(z, cond)[0].permute(1, 2, 0).numpy()
    halo, s = receptive_halo(cfg), cfg.scale
    out = np.empty((h * s, w * s, cfg.image_channels), dtype=np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            th, tw = min(tile, h - y0), min(tile, w - x0)
            rows = torch.arange(y0 - halo, y0 + th + halo) % h
            cols = torch.arange(x0 - halo, x0 + tw + halo) % w
            piece = vae.decoder(z[:, :, rows][:, :, :, cols], cond[:, :, rows][:, :, :, cols])
            core = piece[0, :, halo * s : (halo + th) * s, halo * s : (halo + tw) * s]
            out[y0 * s : (y0 + th) * s, x0 * s : (x0 + tw) * s] = core.permute(1, 2, 0).numpy()
    return out


def class_grain(model: LoadedModel, class_index: int) -> GrainProfile | None:
    """The grain profile fitted for a class (None for models saved without one)."""
    return profile_from_tensors(model.prior, class_index)


def photo_grain(model: LoadedModel, photo: np.ndarray, latent: np.ndarray) -> GrainProfile:
    """The grain a photo has beyond its own reconstruction (``latent`` = ``encode(model, photo)``)."""
    cfg = model.config
    recon = decode(model, latent, condition_weights(cfg, cfg.any_class, *latent.shape[1:]))
    m = cfg.loss_margin
    h, w = recon.shape[:2]
    return fit_grain(photo[None, m : h - m, m : w - m], recon[None, m : h - m, m : w - m])


def latent_cells(size: int, scale: int) -> int:
    """Latent cells needed to cover ``size`` pixels."""
    return max(1, math.ceil(size / scale))


def sample_texture_latent(model: LoadedModel, class_index: int, height: int, width: int, seed: int) -> np.ndarray:
    """A periodic latent grid (L×height×width cells) quilted from the class's latent bank."""
    key = bank_key(class_index)
    if key not in model.prior:
        raise KeyError(f"no latent bank for class index {class_index}")
    bank = model.prior[key].float().numpy()
    rng = np.random.default_rng([seed, class_index, height, width])
    return quilt(bank[coherent_sources(bank, height * width, rng)], height, width, rng, QuiltSettings())


def coherent_sources(bank: np.ndarray, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the bank grids one canvas quilts from: a random anchor and its nearest neighbours.

    Quilting from the whole bank mixes every palette of a class into one canvas (a wall of five brick
    colours) and makes all seeds look alike; a seed's canvas instead draws from a few similar sources
    (by mean latent), more of them for larger canvases so big textures do not repeat.
    """
    count = int(np.clip(round(np.sqrt(cells) / SOURCE_CELLS), MIN_SOURCES, len(bank)))
    summary = bank.mean(axis=(2, 3))
    anchor = int(rng.integers(0, len(bank)))
    distance = ((summary - summary[anchor]) ** 2).sum(axis=1)
    return np.sort(np.argsort(distance, kind="stable")[:count])


def quilt_from_latent(latent: np.ndarray, height: int, width: int, seed: int) -> np.ndarray:
    """A new periodic latent grid of the given size stitched from one image's latent grid."""
    rng = np.random.default_rng([seed, height, width, 7])
    return quilt(latent[None], height, width, rng, QuiltSettings())


def fourier_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a periodic image to height×width in the Fourier domain (stays exactly periodic)."""
    from scipy.signal import resample

    out = image
    if out.shape[0] != height:
        out = resample(out, height, axis=0)
    if out.shape[1] != width:
        out = resample(out, width, axis=1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@torch.no_grad()
def decode_sprites(model: LoadedModel, latents: np.ndarray, class_index: int, chunk: int = 64) -> np.ndarray:
    """Decode N×L×h×w sprite latent grids of one class to N×H×W×4 float32 (straight RGBA, not yet cleaned).

    Sprite conditioning is one class for the whole grid, so each level's conditioning projection is a
    per-channel constant: it is added as a bias instead of being upsampled to full resolution (the same
    result as :func:`decode`, with far less memory traffic). Grids are decoded up to ``chunk`` at a time
    (large batches run much faster on CPU). oneDNN takes another code path for a batch of one, whose
    rounding differs; batches of 2 or more give bit-identical images whatever their size, so a chunk smaller
    than ``MIN_SPRITE_BATCH`` is padded: a sprite's pixels never depend on how many were decoded with it
    (tests/test_sprite_model.py checks one grid alone against the same grid in a batch, bit for bit).
    """
    import torch.nn.functional as F

    dec = model.vae.decoder
    z_all = torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32))
    n, _, h, w = z_all.shape
    emb = dec.embedding(torch.tensor([class_index]))  # 1×C
    biases = [F.linear(emb, p.weight[:, :, 0, 0], p.bias)[:, :, None, None] for p in dec.cond_proj]
    out = np.empty((n, h * model.config.scale, w * model.config.scale, model.config.image_channels), np.float32)
    for start in range(0, n, chunk):
        z = z_all[start:start + chunk]
        count = len(z)
        if count < MIN_SPRITE_BATCH:
            z = torch.cat([z, z.new_zeros((MIN_SPRITE_BATCH - count, *z.shape[1:]))])
        x = dec.conv_in(torch.cat([z, emb[:, :, None, None].expand(len(z), -1, h, w)], dim=1))
        for level, block in enumerate(dec.blocks):
            if level > 0:
                x = F.silu(dec.up_convs[level - 1](dec.upsample(x)))
            x = block(x + biases[level])
        out[start:start + count] = torch.sigmoid(dec.conv_out(F.silu(x)))[:count].permute(0, 2, 3, 1).numpy()
    return out
