"""Grain profiles: fitting recovers a known spectrum, synthesis is periodic, seeded and scaled as asked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scenegen import metrics
from scenegen.model.config import ModelConfig
from scenegen.model.grain import (
    BIN_CENTRES,
    LOWEST_GRAIN_FREQUENCY,
    GrainProfile,
    add_grain,
    fit_grain,
    grain_field,
    profile_from_tensors,
    profile_tensors,
)
from scenegen.model.vae import VAE


def _smooth(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth colour images (stand-ins for decodes): low-frequency sinusoids only."""
    y, x = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3))
    for i in range(n):
        phase = rng.random() * 2 * np.pi
        out[i] = 0.5 + 0.2 * np.sin(2 * np.pi * (x + y) + phase)[..., None] * np.array([1.0, 0.8, 0.6])
    return out


def test_fit_recovers_white_grain_of_known_variance_and_colour() -> None:
    rng = np.random.default_rng(0)
    smooth = _smooth(24, 128, rng)
    sigma = 0.05
    grey = rng.standard_normal((24, 128, 128, 1)) * sigma  # the same noise in all channels: grey grain
    profile = fit_grain(smooth + grey, smooth)
    band = BIN_CENTRES > 2 * LOWEST_GRAIN_FREQUENCY
    # white noise of variance σ² in each of three channels: a flat density of 3σ² (channels summed)
    assert np.allclose(profile.spectrum[band][:30], 3 * sigma**2, rtol=0.15)
    assert np.all(profile.spectrum[BIN_CENTRES < LOWEST_GRAIN_FREQUENCY] == 0)
    colour = profile.colour @ profile.colour.T
    assert np.allclose(colour, np.full((3, 3), 1 / 3), atol=0.02)  # grey: fully correlated channels


def test_synthesised_grain_has_the_profile_spectrum_and_is_periodic() -> None:
    spectrum = np.where(BIN_CENTRES > 0.1, 0.004, 0.0)
    profile = GrainProfile(spectrum, np.linalg.cholesky(np.diag([0.5, 0.3, 0.2])))
    field = grain_field(profile, 256, 192, np.random.default_rng(3))
    assert field.shape == (256, 192, 3) and field.dtype == np.float32
    refit = fit_grain(np.stack([field[:128, :128], field[128:, :128]]), np.zeros((2, 128, 128, 3)))
    high = BIN_CENTRES > 0.15
    assert np.allclose(refit.spectrum[high][:20], 0.004, rtol=0.25)
    assert np.allclose(np.diag(refit.colour @ refit.colour.T), [0.5, 0.3, 0.2], atol=0.04)
    assert 0.9 < metrics.seam_ratio(field + 0.5) < 1.1  # the wrap edge is a step like any other


def test_add_grain_is_seeded_scaled_and_clipped() -> None:
    profile = GrainProfile(np.where(BIN_CENTRES > 0.05, 0.01, 0.0), np.eye(3) / np.sqrt(3))
    base = np.full((64, 64, 3), 0.5, np.float32)
    a = add_grain(base.copy(), profile, np.random.default_rng(1))
    b = add_grain(base.copy(), profile, np.random.default_rng(1))
    c = add_grain(base.copy(), profile, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    weak = add_grain(base.copy(), profile.scaled(0.5), np.random.default_rng(1))
    assert np.allclose(weak - 0.5, 0.5 * (a - 0.5), atol=1e-6)
    assert a.min() >= 0 and a.max() <= 1
    half = add_grain(base.copy(), profile, np.random.default_rng(1), mask=np.tile([0.0, 1.0], (64, 32)))
    assert np.all(half[:, 0::2] == 0.5) and not np.all(half[:, 1::2] == 0.5)
    assert add_grain(base.copy(), None, np.random.default_rng(1)) is not None


def test_profile_round_trips_through_prior_tensors() -> None:
    profile = GrainProfile(np.linspace(0, 1e-3, len(BIN_CENTRES)), np.linalg.cholesky(np.eye(3) / 3))
    tensors = {k: torch.from_numpy(v) for k, v in profile_tensors(4, profile).items()}
    back = profile_from_tensors(tensors, 4)
    assert back is not None and np.allclose(back.spectrum, profile.spectrum) and np.allclose(back.colour, profile.colour)
    assert profile_from_tensors(tensors, 5) is None


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_decoder_stays_periodic_with_either_upsampling(upsample: str) -> None:
    torch.manual_seed(0)
    vae = VAE(ModelConfig(classes=("a", "b"), upsample=upsample)).eval()
    z = torch.randn(1, 8, 12, 10)
    cond = vae.decoder.condition_map(torch.tensor([1]), 12, 10)
    with torch.no_grad():
        whole = vae.decoder(z, cond)
        shifted = vae.decoder(torch.roll(z, (5, 3), (2, 3)), torch.roll(cond, (5, 3), (2, 3)))
    assert torch.equal(torch.roll(whole, (40, 24), (2, 3)), shifted)
