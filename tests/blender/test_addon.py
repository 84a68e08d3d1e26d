"""The Blender add-on inside real Blender (the ``bpy`` module): install, register, operators, render.

Everything is real: the add-on is installed from the built zip, its operators talk to a real
``scenegen worker`` process (the main venv's Python, a real trained model), images are real PNGs,
Cycles renders on the CPU.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

ADDON = "scenegen_blender"
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------- helpers
def _prefs():
    return bpy.context.preferences.addons[ADDON].preferences


def _configure(python: str, model: str, sprite_model: str, out: str) -> None:
    prefs = _prefs()
    prefs.python, prefs.model_dir, prefs.sprite_model_dir, prefs.output_dir = python, model, sprite_model, out


def _child_pids() -> set[int]:
    """Live (non-zombie) child processes of this process (Linux /proc)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            pids.add(int(entry))
    return pids


def _source(socket_in):
    """The node feeding an input socket (None if unlinked)."""
    return socket_in.links[0].from_node if socket_in.is_linked else None


def _cube(size: float = 2.0, location=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0)):
    bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    obj = bpy.context.active_object
    obj.scale = scale
    bpy.context.view_layer.update()
    return obj


def _select_only(*objects) -> None:
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]


def _classes() -> list[str]:
    from scenegen_blender import state  # the installed add-on package

    if not state.CLASSES["classes"]:
        assert bpy.ops.scenegen.load_classes() == {"FINISHED"}
    return list(state.CLASSES["classes"])


def _face_repeats(obj, material) -> float:
    """Texture repeats along one edge of polygon 0, from the mesh itself: world edge length × Mapping scale
    / UV edge length must equal edge length / tile size."""
    mesh = obj.data
    poly = mesh.polygons[0]
    l0, l1 = poly.loop_indices[0], poly.loop_indices[1]
    v0, v1 = mesh.loops[l0].vertex_index, mesh.loops[l1].vertex_index
    world = obj.matrix_world.to_3x3()
    edge_m = (world @ (mesh.vertices[v1].co - mesh.vertices[v0].co)).length
    uv = mesh.uv_layers.active.data
    edge_uv = (uv[l1].uv - uv[l0].uv).length
    scale = material.node_tree.nodes["SG Mapping"].inputs["Scale"].default_value[0]
    return edge_uv * scale, edge_m


# ------------------------------------------------------------------------------------------------- register
def test_register_unregister_is_clean_and_inert(addon, scenegen_python, test_model, sprite_model, tmp_path, monkeypatch):
    import addon_utils

    out = _prefs().output_dir
    addon_dir = Path(addon.__file__).parent
    addon_utils.disable(ADDON, default_set=True)
    assert not hasattr(bpy.types, "SCENEGEN_OT_generate_material")
    assert not hasattr(bpy.types.Scene, "scenegen")

    # Registration: no network, no process, no files in the add-on's folder.
    def no_network(*args, **kwargs):
        raise AssertionError(f"network access during registration: {args!r}")

    before_files = sorted(p.relative_to(addon_dir) for p in addon_dir.rglob("*") if "__pycache__" not in p.parts)
    before_children = _child_pids()
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    module = addon_utils.enable(ADDON, default_set=True, handle_error=None)
    monkeypatch.undo()
    assert module is not None
    assert _child_pids() == before_children
    for name in ("generate_material", "material_from_image", "scatter_billboards", "build_scene", "export_library",
                 "load_classes", "cancel_jobs"):
        assert hasattr(bpy.types, f"SCENEGEN_OT_{name}"), name
    for name in ("main", "material", "billboards", "scene"):
        assert hasattr(bpy.types, f"SCENEGEN_PT_{name}"), name
    assert bpy.types.SCENEGEN_PT_main.bl_category == "SceneGen"
    assert bpy.types.SCENEGEN_PT_main.bl_space_type == "VIEW_3D"
    assert isinstance(bpy.context.scene.scenegen.tile_size, float)

    # A job starts the worker; unregistering stops it.
    _configure(scenegen_python, test_model, sprite_model, out)
    assert bpy.ops.scenegen.load_classes() == {"FINISHED"}
    workers = _child_pids() - before_children
    assert len(workers) == 1
    addon_utils.disable(ADDON, default_set=True)
    assert not hasattr(bpy.types, "SCENEGEN_OT_generate_material")
    deadline = time.monotonic() + 5
    while _child_pids() & workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _child_pids() & workers, "the worker outlived the add-on"
    after_files = sorted(p.relative_to(addon_dir) for p in addon_dir.rglob("*") if "__pycache__" not in p.parts)
    assert after_files == before_files

    # And it comes back cleanly (the session fixture expects it enabled and configured).
    assert addon_utils.enable(ADDON, default_set=True, handle_error=None) is not None
    _configure(scenegen_python, test_model, sprite_model, out)


