"""Our GLBs import into Blender (the `bpy` module's glTF importer) with materials, textures and instances.

Runs ``.venv-blender/bin/python`` (bpy as a Python module) in a subprocess; skipped when it is missing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scenegen.scene.gltf import scene_to_glb
from test_scene_support import REPO, composed

BLENDER_PYTHON = REPO / ".venv-blender" / "bin" / "python"
IMPORT = r'''
import json, sys
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=sys.argv[-1])
meshes = [o for o in bpy.data.objects if o.type == "MESH"]
def alpha_clipped(m):
    links = m.node_tree.links if m.node_tree else []
    return any(l.to_socket.name == "Alpha" and l.to_node.bl_idname == "ShaderNodeBsdfPrincipled" for l in links)
print("RESULT " + json.dumps({
    "version": bpy.app.version_string,
    "mesh_objects": sorted(o.name for o in meshes),
    "shared": {o.name: o.data.name for o in meshes},
    "materials": {m.name: {"images": sorted(n.image.name for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"
                                            and n.image), "alpha": alpha_clipped(m)} for m in bpy.data.materials},
    "images": {i.name: list(i.size) for i in bpy.data.images},
    "lights": sorted(o.data.type for o in bpy.data.objects if o.type == "LIGHT"),
    "cameras": len([o for o in bpy.data.objects if o.type == "CAMERA"]),
    "scales": {o.name: [round(v, 4) for v in o.scale] for o in meshes},
}))
'''


def blender_import(path: Path) -> dict:
    if not BLENDER_PYTHON.exists():
        pytest.skip(".venv-blender is missing (the Blender add-on's bpy environment)")
    done = subprocess.run([str(BLENDER_PYTHON), "-c", IMPORT, str(path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_blender_imports_materials_textures_and_instances(tmp_path: Path) -> None:
    path = tmp_path / "scene.glb"
    path.write_bytes(scene_to_glb(composed(12)))
    result = blender_import(path)
    tufts = [name for name in result["mesh_objects"] if name.startswith("tufts.")]
    assert len(tufts) == 12 and "house" in result["mesh_objects"]
    assert len({result["shared"][name] for name in tufts}) == 1, "the 12 instances share one mesh datablock"
    stone, cards = result["materials"]["stone"], result["materials"]["tufts"]
    assert len(stone["images"]) >= 3, "base colour, normal and ORM textures"
    assert cards["images"] and cards["alpha"], "the cut-out's alpha drives the shader"
    assert all(size[0] > 0 for size in result["images"].values()), "embedded images decoded"
    assert result["scales"]["house"] == [1.0, 1.0, 2.0], "glTF's Y-up scale (1, 2, 1) is Blender's Z-up (1, 1, 2)"
    assert result["lights"] == ["SPOT", "SUN"] and result["cameras"] == 1
