"""Material node trees for generated PBR sets, and per-object tiling in metres.

The tree (node names are stable, prefixed ``SG``)::

    Texture Coordinate.UV → Mapping (scale = metres per UV unit / tile size) → every Image Texture
    basecolor (sRGB) ──────────────[× AO, optional]──→ Principled BSDF.Base Color
    roughness (Non-Color) ───────────────────────────→ Principled BSDF.Roughness
    normal (Non-Color) → Normal Map (tangent space) ──→ Principled BSDF.Normal
    height (Non-Color) → Displacement [optional: linked to the output, method "Displacement and Bump"]
    ao (Non-Color)       used only by the optional AO multiply

Tiling: a mesh's UVs are measured (total world-space face area / total UV area) to get metres per UV
unit; the Mapping scale makes one texture tile cover ``tile size`` metres of the surface. Objects
that share that measure (and tile size) share one material. Meshes without UVs get a box projection.
The height map is not linked by default (the normal map already carries its detail); enable
displacement for true Cycles displacement on subdivided meshes. AO multiply darkens the base colour
the way game engines do; path tracers compute occlusion themselves, so it is off by default.
"""

from __future__ import annotations

import json
import math

import bpy
import numpy as np

COLOUR_MAPS = {"basecolor": "sRGB", "roughness": "Non-Color", "normal": "Non-Color", "height": "Non-Color", "ao": "Non-Color"}
UV_METRES_PROP = "scenegen_uv_metres"
SIGNATURE_PROP = "scenegen_signature"


def load_image(path: str, colorspace: str) -> bpy.types.Image:
    """Load (or refresh) an image datablock for ``path`` with the given colour space."""
    image = bpy.data.images.load(path, check_existing=True)
    image.reload()
    image.colorspace_settings.name = colorspace
    return image