# ------------------------------------------------------------------------------------------------- material
def test_generate_material_on_cube_builds_the_pbr_node_tree(scene):
    cube = _cube()
    _select_only(cube)
    settings = scene.scenegen
    settings.material_class = _classes()[0]
    settings.material_seed = 3
    settings.material_size = "256"
    settings.tile_size = 1.0
    assert bpy.ops.scenegen.generate_material() == {"FINISHED"}

    material = cube.active_material
    assert material is not None and material.name.startswith(f"{settings.material_class}_3_256")
    tree = material.node_tree
    bsdf = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    output = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    assert _source(output.inputs["Surface"]) == bsdf

    base = _source(bsdf.inputs["Base Color"])
    rough = _source(bsdf.inputs["Roughness"])
    normal_map = _source(bsdf.inputs["Normal"])
    assert base.bl_idname == "ShaderNodeTexImage" and base.image.colorspace_settings.name == "sRGB"
    assert rough.bl_idname == "ShaderNodeTexImage" and rough.image.colorspace_settings.name == "Non-Color"
    assert normal_map.bl_idname == "ShaderNodeNormalMap" and normal_map.space == "TANGENT"
    normal_tex = _source(normal_map.inputs["Color"])
    assert normal_tex.bl_idname == "ShaderNodeTexImage" and normal_tex.image.colorspace_settings.name == "Non-Color"
    images = {n.name: n.image for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage"}
    for key in ("height", "ao"):
        assert images[f"SG {key}"].colorspace_settings.name == "Non-Color"
    assert base.image.filepath.endswith("_basecolor.png") and normal_tex.image.filepath.endswith("_normal.png")
    assert rough.image.filepath.endswith("_roughness.png")
    for image in images.values():
        assert Path(bpy.path.abspath(image.filepath)).is_file()
        assert tuple(image.size) == (256, 256)
        assert str(Path(bpy.path.abspath(image.filepath)).parent).startswith(_prefs().output_dir.rstrip("/"))

    # Every image samples UV → Mapping, tiled (REPEAT).
    mapping = tree.nodes["SG Mapping"]
    assert _source(mapping.inputs["Vector"]).bl_idname == "ShaderNodeTexCoord"
    assert mapping.inputs["Vector"].links[0].from_socket.name == "UV"
    for node in (base, rough, normal_tex):
        assert _source(node.inputs["Vector"]) == mapping
        assert node.extension == "REPEAT"

    # Tiling in metres: along a 2 m cube edge, 2 repeats of a 1 m tile.
    repeats, edge_m = _face_repeats(cube, material)
    assert edge_m == pytest.approx(2.0)
    assert repeats == pytest.approx(2.0, rel=1e-3)

    # Same request again: the worker reuses the files on disk.
    assert bpy.ops.scenegen.generate_material() == {"FINISHED"}


def test_tiling_follows_tile_size_and_world_size(scene):
    small = _cube(location=(-3, 0, 0))
    big = _cube(location=(3, 0, 0), scale=(2.0, 2.0, 2.0))
    plane_mesh = bpy.data.meshes.new("no-uv")
    plane_mesh.from_pydata([(0, 0, 0), (3, 0, 0), (3, 3, 0), (0, 3, 0)], [], [(0, 1, 2, 3)])
    bare = bpy.data.objects.new("bare", plane_mesh)
    scene.collection.objects.link(bare)
    _select_only(small, big, bare)
    settings = scene.scenegen
    settings.material_class = _classes()[-1]
    settings.material_size = "256"
    settings.tile_size = 0.5
    assert bpy.ops.scenegen.generate_material() == {"FINISHED"}

    for obj, edge in ((small, 2.0), (big, 4.0)):
        repeats, edge_m = _face_repeats(obj, obj.active_material)
        assert edge_m == pytest.approx(edge)
        assert repeats == pytest.approx(edge / 0.5, rel=1e-3), obj.name
    assert small.active_material != big.active_material  # different metres per UV unit → own Mapping
    # The mesh without UVs got a box projection; 3 m edge / 0.5 m tile = 6 repeats.
    assert bare.data.uv_layers
    repeats, edge_m = _face_repeats(bare, bare.active_material)
    assert edge_m == pytest.approx(3.0) and repeats == pytest.approx(6.0, rel=1e-3)

    # Another tile size on one object leaves the others' materials alone.
    kept = {obj.name: obj.active_material for obj in (small, big)}
    _select_only(bare)
    settings.tile_size = 1.5
    assert bpy.ops.scenegen.generate_material() == {"FINISHED"}
    assert _face_repeats(bare, bare.active_material)[0] == pytest.approx(2.0, rel=1e-3)
    for obj, edge in ((small, 2.0), (big, 4.0)):
        assert obj.active_material == kept[obj.name]
        assert _face_repeats(obj, obj.active_material)[0] == pytest.approx(edge / 0.5, rel=1e-3)


def test_displacement_and_ao_options(scene):
    cube = _cube()
    _select_only(cube)
    settings = scene.scenegen
    settings.material_class = _classes()[0]
    settings.material_seed = 3
    settings.material_size = "256"  # same request as above: the worker reuses the files
    settings.displacement = True
    settings.ao_multiply = True
    assert bpy.ops.scenegen.generate_material() == {"FINISHED"}
    material = cube.active_material
    tree = material.node_tree
    output = tree.nodes["SG Output"]
    displacement = _source(output.inputs["Displacement"])
    assert displacement.bl_idname == "ShaderNodeDisplacement"
    assert _source(displacement.inputs["Height"]).image.filepath.endswith("_height.png")
    assert material.displacement_method == "BOTH"
    mix = _source(tree.nodes["SG Principled"].inputs["Base Color"])
    assert mix.bl_idname == "ShaderNodeMix" and mix.blend_type == "MULTIPLY"
    fed = {link.from_node.name for socket in mix.inputs if socket.is_linked for link in socket.links}
    assert fed == {"SG basecolor", "SG ao"}


def _render(scene, path: Path) -> np.ndarray:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    image = bpy.data.images.load(str(path))
    pixels = np.array(image.pixels[:], dtype=np.float32).reshape(image.size[1], image.size[0], 4)
    bpy.data.images.remove(image)
    return pixels


def _detail(pixels: np.ndarray) -> float:
    """Mean |luminance step| between neighbouring pixels that both lie on the object."""
    lum = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    solid = pixels[..., 3] > 0.99
    steps = []
    for axis in (0, 1):
        diff = np.abs(np.diff(lum, axis=axis))
        both = solid[1:, :] & solid[:-1, :] if axis == 0 else solid[:, 1:] & solid[:, :-1]
        steps.append(diff[both])
    return float(np.concatenate(steps).mean())


def test_cycles_render_shows_the_generated_material(scene, default_model, test_model, tmp_path):
    cube = _cube()
    _select_only(cube)
    settings = scene.scenegen
    _prefs().model_dir = default_model  # restarts the worker with the shipped model
    try:
        settings.material_class = _classes()[0]
        settings.material_size = "256"
        settings.tile_size = 1.0
        assert bpy.ops.scenegen.generate_material() == {"FINISHED"}
    finally:
        _prefs().model_dir = test_model
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.location = (3.2, -3.2, 2.6)
    camera.rotation_euler = (math.radians(62), 0.0, math.radians(45))
    scene.collection.objects.link(camera)
    scene.camera = camera
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 4.0
    sun.rotation_euler = (math.radians(35), math.radians(15), math.radians(30))
    scene.collection.objects.link(sun)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = 64
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"

    textured = _render(scene, tmp_path / "textured.png")
    coverage = float((textured[..., 3] > 0.99).mean())
    assert 0.2 < coverage < 0.9, f"the cube covers {coverage:.0%} of the frame"

    # Control: the same material with every map unlinked and replaced by its mean (a flat colour).
    tree = cube.active_material.node_tree
    bsdf = tree.nodes["SG Principled"]
    base = tree.nodes["SG basecolor"].image
    encoded = np.array(base.pixels[:], dtype=np.float32).reshape(-1, 4)[:, :3]  # 8-bit sRGB values
    mean = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).mean(axis=0)
    for name in ("Base Color", "Roughness", "Normal"):
        for link in list(bsdf.inputs[name].links):
            tree.links.remove(link)
    bsdf.inputs["Base Color"].default_value = (*mean.tolist(), 1.0)
    bsdf.inputs["Roughness"].default_value = 0.7
    flat = _render(scene, tmp_path / "flat.png")

    detail_textured, detail_flat = _detail(textured), _detail(flat)
    assert detail_textured > 0.02, f"textured render is flat (mean step {detail_textured:.4f})"
    assert detail_textured > 2.0 * detail_flat, (detail_textured, detail_flat)


