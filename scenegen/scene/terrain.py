"""Terrain heightfields: seeded fractal noise or a heightmap image, optionally smoothed along paths.

The grid spans x ∈ [−size_x/2, size_x/2], z ∈ [−size_z/2, size_z/2] with ``resolution`` cells per side;
row ``i`` of the height array is at z = −size_z/2 + i·dz (so row 0 is the far, −Z edge, as seen from a
camera on +Z), column ``j`` at x = −size_x/2 + j·dx.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import ScenegenError
from ..imaging import load_image
from .paths import polyline_distance

Shape = tuple[np.ndarray, np.ndarray, np.ndarray]


def noise_heights(rows: int, cols: int, size_x: float, size_z: float, *, amplitude: float, scale_m: float,
                  octaves: int, seed: int) -> np.ndarray:
    """rows×cols fractal value noise in [−amplitude, amplitude]: octave k has wavelength scale_m / 2^k.

    Each octave is a lattice of seeded random values at its wavelength, bicubically interpolated.
    """
    rng = np.random.default_rng([int(seed), 0x7E22A])
    total = np.zeros((rows, cols), np.float64)
    weight_sum = 0.0
    for k in range(octaves):
        wavelength = scale_m / 2.0**k
        gx = max(2, int(np.ceil(size_x / wavelength)) + 3)
        gz = max(2, int(np.ceil(size_z / wavelength)) + 3)
        lattice = rng.uniform(-1.0, 1.0, size=(gz, gx))
        # sample the lattice at the grid points (cubic), lattice cell = wavelength, grid offset by 1 cell
        zs = 1.0 + np.linspace(0.0, size_z, rows) / wavelength
        xs = 1.0 + np.linspace(0.0, size_x, cols) / wavelength
        map_x, map_y = np.meshgrid(xs.astype(np.float32), zs.astype(np.float32))
        octave = cv2.remap(lattice.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        amp = 0.5**k
        total += amp * octave
        weight_sum += amp
    heights = total / weight_sum
    peak = np.abs(heights).max()
    return (heights / peak * amplitude) if peak > 0 else heights


def image_heights(path: Path, rows: int, cols: int, height_m: float) -> np.ndarray:
    """rows×cols heights from a greyscale image (first channel), 0 … ``height_m`` metres."""
    image = load_image(path)[..., 0]
    if min(image.shape) < 2:
        raise ScenegenError(f"{path}: heightmap must be at least 2×2 pixels")
    resized = cv2.resize(image.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA
                         if image.shape[0] > rows else cv2.INTER_CUBIC)
    return np.clip(resized, 0.0, 1.0).astype(np.float64) * height_m


def flatten_along(heights: np.ndarray, size_x: float, size_z: float, paths: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Blend the ground towards a smooth version of itself within each path's width (plus a 1.5 m fade)."""
    rows, cols = heights.shape
    xs = np.linspace(-size_x / 2, size_x / 2, cols)
    zs = np.linspace(-size_z / 2, size_z / 2, rows)
    gx, gz = np.meshgrid(xs, zs)
    points = np.stack([gx.ravel(), gz.ravel()], axis=1)
    out = heights.copy()
    for polyline, width in paths:
        cell = size_x / max(cols - 1, 1)
        sigma_px = max(1.0, 1.5 * width / cell)
        smooth = cv2.GaussianBlur(heights.astype(np.float64), (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
        distance = polyline_distance(points, polyline).reshape(rows, cols)
        t = np.clip((distance - width / 2.0) / 1.5, 0.0, 1.0)
        weight = 1.0 - t * t * (3.0 - 2.0 * t)
        out = out * (1.0 - weight) + smooth * weight
    return out


def grid_mesh(heights: np.ndarray, size_x: float, size_z: float) -> Shape:
    """Triangulated heightfield with smooth normals from central differences."""
    rows, cols = heights.shape
    xs = np.linspace(-size_x / 2, size_x / 2, cols)
    zs = np.linspace(-size_z / 2, size_z / 2, rows)
    gx, gz = np.meshgrid(xs, zs)
    positions = np.stack([gx, heights, gz], axis=-1).reshape(-1, 3)
    dx, dz = xs[1] - xs[0], zs[1] - zs[0]
    dh_dx = np.gradient(heights, dx, axis=1)
    dh_dz = np.gradient(heights, dz, axis=0)
    normals = np.stack([-dh_dx, np.ones_like(heights), -dh_dz], axis=-1).reshape(-1, 3)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()  # row i (further, −z)
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()  # row i+1 (nearer, +z)
    faces = np.concatenate([np.stack([a, c, d], 1), np.stack([a, d, b], 1)])  # counter-clockwise from above
    return positions, normals, faces
