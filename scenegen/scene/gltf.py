"""A small glTF 2.0 binary (GLB) writer for composed scenes.

Why not trimesh's exporter: it writes one glTF mesh per node, no samplers and no EXT_mesh_gpu_instancing.
Here every :class:`Geometry` becomes **one** glTF mesh, and each of its instances a node referencing it,
so 10,000 grass tufts cost 10,000 small nodes and one copy of the card. Conventions (ANCHORS.md):

* materials: metallic-roughness; ``baseColorTexture`` (sRGB PNG), ``metallicRoughnessTexture`` and
  ``occlusionTexture`` both the ORM PNG (R occlusion, G roughness, B metallic), ``normalTexture``
  (tangent space, OpenGL +Y; sprites have one too, derived from their shape); cut-outs: ``alphaMode`` MASK +
  ``alphaCutoff`` + ``doubleSided``;
* samplers: REPEAT for tileable materials, CLAMP_TO_EDGE for sprite atlases; trilinear filtering;
* images embedded as PNG buffer views; vertex data in buffer views with their ``target``; TANGENT
  only where a normal map is used; texture v flipped to glTF's top-left origin;
* the camera and lights are written too (``KHR_lights_punctual``) in its physical units, converted from the
  renderer's (see :func:`light_intensity`); each light keeps the renderer's value as ``extras.renderer_intensity``
  and the scene's hemisphere ambient term, which glTF cannot express, is kept as ``scenes[0].extras.ambient``;
* by default every instance is a real node, which every glTF loader reads. ``gpu_instancing=True`` (an explicit
  opt-in) writes each instance group as one node carrying ``EXT_mesh_gpu_instancing`` (TRANSLATION / ROTATION /
  SCALE accessors) and lists the extension in ``extensionsRequired``: a loader without it cannot show the
  instances (one mesh per group at most), so a conforming one must refuse the file rather than drop them
  silently. Which engines read it: docs/ENGINES.md.

:func:`asset_to_glb` writes instance groups without camera and lights (a standalone billboard, see
:func:`scenegen.scene.compose.sprite_billboard`): the one GLB writer for scenes and sprite assets alike.
Output is deterministic: the same composed scene gives the same bytes.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from .. import __version__
from .composed import ComposedScene, Geometry, InstanceGroup, SceneMaterial, quat_from_matrix
from .uv import tangents

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
REPEAT, CLAMP_TO_EDGE, LINEAR, LINEAR_MIPMAP_LINEAR = 10497, 33071, 9729, 9987
INSTANCING = "EXT_mesh_gpu_instancing"
LIGHTS = "KHR_lights_punctual"
#: Luminous efficacy (lm/W) that turns the renderer's radiometric light units into KHR_lights_punctual's
#: photometric ones: 683 lm/W, the SI definition of the candela (555 nm), which Blender's glTF importer and
#: exporter use for the same conversion (``PBR_WATTS_TO_LUMENS``), so a Blender import gets back the
#: renderer's numbers (sun strength in W/m², point/spot radiant intensity × 4π in W).
LUMENS_PER_WATT = 683.0


class _Builder:
    def __init__(self) -> None:
        self.gltf: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": f"scenegen {__version__}"},
            "scene": 0,
            "scenes": [{"name": "scene", "nodes": []}],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "textures": [],
            "images": [],
            "samplers": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }
        self.chunks: list[bytes] = []
        self.offset = 0

    def view(self, data: bytes, target: int | None = None) -> int:
        pad = (-self.offset) % 4
        if pad:
            self.chunks.append(b"\x00" * pad)
            self.offset += pad
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self.chunks.append(data)
        self.offset += len(data)
        self.gltf["bufferViews"].append(entry)
        return len(self.gltf["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None, *, bounds: bool = False) -> int:
        if array.dtype == np.float32:
            component = FLOAT
        elif array.dtype == np.uint16:
            component = UNSIGNED_SHORT
        else:
            component = UNSIGNED_INT
        data = np.ascontiguousarray(array)
        count = int(data.size) if kind == "SCALAR" else int(len(data))
        entry: dict[str, Any] = {"bufferView": self.view(data.tobytes(), target), "componentType": component,
                                 "count": count, "type": kind}
        if bounds:
            flat = data.reshape(len(data), -1) if kind != "SCALAR" else data.reshape(-1, 1)
            entry["min"] = [_num(v) for v in flat.min(axis=0)]
            entry["max"] = [_num(v) for v in flat.max(axis=0)]
        self.gltf["accessors"].append(entry)
        return len(self.gltf["accessors"]) - 1

    def add(self, key: str, entry: dict[str, Any]) -> int:
        self.gltf[key].append(entry)
        return len(self.gltf[key]) - 1

    def binary(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\x00" * ((-len(data)) % 4)


def _num(value: Any) -> float | int:
    return int(value) if isinstance(value, (np.integer, int)) else float(value)


def _image(builder: _Builder, png: bytes, name: str) -> int:
    return builder.add("images", {"name": name, "bufferView": builder.view(png), "mimeType": "image/png"})


def _texture(builder: _Builder, png: bytes, name: str, sampler: int, cache: dict[int, int]) -> int:
    key = id(png)
    if key not in cache:
        cache[key] = builder.add("textures", {"sampler": sampler, "source": _image(builder, png, name)})
    return cache[key]


def _materials(builder: _Builder, materials: dict[str, SceneMaterial], groups: list[InstanceGroup]) -> dict[str, int]:
    samplers: dict[int, int] = {}

    def sampler_for(wrap: int) -> int:  # created on first use: the validator flags unused objects
        if wrap not in samplers:
            samplers[wrap] = builder.add("samplers", {"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                                                      "wrapS": wrap, "wrapT": wrap})
        return samplers[wrap]

    textures: dict[int, int] = {}
    index: dict[str, int] = {}
    used = {g.geometry.material for g in groups if g.count}
    for name in sorted(used):
        m = materials[name]
        sampler = sampler_for(REPEAT if m.wrap == "repeat" else CLAMP_TO_EDGE)
        pbr: dict[str, Any] = {
            "baseColorTexture": {"index": _texture(builder, m.basecolor_png, f"{name}_basecolor", sampler, textures)},
            "metallicFactor": float(m.metallic_factor),
            "roughnessFactor": float(m.roughness_factor),
        }
        entry: dict[str, Any] = {"name": name, "pbrMetallicRoughness": pbr}
        if m.orm_png is not None:
            orm = _texture(builder, m.orm_png, f"{name}_orm", sampler, textures)
            pbr["metallicRoughnessTexture"] = {"index": orm}
            entry["occlusionTexture"] = {"index": orm}
        if m.normal_png is not None:
            entry["normalTexture"] = {"index": _texture(builder, m.normal_png, f"{name}_normal", sampler, textures)}
        if m.alpha_mode == "MASK":
            entry["alphaMode"] = "MASK"
            entry["alphaCutoff"] = float(m.alpha_cutoff)
        if m.double_sided:
            entry["doubleSided"] = True
        if m.extras:
            entry["extras"] = dict(m.extras)
        index[name] = builder.add("materials", entry)
    return index


def _mesh(builder: _Builder, geometry: Geometry, material: int, with_tangents: bool) -> int:
    attributes = {
        "POSITION": builder.accessor(geometry.positions, "VEC3", ARRAY_BUFFER, bounds=True),
        "NORMAL": builder.accessor(geometry.normals, "VEC3", ARRAY_BUFFER),
        "TEXCOORD_0": builder.accessor(
            np.stack([geometry.uvs[:, 0], 1.0 - geometry.uvs[:, 1]], axis=1).astype(np.float32), "VEC2", ARRAY_BUFFER),
    }
    if with_tangents:  # a normal-mapped mesh without TANGENT is a validator warning (runtime tangent space)
        frame = geometry.tangents
        if frame is None:
            frame = tangents(geometry.positions, geometry.normals, geometry.uvs, geometry.indices)
        attributes["TANGENT"] = builder.accessor(frame, "VEC4", ARRAY_BUFFER)
    dtype = np.uint16 if len(geometry.positions) < 65535 else np.uint32
    indices = builder.accessor(geometry.indices.reshape(-1).astype(dtype), "SCALAR", ELEMENT_ARRAY_BUFFER)
    primitive = {"attributes": attributes, "indices": indices, "material": material, "mode": 4}
    return builder.add("meshes", {"name": geometry.name, "primitives": [primitive]})


def _trs(translation: np.ndarray, rotation: np.ndarray, scale: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if np.any(translation != 0):
        out["translation"] = [float(v) for v in translation]
    if not (rotation[3] == 1.0 and not np.any(rotation[:3])):
        q = rotation / np.linalg.norm(rotation)
        out["rotation"] = [float(v) for v in q]
    if np.any(scale != 1):
        out["scale"] = [float(v) for v in scale]
    return out


def scene_to_glb(scene: ComposedScene, *, gpu_instancing: bool = False) -> bytes:
    """GLB bytes of a composed scene (see the module notes)."""
    return _groups_to_glb(scene.materials, scene.groups, scene, gpu_instancing=gpu_instancing, name="scene")


def asset_to_glb(materials: dict[str, SceneMaterial], groups: list[InstanceGroup], name: str) -> bytes:
    """GLB bytes of instance groups alone, without camera or lights: a standalone asset (e.g. one billboard)."""
    return _groups_to_glb(materials, groups, None, gpu_instancing=False, name=name)


def _groups_to_glb(materials_in: dict[str, SceneMaterial], groups: list[InstanceGroup], scene: ComposedScene | None,
                   *, gpu_instancing: bool, name: str) -> bytes:
    builder = _Builder()
    gltf = builder.gltf
    gltf["scenes"][0]["name"] = name
    materials = _materials(builder, materials_in, groups)
    meshes: dict[int, int] = {}
    roots = gltf["scenes"][0]["nodes"]
    for group in groups:
        if group.count == 0:
            continue
        geometry = group.geometry
        if id(geometry) not in meshes:
            has_normal_map = materials_in[geometry.material].normal_png is not None
            meshes[id(geometry)] = _mesh(builder, geometry, materials[geometry.material], has_normal_map)
        mesh = meshes[id(geometry)]
        rotations = group.rotations / np.linalg.norm(group.rotations, axis=1, keepdims=True)
        if gpu_instancing and group.count > 1:
            attributes = {
                "TRANSLATION": builder.accessor(group.translations.astype(np.float32), "VEC3", None),
                "ROTATION": builder.accessor(rotations.astype(np.float32), "VEC4", None),
                "SCALE": builder.accessor(group.scales.astype(np.float32), "VEC3", None),
            }
            roots.append(builder.add("nodes", {"name": group.name, "mesh": mesh,
                                               "extensions": {INSTANCING: {"attributes": attributes}}}))
            continue
        if group.count == 1:
            node = {"name": group.name, "mesh": mesh, **_trs(group.translations[0], rotations[0], group.scales[0])}
            roots.append(builder.add("nodes", node))
            continue
        children = []
        for k in range(group.count):
            node = {"name": f"{group.name}.{k}", "mesh": mesh,
                    **_trs(group.translations[k], rotations[k], group.scales[k])}
            children.append(builder.add("nodes", node))
        roots.append(builder.add("nodes", {"name": group.name, "children": children}))
    if scene is not None:
        _camera_and_lights(builder, scene)
    used_extensions = []
    if any(INSTANCING in n.get("extensions", {}) for n in gltf["nodes"]):
        used_extensions.append(INSTANCING)
        gltf["extensionsRequired"] = [INSTANCING]
    if LIGHTS in gltf.get("extensions", {}):
        used_extensions.append(LIGHTS)
    if used_extensions:
        gltf["extensionsUsed"] = sorted(used_extensions)
    binary = builder.binary()
    gltf["buffers"].append({"byteLength": len(binary)})
    for key in ("textures", "images", "materials", "samplers", "meshes"):
        if not gltf[key]:
            del gltf[key]
    if not gltf.get("accessors"):
        for key in ("accessors", "bufferViews", "buffers"):
            gltf.pop(key, None)
        binary = b""
    return pack_glb(gltf, binary)


def light_intensity(kind: str, renderer_intensity: float) -> float:
    """KHR_lights_punctual intensity of a light: lux (lm/m²) for a sun, candela (lm/sr) for point and spot lights.

    The renderer (``scenegen/scene/shaders/mesh.frag``, linear light, no exposure) treats a sun's intensity as
    the irradiance E on a surface facing it (a white Lambertian surface leaves E/π) and a point or spot light's
    as its radiant intensity I (irradiance I/d² at distance d): radiometric quantities in display-referred
    units, W/m² and W/sr. One watt is taken as 683 lumens (:data:`LUMENS_PER_WATT`), so E → 683·E lux and
    I → 683·I candela, for every kind alike.
    """
    if kind not in ("sun", "point", "spot"):
        raise ValueError(f"unknown light kind {kind!r}")
    return float(renderer_intensity) * LUMENS_PER_WATT


def _ambient_extras(scene: ComposedScene) -> dict[str, Any]:
    """The hemisphere ambient term (no glTF equivalent): linear RGB radiance from above and below."""
    return {"ambient": {"sky": [float(c) for c in scene.ambient], "ground": [float(c) for c in scene.ambient_ground],
                        "units": "linear RGB radiance in renderer units (x 683 = cd/m2); a white Lambertian "
                                 "surface facing up reflects 'sky', facing down 'ground'"}}


def _camera_and_lights(builder: _Builder, scene: ComposedScene) -> None:
    gltf = builder.gltf
    cam = scene.camera
    camera = {"type": "perspective", "name": "camera",
              "perspective": {"yfov": float(cam.yfov), "znear": float(cam.znear), "zfar": float(cam.zfar)}}
    gltf["cameras"] = [camera]
    node = {"name": "camera", "camera": 0, **_pose(cam.pose)}
    gltf["scenes"][0]["nodes"].append(builder.add("nodes", node))
    lights = []
    for i, light in enumerate(scene.lights):
        entry: dict[str, Any] = {"name": f"{light.kind}_{i}", "color": [float(c) for c in light.color],
                                 "intensity": light_intensity(light.kind, light.intensity),
                                 "extras": {"renderer_intensity": float(light.intensity)}}
        if light.kind == "sun":
            entry["type"] = "directional"
        elif light.kind == "point":
            entry["type"] = "point"
        else:
            entry["type"] = "spot"
            entry["spot"] = {"innerConeAngle": float(light.inner_cone), "outerConeAngle": float(light.outer_cone)}
        if light.range is not None and light.kind != "sun":
            entry["range"] = float(light.range)
        lights.append(entry)
        node = {"name": entry["name"], "extensions": {LIGHTS: {"light": len(lights) - 1}}, **_pose(light.pose)}
        gltf["scenes"][0]["nodes"].append(builder.add("nodes", node))
    if lights:
        gltf["extensions"] = {LIGHTS: {"lights": lights}}
    gltf["scenes"][0]["extras"] = _ambient_extras(scene)


def _pose(pose: np.ndarray) -> dict[str, Any]:
    rotation = quat_from_matrix(pose[:3, :3])
    return _trs(pose[:3, 3], rotation, np.ones(3))


def pack_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    """GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded) if any."""
    payload = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    payload += b" " * ((-len(payload)) % 4)
    body = struct.pack("<I4s", len(payload), b"JSON") + payload
    if binary:
        body += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