# ------------------------------------------------------------------------------------------------- UV measure
def _loop_arrays(mesh: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Triangulated (positions, uvs) per loop triangle corner: (T, 3, 3) and (T, 3, 2)."""
    mesh.calc_loop_triangles()
    tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("loops", tris)
    loop_verts = np.empty(len(mesh.loops), dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", loop_verts)
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
    mesh.vertices.foreach_get("co", co)
    uv = np.empty(len(mesh.loops) * 2, dtype=np.float64)
    mesh.uv_layers.active.data.foreach_get("uv", uv)
    positions = co.reshape(-1, 3)[loop_verts[tris]].reshape(-1, 3, 3)
    return positions, uv.reshape(-1, 2)[tris].reshape(-1, 3, 2)


def ensure_uvs(obj: bpy.types.Object) -> bool:
    """Give a mesh without UVs a box projection in object-space metres; True if one was added."""
    mesh = obj.data
    if mesh.uv_layers:
        return False
    n_loops = len(mesh.loops)
    normals = np.empty(len(mesh.polygons) * 3, dtype=np.float64)
    mesh.polygons.foreach_get("normal", normals)
    starts = np.empty(len(mesh.polygons), dtype=np.int32)
    totals = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_start", starts)
    mesh.polygons.foreach_get("loop_total", totals)
    offsets = np.arange(int(totals.sum())) - np.repeat(np.cumsum(totals) - totals, totals)
    loop_poly = np.zeros(n_loops, dtype=np.int64)
    loop_poly[np.repeat(starts, totals) + offsets] = np.repeat(np.arange(len(mesh.polygons)), totals)
    loop_verts = np.empty(n_loops, dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", loop_verts)
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
    mesh.vertices.foreach_get("co", co)
    pos = co.reshape(-1, 3)[loop_verts] * np.asarray(obj.scale)[None, :]
    axis = np.abs(normals.reshape(-1, 3))[loop_poly].argmax(axis=1)
    other = np.array([[1, 2], [0, 2], [0, 1]])[axis]
    uv = np.take_along_axis(pos, other, axis=1)
    layer = mesh.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", uv.astype(np.float32).ravel())
    return True


def uv_metres(obj: bpy.types.Object) -> float:
    """World-space metres per UV unit of a mesh: sqrt(surface area / UV area); 1.0 if degenerate."""
    positions, uvs = _loop_arrays(obj.data)
    if not len(positions):
        return 1.0
    matrix = np.array(obj.matrix_world.to_3x3(), dtype=np.float64)
    world = positions @ matrix.T
    area_3d = 0.5 * np.linalg.norm(np.cross(world[:, 1] - world[:, 0], world[:, 2] - world[:, 0]), axis=1).sum()
    e1, e2 = uvs[:, 1] - uvs[:, 0], uvs[:, 2] - uvs[:, 0]
    area_uv = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum()
    if area_uv < 1e-12 or area_3d < 1e-12:
        return 1.0
    return float(math.sqrt(area_3d / area_uv))


# ------------------------------------------------------------------------------------------------- material
def _node(tree: bpy.types.NodeTree, kind: str, name: str, location: tuple[float, float], label: str = "") -> bpy.types.Node:
    node = tree.nodes.new(kind)
    node.name = name
    node.label = label or (name[3:] if name.startswith("SG ") else name)
    node.location = location
    return node


def _socket(sockets, identifier: str) -> bpy.types.NodeSocket:
    return next(socket for socket in sockets if socket.identifier == identifier)


def build_material(name: str, files: dict[str, str], tile_size_m: float, uv_scale: float, *,
                   displacement: bool = False, displacement_scale_m: float = 0.02, ao_multiply: bool = False,
                   params: dict | None = None) -> bpy.types.Material:
    """A new material (Blender may suffix the name) from a generated set; ``uv_scale`` = metres per UV unit."""
    if tile_size_m <= 0:
        raise ValueError("tile size must be positive")
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    out = _node(tree, "ShaderNodeOutputMaterial", "SG Output", (900, 300), "Output")
    bsdf = _node(tree, "ShaderNodeBsdfPrincipled", "SG Principled", (550, 300), "Principled BSDF")
    tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    bsdf.inputs["Metallic"].default_value = float((params or {}).get("metallic", 0.0))

    coords = _node(tree, "ShaderNodeTexCoord", "SG Texture Coordinate", (-900, 300), "Texture Coordinate")
    mapping = _node(tree, "ShaderNodeMapping", "SG Mapping", (-700, 300), f"Mapping: tile {tile_size_m:g} m")
    mapping.vector_type = "POINT"
    repeats = uv_scale / tile_size_m
    mapping.inputs["Scale"].default_value = (repeats, repeats, 1.0)
    tree.links.new(coords.outputs["UV"], mapping.inputs["Vector"])

    images: dict[str, bpy.types.Node] = {}
    for i, (key, colorspace) in enumerate(COLOUR_MAPS.items()):
        if key not in files:
            continue
        node = _node(tree, "ShaderNodeTexImage", f"SG {key}", (-400, 600 - 280 * i), key)
        node.image = load_image(files[key], colorspace)
        node.interpolation = "Linear"
        node.extension = "REPEAT"
        tree.links.new(mapping.outputs["Vector"], node.inputs["Vector"])
        images[key] = node

    colour = images["basecolor"].outputs["Color"]
    if ao_multiply and "ao" in images:
        mix = _node(tree, "ShaderNodeMix", "SG AO Multiply", (100, 650), "AO multiply")
        mix.data_type = "RGBA"
        mix.blend_type = "MULTIPLY"
        mix.inputs["Factor"].default_value = 1.0
        tree.links.new(colour, _socket(mix.inputs, "A_Color"))
        tree.links.new(images["ao"].outputs["Color"], _socket(mix.inputs, "B_Color"))
        colour = _socket(mix.outputs, "Result_Color")
    tree.links.new(colour, bsdf.inputs["Base Color"])
    if "roughness" in images:
        tree.links.new(images["roughness"].outputs["Color"], bsdf.inputs["Roughness"])
    if "normal" in images:
        normal_map = _node(tree, "ShaderNodeNormalMap", "SG Normal Map", (150, 50), "Normal Map (OpenGL +Y)")
        normal_map.space = "TANGENT"
        tree.links.new(images["normal"].outputs["Color"], normal_map.inputs["Color"])
        tree.links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    if "height" in images:
        disp = _node(tree, "ShaderNodeDisplacement", "SG Displacement", (550, -250), "Displacement")
        disp.inputs["Midlevel"].default_value = 0.5
        disp.inputs["Scale"].default_value = displacement_scale_m
        tree.links.new(images["height"].outputs["Color"], disp.inputs["Height"])
        if displacement:
            tree.links.new(disp.outputs["Displacement"], out.inputs["Displacement"])
            material.displacement_method = "BOTH"
        else:
            material.displacement_method = "BUMP"
    material["scenegen"] = {"tile_size_m": float(tile_size_m), "uv_metres": float(uv_scale),
                            **{k: v for k, v in (params or {}).items() if isinstance(v, (int, float, str))}}
    return material


def _signature(files: dict[str, str], tile_size_m: float, uv_scale: float, options: dict) -> str:
    model_hash = (options.get("params") or {}).get("model_hash", "")
    return json.dumps({"files": sorted(files.items()), "tile": round(float(tile_size_m), 6), "uv": uv_scale,
                       "model": model_hash, **{k: v for k, v in sorted(options.items()) if k != "params"}}, sort_keys=True)


def _existing(base_name: str, signature: str) -> bpy.types.Material | None:
    for material in bpy.data.materials:
        if (material.name == base_name or material.name.startswith(base_name + ".")) and material.get(SIGNATURE_PROP) == signature:
            return material
    return None


def apply_material(objects: list[bpy.types.Object], base_name: str, files: dict[str, str], tile_size_m: float,
                   **options) -> dict[str, bpy.types.Material]:
    """Put a generated set on mesh ``objects`` (active slot, or a new one). Objects with the same metres
    per UV unit share a material; a material made earlier for the same files and tiling is reused, and
    one with other tiling is left alone (other objects keep theirs). Returns {object name: material}."""
    assigned: dict[str, bpy.types.Material] = {}
    for obj in objects:
        ensure_uvs(obj)
        scale = round(uv_metres(obj), 4)
        signature = _signature(files, tile_size_m, scale, options)
        material = _existing(base_name, signature)
        if material is None:
            material = build_material(base_name, files, tile_size_m, scale, **options)
            material[SIGNATURE_PROP] = signature
        if obj.material_slots:
            obj.material_slots[obj.active_material_index].material = material
        else:
            obj.data.materials.append(material)
        obj[UV_METRES_PROP] = scale
        assigned[obj.name] = material
    return assigned
