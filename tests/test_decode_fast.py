"""The decoder's fast path (Decoder.forward_valid through sample._decode_fast) gives the reference decode's bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from scenegen import api
from scenegen.model import sample
from scenegen.model.sample import condition_weights, decode, decode_canvas, single_threaded


@pytest.fixture(scope="module")
def model(default_model_dir: Path):
    return api.load_model()


def _latent(model, cells_y: int, cells_x: int) -> np.ndarray:
    return sample.sample_texture_latent(model, 3, cells_y, cells_x, seed=5)


def _both(fn, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sample, "FAST_PATH", False)
    reference = fn()
    monkeypatch.setattr(sample, "FAST_PATH", True)
    return reference, fn()


def _mixed(model, cells_y: int, cells_x: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, cells_x, dtype=np.float32)[None, None, :]
    mix = condition_weights(model.config, 1, cells_y, cells_x) * (1 - t) + condition_weights(model.config, 4, cells_y, cells_x) * t
    return mix.astype(np.float32)


@pytest.mark.parametrize("cells, weights, threads", [
    ((100, 70), "class", 2),   # tiles of its own, remainders, two worker threads
    ((100, 70), "mix", 1),     # a blend: the reference's tiles, each projecting its own map
    ((129, 66), "class", 2),   # the 1-cell corner pieces go the reference way (another convolution kernel)
    ((40, 36), "class", 2),    # one piece: the whole grid (sigmoid as forward applies it)
    ((16, 16), "class", 1),    # too small for oneDNN: all reference
])
def test_fast_decode_canvas_is_bit_identical(model, monkeypatch: pytest.MonkeyPatch, cells, weights, threads) -> None:
    cy, cx = cells
    latent = _latent(model, cy, cx)
    w = condition_weights(model.config, 2, cy, cx) if weights == "class" else _mixed(model, cy, cx)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        reference, fast = _both(lambda: decode_canvas(model, latent, w, cy * 4, cx * 4, phase=(3, 1)), monkeypatch)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(reference, fast), np.abs(reference - fast).max()
    out = np.empty((cy * 4, cx * 4, 3), np.float32)
    taken = sample._decode_fast(model, latent, w, sample.TILE_CELLS, out)
    assert taken == (cy > 16), "the fast path must run where it applies (else this test compares the reference twice)"


def test_fast_decode_single_threaded_and_its_guards(model, monkeypatch: pytest.MonkeyPatch) -> None:
    """decode() takes the fast path single-threaded only; a mix under decode()'s own tiling stays the reference."""
    latent = _latent(model, 90, 40)
    w = condition_weights(model.config, 6, 90, 40)
    with single_threaded():
        reference, fast = _both(lambda: decode(model, latent, w), monkeypatch)
        assert np.array_equal(reference, fast)
        out = np.empty((360, 160, 3), np.float32)
        assert sample._decode_fast(model, latent, w, sample.TILE_CELLS, out, mixes=False)
        assert not sample._decode_fast(model, latent, _mixed(model, 90, 40), sample.TILE_CELLS, out, mixes=False)
        mixed = _mixed(model, 40, 40)  # one piece with a blend: projected on the whole grid, so the reference
        assert not sample._decode_fast(model, latent[:, :40], mixed, sample.TILE_CELLS, out[:160])


def test_fast_path_kernel_rules_hold_on_this_torch() -> None:
    """The rules the fast path relies on (sample.py): torch's oneDNN threshold and its small-input bilinear kernel.
    If a torch release moves them, this fails before any decode silently changes bytes."""
    import torch.nn.functional as F

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 48, 48, generator=g)
    big = up(x)
    for h, w in [(20, 44), (30, 35), (33, 32), (40, 24)]:
        small = up(x[:, :, :h, :w].contiguous())
        same = torch.equal(big[:, :, 1 : 2 * h - 1, 1 : 2 * w - 1], small[:, :, 1:-1, 1:-1])
        assert same == (h + w > sample.BILINEAR_SMALL_SIDES), (h, w)
    weight = torch.randn(8, 20, 3, 3, generator=g)
    with single_threaded():
        x = torch.randn(1, 20, 40, 40, generator=g)
        full = F.conv2d(x, weight)
        for h, w in [(32, 32), (32, 33)]:  # 20480 input values (native kernel) and 21120 (oneDNN)
            crop = F.conv2d(x[:, :, 3 : 3 + h, 5 : 5 + w].contiguous(), weight)
            same = torch.equal(crop, full[:, :, 3 : 1 + h, 5 : 3 + w])
            assert same == (20 * h * w > sample.ONEDNN_MIN_VALUES), (h, w)


def test_class_patterns_are_what_forward_adds(model) -> None:
    dec = model.vae.decoder
    with single_threaded(), torch.no_grad():
        for cells in [(78, 78), (40, 36)]:
            patterns = dec.class_patterns(4, *cells)
            assert patterns is not None and [p.shape[2] for p in patterns] == [1, 2, 4]
            cond = sample._condition_map(model.vae, condition_weights(model.config, 4, *cells))
            for level, proj in enumerate(dec.cond_proj):
                if level:
                    cond = dec.upsample(cond)
                term = proj(cond)
                p = 2**level
                assert torch.equal(term, patterns[level].repeat(1, 1, term.shape[2] // p, term.shape[3] // p))


@pytest.fixture(scope="module")
def grown(model):
    """The default model grown to two residual blocks per decoder level, the new blocks given random weights
    (a grown model fresh from --init-from would decode as the source: its new blocks start as the identity)."""
    import dataclasses

    from scenegen.model.vae import VAE
    from scenegen.model.weights import LoadedModel

    cfg = dataclasses.replace(model.config, decoder_blocks=2)
    torch.manual_seed(3)
    vae = VAE(cfg)
    state = {**vae.state_dict(), **model.vae.state_dict()}
    vae.load_state_dict(state)
    with torch.no_grad():
        for block in vae.decoder.more_blocks:
            block[0].conv2.weight.mul_(0.3)
    vae.eval().requires_grad_(False)
    return LoadedModel(path=model.path, config=cfg, vae=vae, prior=model.prior, meta=model.meta)


@pytest.mark.parametrize("cells", [(100, 70), (40, 36)])
def test_fast_decode_of_a_grown_decoder_is_bit_identical(grown, model, monkeypatch: pytest.MonkeyPatch, cells) -> None:
    cy, cx = cells
    latent = _latent(model, cy, cx)
    w = condition_weights(grown.config, 2, cy, cx)
    reference, fast = _both(lambda: decode_canvas(grown, latent, w, cy * 4, cx * 4, phase=(3, 1)), monkeypatch)
    assert np.array_equal(reference, fast), np.abs(reference - fast).max()
    plain = decode_canvas(model, latent, w, cy * 4, cx * 4, phase=(3, 1))
    assert np.abs(plain - fast).max() > 0.01, "the extra blocks must change the decode (else nothing is compared)"
    out = np.empty((cy * 4, cx * 4, 3), np.float32)
    assert sample._decode_fast(grown, latent, w, sample.TILE_CELLS, out)
