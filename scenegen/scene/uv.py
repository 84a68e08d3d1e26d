"""Texture coordinates in world metres and glTF tangents.

* :func:`box_project`: every triangle is projected along the axis its normal is closest to, so a material's
  ``tile_size_m`` covers the same metres on every face of every object; vertices shared by faces of
  different projections are split. Orientation (u × v = the face's normal) keeps textures unmirrored and
  "up" on walls pointing up.
* :func:`planar_y`: terrain projection from above (u = x, v = −z).
* :func:`tangents`: per-vertex glTF tangents (xyz, w = ±1) from any UV layout (triangle-accumulated,
  Gram–Schmidt against the normal), so normal maps are read in the right frame by engines.

UVs follow OpenGL (v grows towards the top of the image); the glTF writer flips v.
"""

from __future__ import annotations

import numpy as np

# (u direction, v direction) per projection class: +X, -X, +Y, -Y, +Z, -Z; u × v = the class's normal.
_AXES = np.array([
    [[0, 0, -1], [0, 1, 0]],
    [[0, 0, 1], [0, 1, 0]],
    [[1, 0, 0], [0, 0, -1]],
    [[1, 0, 0], [0, 0, 1]],
    [[1, 0, 0], [0, 1, 0]],
    [[-1, 0, 0], [0, 1, 0]],
], dtype=np.float64)


def face_normals(positions: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals and areas of triangles (counter-clockwise = front)."""
    tri = positions[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(length, 1e-20)[:, None]
    return normals, length / 2.0


def smooth_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals."""
    tri = positions[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(positions, dtype=np.float64)
    for k in range(3):
        np.add.at(out, faces[:, k], cross)
    length = np.linalg.norm(out, axis=1, keepdims=True)
    fallback = np.array([0.0, 1.0, 0.0])
    return np.where(length > 1e-20, out / np.maximum(length, 1e-20), fallback)


def box_project(positions: np.ndarray, normals: np.ndarray, faces: np.ndarray, tile_m: float,
                scale: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Box-projected UVs in metres / ``tile_m`` of the mesh scaled by ``scale`` (the object's own scale).

    Returns (positions, normals, uvs, faces) with vertices split where projections meet.
    """
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    scaled = positions.astype(np.float64) * scale
    fn, _ = face_normals(scaled, faces)
    axis = np.argmax(np.abs(fn), axis=1)
    negative = fn[np.arange(len(fn)), axis] < 0
    cls = axis * 2 + negative.astype(np.int64)  # 0..5 in _AXES order
    keys = faces * 6 + cls[:, None]  # (vertex, class) pairs
    unique, inverse = np.unique(keys.ravel(), return_inverse=True)
    vertex, vclass = unique // 6, unique % 6
    p = scaled[vertex]
    u = np.einsum("ij,ij->i", p, _AXES[vclass, 0]) / tile_m
    v = np.einsum("ij,ij->i", p, _AXES[vclass, 1]) / tile_m
    new_faces = inverse.reshape(-1, 3)
    return positions[vertex], normals[vertex], np.stack([u, v], axis=1), new_faces


def planar_y(positions: np.ndarray, tile_m: float, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """UVs of a projection from above: u = x / tile, v = −z / tile (after the object's own scale)."""
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    p = positions.astype(np.float64) * scale
    return np.stack([p[:, 0] / tile_m, -p[:, 2] / tile_m], axis=1)


def tangents(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """N×4 glTF tangents: xyz along increasing u, w = +1 when normal × tangent points along increasing v."""
    p = positions.astype(np.float64)
    t = uvs.astype(np.float64)
    e1, e2 = p[faces[:, 1]] - p[faces[:, 0]], p[faces[:, 2]] - p[faces[:, 0]]
    d1, d2 = t[faces[:, 1]] - t[faces[:, 0]], t[faces[:, 2]] - t[faces[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    inv = np.where(np.abs(det) > 1e-20, 1.0 / np.where(det == 0, 1.0, det), 0.0)
    tan = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * inv[:, None]
    bit = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * inv[:, None]
    acc_t = np.zeros_like(p)
    acc_b = np.zeros_like(p)
    for k in range(3):
        np.add.at(acc_t, faces[:, k], tan)
        np.add.at(acc_b, faces[:, k], bit)
    n = normals.astype(np.float64)
    acc_t -= n * np.sum(n * acc_t, axis=1, keepdims=True)
    length = np.linalg.norm(acc_t, axis=1, keepdims=True)
    # Degenerate UVs: any unit vector perpendicular to the normal.
    helper = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    fallback = np.cross(n, helper)
    fallback /= np.maximum(np.linalg.norm(fallback, axis=1, keepdims=True), 1e-20)
    unit = np.where(length > 1e-12, acc_t / np.maximum(length, 1e-20), fallback)
    w = np.where(np.sum(np.cross(n, unit) * acc_b, axis=1) < 0.0, -1.0, 1.0)
    return np.concatenate([unit, w[:, None]], axis=1).astype(np.float32)