# ------------------------------------------------------------------------------------------------- billboards, scenes
def test_scatter_billboards_operator_end_to_end(scene):
    from scenegen_blender import state

    bpy.ops.mesh.primitive_plane_add(size=4.0)
    surface = bpy.context.active_object
    _classes()
    assert state.CLASSES["sprite_classes"], state.CLASSES["sprite_error"]
    settings = scene.scenegen
    settings.billboard_class = state.CLASSES["sprite_classes"][0]
    settings.billboard_variants = 2
    settings.billboard_size = "64"
    settings.billboard_mode = "COUNT"
    settings.billboard_count = 40
    settings.billboard_spacing = 0.1
    settings.scale_min, settings.scale_max = 0.5, 1.0
    assert bpy.ops.scenegen.scatter_billboards() == {"FINISHED"}

    scatter_obj = next(obj for obj in scene.objects if obj.modifiers.get("SceneGen Scatter"))
    assert not surface.modifiers
    collection = next(c for c in bpy.data.collections if c.name.startswith(f"SG {settings.billboard_class} billboards"))
    assert len(collection.objects) == 2
    for obj in collection.objects:
        tex = obj.data.materials[0].node_tree.nodes["SG sprite"]
        assert tuple(tex.image.size) == (64, 64)
        assert Path(bpy.path.abspath(tex.image.filepath)).is_file()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    instanced = [i.object.original.name for i in depsgraph.object_instances  # read while iterating (temporary)
                 if i.is_instance and i.parent and i.parent.original == scatter_obj]
    assert 20 <= len(instanced) <= 45, len(instanced)
    assert set(instanced) <= {o.name for o in collection.objects}

    settings.billboard_class = "no-such-sprite"
    with pytest.raises(RuntimeError, match=r"unknown class 'no-such-sprite'"):
        bpy.ops.scenegen.scatter_billboards()


