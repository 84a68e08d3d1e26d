"""Palette lock: the decoded canvas keeps the colour distribution of the image it was quilted from.

An autoencoder trained for a few thousand CPU steps reconstructs structure sooner than colour: a pink marble
source decodes a little grey, a red crown a little olive. The sampler therefore measures the colour mean and
covariance of every latent source when the bank is built (and of a user's photo when it is encoded), and maps
the decode's colours onto them with the linear optimal-transport map between the two Gaussians
(x ↦ μₜ + A(x − μₛ), A = Σₛ^{-½}(Σₛ^{½} Σₜ Σₛ^{½})^{½} Σₛ^{-½}). It is one global 3×3 affine map per canvas:
pointwise, so every seam stays exactly where it was (nowhere), it adds no detail and no noise, and it tends
to the identity as the decoder gets better at colour.
"""

from __future__ import annotations

import numpy as np

PALETTE_PREFIX = "palette."
_STATS_STRIDE = 4  # pixels per axis between samples when measuring a canvas of more than 1024² pixels
_ROWS = 512  # rows transformed at a time (bounded extra memory at 8192²)


def palette_key(class_index: int) -> str:
    """Key of a class's per-source colour statistics (K×12: mean, then the covariance row by row)."""
    return f"{PALETTE_PREFIX}{class_index}"


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


def transfer_map(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) of the linear optimal-transport map x ↦ A x + b from colour stats ``source`` to ``target``."""
    mu_s, cov_s = source[:3], source[3:].reshape(3, 3) + np.eye(3) * 1e-6
    mu_t, cov_t = target[:3], target[3:].reshape(3, 3) + np.eye(3) * 1e-6
    root_s, inv_root_s = _sqrtm(cov_s), _sqrtm(cov_s, inverse=True)
    a = inv_root_s @ _sqrtm(root_s @ cov_t @ root_s) @ inv_root_s
    return a, mu_t - a @ mu_s


def match_palette(image: np.ndarray, target: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H×W×3 float32, changed in place and returned) with the colour mean and covariance ``target``
    (12 numbers from :func:`colour_stats`), clipped to [0, 1]. ``source``: the statistics the map starts from
    (default: the whole image's; a sprite passes those of its opaque texels)."""
    start = colour_stats(image) if source is None else source
    a, b = transfer_map(start, np.asarray(target, dtype=np.float64))
    a32, b32 = a.T.astype(np.float32), b.astype(np.float32)
    for y0 in range(0, image.shape[0], _ROWS):
        block = image[y0 : y0 + _ROWS]
        block[...] = np.clip(block @ a32 + b32, 0.0, 1.0)
    return image
