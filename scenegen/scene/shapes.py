"""Primitive shapes and mesh files as (positions, normals, faces) in the object's own frame.

Every primitive stands on its origin: the origin is the centre of its base (y = 0) and +Y is up, so
``position`` in scene.json is where it touches the ground. Faces are counter-clockwise seen from outside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ScenegenError
from ..fsutil import input_stat, read_input
from .uv import face_normals, smooth_normals

Shape = tuple[np.ndarray, np.ndarray, np.ndarray]  # positions N×3, normals N×3, faces M×3
MAX_MESH_TRIANGLES = 5_000_000


def _flat(quads: list[list[list[float]]]) -> Shape:
    """Flat-shaded polygons (each a list of corner points, counter-clockwise) fanned into triangles."""
    positions, normals, faces = [], [], []
    for poly in quads:
        poly = np.asarray(poly, dtype=np.float64)
        base = len(positions)
        n = np.cross(poly[1] - poly[0], poly[2] - poly[0])
        n /= np.linalg.norm(n)
        for corner in poly:
            positions.append(corner)
            normals.append(n)
        for k in range(1, len(poly) - 1):
            faces.append([base, base + k, base + k + 1])
    return np.array(positions), np.array(normals), np.array(faces, dtype=np.int64)


def plane(size_x: float, size_z: float) -> Shape:
    """A horizontal rectangle at y = 0 facing +Y."""
    x, z = size_x / 2.0, size_z / 2.0
    return _flat([[[-x, 0, z], [x, 0, z], [x, 0, -z], [-x, 0, -z]]])


def box(size_x: float, size_y: float, size_z: float) -> Shape:
    """An axis-aligned box standing on y = 0."""
    x, y, z = size_x / 2.0, size_y, size_z / 2.0
    return _flat([
        [[-x, 0, z], [x, 0, z], [x, y, z], [-x, y, z]],  # +Z
        [[x, 0, -z], [-x, 0, -z], [-x, y, -z], [x, y, -z]],  # -Z
        [[x, 0, z], [x, 0, -z], [x, y, -z], [x, y, z]],  # +X
        [[-x, 0, -z], [-x, 0, z], [-x, y, z], [-x, y, -z]],  # -X
        [[-x, y, z], [x, y, z], [x, y, -z], [-x, y, -z]],  # +Y
        [[-x, 0, -z], [x, 0, -z], [x, 0, z], [-x, 0, z]],  # -Y
    ])


def gable(length: float, height: float, depth: float) -> Shape:
    """A triangular prism (gable roof): base length × depth at y = 0, ridge along X at ``height``."""
    x, z = length / 2.0, depth / 2.0
    return _flat([
        [[-x, 0, z], [x, 0, z], [x, height, 0], [-x, height, 0]],  # front slope
        [[x, 0, -z], [-x, 0, -z], [-x, height, 0], [x, height, 0]],  # back slope
        [[x, 0, z], [x, 0, -z], [x, height, 0]],  # +X gable end
        [[-x, 0, -z], [-x, 0, z], [-x, height, 0]],  # -X gable end
        [[-x, 0, -z], [x, 0, -z], [x, 0, z], [-x, 0, z]],  # bottom
    ])


def sphere(radius: float, segments: int = 48) -> Shape:
    """A UV sphere of ``radius`` resting on y = 0 (centre at y = radius), smooth normals."""
    rings = max(4, segments // 2)
    theta = np.linspace(0.0, np.pi, rings + 1)[:, None]
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)[None, :]
    unit = np.stack(np.broadcast_arrays(np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)), -1)
    unit = unit.reshape(-1, 3)
    idx = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, c, d], 1), np.stack([a, d, b], 1)])
    positions = unit * radius + [0.0, radius, 0.0]
    _, area = face_normals(positions, faces)
    return positions, unit, faces[area > 1e-12 * radius * radius]


def cylinder(radius: float, height: float, segments: int = 32) -> Shape:
    """A vertical cylinder standing on y = 0: smooth sides, flat caps."""
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    ring = np.stack([np.sin(phi), np.zeros_like(phi), np.cos(phi)], axis=1)
    bottom, top = ring * radius, ring * radius + [0.0, height, 0.0]
    positions = np.concatenate([bottom, top])
    normals = np.concatenate([ring, ring])
    n = segments + 1
    i = np.arange(segments)
    faces = [np.stack([i, i + 1, n + i + 1], 1), np.stack([i, n + i + 1, n + i], 1)]
    parts = [(positions, normals, np.concatenate(faces))]
    for y, sign in ((height, 1.0), (0.0, -1.0)):
        centre = np.array([[0.0, y, 0.0]])
        cap = np.concatenate([centre, ring[:-1] * radius + [0.0, y, 0.0]])
        cap_faces = np.stack([np.zeros(segments, int), 1 + i, 1 + (i + 1) % segments], 1)
        if sign < 0:
            cap_faces = cap_faces[:, ::-1]
        parts.append((cap, np.tile([0.0, sign, 0.0], (len(cap), 1)), cap_faces))
    return merge(parts)


def rock(radius: float, seed: int, roughness: float = 0.35, detail: int = 3) -> Shape:
    """A boulder: an icosphere displaced by seeded 3-D noise, squashed, its underside flattened."""
    import trimesh

    ico = trimesh.creation.icosphere(subdivisions=detail)
    unit = np.asarray(ico.vertices, dtype=np.float64)
    faces = np.asarray(ico.faces, dtype=np.int64)
    rng = np.random.default_rng([int(seed), 0x20C4])
    bump = np.zeros(len(unit))
    for octave in range(4):
        freq = 1.2 * 2.0**octave
        for _ in range(6):
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            bump += np.sin(freq * 3.0 * unit @ direction + rng.uniform(0, 2 * np.pi)) / (2.0**octave) / 6.0
    # a few flat facets, like broken stone
    for _ in range(5):
        plane_n = rng.normal(size=3)
        plane_n /= np.linalg.norm(plane_n)
        bump = np.minimum(bump, (0.55 + 0.25 * rng.random() - unit @ plane_n) * 2.0)
    r = 1.0 + roughness * bump
    stretch = np.array([rng.uniform(0.9, 1.25), rng.uniform(0.55, 0.8), rng.uniform(0.85, 1.15)])
    positions = unit * r[:, None] * stretch
    floor = -0.35 * stretch[1]
    positions[:, 1] = np.maximum(positions[:, 1], floor)
    positions[:, 1] -= floor
    positions *= radius
    return positions, smooth_normals(positions, faces), faces


def merge(parts: list[Shape]) -> Shape:
    """Concatenate shapes into one."""
    positions, normals, faces, offset = [], [], [], 0
    for p, n, f in parts:
        positions.append(p)
        normals.append(n)
        faces.append(np.asarray(f, dtype=np.int64) + offset)
        offset += len(p)
    return np.concatenate(positions), np.concatenate(normals), np.concatenate(faces)


def _confined_resolver(path: Path):
    """A trimesh resolver for a mesh's side files (.mtl, .bin, textures): only regular files in its folder."""
    import os

    from trimesh.resolvers import FilePathResolver

    class Confined(FilePathResolver):
        def get(self, name: str) -> bytes:
            for candidate in (name.strip(), name.strip().lstrip("/"), os.path.split(name)[-1]):
                try:
                    found = self.absolute(candidate)  # refuses names that leave the folder (symlinks followed)
                    input_stat(found)
                except (ValueError, RuntimeError, OSError, ScenegenError):
                    continue
                return read_input(found)
            raise FileNotFoundError(name)

    return Confined(str(path))


