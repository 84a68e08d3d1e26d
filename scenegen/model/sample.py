"""Inference: the whole sampling pipelines (textures, photo textures, sprites' decode), from latent
sources through quilting, tiled periodic decoding, phases and grain to float images.

Large canvases decode tile by tile: each tile takes a wrap-around halo of latent context at least as
wide as the decoder's receptive field, so the stitched result equals a whole-canvas decode and no
tile boundary can show; peak memory is bounded by the tile size, not the canvas.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch

from .config import ModelConfig
from .grain import GrainProfile, add_grain, fit_grain, profile_from_tensors
from .palette import colour_stats, decoded_palette_key, match_palette, palette_key
from .prior import QuiltSettings, bank_key, periodic_key, quilt
from .vae import VAE, receptive_halo
from .weights import LoadedModel

TILE_CELLS = 64
MIN_SPRITE_BATCH = 4  # see decode_sprites


_CL = torch.channels_last
_CL_LOCK = threading.Lock()


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory order (NHWC), the order every inference decode runs in."""
    return x.contiguous(memory_format=_CL)


def inference_decoder(model: LoadedModel) -> "torch.nn.Module":
    """The model's decoder with its weights in channels-last order (converted once, in place): oneDNN then runs
    the convolutions on NHWC data without reordering every input and output (~1.4× a texture tile's decode).
    Every decode (reference and fast path, textures and sprites) runs this way, so their bytes agree."""
    dec = model.vae.decoder
    with _CL_LOCK:
        if not dec.conv_in.weight.is_contiguous(memory_format=_CL):
            dec.to(memory_format=_CL)
    return dec


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


