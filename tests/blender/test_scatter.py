"""Billboards in Blender: cut-out materials, the scatter node group, instancing, determinism, Cycles alpha."""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
import pytest


def _sprite_png(path: Path, width: int = 48, height: int = 96, hue: float = 0.0) -> str:
    """A real RGBA PNG: an opaque 'tree' (triangle on a trunk) on a fully transparent background."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    up = height - 1 - y  # rows counted from the bottom
    crown = (up > 0.3 * height) & (np.abs(x - width / 2) < (height - up) * 0.35)
    trunk = (up <= 0.3 * height) & (np.abs(x - width / 2) < width * 0.08)
    alpha = (crown | trunk).astype(np.float32)
    rgba = np.zeros((height, width, 4), np.float32)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 0.2 + hue, 0.6, 0.2
    rgba[trunk, :3] = (0.4, 0.25, 0.1)
    rgba[..., 3] = alpha
    image = bpy.data.images.new(path.stem, width, height, alpha=True)
    image.pixels[:] = rgba[::-1].ravel()  # Blender rows run bottom-up
    image.filepath_raw = str(path)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)
    return str(path)


@pytest.fixture()
def sprites(tmp_path) -> list[str]:
    return [_sprite_png(tmp_path / f"tree_{i}.png", hue=0.1 * i) for i in range(3)]


def _plane(scene, size: float = 4.0, z: float = 0.0):
    bpy.ops.mesh.primitive_plane_add(size=size, location=(0, 0, z))
    return bpy.context.active_object


def _instances(scatter_obj) -> list[tuple[str, tuple[float, ...], float]]:
    """(billboard name, world position, world height scale) of every instance the scatter object makes."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    found = []
    for inst in depsgraph.object_instances:
        if inst.is_instance and inst.parent is not None and inst.parent.original == scatter_obj:
            matrix = inst.matrix_world
            found.append((inst.object.original.name, tuple(round(v, 5) for v in matrix.translation),
                          matrix.to_scale().z))
    return sorted(found)


def test_billboard_collection_is_cut_out_and_hidden(scene, sprites):
    from scenegen_blender import scatter

    collection = scatter.billboard_collection("SG test billboards", sprites, kind="cross", scene=scene)
    assert len(collection.objects) == 3
    layer = bpy.context.view_layer.layer_collection.children[collection.name]
    assert layer.exclude, "the source billboards must not render at the origin"
    for obj in collection.objects:
        assert len(obj.data.polygons) == 2  # a cross: two quads
        zs = [v.co.z for v in obj.data.vertices]
        assert min(zs) == pytest.approx(0.0) and max(zs) == pytest.approx(1.0)  # foot at the pivot, 1 m tall
        width = max(v.co.x for v in obj.data.vertices) - min(v.co.x for v in obj.data.vertices)
        assert width == pytest.approx(0.5, rel=1e-3)  # 48×96 sprite → half as wide as tall
        material = obj.data.materials[0]
        tree = material.node_tree
        bsdf = tree.nodes["SG Principled"]
        clip = bsdf.inputs["Alpha"].links[0].from_node
        assert clip.bl_idname == "ShaderNodeMath" and clip.operation == "GREATER_THAN"
        assert clip.inputs[1].default_value == pytest.approx(0.5)
        tex = clip.inputs[0].links[0].from_node
        assert tex.bl_idname == "ShaderNodeTexImage" and clip.inputs[0].links[0].from_socket.name == "Alpha"
        assert bsdf.inputs["Base Color"].links[0].from_node == tex
        assert tex.image.colorspace_settings.name == "sRGB"
        if hasattr(material, "surface_render_method"):
            assert material.surface_render_method == "DITHERED"


