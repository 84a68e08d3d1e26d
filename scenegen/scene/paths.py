"""Paths on the ground (polylines in x, z): distances for scatter and terrain, blend masks for materials.

A path blend mask lives in the material's texture space. With box/planar UVs a texel (row r, column c) of
a ``size``-pixel material of tile size T covers the world points x ≡ (c + ½)·T/size and
z ≡ ((r + ½)/size − 1)·T (mod T), so the mask is drawn periodically: a path anywhere in the world marks the
texels it covers, and the mask tiles seamlessly like every other material.
"""

from __future__ import annotations

import cv2
import numpy as np


def polyline_distance(points: np.ndarray, polyline: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Euclidean distance from each 2-D point to the polyline (N points, M vertices)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polyline, dtype=np.float64).reshape(-1, 2)
    a, b = poly[:-1], poly[1:]
    ab = b - a
    length2 = np.maximum(np.sum(ab * ab, axis=1), 1e-20)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk, None, :]
        t = np.clip(np.sum((p - a) * ab, axis=2) / length2, 0.0, 1.0)
        closest = a + t[..., None] * ab
        out[start:start + chunk] = np.sqrt(np.min(np.sum((p - closest) ** 2, axis=2), axis=1))
    return out


def periodic_noise(size: int, cells: float, seed: int) -> np.ndarray:
    """size×size smooth noise in about [−1, 1], periodic (band-limited random spectrum)."""
    rng = np.random.default_rng([int(seed), 0x9A7E])
    white = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2
    sigma = cells / size
    spectrum = np.fft.fft2(white) * np.exp(-f / (2.0 * sigma * sigma))
    noise = np.real(np.fft.ifft2(spectrum))
    return noise / (np.abs(noise).max() + 1e-12)


def path_mask(points: np.ndarray, width_m: float, size: int, tile_m: float, *, softness_m: float,
              noise_m: float, seed: int) -> np.ndarray:
    """size×size float32 mask in [0, 1]: 1 on the path, a ``softness_m`` fade at its edges, which wander by
    about ``noise_m``. ``points`` is M×2 (x, z) metres. Periodic in the material's texture space."""
    px_per_m = size / tile_m
    pts = np.asarray(points, dtype=np.float64)
    cols = pts[:, 0] * px_per_m - 0.5
    rows = (pts[:, 1] / tile_m + 1.0) * size - 0.5
    canvas = np.full((3 * size, 3 * size), 255, np.uint8)  # 0 on the centre line; the centre tile is the mask
    for sx in range(int(np.floor(-cols.max() / size)) - 1, int(np.ceil((3 * size - cols.min()) / size)) + 1):
        for sy in range(int(np.floor(-rows.max() / size)) - 1, int(np.ceil((3 * size - rows.min()) / size)) + 1):
            c, r = cols + (sx + 1) * size, rows + (sy + 1) * size
            if c.max() < 0 or c.min() >= 3 * size or r.max() < 0 or r.min() >= 3 * size:
                continue
            fixed = np.round(np.stack([c, r], axis=1) * 16).astype(np.int32)  # 4 fractional bits
            cv2.polylines(canvas, [fixed], False, 0, thickness=1, lineType=cv2.LINE_8, shift=4)
    distance = cv2.distanceTransform(canvas, cv2.DIST_L2, 5)[size:2 * size, size:2 * size].astype(np.float64)
    distance /= px_per_m
    if noise_m > 0:
        distance += noise_m * periodic_noise(size, cells=max(2.0, tile_m / 3.0), seed=seed)
        distance += 0.35 * noise_m * periodic_noise(size, cells=max(4.0, tile_m), seed=seed + 1)
    soft = max(softness_m, 1.0 / px_per_m)
    t = np.clip((distance - (width_m / 2.0 - soft / 2.0)) / soft, 0.0, 1.0)
    return (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)