@torch.no_grad()
def encode(model: LoadedModel, image: np.ndarray, periodic: bool = False) -> np.ndarray:
    """Encoder mean (L×h×w) of an H×W×C image; H, W are cropped to multiples of the latent scale.
    ``periodic``: the image is tileable, pad circularly (an exact latent torus, as the prior's sources)."""
    scale = model.config.scale
    h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    with single_threaded():
        mean, _ = model.vae.encoder(_to_tensor(image[:h, :w]), periodic=periodic)
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

    Texture models treat the grid as periodic (circular halo); sprite models decode in one piece. Grids larger
    than ``tile`` cells decode tile by tile. Called single-threaded (as every generator does, see
    :func:`single_threaded`), texture decodes take the fast path of :func:`_decode_fast`: the same bytes.
    """
    cfg = model.config
    h, w = latent.shape[1:]
    out = np.empty((h * cfg.scale, w * cfg.scale, cfg.image_channels), dtype=np.float32)
    if torch.get_num_threads() == 1 and _decode_fast(model, latent, weights, tile, out, mixes=False):
        return out
    return _decode_reference(model, latent, weights, tile)


def _decode_reference(model: LoadedModel, latent: np.ndarray, weights: np.ndarray, tile: int = TILE_CELLS) -> np.ndarray:
    """:func:`decode` through :meth:`Decoder.forward` (circular padding in every convolution): the definition
    the fast path reproduces, and what decodes take where it does not apply."""
    vae, cfg = model.vae, model.config
    decoder = inference_decoder(model)
    z = _nhwc(torch.from_numpy(np.ascontiguousarray(latent, dtype=np.float32))[None])
    cond = _condition_map(vae, np.ascontiguousarray(weights, dtype=np.float32))
    h, w = z.shape[2:]
    if cfg.mode != "texture" or (h <= tile and w <= tile):
        return decoder(z, cond)[0].permute(1, 2, 0).numpy()
    halo, s = receptive_halo(cfg), cfg.scale
    out = np.empty((h * s, w * s, cfg.image_channels), dtype=np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            th, tw = min(tile, h - y0), min(tile, w - x0)
            rows = torch.arange(y0 - halo, y0 + th + halo) % h
            cols = torch.arange(x0 - halo, x0 + tw + halo) % w
            piece = decoder(_nhwc(z[:, :, rows][:, :, :, cols]), cond[:, :, rows][:, :, :, cols])
            core = piece[0, :, halo * s : (halo + th) * s, halo * s : (halo + tw) * s]
            out[y0 * s : (y0 + th) * s, x0 * s : (x0 + tw) * s] = core.permute(1, 2, 0).numpy()
    return out


# ---- the fast path of texture decodes
#
# Decoder.forward pads circularly before every convolution, and a tiled decode pads each tile (with its halo) the
# same way. Decoder.forward_valid instead decodes a window of the torus with a margin of receptive_halo cells and
# no padding at all: no padding copies, and the levels after the first compute only the pixels the next level
# needs (the halo's cost falls from ~1.5× to ~1.1× the canvas's FLOPs); torch's NaN fill of new tensors is off
# while it runs. Its pixels are the reference's (forward on each TILE_CELLS piece with its halo, or on the whole
# grid if it fits), bit for bit, where the same kernels see the same values, which is checked here, piece by
# piece: torch sends a batch-of-one 3×3 convolution to oneDNN only above ONEDNN_MIN_VALUES input values, and a
# bilinear upsampling of height + width up to BILINEAR_SMALL_SIDES to another kernel, each with other rounding;
# the threads are one (oneDNN's rounding depends on their count); elementwise operations see whole vectors (their
# scalar tail rounds differently: the decoder's widths are multiples of 32 at the first level and of 8 after, and
# the final sigmoid runs as the reference ran it); the 1×1 conditioning projection (a matrix product whose
# rounding depends on its size) is the reference's: for one class it is a periodic pattern computed by
# Decoder.class_patterns on the reference's own piece size, otherwise each piece is decoded as a window of its
# own. With one pattern for all pieces the pixels depend neither on where a window lies nor on its size, so the
# fast path takes its own tiles (FAST_TILE_CELLS, split so that every worker thread has work). Pieces where any
# rule fails (a canvas a few cells over a multiple of TILE_CELLS has such corners; canvases under ~26 cells) are
# decoded the reference way. tests/test_decode_fast.py compares the two and checks the kernel rules on this torch.
# Both run in channels-last order (inference_decoder: NHWC weights and latents, 1.4× faster than NCHW, whose oneDNN
# convolutions reorder every input and output): a convolution's pixel in NHWC does not depend on the window it lies
# in either, the periodic upsampling keeps NHWC after its pad (vae.upsample2x), and the conditioning maps stay NCHW
# (their 1×1 projection is a matrix product whose NHWC rounding depends on the window's size). Since 0.7.0.

FAST_PATH = True  # False: every decode through Decoder.forward (tests compare the two)
FAST_TILE_CELLS = 96  # measured: 64-cell tiles at 512², ~85 at 2048² (larger ones lose more in cache than halo)
ONEDNN_MIN_VALUES = 20480  # torch: a batch-of-one 3×3 convolution with more input values than this runs in oneDNN
BILINEAR_SMALL_SIDES = 64  # torch: bilinear upsampling of an input with height + width up to this rounds differently


def _inputs_forward(cfg: ModelConfig, ph: int, pw: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """(channels, height, width) of every 3×3 convolution's input and (height, width) of every bilinear
    upsampling's input (after its wrap-around pad) in Decoder.forward on ph×pw cells."""
    widths = cfg.decoder_widths
    convs = [(cfg.latent_channels + cfg.cond_channels, ph + 2, pw + 2)]
    ups = []
    for level, width in enumerate(widths):
        hh, ww = ph * 2**level + 2, pw * 2**level + 2
        if level:
            convs.append((widths[level - 1], hh, ww))
            ups.append((ph * 2 ** (level - 1) + 2, pw * 2 ** (level - 1) + 2))
        convs += [(width, hh, ww)] * (2 * cfg.decoder_blocks)
    return convs + [(widths[-1], ph * cfg.scale + 2, pw * cfg.scale + 2)], ups


