"""The composed scene: what the renderer and the glTF writer both consume.

Plain numpy data, no pyrender, no torch. Conventions: metres, Y up, right-handed (glTF).

* A :class:`Geometry` is one mesh (one glTF mesh, one draw call in the renderer) with one material.
  UVs are stored OpenGL-style (v grows towards the *top* of the image); the glTF writer flips them.
* An :class:`InstanceGroup` places one geometry many times; each instance is a translation, a unit
  quaternion (x, y, z, w) and a per-axis scale, so every pose maps exactly to a glTF node's TRS.
* A :class:`SceneMaterial` holds the encoded PNG textures (what the GLB embeds) and glTF flags.
* :class:`SceneAssets` is what the compositor is given: every material and sprite set a scene uses,
  finished (PNG bytes and 8-bit sprites). Who generates or caches them (:mod:`scenegen.build`) is no
  concern of this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass
class SceneMaterial:
    """A glTF metallic-roughness material with embedded PNG textures."""

    name: str
    basecolor_png: bytes  # sRGB; RGBA for cut-outs
    normal_png: bytes | None = None  # tangent space, OpenGL (+Y up)
    orm_png: bytes | None = None  # R occlusion, G roughness, B metallic
    metallic_factor: float = 0.0
    roughness_factor: float = 1.0
    alpha_mode: str = "OPAQUE"  # or "MASK"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    wrap: str = "repeat"  # "repeat" for tileable materials, "clamp" for sprites and atlases
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class SpriteSet:
    """One sprite entry: its atlas material and, per variant, the RGBA sprite and its atlas frame."""

    material: SceneMaterial
    sprites: list[np.ndarray]  # float32 RGBA, exactly the (8-bit) atlas content
    frames: list[tuple[int, int, int, int]]  # x, y, w, h in the atlas
    atlas_size: tuple[int, int]  # width, height


@dataclass(frozen=True)
class SceneAssets:
    """The finished materials and sprite sets of a scene, by their names in the spec."""

    materials: Mapping[str, SceneMaterial]
    sprites: Mapping[str, SpriteSet]


@dataclass
class Geometry:
    """One triangle mesh with one material: positions, normals, UVs, glTF tangents, uint32 indices."""

    name: str
    positions: np.ndarray  # N×3 float32
    normals: np.ndarray  # N×3 float32, unit length
    uvs: np.ndarray  # N×2 float32, OpenGL convention (v up)
    indices: np.ndarray  # M×3 uint32, counter-clockwise seen from the front
    material: str
    tangents: np.ndarray | None = None  # N×4 float32 (xyz, w = ±1)
    card_half_width: float = 0.0  # billboards: half the width of a card's full rectangle (m; trimmed cards are narrower)
    card_bounds: np.ndarray | None = None  # billboards: 2×3 bounds of the full card rectangles (trimmed cards lie inside)

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32)
        self.normals = np.ascontiguousarray(self.normals, dtype=np.float32)
        self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.uint32).reshape(-1, 3)
        if self.tangents is not None:
            self.tangents = np.ascontiguousarray(self.tangents, dtype=np.float32)

    @property
    def bounds(self) -> np.ndarray:
        """2×3 axis-aligned bounds in the mesh's own frame."""
        return np.stack([self.positions.min(axis=0), self.positions.max(axis=0)])


@dataclass
class InstanceGroup:
    """One geometry placed ``count`` times (one glTF mesh shared by many nodes; one instanced draw)."""

    name: str
    geometry: Geometry
    translations: np.ndarray  # K×3 float64
    rotations: np.ndarray  # K×4 float64 unit quaternions (x, y, z, w)
    scales: np.ndarray  # K×3 float64
    billboard: bool = False  # a scattered sprite card (reported separately in the summary)

    def __post_init__(self) -> None:
        self.translations = np.asarray(self.translations, dtype=np.float64).reshape(-1, 3)
        count = len(self.translations)
        self.rotations = np.asarray(self.rotations, dtype=np.float64).reshape(count, 4)
        self.scales = np.asarray(self.scales, dtype=np.float64).reshape(count, 3)

    @property
    def count(self) -> int:
        return len(self.translations)

    def matrices(self) -> np.ndarray:
        """K×4×4 world matrices (translation · rotation · scale)."""
        return trs_matrices(self.translations, self.rotations, self.scales)

    def world_bounds(self, full_cards: bool = False) -> np.ndarray:
        """2×3 bounds of every instance's transformed bounding box; with ``full_cards``, a billboard's box is that
        of its full card rectangles (``Geometry.card_bounds``, as their float32 vertices would give), not of its
        trimmed cards."""
        if self.count == 0:
            return np.array([[np.inf] * 3, [-np.inf] * 3])
        cards = self.geometry.card_bounds if full_cards else None
        lo, hi = self.geometry.bounds if cards is None else np.asarray(cards, dtype=np.float32)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        linear = self.matrices()[:, :3, :3]
        points = np.einsum("kij,cj->kci", linear, corners) + self.translations[:, None, :]
        return np.stack([points.reshape(-1, 3).min(axis=0), points.reshape(-1, 3).max(axis=0)])


