"""Scatter: seeded, Poisson-disk-spaced points on a surface, with slope, height, region and path filters.

Candidates are drawn area-weighted on the target's triangles (barycentric sampling, so every point lies
exactly on the surface) in fixed-size batches from one seeded generator; each candidate is tested against
the filters and then against the points already accepted within ``min_distance_m`` (measured on the
ground plane, x–z) with a hash grid ("dart throwing"). The order of acceptance is the order of the output:
same surface + same settings + same seed → the same instances, always.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from ..errors import ScenegenError
from .paths import polyline_distance
from .uv import face_normals

BATCH = 8192
MAX_BATCHES_PER_TARGET = 10  # give up after this many candidates per wanted point (in batches)
PATIENCE_PER_POINT = 30  # … or after this many candidates in a row found no room (the surface is full),
MAX_PATIENCE = 100_000  # at most this many: a layer asking for about what its surface holds ends in seconds
MIN_PATIENCE = 3000


@dataclass
class Surface:
    """World-space triangles to scatter on."""

    positions: np.ndarray  # N×3
    faces: np.ndarray  # M×3

    def __post_init__(self) -> None:
        self.normals, self.areas = face_normals(self.positions, self.faces)


@dataclass
class ScatterRules:
    count: int | None = None
    density_per_m2: float | None = None
    min_distance_m: float = 0.0
    slope_deg: tuple[float, float] = (0.0, 90.0)
    height_m: tuple[float, float] | None = None
    region: tuple[tuple[float, float], tuple[float, float]] | None = None
    avoid: tuple[tuple[np.ndarray, float], ...] = ()  # (polyline M×2, clearance in metres)
    seed: int = 0
    salt: str = ""


@dataclass
class ScatterPoints:
    positions: np.ndarray  # K×3 on the surface
    normals: np.ndarray  # K×3 face normals
    wanted: int
    rng: np.random.Generator  # continues the stream for per-instance attributes


def layer_rng(seed: int, salt: str) -> np.random.Generator:
    """The generator of one scatter layer: its seed plus a stable hash of its name."""
    return np.random.default_rng([int(seed), zlib.crc32(salt.encode("utf-8"))])


def scatter_points(surface: Surface, rules: ScatterRules) -> ScatterPoints:
    """Points on ``surface`` obeying ``rules`` (see the module notes)."""
    rng = layer_rng(rules.seed, rules.salt)
    cos_lo, cos_hi = np.cos(np.radians(rules.slope_deg[1])), np.cos(np.radians(rules.slope_deg[0]))
    up = surface.normals[:, 1]
    eligible = (up >= cos_lo - 1e-9) & (up <= cos_hi + 1e-9) & (surface.areas > 0)
    if rules.region is not None:
        eligible &= _faces_touch_region(surface, rules.region)
    areas = np.where(eligible, surface.areas, 0.0)
    total_area = float(areas.sum())
    empty = ScatterPoints(np.zeros((0, 3)), np.zeros((0, 3)), 0, rng)
    if total_area <= 0:
        return empty
    cdf = np.cumsum(areas)
    cdf /= cdf[-1]

    def candidates(n: int) -> tuple[np.ndarray, np.ndarray]:
        face = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)
        r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
        tri = surface.positions[surface.faces[face]]
        points = (1 - r1)[:, None] * tri[:, 0] + (r1 * (1 - r2))[:, None] * tri[:, 1] + (r1 * r2)[:, None] * tri[:, 2]
        keep = _point_filter(points, rules)
        return points[keep], surface.normals[face[keep]]

    if rules.count is not None:
        wanted = int(rules.count)
        first = None
    else:
        pts, nrm = candidates(BATCH)
        kept_fraction = len(pts) / BATCH
        wanted = int(round(rules.density_per_m2 * total_area * kept_fraction))
        first = (pts, nrm)
    if wanted == 0:
        return ScatterPoints(np.zeros((0, 3)), np.zeros((0, 3)), 0, rng)

    xz = surface.positions[:, [0, 2]]
    grid = _DiskGrid(rules.min_distance_m, xz.min(axis=0), xz.max(axis=0))
    out_p: list[np.ndarray] = []
    out_n: list[np.ndarray] = []
    batches = 0
    misses = 0  # candidates rejected in a row: stop when the surface is full
    max_batches = max(4, MAX_BATCHES_PER_TARGET * int(np.ceil(wanted / BATCH)))
    patience = max(MIN_PATIENCE, min(MAX_PATIENCE, PATIENCE_PER_POINT * wanted))
    placed = 0
    while placed < wanted and batches < max_batches and misses < patience:
        pts, nrm = first if first is not None else candidates(BATCH)
        first = None
        batches += 1
        free = grid.free(pts[:, 0], pts[:, 2])  # vectorised test against the points placed so far
        for index in range(len(pts)):
            if free[index] and grid.accept(pts[index, 0], pts[index, 2]):
                out_p.append(pts[index])
                out_n.append(nrm[index])
                placed += 1
                misses = 0
                if placed == wanted:
                    break
            else:
                misses += 1
                if misses >= patience:
                    break
    if not out_p:
        return ScatterPoints(np.zeros((0, 3)), np.zeros((0, 3)), wanted, rng)
    return ScatterPoints(np.array(out_p), np.array(out_n), wanted, rng)


def _point_filter(points: np.ndarray, rules: ScatterRules) -> np.ndarray:
    keep = np.ones(len(points), bool)
    if rules.height_m is not None:
        keep &= (points[:, 1] >= rules.height_m[0]) & (points[:, 1] <= rules.height_m[1])
    if rules.region is not None:
        (x0, z0), (x1, z1) = rules.region
        keep &= (points[:, 0] >= min(x0, x1)) & (points[:, 0] <= max(x0, x1))
        keep &= (points[:, 2] >= min(z0, z1)) & (points[:, 2] <= max(z0, z1))
    for polyline, clearance in rules.avoid:
        idx = np.nonzero(keep)[0]
        if idx.size:
            keep[idx] = polyline_distance(points[idx][:, [0, 2]], polyline) > clearance
    return keep


def _faces_touch_region(surface: Surface, region) -> np.ndarray:
    (x0, z0), (x1, z1) = region
    tri = surface.positions[surface.faces]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    return (hi[:, 0] >= min(x0, x1)) & (lo[:, 0] <= max(x0, x1)) & (hi[:, 2] >= min(z0, z1)) & (lo[:, 2] <= max(z0, z1))


class _DiskGrid:
    """Poisson-disk bookkeeping on the x–z plane: cells of radius/√2 hold at most one accepted point."""

    MAX_CELLS = 16_000_000

    def __init__(self, radius: float, lo: np.ndarray, hi: np.ndarray) -> None:
        self.radius = float(radius)
        self.r2 = self.radius * self.radius
        self.active = self.radius > 0
        if not self.active:
            return
        self.cell = self.radius / math.sqrt(2.0)
        self.lo = np.asarray(lo, dtype=np.float64) - 3 * self.cell
        shape = np.ceil((np.asarray(hi, dtype=np.float64) + 3 * self.cell - self.lo) / self.cell).astype(np.int64) + 1
        if shape[0] * shape[1] > self.MAX_CELLS:
            raise ScenegenError(f"min_distance_m {self.radius:g} is too small for a surface this large "
                                f"({int(shape[0]) * int(shape[1]):,} grid cells); raise it or use 0")
        self.index = np.full((int(shape[0]), int(shape[1])), -1, np.int64)
        self.points: list[tuple[float, float]] = []
        self.coords = np.zeros((0, 2))

    def _cell(self, x, z):
        return (np.floor((x - self.lo[0]) / self.cell).astype(np.int64),
                np.floor((z - self.lo[1]) / self.cell).astype(np.int64))

    def free(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """For each candidate: no point accepted so far lies within the radius (vectorised)."""
        if not self.active or not self.points:
            return np.ones(len(x), bool)
        if len(self.coords) != len(self.points):
            self.coords = np.asarray(self.points)
        cx, cz = self._cell(x, z)
        ok = np.ones(len(x), bool)
        for dx in range(-2, 3):
            for dz in range(-2, 3):
                other = self.index[np.clip(cx + dx, 0, self.index.shape[0] - 1), np.clip(cz + dz, 0, self.index.shape[1] - 1)]
                has = other >= 0
                if has.any():
                    o = self.coords[np.where(has, other, 0)]
                    close = has & ((o[:, 0] - x) ** 2 + (o[:, 1] - z) ** 2 < self.r2)
                    ok &= ~close
        return ok

    def accept(self, x: float, z: float) -> bool:
        """Place (x, z) unless an accepted point lies within the radius."""
        if not self.active:
            return True
        cx = math.floor((x - self.lo[0]) / self.cell)
        cz = math.floor((z - self.lo[1]) / self.cell)
        block = self.index[max(cx - 2, 0):cx + 3, max(cz - 2, 0):cz + 3]
        for other in block[block >= 0]:
            ox, oz = self.points[other]
            if (ox - x) ** 2 + (oz - z) ** 2 < self.r2:
                return False
        self.index[cx, cz] = len(self.points)
        self.points.append((x, z))
        return True