def _inputs_valid(cfg: ModelConfig, ph: int, pw: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """The same for Decoder.forward_valid on a ph×pw-cell window (its conditioning map's upsamplings too)."""
    widths = cfg.decoder_widths
    convs, ups, hh, ww = [(cfg.latent_channels + cfg.cond_channels, ph, pw)], [], ph - 2, pw - 2
    for level, width in enumerate(widths):
        if level:
            ups += [(hh, ww), (ph * 2 ** (level - 1), pw * 2 ** (level - 1))]
            convs.append((widths[level - 1], 2 * hh, 2 * ww))
            hh, ww = 2 * hh - 2, 2 * ww - 2
        for _ in range(cfg.decoder_blocks):
            convs += [(width, hh, ww), (width, hh - 2, ww - 2)]
            hh, ww = hh - 4, ww - 4
    return convs + [(widths[-1], hh, ww)], ups


def _same_kernels(cfg: ModelConfig, inputs: tuple[list[tuple[int, int, int]], list[tuple[int, int]]]) -> bool:
    """Whether every 3×3 convolution runs in oneDNN and every bilinear upsampling in the kernel large inputs
    take (torch 2.x: another one, with other rounding, for inputs of at most BILINEAR_SMALL_SIDES height + width)."""
    convs, ups = inputs
    if not all(h > 0 and w > 0 and c * h * w > ONEDNN_MIN_VALUES for c, h, w in convs):
        return False
    return cfg.upsample != "bilinear" or all(h + w > BILINEAR_SMALL_SIDES for h, w in ups)


def _fast_decoder(cfg: ModelConfig) -> bool:
    """Whether this model's decoder allows the fast path (see above)."""
    widths = cfg.decoder_widths
    return (cfg.mode == "texture" and widths[0] % 32 == 0
            and all(w % 8 == 0 for w in widths) and cfg.upsample in ("nearest", "bilinear"))


def _single_class(weights: np.ndarray) -> int | None:
    """The class index if ``weights`` are one class's one-hot map everywhere (as condition_weights makes)."""
    first = weights[:, 0, 0]
    hot = np.flatnonzero(first)
    if len(hot) != 1 or first[hot[0]] != 1.0 or not (weights == first[:, None, None]).all():
        return None
    return int(hot[0])


def _split(cells: int, parts: int) -> list[tuple[int, int]]:
    """(start, length) of ``parts`` near-equal runs covering ``cells``."""
    bounds = [round(i * cells / parts) for i in range(parts + 1)]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a]