MINI_SCENE = {
    "name": "mini",
    "materials": {"wall": {"class": "brick", "seed": 2, "size": 64, "tile_size_m": 2.0}},
    "objects": [{"type": "box", "name": "hut", "material": "wall", "size_m": [2, 2, 2], "position": [0, 0, 0]}],
    "camera": {"position": [0, 3, 6], "target": [0, 0, 0]},
    "render": {"width": 64, "height": 48, "antialias": 1},
}


def test_build_scene_imports_the_composed_scene(scene, tmp_path):
    spec = tmp_path / "mini.json"
    spec.write_text(json.dumps(MINI_SCENE))
    assert bpy.ops.scenegen.build_scene(filepath=str(spec)) == {"FINISHED"}
    collection = bpy.data.collections["SG mini"]
    assert collection.name in scene.collection.children
    meshes = [obj for obj in collection.all_objects if obj.type == "MESH"]
    assert meshes, [obj.name for obj in collection.all_objects]
    assert all(obj.name in scene.objects for obj in meshes)
    textured = [obj for obj in meshes if obj.active_material and any(
        node.bl_idname == "ShaderNodeTexImage" and node.image is not None for node in obj.active_material.node_tree.nodes)]
    assert textured, "the imported box has no textured material"


# ------------------------------------------------------------------------------------------------- errors
def test_worker_errors_become_operator_reports(scene, tmp_path):
    cube = _cube()
    _select_only(cube)
    settings = scene.scenegen
    settings.material_size = "256"

    settings.material_class = "no-such-class"
    with pytest.raises(RuntimeError) as info:  # bpy turns an ERROR report into RuntimeError for scripts
        bpy.ops.scenegen.generate_material()
    message = str(info.value)
    assert "unknown class 'no-such-class'" in message and "Traceback" not in message
    assert message.strip().count("\n") == 0
    assert cube.active_material is None

    bad = tmp_path / "scene.json"
    bad.write_text('{"objects": [1, 2,,]}')
    with pytest.raises(RuntimeError, match=r"not valid JSON") as info:
        bpy.ops.scenegen.build_scene(filepath=str(bad))
    assert "Traceback" not in str(info.value) and str(bad) in str(info.value)

    with pytest.raises(RuntimeError, match=r"photo not found"):
        bpy.ops.scenegen.material_from_image(filepath=str(tmp_path / "missing.jpg"))

    for obj in list(scene.objects):
        obj.select_set(False)
    bpy.context.view_layer.objects.active = None
    settings.material_class = _classes()[0]
    with pytest.raises(RuntimeError, match=r"select one or more mesh objects"):
        bpy.ops.scenegen.generate_material()


