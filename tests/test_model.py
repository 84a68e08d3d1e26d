"""The VAE's promises: periodic by construction, exact tiled decoding, deterministic quilting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scenegen.metrics import seam_ratio
from scenegen.model.config import ModelConfig
from scenegen.model.prior import QuiltSettings, quilt
from scenegen.model.sample import condition_weights, decode, fourier_resize
from scenegen.model.vae import VAE
from scenegen.model.weights import LoadedModel


def _model(mode: str = "texture") -> LoadedModel:
    torch.manual_seed(0)
    cfg = ModelConfig(mode=mode, classes=("a", "b"))
    vae = VAE(cfg).eval()
    return LoadedModel(path=None, config=cfg, vae=vae, prior={}, meta={})  # type: ignore[arg-type]


def test_decoder_is_shift_equivariant_so_output_wraps() -> None:
    model = _model()
    z = np.random.default_rng(0).standard_normal((8, 12, 12)).astype(np.float32)
    w = condition_weights(model.config, 0, 12, 12)
    out = decode(model, z, w)
    shifted = decode(model, np.roll(z, (3, 5), axis=(1, 2)), w)
    assert np.allclose(np.roll(out, (3 * 8, 5 * 8), axis=(0, 1)), shifted, atol=1e-5)


def test_sprite_decoder_does_not_wrap() -> None:
    model = _model("sprite")
    z = np.random.default_rng(0).standard_normal((8, 12, 12)).astype(np.float32)
    w = condition_weights(model.config, 0, 12, 12)
    out = decode(model, z, w)
    shifted = decode(model, np.roll(z, (3, 5), axis=(1, 2)), w)
    assert out.shape == (96, 96, 4)
    assert not np.allclose(np.roll(out, (24, 40), axis=(0, 1)), shifted, atol=1e-3)


def test_tiled_decode_matches_whole_decode() -> None:
    model = _model()
    z = np.random.default_rng(1).standard_normal((8, 40, 24)).astype(np.float32)
    w = condition_weights(model.config, 1, 40, 24)
    whole = decode(model, z, w, tile=64)
    tiled = decode(model, z, w, tile=16)
    assert np.abs(whole - tiled).max() < 1e-4


def test_quilt_is_periodic_deterministic_and_made_of_source_cells() -> None:
    rng = np.random.default_rng(0)
    source = rng.standard_normal((8, 32, 32)).astype(np.float32)
    a = quilt(source, 40, 56, np.random.default_rng(5))
    b = quilt(source, 40, 56, np.random.default_rng(5))
    c = quilt(source, 40, 56, np.random.default_rng(6))
    assert a.shape == (8, 40, 56)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    cells = {tuple(v) for v in source.transpose(1, 2, 0).reshape(-1, 8).round(5)}
    assert all(tuple(v) in cells for v in a.transpose(1, 2, 0).reshape(-1, 8).round(5))


def _brick_source(side: int = 64, course: int = 8, length: int = 16) -> np.ndarray:
    """A latent 'brick wall' torus: every brick its own random vector, mortar a fixed vector."""
    yy, xx = np.mgrid[0:side, 0:side]
    rows = yy // course
    shift = (rows % 2) * (length // 2)
    bricks = rows * (side // length) + ((xx + shift) % side) // length
    colours = np.random.default_rng(3).standard_normal((bricks.max() + 1, 8))
    source = colours[bricks].transpose(2, 0, 1)
    source[:, (yy % course == 0) | ((xx + shift) % length == 0)] = -3.0
    return source.astype(np.float32)


def test_quilt_keeps_brick_courses_continuous_without_copying_the_source() -> None:
    """Exhaustive search lines every patch up with the lattice: each mortar row of the canvas is mortar all
    the way across; and no patch merely continues its neighbour (the source shifted would)."""
    source = _brick_source()
    out = quilt(source, 96, 96, np.random.default_rng(0))
    mortar_rows = (out[0] < -2.5).mean(axis=1)
    assert ((mortar_rows > 0.97) | (mortar_rows < 0.3)).all()  # rows are all mortar or cross bricks
    assert (mortar_rows > 0.97).sum() == 12  # one course every 8 cells, like the source
    tiled = np.tile(source, (1, 2, 2))[:, :96, :96]
    best_copy = max((np.roll(tiled, (dy, dx), axis=(1, 2))[0] == out[0]).mean() for dy in range(64) for dx in range(64))
    assert best_copy < 0.6  # no shift of the source explains most of the canvas
    brick = out[0] > -2.5
    colours = {tuple(v) for v in out.transpose(1, 2, 0)[brick].round(4)}
    assert len(colours) >= 24  # most of the source's 32 bricks appear, not a few repeated


def test_quilt_of_a_smooth_periodic_source_has_no_seam() -> None:
    """Quilting a smooth periodic field must not introduce jumps at the wrap-around edges."""
    yy, xx = np.mgrid[0:32, 0:32]
    field = np.stack([np.sin(2 * np.pi * (xx + k) / 8) + np.cos(2 * np.pi * yy / 8) for k in range(8)]).astype(np.float32)
    out = quilt(field, 48, 48, np.random.default_rng(0))
    assert seam_ratio(out.transpose(1, 2, 0)) < 1.3


def test_fourier_resize_stays_periodic() -> None:
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    img = np.stack([0.5 + 0.3 * np.sin(2 * np.pi * (3 * xx + yy))] * 3, axis=2).astype(np.float32)
    out = fourier_resize(img, 50, 70)
    assert out.shape == (50, 70, 3)
    assert seam_ratio(out) < 1.1


def test_quilt_cuts_fall_anywhere_the_wrap_included() -> None:
    """Patch cuts must not be pinned to a fixed grid: the wrap-around edge is then like any other column.

    Each source cell records (row, column); a canvas column boundary "breaks" in a row where the two cells
    were not neighbours in the source. Over many seeds every boundary breaks about equally often, and every
    patch is a new arrangement (breaks happen at every patch boundary, so their mean is well above 0).
    """
    side = 32
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    noise = np.random.default_rng(0).standard_normal((6, side, side)) * 4.0  # texture, so cuts have choices
    source = np.concatenate([np.stack([rows, cols]), noise]).astype(np.float32)
    breaks = np.zeros(48)
    seeds = 40
    for seed in range(seeds):
        out = quilt(source, 48, 48, np.random.default_rng(seed), periodic=False)
        left = np.roll(out, 1, axis=2)  # the cell left of each one, across the wrap for column 0
        joined = (left[0] == out[0]) & (left[1] + 1 == out[1])
        breaks += (~joined).mean(axis=0) / seeds
    mean = breaks.mean()
    assert 0.04 < mean < 0.3
    assert breaks.max() < 3 * mean  # no column is a cut every time (a fixed patch grid would be)
    assert 0.4 * mean < breaks[0] < 2 * mean  # the wrap-around edge is an ordinary column


def test_palette_lock_maps_colour_mean_and_covariance_and_keeps_periodicity() -> None:
    from scenegen.model.palette import colour_stats, match_palette

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    grey = 0.5 + 0.15 * np.sin(2 * np.pi * (3 * xx + yy))[..., None] + 0.02 * rng.standard_normal((64, 64, 3))
    image = np.clip(grey, 0, 1).astype(np.float32)  # a greyish periodic texture
    pink = np.clip(np.stack([0.8 + 0.1 * image[..., 0], 0.5 + 0.1 * image[..., 1], 0.55 + 0.05 * image[..., 2]], -1), 0, 1)
    target = colour_stats(pink)
    out = match_palette(image.copy(), target, colour_stats(image))
    got = colour_stats(out)
    assert np.abs(got[:3] - target[:3]).max() < 1e-3
    assert np.abs(got[3:] - target[3:]).max() < 1e-4
    assert seam_ratio(out) < 1.1  # pointwise: a periodic image stays periodic
    same = match_palette(image.copy(), colour_stats(image))
    assert np.abs(same - image).max() < 1e-4  # its own palette: the identity
    # Without a source the map starts from the image itself and may stretch it at most MAX_GAIN on any axis:
    # a canvas with little of a colour (a faint vein) is not blown up into speckle of that colour.
    from scenegen.model.palette import MAX_GAIN

    wide = np.clip(0.5 + 4.0 * (image - 0.5), 0, 1)
    stretched = match_palette(image.copy(), colour_stats(wide))
    assert np.std(stretched - stretched.mean()) <= MAX_GAIN * np.std(image - image.mean()) + 1e-4


def _cheapest_path_brute_force(cost: np.ndarray) -> tuple[float, list[int]]:
    """The cheapest 8-connected top-to-bottom path by trying every path (small strips only)."""
    rows, cols = cost.shape
    best: tuple[float, list[int]] = (np.inf, [])

    def walk(r: int, path: list[int], total: float) -> None:
        nonlocal best
        if r == rows:
            best = min(best, (total, list(path)))
            return
        for c in ([path[-1] - 1, path[-1], path[-1] + 1] if path else range(cols)):
            if 0 <= c < cols:
                path.append(c)
                walk(r + 1, path, total + float(cost[r, c]))
                path.pop()

    walk(0, [], 0.0)
    return best


def test_quilting_cut_is_the_cheapest_path() -> None:
    from scenegen.model.prior import _min_vertical_cut

    rng = np.random.default_rng(4)
    for trial in range(40):
        cost = rng.random((6, 4)).astype(np.float32)
        if trial % 2:
            cost = np.round(cost * 3).astype(np.float32)  # ties
        path = _min_vertical_cut(cost)
        assert all(abs(int(a) - int(b)) <= 1 for a, b in zip(path, path[1:]))
        assert np.isclose(float(cost[np.arange(6), path].sum()), _cheapest_path_brute_force(cost)[0], atol=1e-5)
