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


# ------------------------------------------------------------------------------------------- billboard normal maps
def disc_sprite(size: int = 64) -> np.ndarray:
    """A flat-coloured disc on its foot: any left/right difference in a render is the lighting's."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rgba = np.zeros((size, size, 4), np.float32)
    rgba[..., :3] = GREEN
    rgba[..., 3] = (xx + 0.5 - size / 2) ** 2 + (yy + 0.5 - size / 2) ** 2 <= (0.4 * size) ** 2
    return rgba


def billboard_scene(sprite: np.ndarray, kind: str, yaw_deg: float, sun, shadows: bool,
                    normal_map: bool = True) -> ComposedScene:
    """One billboard (2 m, pivot at the origin) seen from 6 m along +Z, a sun at (azimuth, elevation)."""
    from scenegen.scene.compose import sprite_billboard

    geom, material = sprite_billboard(sprite, "sprite", height_m=2.0, kind=kind, alpha_cutoff=0.5)
    if not normal_map:
        material.normal_png = None
    group = InstanceGroup("sprite", geom, np.zeros((1, 3)), quat_yaw(np.radians([yaw_deg])), np.ones((1, 3)),
                          billboard=True)
    scene = scene_with([group], {"sprite": material}, (0.0, 1.0, 6.0), (0.0, 1.0, 0.0), sun=sun, shadows=shadows)
    scene.camera.yfov = float(np.radians(25.0))  # the billboard fills most of the frame
    return scene


def halves(scene: ComposedScene, settings: RenderSettings) -> tuple[float, float]:
    """Mean luminance of the billboard's pixels left and right of its axis."""
    result = render_scene(scene, settings)
    _, axis = project(scene, settings, (0.0, 1.0, 0.0))
    covered = result.depth > 0
    columns = np.arange(settings.width)[None, :]
    luminance = result.color.mean(axis=2)
    left, right = covered & (columns < axis - 1), covered & (columns > axis + 1)
    return float(luminance[left].mean()), float(luminance[right].mean())


@pytest.mark.parametrize("kind,yaw", [("quad", 0.0), ("cross", 45.0), ("cross3", 15.0)])
def test_side_sun_leaves_a_billboards_far_side_darker(kind: str, yaw: float) -> None:
    """With its shape's normal map a sprite is lit like an object: a sun from the right darkens its left half.

    The same card without the normal map (the control) is lit evenly, so the difference is the normal map's.
    """
    settings = RenderSettings(width=96, height=96, supersample=1, depth=True, shadows=False)
    sprite = disc_sprite()
    from_right = halves(billboard_scene(sprite, kind, yaw, (90.0, 20.0), shadows=False), settings)
    from_left = halves(billboard_scene(sprite, kind, yaw, (270.0, 20.0), shadows=False), settings)
    assert from_right[1] > 1.3 * from_right[0], f"sun from +X: right half brighter, got {from_right}"
    assert from_left[0] > 1.3 * from_left[1], f"sun from -X: left half brighter, got {from_left}"
    flat = halves(billboard_scene(sprite, kind, yaw, (90.0, 20.0), shadows=False, normal_map=False), settings)
    assert flat[1] == pytest.approx(flat[0], rel=0.05), "without the normal map both halves are lit alike"


def axis_step(kind: str, yaw: float, sun_azimuth: float, shadows: bool) -> tuple[float, float]:
    """Across a crossed tree billboard's crown: the largest luminance step at its axis, and away from it."""
    from scenegen.data.sprites_procedural import generate_sprite

    tree = generate_sprite("broadleaf_tree", 3, 128)
    scene = billboard_scene(tree, kind, yaw, (sun_azimuth, 25.0), shadows=shadows)
    settings = RenderSettings(width=160, height=160, supersample=1, depth=True, shadows=shadows)
    result = render_scene(scene, settings)
    _, axis = project(scene, settings, (0.0, 1.0, 0.0))
    rows = (result.depth[:, axis - 20:axis + 20] > 0).all(axis=1)  # crown rows covered ±20 px around the axis
    assert rows.sum() > 20
    profile = result.color.mean(axis=2)[rows].mean(axis=0)
    steps = np.abs(profile[2:] - profile[:-2])  # steps[c - 1]: across column c
    at_axis = steps[axis - 3:axis + 2].max()
    elsewhere = np.concatenate([steps[axis - 21:axis - 5], steps[axis + 5:axis + 19]]).max()
    return float(at_axis), float(elsewhere)