def test_a_wrong_python_is_reported_not_raised(scene, tmp_path):
    cube = _cube()
    _select_only(cube)
    scene.scenegen.material_class = "brick"
    prefs = _prefs()
    saved = prefs.python
    try:
        prefs.python = str(tmp_path / "no-python-here")
        with pytest.raises(RuntimeError, match=r"cannot start the scenegen worker"):
            bpy.ops.scenegen.generate_material()
        prefs.python = sys.executable  # Blender's own Python: no scenegen
        with pytest.raises(RuntimeError, match=r"cannot import scenegen"):
            bpy.ops.scenegen.generate_material()
    finally:
        prefs.python = saved
    assert bpy.ops.scenegen.load_classes() == {"FINISHED"}


# ------------------------------------------------------------------------------------------------- responsiveness
def test_main_thread_stays_responsive_while_2048_generates_and_cancel_stops_it(addon, test_model, tmp_path):
    from scenegen_blender import operators, worker_client

    client = operators.get_client(bpy.context)
    client.call("classes", {"model": test_model}, timeout=120)  # warm: model loaded
    job = client.submit("material", {"class": _classes()[0], "seed": 11, "size": 2048, "model": test_model,
                                     "out_dir": str(tmp_path)})
    times = []
    while len(times) < 60 and not job.done:
        t0 = time.perf_counter()
        job.poll(0.0)
        probe = bpy.data.objects.new("probe", None)  # main-thread Blender work between polls
        bpy.data.objects.remove(probe)
        times.append(time.perf_counter() - t0)
        time.sleep(0.02)
    # Polling never waits for the worker: a blocking design would spend the whole 2048² job in one call.
    # (Median and max, not every sample: on a loaded machine the scheduler can pause any thread.)
    assert float(np.median(times)) < 0.005 and max(times) < 0.5, (np.median(times), max(times))
    assert len(times) == 60 and not job.done, "a 2048² material finished in ~1 s: raise the size in this test"
    assert "generating" in job.message or job.progress > 0

    job.cancel()
    t0 = time.monotonic()
    while not job.poll(0.05):
        assert time.monotonic() - t0 < worker_client.CANCEL_GRACE_S + 5, "cancel did not stop the job"
    if job.result is None:
        assert job.error.code == "cancelled"
        assert not list(tmp_path.glob("*_basecolor.png")), "a cancelled job left a partial material"
    # The worker is usable afterwards (restarted if it had to be killed).
    assert client.call("ping", timeout=60)["protocol"] == 1


