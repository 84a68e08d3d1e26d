"""The scene renderer (real pyrender on EGL): cut-outs, sprite-shaped shadows, sun shadows, instancing, culling."""

from __future__ import annotations

import numpy as np
import pytest

from scenegen.imaging import encode_png
from scenegen.scene import shapes
from scenegen.scene.composed import Camera, ComposedScene, Geometry, InstanceGroup, Light, SceneMaterial, look_at, quat_yaw
from scenegen.scene.compose import sun_direction
from scenegen.scene.render import RenderSettings, pyrender_scene, render_scene
from scenegen.scene.uv import box_project, tangents

pytest.importorskip("pyrender")

RED, GREEN, GREY = (0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (0.6, 0.6, 0.6)


def solid(colour, size: int = 16) -> SceneMaterial:
    image = np.ones((size, size, 3), np.float32) * np.asarray(colour, np.float32)
    return SceneMaterial(name=str(colour), basecolor_png=encode_png(image), roughness_factor=0.9)


def half_cutout() -> SceneMaterial:
    """Left half opaque red, right half transparent (colour bled red, as a cleaned sprite has)."""
    rgba = np.zeros((64, 64, 4), np.float32)
    rgba[..., :3] = RED
    rgba[:, :32, 3] = 1.0
    return SceneMaterial(name="cutout", basecolor_png=encode_png(rgba), alpha_mode="MASK", alpha_cutoff=0.5,
                         double_sided=True, wrap="clamp")


def geometry(name: str, shape, material: str) -> Geometry:
    positions, normals, faces = shape
    p, n, uv, f = box_project(positions, normals, faces, 1.0)
    return Geometry(name, p, n, uv, f, material, tangents(p, n, uv, f))


def card(material: str = "cutout") -> Geometry:
    """A 2 m × 2 m vertical card in the x–y plane at z = 0, y from 0.5 to 2.5, facing +Z, UV over it."""
    positions = np.array([[-1, 0.5, 0], [1, 0.5, 0], [1, 2.5, 0], [-1, 2.5, 0]], float)
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    return Geometry("card", positions, np.tile([0.0, 0.0, 1.0], (4, 1)), uvs, np.array([[0, 1, 2], [0, 2, 3]]), material)


def single(name: str, geom: Geometry, position=(0.0, 0.0, 0.0)) -> InstanceGroup:
    return InstanceGroup(name, geom, np.array([position]), np.array([[0, 0, 0, 1.0]]), np.ones((1, 3)))


def scene_with(groups, materials, camera_eye, camera_target, sun=(0.0, 45.0), shadows=True) -> ComposedScene:
    camera = Camera(look_at(np.array(camera_eye, float), np.array(camera_target, float)), np.radians(50), 0.1, 100)
    sun_pose = look_at(sun_direction(*sun) * 50.0, np.zeros(3))
    return ComposedScene(materials=materials, groups=groups, camera=camera,
                         lights=[Light("sun", sun_pose, (1.0, 1.0, 1.0), 3.0, shadows=shadows)],
                         ambient=(0.15, 0.15, 0.15), ambient_ground=(0.1, 0.1, 0.1))


def project(scene: ComposedScene, settings: RenderSettings, point) -> tuple[int, int]:
    """Pixel (row, column) of a world point in the rendered image."""
    cam = scene.camera
    view = np.linalg.inv(cam.pose)
    p = view @ np.append(np.asarray(point, float), 1.0)
    f = 1.0 / np.tan(cam.yfov / 2.0)
    aspect = settings.width / settings.height
    x, y = f / aspect * p[0] / -p[2], f * p[1] / -p[2]
    return int((1 - y) / 2 * settings.height), int((x + 1) / 2 * settings.width)


def test_transparent_texels_show_what_is_behind() -> None:
    """A green box behind a card: visible through its transparent half, hidden by its opaque half."""
    materials = {"cutout": half_cutout(), "green": solid(GREEN)}
    box = geometry("box", shapes.box(3.0, 3.0, 0.5), "green")
    scene = scene_with([single("box", box, (0, 0, -2)), single("card", card())], materials, (0, 1.5, 6), (0, 1.5, 0),
                       sun=(0, 60), shadows=False)
    settings = RenderSettings(width=160, height=120, supersample=1, depth=True, shadows=False)
    result = render_scene(scene, settings)
    left = project(scene, settings, (-0.5, 1.5, 0.0))
    right = project(scene, settings, (0.5, 1.5, 0.0))
    red, green = result.color[left], result.color[right]
    assert red[0] > 2 * red[1], f"opaque half should be red, got {red}"
    assert green[1] > 2 * green[0], f"the box must show through the transparent half, got {green}"
    # depth there is the box's, not the card's: transparent texels wrote no depth
    assert result.depth[right] == pytest.approx(np.linalg.norm(np.array([0.0, 1.5, 6.0]) - [0.5, 1.5, -1.75]), rel=0.05)
    assert result.depth[left] == pytest.approx(6.0, rel=0.05)


def test_cutouts_cast_sprite_shaped_shadows_and_objects_cast_shadows() -> None:
    """Sun behind the camera at 45°: the card's opaque half shades the ground behind it, its transparent half not."""
    materials = {"cutout": half_cutout(), "ground": solid(GREY)}
    ground = geometry("ground", shapes.plane(12.0, 12.0), "ground")
    groups = [single("ground", ground), single("card", card())]
    eye, target = (0.0, 8.0, 2.0), (0.0, 0.0, -1.5)
    settings = RenderSettings(width=200, height=150, supersample=1, shadows=True)
    lit = render_scene(scene_with(groups, materials, eye, target, sun=(0, 45)), settings)
    scene = scene_with(groups, materials, eye, target, sun=(0, 45))
    behind_opaque = lit.color[project(scene, settings, (-0.5, 0.0, -1.5))].mean()
    behind_clear = lit.color[project(scene, settings, (0.5, 0.0, -1.5))].mean()
    open_ground = lit.color[project(scene, settings, (3.0, 0.0, -1.5))].mean()
    assert behind_opaque < 0.6 * open_ground, "the opaque half casts a shadow"
    assert behind_clear == pytest.approx(open_ground, rel=0.1), "transparent texels cast none"
    flat = render_scene(scene_with(groups, materials, eye, target, sun=(0, 45), shadows=False), settings)
    assert flat.color[project(scene, settings, (-0.5, 0.0, -1.5))].mean() == pytest.approx(open_ground, rel=0.1)


def forest(count: int = 400) -> ComposedScene:
    rng = np.random.default_rng(0)
    materials = {"cutout": half_cutout(), "ground": solid(GREY)}
    translations = np.stack([rng.uniform(-30, 30, count), np.zeros(count), rng.uniform(-30, 30, count)], axis=1)
    cards = InstanceGroup("cards", card(), translations, quat_yaw(rng.uniform(0, 6.28, count)),
                          np.repeat(rng.uniform(0.5, 1.5, count)[:, None], 3, axis=1), billboard=True)
    ground = single("ground", geometry("ground", shapes.plane(60.0, 60.0), "ground"))
    return scene_with([ground, cards], materials, (0, 3, 20), (0, 0, 0), sun=(300, 40))


def test_each_group_is_one_instanced_draw_and_culling_changes_nothing() -> None:
    scene = forest()
    settings = RenderSettings(width=160, height=90, supersample=1)
    pr_scene, _, drawn = pyrender_scene(scene, settings)
    meshes = {node.mesh.name: node.mesh for node in pr_scene.mesh_nodes}
    assert set(meshes) == {"ground", "cards"}
    (primitive,) = meshes["cards"].primitives
    assert primitive.poses.shape[1:] == (4, 4) and 0 < len(primitive.poses) < 400, "instanced, frustum-culled"
    assert drawn == len(primitive.poses) + 1
    culled = render_scene(scene, settings)
    everything = render_scene(scene, RenderSettings(width=160, height=90, supersample=1, cull=False))
    assert everything.drawn_instances == 401 and culled.drawn_instances < 401
    assert np.abs(culled.color - everything.color).max() <= 2.0 / 255.0


def test_render_is_deterministic_and_antialiased() -> None:
    scene = forest(200)
    a = render_scene(scene, RenderSettings(width=120, height=80, supersample=2))
    b = render_scene(scene, RenderSettings(width=120, height=80, supersample=2))
    assert a.color.shape == (80, 120, 3) and np.array_equal(a.color, b.color)
    sky = a.color[0]  # top row: sky gradient, no geometry
    assert np.all(sky[:, 2] > sky[:, 0]), "blue sky"
    levels = np.unique(np.round(a.color[..., 0] * 255))
    assert len(levels) > 40, "smooth (antialiased) edges and shading"


def test_draw_order_does_not_depend_on_set_order() -> None:
    """pyrender keeps mesh nodes in a set (iteration order follows object addresses) and breaks distance ties
    by that order; scenegen's renderer breaks them by the numbered node names pyrender_scene gives."""
    import pyrender
    import trimesh

    from scenegen.scene.render import _renderer_class

    pr_scene, _, _ = pyrender_scene(forest(50), RenderSettings(width=64, height=48, supersample=1))
    assert sorted(node.name for node in pr_scene.mesh_nodes) == ["00000 ground", "00001 cards"]
    tied = pyrender.Scene()
    names = [f"{i:05d} box" for i in np.random.default_rng(0).permutation(12)]
    for name in names:  # every node at the same pose: a pure tie
        tied.add(pyrender.Mesh.from_trimesh(trimesh.creation.box(), smooth=False), name=name)
    tied.add(pyrender.PerspectiveCamera(yfov=1.0), pose=np.eye(4))
    order = _renderer_class(pyrender)._sorted_mesh_nodes
    assert [n.name for n in order(None, tied)] == sorted(names)