@pytest.mark.parametrize("kind,yaw,sun", [("cross", 135.0, 300.0), ("cross3", 40.0, 300.0), ("cross3", 40.0, 90.0)])
@pytest.mark.parametrize("shadows", [False, True])
def test_crossed_cards_show_no_line_on_their_axis(kind: str, yaw: float, sun: float, shadows: bool) -> None:
    """Where crossed cards meet, the crown's brightness steps no more than anywhere else across it.

    The views include a card seen from behind (mirrored) and a side sun. Lit by each card's own normal the
    two halves differ (a step several times the texture's own); shadows of the cards on each other start
    on the axis too.
    """
    at_axis, elsewhere = axis_step(kind, yaw, sun, shadows)
    assert at_axis < elsewhere, f"a step of {at_axis:.3f} on the axis, at most {elsewhere:.3f} elsewhere"


# ------------------------------------------------------------------------------------------- trimmed billboard cards
def _trim_scene(kind: str, yaw_deg: float, trim: bool, distance: float) -> ComposedScene:
    """A generated tree billboard (trimmed cards or full rectangles) on a ground plane, a side sun with shadows."""
    from scenegen.data.sprites_procedural import generate_sprite
    from scenegen.scene.compose import sprite_billboard

    tree = generate_sprite("broadleaf_tree", 3, 128)
    geom, material = sprite_billboard(tree, "tree", height_m=2.0, kind=kind, alpha_cutoff=0.5, trim=trim)
    ground = geometry("ground", shapes.plane(8.0, 8.0), "grey")
    groups = [single("ground", ground), InstanceGroup("tree", geom, np.zeros((1, 3)), quat_yaw(np.radians([yaw_deg])),
                                                     np.ones((1, 3)), billboard=True)]
    scene = scene_with(groups, {"tree": material, "grey": solid(GREY)}, (0.0, 1.2, distance), (0.0, 1.0, 0.0),
                       sun=(300.0, 35.0))
    scene.camera.yfov = float(np.radians(30.0))
    return scene


@pytest.mark.parametrize("kind,yaw,distance", [("quad", 0.0, 5.0), ("cross3", 40.0, 5.0), ("cross", 20.0, 25.0)])
def test_trimmed_cards_render_the_pixels_of_full_rectangles(kind: str, yaw: float, distance: float) -> None:
    """A billboard with trimmed cards renders as with full rectangles, shadows included: at most 0.1% of the
    pixels differ (by rounding: another triangulation interpolates in other floating-point steps), by little.
    (With no margin around the texels, 0.2–1.4% differ, by up to 88/255: the test sees a polygon cut too tight.)"""
    settings = RenderSettings(width=160, height=160, supersample=1, depth=True)
    trimmed = render_scene(_trim_scene(kind, yaw, True, distance), settings)
    plain = render_scene(_trim_scene(kind, yaw, False, distance), settings)
    covered = int((plain.depth > 0).sum())  # the tree and the ground
    assert covered > 500
    differ = np.abs(np.round(trimmed.color * 255) - np.round(plain.color * 255)).max(axis=2)
    print(f"{kind} at {distance} m: {(differ > 0).sum()} of {covered} pixels differ, by at most {differ.max():.0f}/255")
    assert (differ > 0).sum() <= 0.001 * covered, f"{(differ > 0).sum()} of {covered} pixels differ"
    assert (differ > 16).sum() <= 0.0005 * covered, f"{(differ > 16).sum()} pixels differ by more than 16/255"