# ------------------------------------------------------------------------------------------------- extension
_EXTENSION_SCRIPT = r'''
import os, sys, tempfile
from pathlib import Path
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp()
import bpy, addon_utils
zip_path, python, model = sys.argv[1:4]
assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True) == {"FINISHED"}
name = "bl_ext.user_default.scenegen_blender"
assert name in bpy.context.preferences.addons, [a.module for a in bpy.context.preferences.addons]
addon_dir = Path(sys.modules[name].__file__).parent
before = sorted(p.name for p in addon_dir.iterdir() if p.name != "__pycache__")
prefs = bpy.context.preferences.addons[name].preferences
prefs.python, prefs.model_dir = python, model  # output folder left empty: the extension's user folder
bpy.ops.mesh.primitive_cube_add(size=2)
assert bpy.ops.scenegen.load_classes() == {"FINISHED"}
bpy.context.scene.scenegen.material_size = "256"
assert bpy.ops.scenegen.generate_material() == {"FINISHED"}
image = bpy.context.active_object.active_material.node_tree.nodes["SG basecolor"].image
path = Path(bpy.path.abspath(image.filepath)).resolve()
assert path.is_file() and addon_dir.resolve() not in path.parents, path
assert sorted(p.name for p in addon_dir.iterdir() if p.name != "__pycache__") == before
addon_utils.disable(name, default_set=True)
assert not hasattr(bpy.types, "SCENEGEN_OT_generate_material")
print("EXTENSION-OK", path)
'''