@dataclass
class Camera:
    """A perspective camera: a 4×4 pose (OpenGL: looks down its -Z, +Y up), vertical FOV, clip planes."""

    pose: np.ndarray
    yfov: float
    znear: float
    zfar: float


@dataclass
class Light:
    """``kind`` is "sun" (directional), "point" or "spot"; the pose's -Z is the light direction."""

    kind: str
    pose: np.ndarray
    color: tuple[float, float, float]
    intensity: float
    shadows: bool = False
    inner_cone: float = 0.0
    outer_cone: float = np.pi / 4.0
    range: float | None = None


@dataclass
class ComposedScene:
    """Everything needed to render and export one scene."""

    materials: dict[str, SceneMaterial]
    groups: list[InstanceGroup]
    camera: Camera
    lights: list[Light]
    ambient: tuple[float, float, float] = (0.2, 0.2, 0.2)
    ambient_ground: tuple[float, float, float] = (0.1, 0.1, 0.1)
    name: str = "scene"

    def bounds(self, full_cards: bool = False) -> np.ndarray:
        """2×3 world bounds of every instance (``full_cards``: see :meth:`InstanceGroup.world_bounds`)."""
        boxes = [g.world_bounds(full_cards) for g in self.groups if g.count]
        if not boxes:
            return np.zeros((2, 3))
        return np.stack([np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)])

    def counts(self) -> dict[str, int]:
        """Summary figures: meshes, instances, billboards, triangles drawn, materials."""
        return {
            "meshes": len(self.groups),
            "instances": sum(g.count for g in self.groups),
            "billboards": sum(g.count for g in self.groups if g.billboard),
            "triangles": sum(g.count * len(g.geometry.indices) for g in self.groups),
            "materials": len(self.materials),
        }


# ------------------------------------------------------------------------------------------------ transforms
def quat_from_euler_deg(angles: np.ndarray) -> np.ndarray:
    """Unit quaternions (x, y, z, w) of R = Rz·Ry·Rx for K×3 angles in degrees about X, Y and Z.

    A vector is rotated about the world X axis first, then Y, then Z (extrinsic X-Y-Z, as in Blender's XYZ).
    """
    a = np.radians(np.asarray(angles, dtype=np.float64).reshape(-1, 3)) / 2.0
    cx, cy, cz = np.cos(a[:, 0]), np.cos(a[:, 1]), np.cos(a[:, 2])
    sx, sy, sz = np.sin(a[:, 0]), np.sin(a[:, 1]), np.sin(a[:, 2])
    # q = qz * qy * qx
    w = cz * cy * cx + sz * sy * sx
    x = cz * cy * sx - sz * sy * cx
    y = cz * sy * cx + sz * cy * sx
    z = sz * cy * cx - cz * sy * sx
    return np.stack([x, y, z, w], axis=1)


def quat_yaw(yaw_rad: np.ndarray) -> np.ndarray:
    """Unit quaternions for rotations by ``yaw_rad`` about +Y."""
    half = np.asarray(yaw_rad, dtype=np.float64) / 2.0
    zero = np.zeros_like(half)
    return np.stack([zero, np.sin(half), zero, np.cos(half)], axis=-1)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a·b of (…×4) quaternions stored (x, y, z, w): rotate by b, then by a."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], axis=-1)


def quat_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternions rotating unit vectors ``a`` onto ``b`` (…×3 each)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cross = np.cross(a, b)
    w = 1.0 + np.sum(a * b, axis=-1, keepdims=True)
    q = np.concatenate([cross, w], axis=-1)
    opposite = q[..., 3] < 1e-9
    if np.any(opposite):
        q[opposite] = [1.0, 0.0, 0.0, 0.0]  # 180° about X (a and b are ±Y in our use)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def rotation_matrices(quats: np.ndarray) -> np.ndarray:
    """K×3×3 rotation matrices from K×4 unit quaternions (x, y, z, w)."""
    q = np.asarray(quats, dtype=np.float64).reshape(-1, 4)
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)


def trs_matrices(translations: np.ndarray, rotations: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """K×4×4 matrices T·R·S."""
    t = np.asarray(translations, dtype=np.float64).reshape(-1, 3)
    out = np.zeros((len(t), 4, 4))
    out[:, :3, :3] = rotation_matrices(rotations) * np.asarray(scales, dtype=np.float64).reshape(-1, 1, 3)
    out[:, :3, 3] = t
    out[:, 3, 3] = 1.0
    return out


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 1.0, 0.0])) -> np.ndarray:
    """4×4 pose at ``eye`` whose -Z looks at ``target`` (OpenGL camera / glTF light convention)."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down
        right = np.cross(forward, [0.0, 0.0, -1.0])
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, -forward, eye
    return pose


def quat_from_matrix(matrix: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of a 3×3 rotation matrix (w ≥ 0)."""
    m = np.asarray(matrix, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q
