"""Grain: the fine detail a VAE decode smooths away, restored as seeded, exactly periodic noise.

A VAE trained with pixel losses reconstructs structure but averages away per-pixel grain (sand
particles, stone pores, wood fibre). After training, every class gets a *grain profile*: the power
its real patches have above their reconstructions' power, per radial frequency band (the missing
spectrum), and the colour covariance of that missing detail. Generation adds Gaussian noise with
exactly that spectrum and colour, synthesised in the Fourier domain of the whole canvas, so it is
periodic at any size (no seam), deterministic from the seed, and costs two FFTs per channel.
A photo gets its own profile, measured against its reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

#: Radial frequency bins (cycles per pixel) from 0 to the corner of the spectrum (√2 / 2).
BINS = 48
BIN_EDGES = np.linspace(0.0, np.sqrt(0.5), BINS + 1)
BIN_CENTRES = 0.5 * (BIN_EDGES[:-1] + BIN_EDGES[1:])
#: Below this frequency the decoder owns the picture (structure, not grain): no noise is added.
LOWEST_GRAIN_FREQUENCY = 1.0 / 32.0
GRAIN_PREFIX = "grain."


@dataclass(frozen=True)
class GrainProfile:
    """Missing power spectral density per radial bin (variance per unit of normalised frequency area)
    and a 3×3 colour mixing matrix (Cholesky factor of the missing detail's colour covariance, trace 1)."""

    spectrum: np.ndarray  # (BINS,) float64
    colour: np.ndarray  # (3, 3) float64, lower triangular

    def scaled(self, strength: float) -> "GrainProfile":
        """The same grain with ``strength`` times the amplitude (0 = none, 1 = as fitted)."""
        return GrainProfile(self.spectrum * float(strength) ** 2, self.colour)


def grain_keys(class_index: int) -> tuple[str, str]:
    return f"{GRAIN_PREFIX}{class_index}.spectrum", f"{GRAIN_PREFIX}{class_index}.colour"


def _hann(size: int) -> np.ndarray:
    return np.hanning(size + 2)[1:-1]


def _radial_bins(height: int, width: int) -> np.ndarray:
    """Bin index of every coefficient of an rfft2 half-spectrum of a height×width image."""
    from scipy import fft as sfft  # deferred (~0.3 s): only fitting and adding grain need it

    radius = np.hypot(sfft.fftfreq(height)[:, None], sfft.rfftfreq(width)[None, :])
    return np.clip(np.digitize(radius, BIN_EDGES) - 1, 0, BINS - 1)


def _band_power(images: np.ndarray) -> np.ndarray:
    """Mean power spectral density per radial bin of N×H×W×3 images (Hann-windowed, channels summed)."""
    from scipy import fft as sfft

    n, h, w, _ = images.shape
    window = (_hann(h)[:, None] * _hann(w)[None, :]).astype(np.float64)
    norm = float((window**2).sum())  # PSD of a windowed patch: |F|² / Σw²
    bins = _radial_bins(h, w)
    weights = np.full(bins.shape, 2.0)  # the half-spectrum stands for both halves ...
    weights[:, 0] = 1.0  # ... except its self-conjugate columns
    if w % 2 == 0:
        weights[:, -1] = 1.0
    counts = np.bincount(bins.ravel(), weights=weights.ravel(), minlength=BINS)
    power = np.zeros(BINS)
    for image in images:
        centred = image - image.mean(axis=(0, 1))
        for c in range(3):
            coeffs = sfft.rfft2(centred[..., c] * window)
            psd = (np.abs(coeffs) ** 2) / norm
            power += np.bincount(bins.ravel(), weights=(psd * weights).ravel(), minlength=BINS)
    return power / np.maximum(counts, 1) / n


def fit_grain(real: np.ndarray, reconstructed: np.ndarray) -> GrainProfile:
    """The grain profile of N×H×W×3 real patches against their reconstructions (same shape)."""
    real = np.asarray(real, dtype=np.float64)
    reconstructed = np.asarray(reconstructed, dtype=np.float64)
    missing = np.maximum(_band_power(real) - _band_power(reconstructed), 0.0)
    missing[BIN_CENTRES < LOWEST_GRAIN_FREQUENCY] = 0.0
    detail = real - reconstructed
    for axis in (1, 2):  # high-pass the residual (differences) so its colour is the grain's, not a tint
        detail = np.diff(detail, axis=axis)
    covariance = np.cov(detail.reshape(-1, 3).T) + 1e-9 * np.eye(3)
    covariance /= np.trace(covariance)
    return GrainProfile(missing, np.linalg.cholesky(covariance))


def profile_tensors(class_index: int, profile: GrainProfile) -> dict[str, np.ndarray]:
    spectrum_key, colour_key = grain_keys(class_index)
    return {spectrum_key: profile.spectrum.astype(np.float32), colour_key: profile.colour.astype(np.float32)}


def profile_from_tensors(tensors: dict, class_index: int) -> GrainProfile | None:
    """The stored profile of a class, or None for models saved without grain."""
    spectrum_key, colour_key = grain_keys(class_index)
    if spectrum_key not in tensors:
        return None
    as_array = lambda t: np.asarray(t.float().numpy() if hasattr(t, "numpy") else t, dtype=np.float64)  # noqa: E731
    return GrainProfile(as_array(tensors[spectrum_key]), as_array(tensors[colour_key]))


def _sources(profile: GrainProfile, height: int, width: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Three independent periodic height×width float32 noise fields with the profile's spectrum."""
    from scipy import fft as sfft

    radius = np.sqrt(sfft.fftfreq(height).astype(np.float32)[:, None] ** 2 + sfft.rfftfreq(width).astype(np.float32)[None, :] ** 2)
    amplitude = np.interp(radius.ravel(), BIN_CENTRES, np.sqrt(profile.spectrum), left=0.0).astype(np.float32).reshape(radius.shape)
    del radius
    amplitude *= np.float32(np.sqrt(height * width / 2.0))  # a unit complex Gaussian per coefficient → that PSD
    for _ in range(3):
        coeffs = rng.standard_normal((height, width // 2 + 1, 2), dtype=np.float32).view(np.complex64)[..., 0]
        coeffs *= amplitude
        yield sfft.irfft2(coeffs, s=(height, width), overwrite_x=True).astype(np.float32, copy=False)


def add_grain(image: np.ndarray, profile: GrainProfile | None, rng: np.random.Generator, mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H×W×3 float32, modified in place) plus grain, clipped to [0, 1]; ``mask`` (H×W) scales it.

    The noise is added one source field at a time: beside the image, peak memory is about three
    single-channel float32 planes, whatever the size.
    """
    if profile is None or not np.any(profile.spectrum > 0):
        return image
    weights = None if mask is None else np.asarray(mask, dtype=np.float32)
    for source, noise in enumerate(_sources(profile, image.shape[0], image.shape[1], rng)):
        if weights is not None:
            noise *= weights
        for channel in range(3):
            weight = np.float32(profile.colour[channel, source])
            if weight != 0.0:
                image[..., channel] += weight * noise
        del noise
    return np.clip(image, 0.0, 1.0, out=image)


def grain_field(profile: GrainProfile, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The grain alone: a periodic height×width×3 float32 noise field (unclipped, zero mean)."""
    field = np.zeros((height, width, 3), dtype=np.float32)
    for source, noise in enumerate(_sources(profile, height, width, rng)):
        field += noise[..., None] * profile.colour[:, source].astype(np.float32)
    return field