def test_installs_and_works_as_an_extension(addon_zip, scenegen_python, test_model):
    """A fresh Blender installs the same zip through the extension installer (4.2+), not as a legacy add-on."""
    result = subprocess.run([sys.executable, "-c", _EXTENSION_SCRIPT, str(addon_zip), scenegen_python, test_model],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "EXTENSION-OK" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    assert "/extensions/.user/" in result.stdout  # Blender's per-extension user folder


# ------------------------------------------------------------------------------------------------- scenes by name
def _scene_root() -> Path:
    return Path(_prefs().output_dir) / "scenes"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_two_example_scenes_get_their_own_folders_and_collections(scene, default_model, test_model):
    """examples/meadow then examples/courtyard: two folders and two collections named after the scenes."""
    meadow, courtyard = REPO / "examples" / "meadow" / "scene.json", REPO / "examples" / "courtyard" / "scene.json"
    _prefs().model_dir = default_model
    try:
        assert bpy.ops.scenegen.build_scene(filepath=str(meadow)) == {"FINISHED"}
        meadow_objects = len(bpy.data.collections["SG meadow"].all_objects)
        meadow_files = _files(_scene_root() / "meadow")
        assert bpy.ops.scenegen.build_scene(filepath=str(courtyard)) == {"FINISHED"}
        courtyard_files = _files(_scene_root() / "courtyard")
        assert _files(_scene_root() / "meadow") == meadow_files  # the courtyard did not overwrite the meadow
        assert any(name.endswith(".glb") for name in meadow_files) and any(name.endswith(".glb") for name in courtyard_files)
        names = {c.name for c in scene.collection.children}
        assert {"SG meadow", "SG courtyard"} <= names and not any(n.startswith("SG scene") for n in names), names
        assert meadow_objects > 0 and len(bpy.data.collections["SG courtyard"].all_objects) > 0
    finally:
        _prefs().model_dir = test_model


def test_rebuild_replaces_its_own_folder_and_collection_and_a_namesake_gets_another(scene, tmp_path):
    first, second = tmp_path / "a" / "scene.json", tmp_path / "b" / "scene.json"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(json.dumps(dict(MINI_SCENE, name="twin")))
    unnamed = tmp_path / "hut" / "scene.json"  # no "name": the folder's name
    unnamed.parent.mkdir()
    unnamed.write_text(json.dumps({k: v for k, v in MINI_SCENE.items() if k != "name"}))
    for path in (first, second, unnamed):
        assert bpy.ops.scenegen.build_scene(filepath=str(path)) == {"FINISHED"}
    root = _scene_root()
    objects = sorted(obj.name for obj in bpy.data.collections["SG twin"].all_objects)
    files = _files(root / "twin")
    (root / "twin" / "stale.png").write_bytes(b"from an earlier build")  # recorded as an output of the last build
    record = json.loads((root / "twin" / ".scenegen-build.json").read_text())
    (root / "twin" / ".scenegen-build.json").write_text(json.dumps(dict(record, files=record["files"] + ["stale.png"])))
    (root / "twin" / "mine.txt").write_text("the user's own file")
    twin2 = _files(root / "twin-2")
    assert bpy.ops.scenegen.build_scene(filepath=str(first)) == {"FINISHED"}  # rebuild
    assert sorted(obj.name for obj in bpy.data.collections["SG twin"].all_objects) == objects
    assert not any(c.name.startswith("SG twin.") for c in bpy.data.collections)
    after = _files(root / "twin")
    assert "stale.png" not in after and after.pop("mine.txt") == b"the user's own file"
    assert {k: v for k, v in after.items() if not k.startswith(".")} == {k: v for k, v in files.items() if not k.startswith(".")}
    assert _files(root / "twin-2") == twin2
    assert json.loads((root / "twin" / ".scenegen-build.json").read_text())["scene"] == str(first)
    assert json.loads((root / "twin-2" / ".scenegen-build.json").read_text())["scene"] == str(second)
    assert (root / "hut").is_dir()
    names = {c.name for c in scene.collection.children}
    assert {"SG twin", "SG twin-2", "SG hut"} <= names, names


def test_build_warnings_reach_the_report_area(scene, tmp_path, capfd):
    from scenegen_blender import state

    _classes()
    sprite_class = state.CLASSES["sprite_classes"][0]
    crowded = dict(MINI_SCENE, name="crowded",
                   objects=[{"type": "plane", "name": "ground", "material": "wall", "size_m": [3, 3]}],
                   sprites={"s": {"class": sprite_class, "seed": 1, "variants": 1, "size": 64, "height_m": 0.5, "kind": "quad"}},
                   scatter=[{"name": "crowd", "sprite": "s", "on": "ground", "count": 300, "min_distance_m": 1.0, "seed": 1}])
    spec = tmp_path / "crowded.json"
    spec.write_text(json.dumps(crowded))
    capfd.readouterr()
    assert bpy.ops.scenegen.build_scene(filepath=str(spec)) == {"FINISHED"}
    out = capfd.readouterr().out
    assert "Warning: SceneGen: scatter layer 'crowd' placed" in out, out[-2000:]
    assert state.FINISHED[-1].result["warnings"]


# ------------------------------------------------------------------------------------------------- export
def test_export_library_has_dialog_options_and_reports_progress_per_item(scene, test_model, tmp_path):
    from scenegen_blender import state

    props = {p.identifier for p in bpy.ops.scenegen.export_library.get_rna_type().properties}
    assert {"spec", "out_dir", "target", "workers"} <= props and hasattr(bpy.types.SCENEGEN_OT_export_library, "draw")
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"version": 1, "name": "t", "model": test_model,
                                   "materials": [{"class": "gravel", "seeds": [0, 1, 2], "sizes": [64], "tile_size_m": 1.0},
                                                 {"class": "brick", "seeds": [0], "sizes": [64], "tile_size_m": 1.0}]}))
    out = tmp_path / "export"
    assert bpy.ops.scenegen.export_library(spec=str(library), out_dir=str(out), target="godot", workers=1) == {"FINISHED"}
    job = state.FINISHED[-1]
    assert job.op == "export_library" and job.result["items"] == 4 and (out / "manifest.json").is_file()
    steps = sorted(set(job.history))
    assert len(steps) >= 4 + 1 and job.history == sorted(job.history), job.history  # start + one per item
    assert scene.scenegen.export_spec == str(library) and scene.scenegen.export_target == "godot"  # remembered


# ------------------------------------------------------------------------------------------------- cancel
def test_cancel_of_a_2048_material_stops_it_within_a_second_and_keeps_the_worker(addon, test_model, tmp_path):
    from scenegen_blender import operators

    client = operators.get_client(bpy.context)
    pid = client.call("ping", timeout=60)["pid"]
    job = client.submit("material", {"class": _classes()[0], "seed": 12, "size": 2048, "model": test_model,
                                     "out_dir": str(tmp_path)})
    deadline = time.monotonic() + 60
    while job.progress <= 0.1 and not job.done:  # the decode has begun
        job.poll(0.05)
        assert time.monotonic() < deadline
    assert not job.done, "a 2048² material finished before it could be cancelled"
    started = time.monotonic()
    job.cancel()
    while not job.poll(0.01):
        pass
    latency = time.monotonic() - started
    assert job.error is not None and job.error.code == "cancelled", job.error
    assert latency <= 1.0, f"cancel took {latency:.2f} s"
    assert client.alive and client.call("ping", timeout=60)["pid"] == pid  # the same worker, still serving
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())  # no maps, no private folder