def load_mesh(path: Path, up_axis: str = "y") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(positions, normals, faces, uvs or None) of a mesh file, all parts merged, +Y up.

    Raises ScenegenError (with the file name) when trimesh cannot read it or it holds no triangles.
    """
    import io

    import trimesh

    data = read_input(path)  # a regular file only (never a FIFO or a device), size-limited
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=Path(path).suffix.lower().lstrip("."), force="mesh",
                              process=False, resolver=_confined_resolver(path))
    except Exception as exc:  # noqa: BLE001 - trimesh raises many kinds for bad files
        raise ScenegenError(f"{path}: cannot read mesh ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ScenegenError(f"{path}: no triangles in the mesh file")
    if len(loaded.faces) > MAX_MESH_TRIANGLES:
        raise ScenegenError(f"{path}: {len(loaded.faces):,} triangles; the limit is {MAX_MESH_TRIANGLES:,}")
    positions = np.asarray(loaded.vertices, dtype=np.float64)
    faces = np.asarray(loaded.faces, dtype=np.int64)
    if not np.all(np.isfinite(positions)):
        raise ScenegenError(f"{path}: the mesh has non-finite vertex positions")
    uvs = None
    visual_uv = getattr(loaded.visual, "uv", None)
    if visual_uv is not None and len(visual_uv) == len(positions):
        uvs = np.asarray(visual_uv, dtype=np.float64)
    normals = np.asarray(loaded.vertex_normals, dtype=np.float64)
    if up_axis == "z":  # (x, y, z) Z-up → (x, z, -y) Y-up
        swap = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
        positions, normals = positions @ swap.T, normals @ swap.T
    bad = ~np.isfinite(normals).all(axis=1) | (np.linalg.norm(normals, axis=1) < 1e-6)
    if bad.any():
        normals[bad] = smooth_normals(positions, faces)[bad]
    return positions, normals, faces, uvs