def test_scatter_instances_billboards_over_the_surface_deterministically(scene, sprites):
    from scenegen_blender import scatter

    surface = _plane(scene, 4.0)
    collection = scatter.billboard_collection("SG det billboards", sprites, scene=scene)
    area = scatter.surface_area(surface)
    assert area == pytest.approx(16.0)
    obj = scatter.scatter(surface, collection, density=60 / area, distance_min=0.05, seed=4, scale_min=0.5,
                          scale_max=2.0, max_slope_deg=45.0)
    assert not surface.modifiers, "the surface itself is not modified"
    modifier = obj.modifiers["SceneGen Scatter"]
    group = modifier.node_group
    kinds = {node.bl_idname for node in group.nodes}
    assert {"GeometryNodeDistributePointsOnFaces", "GeometryNodeInstanceOnPoints", "GeometryNodeCollectionInfo",
            "GeometryNodeObjectInfo"} <= kinds
    assert group.nodes["SG Distribute"].distribute_method == "POISSON"
    assert "GeometryNodeRealizeInstances" not in kinds  # instanced, not copied

    first = _instances(obj)
    assert 40 <= len(first) <= 66, len(first)  # ~60 requested (Poisson rejection may drop a few)
    names = {name for name, _, _ in first}
    assert names == {o.name for o in collection.objects}, "every billboard variant is used"
    for _, (x, y, z), height in first:
        assert -2.0 <= x <= 2.0 and -2.0 <= y <= 2.0 and z == pytest.approx(0.0, abs=1e-5)
        assert 0.5 - 1e-4 <= height <= 2.0 + 1e-4
    assert len({round(h, 3) for _, _, h in first}) > 10, "heights are randomised"

    assert _instances(obj) == first  # same inputs, same instances
    identifiers = {item.name: item.identifier for item in group.interface.items_tree if getattr(item, "in_out", "") == "INPUT"}
    modifier[identifiers["Seed"]] = 5
    obj.update_tag()
    assert _instances(obj) != first
    modifier[identifiers["Seed"]] = 4
    obj.update_tag()
    assert _instances(obj) == first


def test_scatter_skips_steep_faces(scene, sprites):
    from scenegen_blender import scatter

    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0, 0, 0))
    cube = bpy.context.active_object
    collection = scatter.billboard_collection("SG slope billboards", sprites, scene=scene)
    assert scatter.surface_area(cube, 45.0) == pytest.approx(4.0)  # only the top face
    obj = scatter.scatter(cube, collection, density=10.0, distance_min=0.0, seed=1, scale_min=1, scale_max=1,
                          max_slope_deg=45.0)
    found = _instances(obj)
    assert len(found) > 10
    assert all(z == pytest.approx(1.0, abs=1e-5) for _, (_, _, z), _ in found)


def test_cut_out_renders_without_opaque_quads(scene, tmp_path, sprites):
    """Cycles, 64×64: where the sprite is transparent the film stays transparent; the tree is opaque."""
    from scenegen_blender import scatter

    collection = scatter.billboard_collection("SG render billboards", sprites[:1], kind="quad", scene=scene)
    source = collection.objects[0]
    card = bpy.data.objects.new("card", source.data)
    scene.collection.objects.link(card)
    card.rotation_euler = (0.0, 0.0, 0.0)  # quad in the XZ plane, facing -Y
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = 1.0
    camera.location = (0.0, -3.0, 0.5)
    camera.rotation_euler = (math.radians(90), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 8
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = 64
    scene.render.film_transparent = True
    scene.world = bpy.data.worlds.new("w")
    scene.render.filepath = str(tmp_path / "card.png")
    bpy.ops.render.render(write_still=True, scene=scene.name)
    image = bpy.data.images.load(str(tmp_path / "card.png"))
    alpha = np.array(image.pixels[:], dtype=np.float32).reshape(64, 64, 4)[::-1, :, 3]  # top row first
    # The card is 0.5 m wide, 1 m tall, centred horizontally: columns 16..47 of the frame.
    assert alpha[:, :12].max() == 0.0 and alpha[:, 52:].max() == 0.0  # outside the card
    assert alpha[2:10, 17:24].max() == 0.0, "transparent corner of the card rendered opaque"
    assert alpha[30:40, 30:34].min() > 0.99, "the crown is not opaque"
    assert alpha[58:62, 31:33].min() > 0.99, "the trunk is not opaque"
