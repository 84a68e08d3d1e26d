"""World-metre UVs, tangents, primitive shapes, terrain, path masks and Poisson-disk scatter."""

from __future__ import annotations

import numpy as np
import pytest

from scenegen.scene import shapes
from scenegen.scene.composed import quat_from_euler_deg, quat_from_matrix, rotation_matrices, trs_matrices
from scenegen.scene.compose import make_geometry, sun_direction, surface_height
from scenegen.scene.paths import path_mask, polyline_distance
from scenegen.scene.scatter import ScatterRules, Surface, scatter_points
from scenegen.scene.terrain import flatten_along, grid_mesh, noise_heights
from scenegen.scene.uv import box_project, face_normals, tangents


def texels_per_metre(positions: np.ndarray, uvs: np.ndarray, faces: np.ndarray, scale=1.0) -> np.ndarray:
    """UV distance per world metre along each triangle edge (1/tile for a world-metre mapping)."""
    p = positions * scale
    out = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        dp = np.linalg.norm(p[faces[:, b]] - p[faces[:, a]], axis=1)
        du = np.linalg.norm(uvs[faces[:, b]] - uvs[faces[:, a]], axis=1)
        keep = dp > 1e-6
        out.append(du[keep] / dp[keep])
    return np.concatenate(out)