def _fast_tiles(cells_y: int, cells_x: int, workers: int) -> list[tuple[int, int, int, int]]:
    """(y0, x0, th, tw) of the fast path's tiles: about FAST_TILE_CELLS a side, at least one per worker."""
    ny, nx = -(-cells_y // FAST_TILE_CELLS), -(-cells_x // FAST_TILE_CELLS)
    while ny * nx < workers and (ny < cells_y or nx < cells_x):
        if (cells_y / ny >= cells_x / nx and ny < cells_y) or nx >= cells_x:
            ny += 1
        else:
            nx += 1
    return [(y0, x0, th, tw) for y0, th in _split(cells_y, ny) for x0, tw in _split(cells_x, nx)]


@contextmanager
def _no_nan_fill() -> Iterator[None]:
    """With deterministic algorithms on (api sets them), torch fills every new tensor with NaN, a tenth of a
    decode's time; the decoder reads no value it has not written, so the fill is switched off while it runs."""
    global _FILL_USERS, _FILL_BEFORE
    with _FILL_LOCK:
        if _FILL_USERS == 0:
            _FILL_BEFORE = torch.utils.deterministic.fill_uninitialized_memory
            torch.utils.deterministic.fill_uninitialized_memory = False
        _FILL_USERS += 1
    try:
        yield
    finally:
        with _FILL_LOCK:
            _FILL_USERS -= 1
            if _FILL_USERS == 0:
                torch.utils.deterministic.fill_uninitialized_memory = _FILL_BEFORE


_FILL_LOCK = threading.Lock()
_FILL_USERS, _FILL_BEFORE = 0, True


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _vector_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """torch.sigmoid of a tile's core as inside a whole tile: its values all in whole vectors (the scalar tail
    rounds differently), by running it on a buffer padded to a multiple of 64 values."""
    n = logits.numel()
    buffer = torch.empty(-(-n // 64) * 64)
    view = buffer[:n].view(logits.shape)
    view.copy_(logits)
    buffer.sigmoid_()
    return view


def _decode_fast(model: LoadedModel, latent: np.ndarray, weights: np.ndarray, tile: int, out: np.ndarray,
                 phase: tuple[int, int] = (0, 0), workers: int = 1,
                 progress: Callable[[float], None] | None = None, mixes: bool = True) -> bool:
    """Decode into ``out`` (rolled by ``phase``) what the reference decode of each ``tile``-cell piece with its halo
    gives (as decode_canvas decodes; the whole grid in one piece if it fits), bit for bit, on ``workers``
    threads; False (nothing written) where the fast path does not apply (see above). ``mixes``: also for
    conditioning maps other than one class (each piece's map is then projected on that piece)."""
    cfg, vae, s = model.config, model.vae, model.config.scale
    cells_y, cells_x = latent.shape[1:]
    halo = receptive_halo(cfg)
    if not FAST_PATH or not _fast_decoder(cfg):
        return False
    decoder = inference_decoder(model)
    whole = cells_y <= tile and cells_x <= tile
    if whole and not _same_kernels(cfg, _inputs_forward(cfg, cells_y, cells_x)):
        return False
    pieces = [(0, 0, cells_y, cells_x)] if whole else [
        (y0, x0, min(tile, cells_y - y0), min(tile, cells_x - x0)) for y0 in range(0, cells_y, tile) for x0 in range(0, cells_x, tile)]
    margin = 0 if whole else 2 * halo  # the reference decodes each piece with its halo, the whole grid without
    reference = [t for t in pieces if not _same_kernels(cfg, _inputs_forward(cfg, t[2] + margin, t[3] + margin))]
    pieces = [t for t in pieces if t not in reference]
    latent = np.ascontiguousarray(latent, dtype=np.float32)
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    index = _single_class(weights)
    shapes = {(th + margin, tw + margin) for _, _, th, tw in pieces}
    with single_threaded():
        patterns = None if index is None else {shape: decoder.class_patterns(index, *shape) for shape in shapes}
    if patterns is not None and any(p is None for p in patterns.values()):
        patterns = None

    def valid(th: int, tw: int) -> bool:
        return _same_kernels(cfg, _inputs_valid(cfg, th + 2 * halo, tw + 2 * halo))

    tiles = None
    if patterns is not None and all(_same(p, next(iter(patterns.values()))) for p in patterns.values()):
        # one class, one term pattern: the pixels do not depend on the tiles, take larger ones
        for count in (workers, 1):
            layout = _fast_tiles(cells_y, cells_x, count)
            if all(valid(th, tw) for _, _, th, tw in layout):
                tiles = [(*t, next(iter(patterns.values()), None)) for t in layout]
                break
    if tiles is None:
        if whole or (patterns is None and not mixes):
            return False  # a map the reference projects on the whole grid (at most TILE_CELLS², or decode's own)
        # the reference's own tiles: each projects its conditioning on its own piece, of its own size
        tiles = [(*t, None if patterns is None else patterns[(t[2] + margin, t[3] + margin)]) for t in pieces]
        reference += [t[:4] for t in tiles if not valid(t[2], t[3])]
        tiles = [t for t in tiles if valid(t[2], t[3])]
    logits_all = torch.empty((cfg.image_channels, cells_y * s, cells_x * s)) if whole else None
    dy, dx = phase

    def place(y0: int, x0: int, pixels: np.ndarray) -> None:
        target = np.ix_((np.arange(y0 * s, y0 * s + pixels.shape[0]) + dy) % out.shape[0],
                        (np.arange(x0 * s, x0 * s + pixels.shape[1]) + dx) % out.shape[1])
        out[target] = pixels

    def decode_tile(y0: int, x0: int, th: int, tw: int, patterns: list[torch.Tensor] | None) -> None:
        with torch.no_grad():  # grad mode is per thread
            rows = np.arange(y0 - halo, y0 + th + halo) % cells_y
            cols = np.arange(x0 - halo, x0 + tw + halo) % cells_x
            z = _nhwc(torch.from_numpy(np.ascontiguousarray(latent[:, rows][:, :, cols]))[None])
            cond = _condition_map(vae, np.ascontiguousarray(weights[:, rows][:, :, cols]))
            logits, offset = decoder.forward_valid(z, cond, patterns)
            c0 = halo * s - offset
            core = logits[0, :, c0 : c0 + th * s, c0 : c0 + tw * s]
            if logits_all is not None:
                logits_all[:, y0 * s : (y0 + th) * s, x0 * s : (x0 + tw) * s] = core
            else:
                place(y0, x0, _vector_sigmoid(core).permute(1, 2, 0).numpy())

    with single_threaded(), _no_nan_fill():
        _run_tiles([lambda t=t: decode_tile(*t) for t in tiles], workers, progress)
        if logits_all is not None:  # forward's sigmoid on the whole canvas: the same scalar tail
            place(0, 0, torch.sigmoid(logits_all[None])[0].permute(1, 2, 0).numpy())
        for y0, x0, th, tw in reference:
            rows = np.arange(y0 - halo, y0 + th + halo) % cells_y
            cols = np.arange(x0 - halo, x0 + tw + halo) % cells_x
            piece = _decode_reference(model, latent[:, rows][:, :, cols], weights[:, rows][:, :, cols], tile=max(len(rows), len(cols)))
            place(y0, x0, piece[halo * s : (halo + th) * s, halo * s : (halo + tw) * s])
    return True


def _run_tiles(jobs: list[Callable[[], None]], workers: int, progress: Callable[[float], None] | None) -> None:
    """Run ``jobs`` on up to ``workers`` threads, ``progress(fraction)`` after each; an error or Ctrl-C cancels
    the jobs not yet started."""
    from concurrent.futures import as_completed

    if workers <= 1:
        for done, job in enumerate(jobs, 1):
            job()
            if progress is not None:
                progress(done / len(jobs))
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        futures = [pool.submit(job) for job in jobs]
        try:
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                if progress is not None:
                    progress(done / len(futures))
        except BaseException:  # an error or Ctrl-C: do not wait for the tiles not yet started
            for future in futures:
                future.cancel()
            raise


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


def texture_source(model: LoadedModel, class_index: int, seed: int) -> tuple[np.ndarray, bool]:
    """The latent source (L×gh×gw float32) a seed's canvas of a class quilts from (:func:`source_index`), and
    whether it is an exact torus. Only that source is converted from the stored bank (a tenth of a 512² set's
    time went to converting all of them)."""
    key = bank_key(class_index)
    if key not in model.prior:
        raise KeyError(f"no latent bank for class index {class_index}")
    bank = model.prior[key]
    pick = source_index(len(bank), seed, class_index)
    flags = model.prior.get(periodic_key(class_index))
    return bank[pick].float().numpy(), bool(flags[pick]) if flags is not None else False


def source_index(count: int, seed: int, class_index: int) -> int:
    """The source a seed's canvas quilts from: consecutive seeds walk through every source of the class
    (in a class-specific order) before any repeats, so nearby seeds never share a palette."""
    order = np.random.default_rng([class_index, count, 17]).permutation(count)
    return int(order[int(seed) % count])


def sample_texture_latent(model: LoadedModel, class_index: int, height: int, width: int, seed: int,
                          tick: Callable[[], None] | None = None) -> np.ndarray:
    """A periodic latent grid (L×height×width cells) quilted from one of the class's latent sources
    (``tick()`` after each row of patches)."""
    source, periodic = texture_source(model, class_index, seed)
    rng = np.random.default_rng([seed, class_index, height, width])
    return quilt(source, height, width, rng, quilt_settings(height, width), periodic=periodic, tick=tick)


def source_palette(model: LoadedModel, class_index: int, seed: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Colour statistics of the source a seed's canvas quilts from and of that source's decode (each None for
    models saved without them): the target and the start of the palette map."""
    stats, decoded = model.prior.get(palette_key(class_index)), model.prior.get(decoded_palette_key(class_index))
    if stats is None:
        return None, None
    pick = source_index(len(stats), seed, class_index)
    return stats.double().numpy()[pick], None if decoded is None else decoded.double().numpy()[pick]


def quilt_settings(height: int, width: int) -> QuiltSettings:
    """Quilting patches double on canvases of more than 512 latent cells a side (fewer, larger patches:
    bounded time at 8192²)."""
    side = max(height, width)
    patch = QuiltSettings.patch if side <= 512 else 2 * QuiltSettings.patch
    return QuiltSettings(patch=patch)


def quilt_from_latent(latent: np.ndarray, height: int, width: int, seed: int, periodic: bool = False,
                      tick: Callable[[], None] | None = None) -> np.ndarray:
    """A new periodic latent grid of the given size stitched from one image's latent grid."""
    rng = np.random.default_rng([seed, height, width, 7])
    return quilt(latent, height, width, rng, quilt_settings(height, width), periodic=periodic, tick=tick)


def _quilt_tick(progress: Callable[[float], None] | None) -> Callable[[], None] | None:
    """Progress 0 after each row of quilting patches: a caller's cancel check runs during quilting too."""
    return None if progress is None else (lambda: progress(0.0))


def cell_phase(model: LoadedModel, seed: int, tag: int, height: int, width: int) -> tuple[int, int]:
    """A seeded pixel offset within one latent cell (see :func:`decode_canvas`'s ``phase``)."""
    rng = np.random.default_rng([int(seed), int(tag), height, width, 13])
    return int(rng.integers(0, model.config.scale)), int(rng.integers(0, model.config.scale))


def with_grain(image: np.ndarray, profile: GrainProfile | None, seed: int, tag: int, strength: float,
               mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` plus the profile's grain (see :mod:`scenegen.model.grain`), seeded by (seed, tag, size)."""
    if profile is None or strength <= 0:
        return image
    rng = np.random.default_rng([int(seed), int(tag), image.shape[0], image.shape[1], 11])
    return add_grain(image, profile.scaled(strength), rng, mask)


def sample_texture(model: LoadedModel, class_index: int, height: int, width: int, seed: int, *, grain: float = 0.0,
                   progress: Callable[[float], None] | None = None) -> np.ndarray:
    """The whole texture sampling pipeline: a seamless height×width×3 float32 texture of one class.

    One latent source of the class (chosen by the seed) is quilted into a latent torus, decoded tile by tile
    with a seeded in-cell phase, its colours locked to the source's palette (:mod:`scenegen.model.palette`),
    and optionally given the class's fitted grain (``grain`` = its strength).
    """
    scale = model.config.scale
    cells_y, cells_x = latent_cells(height, scale), latent_cells(width, scale)
    latent = sample_texture_latent(model, class_index, cells_y, cells_x, seed, _quilt_tick(progress))
    phase = cell_phase(model, seed, class_index, height, width)
    weights = condition_weights(model.config, class_index, cells_y, cells_x)
    image = decode_canvas(model, latent, weights, height, width, progress, phase)
    target, start = source_palette(model, class_index, seed)
    if target is not None:
        image = match_palette(image, target, start)
    return with_grain(image, class_grain(model, class_index) if grain > 0 else None, seed, class_index, grain)


def sample_photo_texture(model: LoadedModel, photo: np.ndarray, height: int, width: int, seed: int, *,
                         grain: float = 0.0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A new seamless texture with the look of ``photo`` (H×W×3, at the pixel scale wanted): its latent grid
    re-quilted on a torus (exhaustive search, see :mod:`scenegen.model.prior`) and decoded under the 'any'
    condition, with the photo's colour distribution (:mod:`scenegen.model.palette`); ``grain`` adds the photo's
    own grain (what its reconstruction misses) at that strength. A greyscale photo gives a greyscale texture
    (the decoder's faint chroma, about 0.6 % on scikit-image's brick, is not in the photo)."""
    cfg = model.config
    latent = encode(model, photo)
    cells_y, cells_x = latent_cells(height, cfg.scale), latent_cells(width, cfg.scale)
    quilted = quilt_from_latent(latent, cells_y, cells_x, int(seed), tick=_quilt_tick(progress))
    phase = cell_phase(model, seed, cfg.any_class, height, width)
    weights = condition_weights(cfg, cfg.any_class, cells_y, cells_x)
    image = match_palette(decode_canvas(model, quilted, weights, height, width, progress, phase), colour_stats(photo))
    profile = photo_grain(model, photo, latent) if grain > 0 else None
    return keep_grey(with_grain(image, profile, seed, cfg.any_class, grain), photo)


GREY_TOLERANCE = 1.0 / 255.0  # an image whose channels nowhere differ by more than this (one 8-bit step) is grey


def keep_grey(image: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``image`` (H×W×3, in place) made grey, its channels' mean in each, if ``source`` is greyscale: its channels
    equal to within GREY_TOLERANCE everywhere; else unchanged."""
    if source.ndim == 3 and float(np.abs(source - source[..., :1]).max()) <= GREY_TOLERANCE:
        image[...] = image.mean(axis=-1, keepdims=True)
    return image


@contextmanager
def single_threaded() -> Iterator[None]:
    """Torch ops on one thread each (restored after): oneDNN's rounding depends on its thread count, so every
    decode runs its convolutions single-threaded and gets its parallelism from worker threads instead (tiles,
    sprite chunks). The same inputs then give the same bytes on any machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def decode_canvas(model: LoadedModel, latent: np.ndarray, weights: np.ndarray, height: int, width: int,
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
    cfg, scale = model.config, model.config.scale
    cells_y, cells_x = latent.shape[1:]
    threads = torch.get_num_threads()
    image = np.empty((cells_y * scale, cells_x * scale, cfg.image_channels), dtype=np.float32)
    if _decode_fast(model, latent, weights, TILE_CELLS, image, phase, threads, progress):
        pass
    elif cfg.mode != "texture" or (cells_y <= TILE_CELLS and cells_x <= TILE_CELLS):
        with single_threaded():  # like every tile below: the bytes never depend on the thread count
            image = np.roll(_decode_reference(model, latent, weights), phase, axis=(0, 1))
        if progress is not None:
            progress(1.0)
    else:
        halo = receptive_halo(cfg)
        dy, dx = phase
        starts = [(y0, x0) for y0 in range(0, cells_y, TILE_CELLS) for x0 in range(0, cells_x, TILE_CELLS)]

        def decode_tile(y0: int, x0: int) -> None:
            th, tw = min(TILE_CELLS, cells_y - y0), min(TILE_CELLS, cells_x - x0)
            rows = np.arange(y0 - halo, y0 + th + halo) % cells_y
            cols = np.arange(x0 - halo, x0 + tw + halo) % cells_x
            piece = _decode_reference(model, latent[:, rows][:, :, cols], weights[:, rows][:, :, cols], tile=max(len(rows), len(cols)))
            target = np.ix_((np.arange(y0 * scale, (y0 + th) * scale) + dy) % image.shape[0],
                            (np.arange(x0 * scale, (x0 + tw) * scale) + dx) % image.shape[1])
            image[target] = piece[halo * scale : (halo + th) * scale, halo * scale : (halo + tw) * scale]

        with single_threaded():
            _run_tiles([lambda y0=y0, x0=x0: decode_tile(y0, x0) for y0, x0 in starts], threads, progress)
    if cells_y > TILE_CELLS or cells_x > TILE_CELLS:
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
def decode_sprites(model: LoadedModel, latents: np.ndarray, class_index: int, chunk: int = MIN_SPRITE_BATCH) -> np.ndarray:
    """Decode N×L×h×w sprite latent grids of one class to N×H×W×4 float32 (straight RGBA, not yet cleaned).

    Sprite conditioning is one class for the whole grid, so each level's conditioning projection is a
    per-channel constant: it is added as a bias instead of being upsampled to full resolution (the same
    result as :func:`decode`, with far less memory traffic). Grids are decoded ``chunk`` at a time, the chunks
    on as many threads as torch has (small chunks stay in cache: 4 ran 1.2× faster than 32 at 256², 2 cores),
    in place wherever forward's result was a fresh tensor. oneDNN takes another code path for a batch of one, whose
    rounding differs; batches of 2 or more give bit-identical images whatever their size, so a chunk smaller
    than ``MIN_SPRITE_BATCH`` is padded: a sprite's pixels never depend on how many were decoded with it
    (tests/test_sprite_model.py checks one grid alone against the same grid in a batch, bit for bit).
    """
    import torch.nn.functional as F

    dec = inference_decoder(model)
    z_all = torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32))
    n, _, h, w = z_all.shape
    emb = dec.embedding(torch.tensor([class_index]))  # 1×C
    biases = [F.linear(emb, p.weight[:, :, 0, 0], p.bias)[:, :, None, None] for p in dec.cond_proj]
    out = np.empty((n, h * model.config.scale, w * model.config.scale, model.config.image_channels), np.float32)
    def decode_chunk(start: int) -> None:
        with torch.no_grad():  # grad mode is per thread
            run_chunk(start)

    def run_chunk(start: int) -> None:  # forward's operations, in place where forward's result was fresh
        z = z_all[start:start + chunk]
        count = len(z)
        if count < MIN_SPRITE_BATCH:
            z = torch.cat([z, z.new_zeros((MIN_SPRITE_BATCH - count, *z.shape[1:]))])
        x = _nhwc(torch.cat([z, emb[:, :, None, None].expand(len(z), -1, h, w)], dim=1))
        x = dec.conv_in(x)
        for level in range(len(dec.blocks)):
            if level > 0:
                x = F.silu(dec.up_convs[level - 1](dec.upsample(x)), inplace=True)
            x = x.add_(biases[level])
            for res in dec.level_blocks(level):
                x = res.conv2(F.silu(res.conv1(F.silu(x)), inplace=True)).add_(x)  # ResBlock: a sum, either order
        out[start:start + count] = dec.conv_out(F.silu(x, inplace=True)).sigmoid_()[:count].permute(0, 2, 3, 1).numpy()

    workers = torch.get_num_threads()
    chunk = max(MIN_SPRITE_BATCH, min(chunk, -(-n // max(1, workers))))  # at least one chunk per thread
    with single_threaded(), _no_nan_fill(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(decode_chunk, range(0, n, chunk)))
    return out


def hold_sprite_palettes(decoded: np.ndarray, palettes: list[np.ndarray | None]) -> np.ndarray:
    """Map each decoded sprite's colours (N×H×W×4, in place) onto the colour statistics its draw should have
    (see :mod:`scenegen.model.palette`), fitted on its fairly opaque texels; alpha is untouched."""
    from .sprite_prior import sprite_colour_stats

    for sprite, target in zip(decoded, palettes):
        if target is not None:
            match_palette(sprite[..., :3], target, sprite_colour_stats(sprite))
    return decoded

