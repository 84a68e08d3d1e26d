"""Palette lock: the decoded canvas keeps the colour distribution of the image it was quilted from.

An autoencoder trained for a few thousand CPU steps reconstructs structure sooner than colour: a pink marble
source decodes a little grey, a red crown a little olive. The sampler corrects that *decoder bias*: when the
bank is built it measures the colour mean and covariance of every latent source's image and of the decode of
that source, and maps the canvas's colours with the linear optimal-transport map between the two Gaussians
(x ↦ μₜ + A(x − μₛ), A = Σₛ^{-½}(Σₛ^{½} Σₜ Σₛ^{½})^{½} Σₛ^{-½}; s = the source's decode, t = the source).
It is one global 3×3 affine map per canvas: pointwise, so every seam stays exactly where it was (nowhere),
it adds no detail and no noise, and it is the identity for a decoder that keeps colour.

The map starts from the decode of the *source*, not from the canvas: a canvas may rightly hold less of a
rare colour than its source (fewer veins), and stretching the canvas's own covariance onto the source's
turned faint vein pixels into red speckle (0.4.0). A photo material (quilted from the photo itself, so its
content matches the photo's) and models saved without decode statistics map the canvas's own statistics onto
the target, with the gain of the map limited to [1/MAX_GAIN, MAX_GAIN] on every axis.
"""

from __future__ import annotations

import numpy as np

PALETTE_PREFIX = "palette."
MAX_GAIN = 1.25  # fallback only: the most the map may stretch or shrink the colours along any axis
_STATS_STRIDE = 4  # pixels per axis between samples when measuring a canvas of more than 1024² pixels
_ROWS = 512  # rows transformed at a time (bounded extra memory at 8192²)


def palette_key(class_index: int) -> str:
    """Key of a class's per-source colour statistics (K×12: mean, then the covariance row by row)."""
    return f"{PALETTE_PREFIX}{class_index}"


def decoded_palette_key(class_index: int) -> str:
    """Key of the colour statistics of each source's *decode* (K×12; the start of the palette map)."""
    return f"{PALETTE_PREFIX}{class_index}.decoded"


def colour_stats(image: np.ndarray) -> np.ndarray:
    """Mean (3) and covariance (3×3) of an H×W×3 image's colours, packed as 12 float64 numbers."""
    step = _STATS_STRIDE if image.shape[0] * image.shape[1] > 1 << 20 else 1
    pixels = np.asarray(image[::step, ::step, :3], dtype=np.float64).reshape(-1, 3)
    mean = pixels.mean(axis=0)
    cov = np.cov(pixels, rowvar=False)
    return np.concatenate([mean, cov.reshape(-1)])


def _sqrtm(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    values = np.maximum(values, 1e-8)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def transfer_map(source: np.ndarray, target: np.ndarray, max_gain: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) of the linear optimal-transport map x ↦ A x + b from colour stats ``source`` to ``target``;
    ``max_gain`` clamps the eigenvalues of the (symmetric) A to [1/max_gain, max_gain]."""
    mu_s, cov_s = source[:3], source[3:].reshape(3, 3) + np.eye(3) * 1e-6
    mu_t, cov_t = target[:3], target[3:].reshape(3, 3) + np.eye(3) * 1e-6
    root_s, inv_root_s = _sqrtm(cov_s), _sqrtm(cov_s, inverse=True)
    a = inv_root_s @ _sqrtm(root_s @ cov_t @ root_s) @ inv_root_s
    if max_gain is not None:
        values, vectors = np.linalg.eigh((a + a.T) / 2)
        a = (vectors * np.clip(values, 1.0 / max_gain, max_gain)) @ vectors.T
    return a, mu_t - a @ mu_s


def match_palette(image: np.ndarray, target: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H×W×3 float32, changed in place and returned) mapped by the colour transfer from ``source``
    to ``target`` (12 numbers each, from :func:`colour_stats`), clipped to [0, 1]. ``source``: the statistics
    the map starts from (a texture passes its source's decode, a sprite its opaque texels); default: the
    image's own, with the gain limited to MAX_GAIN."""
    start, gain = (colour_stats(image), MAX_GAIN) if source is None else (source, None)
    a, b = transfer_map(start, np.asarray(target, dtype=np.float64), gain)
    a32, b32 = a.T.astype(np.float32), b.astype(np.float32)
    for y0 in range(0, image.shape[0], _ROWS):
        block = image[y0 : y0 + _ROWS]
        block[...] = np.clip(block @ a32 + b32, 0.0, 1.0)
    return image