@pytest.mark.parametrize("shape,scale", [
    (shapes.box(3.0, 2.0, 1.0), 1.0),
    (shapes.box(1.0, 1.0, 1.0), np.array([4.0, 2.5, 1.5])),
    (shapes.plane(10.0, 6.0), 1.0),
    (shapes.gable(4.0, 1.5, 3.0), 1.0),
    (shapes.cylinder(0.5, 2.0, 24), 2.0),
])
def test_box_projection_keeps_the_tile_size_in_metres(shape, scale) -> None:
    positions, normals, faces = shape
    tile = 2.0
    p, n, uv, f = box_project(positions, normals, faces, tile, scale)
    ratio = texels_per_metre(p, uv, f, scale)
    # Along edges in the projection plane the ratio is exactly 1/tile; slanted edges (gable, cylinder) lose
    # the out-of-plane part, never more than the slope allows.
    assert np.isclose(np.max(ratio), 1.0 / tile, rtol=1e-6)
    flat = ratio[np.isclose(ratio, 1.0 / tile, rtol=1e-6)]
    assert flat.size > 0.5 * ratio.size
    assert len(f) == len(faces)
    # u × v points along each face's normal: textures are not mirrored
    fn, _ = face_normals(p * scale, f)
    e1 = (p[f[:, 1]] - p[f[:, 0]]) * scale
    e2 = (p[f[:, 2]] - p[f[:, 0]]) * scale
    d1, d2 = uv[f[:, 1]] - uv[f[:, 0]], uv[f[:, 2]] - uv[f[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    assert np.all(det * np.sum(fn * np.cross(e1, e2), axis=1) > 0)


def test_box_walls_texture_upright() -> None:
    """On every wall, v grows with height: brick courses are horizontal and the image's top is up."""
    p, n, uv, f = box_project(*shapes.box(2.0, 3.0, 2.0), tile_m=1.0)
    walls = np.abs(n[:, 1]) < 0.5
    assert np.allclose(uv[walls, 1], p[walls, 1])


def test_tangents_are_unit_orthogonal_and_follow_u() -> None:
    positions, normals, faces = shapes.sphere(1.0, 32)
    p, n, uv, f = box_project(positions, normals, faces, 1.0)
    t = tangents(p, n, uv, f)
    assert t.shape == (len(p), 4) and set(np.unique(t[:, 3])) <= {-1.0, 1.0}
    assert np.allclose(np.linalg.norm(t[:, :3], axis=1), 1.0, atol=1e-5)
    assert np.abs(np.sum(t[:, :3] * n, axis=1)).max() < 1e-4
    box = make_geometry("b", shapes.box(1, 1, 1), "m", 1.0, np.ones(3))
    front = np.isclose(box.normals[:, 2], 1.0)
    assert np.allclose(box.tangents[front], [1, 0, 0, 1])  # +Z wall: u along +X, bitangent n × t = +Y


@pytest.mark.parametrize("name,shape", [
    ("box", shapes.box(1, 2, 3)), ("gable", shapes.gable(4, 1.5, 3)), ("sphere", shapes.sphere(1, 16)),
    ("cylinder", shapes.cylinder(1, 2, 12)), ("rock", shapes.rock(1.0, 3)), ("plane", shapes.plane(2, 3)),
])
def test_shapes_stand_on_their_origin_and_face_outwards(name: str, shape) -> None:
    positions, normals, faces = shape
    assert positions[:, 1].min() == pytest.approx(0.0, abs=1e-9)
    fn, area = face_normals(positions, faces)
    assert np.all(area > 0)
    centre = positions.mean(axis=0)
    outward = np.sum(fn * (positions[faces].mean(axis=1) - centre), axis=1)
    assert np.all(outward >= -1e-9)
    assert np.all(np.sum(fn * normals[faces].mean(axis=1), axis=1) > 0)


def test_rocks_are_seeded() -> None:
    a, b, c = shapes.rock(1, 1), shapes.rock(1, 1), shapes.rock(1, 2)
    assert np.array_equal(a[0], b[0]) and not np.allclose(a[0], c[0])


def test_transforms() -> None:
    q = quat_from_euler_deg(np.array([[0.0, 90.0, 0.0]]))
    assert np.allclose(rotation_matrices(q)[0] @ [1, 0, 0], [0, 0, -1])  # +X turns to -Z about +Y
    q = quat_from_euler_deg(np.array([[30.0, 45.0, 60.0]]))
    assert np.allclose(quat_from_matrix(rotation_matrices(q)[0]), q[0] * np.sign(q[0, 3]))
    m = trs_matrices(np.array([[1.0, 2.0, 3.0]]), np.array([[0, 0, 0, 1.0]]), np.array([[2.0, 2.0, 2.0]]))[0]
    assert np.allclose(m @ [1, 1, 1, 1], [3, 4, 5, 1])
    assert np.allclose(sun_direction(90, 0), [1, 0, 0]) and np.allclose(sun_direction(0, 90), [0, 1, 0])


def test_terrain_is_seeded_bounded_and_flattened_along_paths() -> None:
    a = noise_heights(33, 33, 20, 20, amplitude=2.0, scale_m=10, octaves=4, seed=1)
    assert np.array_equal(a, noise_heights(33, 33, 20, 20, amplitude=2.0, scale_m=10, octaves=4, seed=1))
    assert not np.allclose(a, noise_heights(33, 33, 20, 20, amplitude=2.0, scale_m=10, octaves=4, seed=2))
    assert np.abs(a).max() == pytest.approx(2.0)
    path = (np.array([[-10.0, 0.0], [10.0, 0.0]]), 3.0)
    flat = flatten_along(a, 20, 20, [path])
    on_path = np.abs(np.linspace(-10, 10, 33)) < 1.0  # rows near z = 0
    roughness = lambda h: np.abs(np.diff(h[on_path], axis=1)).mean()  # noqa: E731
    assert roughness(flat) < 0.5 * roughness(a)
    assert np.allclose(flat[0], a[0])  # far from the path: unchanged
    positions, normals, faces = grid_mesh(a, 20, 20)
    fn, _ = face_normals(positions, faces)
    assert np.all(fn[:, 1] > 0)  # counter-clockwise seen from above
    surface = Surface(positions, faces)
    assert surface_height(surface, 0.3, -4.1) == pytest.approx(np.interp(0.3, np.linspace(-10, 10, 33),
                                                                          a[np.argmin(np.abs(np.linspace(-10, 10, 33) + 4.1))]), abs=0.2)
    assert surface_height(surface, 50.0, 0.0) is None


def test_path_mask_is_periodic_and_on_the_path() -> None:
    points = np.array([[-8.0, 5.0], [0.0, 0.0], [9.0, -7.0]])
    size, tile = 256, 16.0
    mask = path_mask(points, 2.0, size, tile, softness_m=0.4, noise_m=0.0, seed=0)
    # texel (r, c) covers x = (c + 0.5)·T/size, z = ((r + 0.5)/size − 1)·T (mod T)
    def texel(x: float, z: float) -> float:
        c = int(np.floor(((x / tile) % 1.0) * size))
        r = int(np.floor(((z / tile + 1.0) % 1.0) * size))
        return float(mask[r, c])
    for t in np.linspace(0, 1, 9):
        x, z = (1 - t) * points[1] + t * points[2]
        assert texel(x, z) > 0.99
    assert texel(-6.0, -6.0) < 0.01 and texel(4.0, 6.0) < 0.01
    seam = (np.abs(mask[:, 0] - mask[:, -1]).mean() + np.abs(mask[0] - mask[-1]).mean()) / 2
    inner = (np.abs(np.diff(mask, axis=1)).mean() + np.abs(np.diff(mask, axis=0)).mean()) / 2
    assert seam <= 2.0 * inner
    assert polyline_distance(np.array([[0.0, 3.0]]), np.array([[-1.0, 0.0], [1.0, 0.0]]))[0] == pytest.approx(3.0)


def flat_surface(size: float = 20.0, cells: int = 8) -> Surface:
    heights = np.zeros((cells + 1, cells + 1))
    positions, _, faces = grid_mesh(heights, size, size)
    return Surface(positions, faces)


def test_scatter_count_distance_and_determinism() -> None:
    surface = flat_surface()
    rules = ScatterRules(count=300, min_distance_m=0.6, seed=5, salt="grass")
    a = scatter_points(surface, rules)
    b = scatter_points(surface, rules)
    assert len(a.positions) == 300 and np.array_equal(a.positions, b.positions)
    xz = a.positions[:, [0, 2]]
    d = np.linalg.norm(xz[:, None] - xz[None], axis=2) + np.eye(len(xz)) * 1e9
    assert d.min() >= 0.6
    assert np.abs(xz).max() <= 10.0
    other = scatter_points(surface, ScatterRules(count=300, min_distance_m=0.6, seed=6, salt="grass"))
    assert not np.array_equal(a.positions, other.positions)
    crowded = scatter_points(surface, ScatterRules(count=5000, min_distance_m=1.0, seed=1))
    assert len(crowded.positions) < 5000 and crowded.wanted == 5000  # cannot fit: fewer, reported


def test_scatter_density_filters_and_paths() -> None:
    surface = flat_surface()
    dense = scatter_points(surface, ScatterRules(density_per_m2=2.0, seed=1))
    assert abs(len(dense.positions) - 800) <= 1
    region = scatter_points(surface, ScatterRules(density_per_m2=2.0, region=((0, 0), (10, 10)), seed=1))
    assert abs(len(region.positions) - 200) <= 15
    assert region.positions[:, 0].min() >= 0 and region.positions[:, 2].min() >= 0
    path = np.array([[-10.0, 0.0], [10.0, 0.0]])
    avoid = scatter_points(surface, ScatterRules(count=400, avoid=((path, 1.5),), seed=2))
    assert np.abs(avoid.positions[:, 2]).min() > 1.5
    assert scatter_points(surface, ScatterRules(count=10, height_m=(1.0, 2.0), seed=1)).positions.shape == (0, 3)


def test_scatter_slope_limits() -> None:
    xs = np.linspace(-10, 10, 21)
    heights = np.where(xs < 0, 0.0, xs * 1.0)[None, :].repeat(21, axis=0)  # flat left half, 45° ramp right half
    positions, _, faces = grid_mesh(heights, 20, 20)
    surface = Surface(positions, faces)
    gentle = scatter_points(surface, ScatterRules(count=200, slope_deg=(0, 20), seed=1))
    steep = scatter_points(surface, ScatterRules(count=200, slope_deg=(40, 50), seed=1))
    assert gentle.positions[:, 0].max() <= 0.0 + 1e-9
    assert steep.positions[:, 0].min() >= 0.0 - 1e-9
    assert np.allclose(steep.positions[:, 1], steep.positions[:, 0], atol=1e-9)  # on the surface


def test_an_over_full_scatter_layer_stops_with_what_fits() -> None:
    """Asking for about twice what a surface holds at its minimum distance ends with the surface full (every
    pair still that far apart) after at most MAX_BATCHES_PER_TARGET candidates per wanted point (5.6 s here for
    200,000 points on 40 m × 40 m at 0.1 m; it ran for 96 s when the bound was 40)."""
    from scipy.spatial import cKDTree

    from scenegen.scene import scatter as S

    plane = S.Surface(np.array([[-10, 0, -10], [10, 0, -10], [10, 0, 10], [-10, 0, 10]], float),
                      np.array([[0, 2, 1], [0, 3, 2]]))
    points = S.scatter_points(plane, S.ScatterRules(count=50_000, min_distance_m=0.1, seed=3))
    placed = len(points.positions)
    assert points.wanted == 50_000 and 15_000 < placed < 50_000
    pairs = cKDTree(points.positions[:, [0, 2]]).query_pairs(0.1 - 1e-9)
    assert not pairs
