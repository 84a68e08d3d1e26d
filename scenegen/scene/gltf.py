"""Composed scenes and standalone assets as glTF 2.0 binary (GLB), through :class:`scenegen.glb.GlbWriter`.

Why not trimesh's exporter: it writes one glTF mesh per node, no samplers and no EXT_mesh_gpu_instancing.
Here every :class:`Geometry` becomes **one** glTF mesh, and each of its instances a node referencing it,
so 10,000 grass tufts cost 10,000 small nodes and one copy of the card; objects whose geometry is identical
(four equal columns: same vertices, UVs, material) share one mesh too, each keeping its own node. Conventions:

* materials: metallic-roughness; ``baseColorTexture`` (sRGB PNG), ``metallicRoughnessTexture`` and
  ``occlusionTexture`` both the ORM PNG (R occlusion, G roughness, B metallic), ``normalTexture``
  (tangent space, OpenGL +Y; sprites have one too, derived from their shape); cut-outs: ``alphaMode`` MASK +
  ``alphaCutoff`` + ``doubleSided``;
* samplers: REPEAT for tileable materials, CLAMP_TO_EDGE for sprite atlases; trilinear filtering;
* images embedded as PNG buffer views (each PNG once); TANGENT only where a normal map is used; texture v
  flipped to glTF's top-left origin;
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

from typing import Any

import numpy as np

from ..glb import WRAPS, GlbWriter, index_array
from .composed import ComposedScene, Geometry, InstanceGroup, SceneMaterial, quat_from_matrix
from .uv import tangents

INSTANCING = "EXT_mesh_gpu_instancing"
LIGHTS = "KHR_lights_punctual"
#: Luminous efficacy (lm/W) that turns the renderer's radiometric light units into KHR_lights_punctual's
#: photometric ones: 683 lm/W, the SI definition of the candela (555 nm), which Blender's glTF importer and
#: exporter use for the same conversion (``PBR_WATTS_TO_LUMENS``), so a Blender import gets back the
#: renderer's numbers (sun strength in W/m², point/spot radiant intensity × 4π in W).
LUMENS_PER_WATT = 683.0


def _materials(writer: GlbWriter, materials: dict[str, SceneMaterial], groups: list[InstanceGroup]) -> dict[str, int]:
    index: dict[str, int] = {}
    used = {g.geometry.material for g in groups if g.count}
    for name in sorted(used):
        m = materials[name]
        wrap = WRAPS[m.wrap]
        pbr: dict[str, Any] = {
            "baseColorTexture": {"index": writer.texture(m.basecolor_png, f"{name}_basecolor", wrap)},
            "metallicFactor": float(m.metallic_factor),
            "roughnessFactor": float(m.roughness_factor),
        }
        entry: dict[str, Any] = {"name": name, "pbrMetallicRoughness": pbr}
        if m.orm_png is not None:
            orm = writer.texture(m.orm_png, f"{name}_orm", wrap)
            pbr["metallicRoughnessTexture"] = {"index": orm}
            entry["occlusionTexture"] = {"index": orm}
        if m.normal_png is not None:
            entry["normalTexture"] = {"index": writer.texture(m.normal_png, f"{name}_normal", wrap)}
        if m.alpha_mode == "MASK":
            entry["alphaMode"] = "MASK"
            entry["alphaCutoff"] = float(m.alpha_cutoff)
        if m.double_sided:
            entry["doubleSided"] = True
        if m.extras:
            entry["extras"] = dict(m.extras)
        index[name] = writer.add("materials", entry)
    return index


def _mesh(writer: GlbWriter, geometry: Geometry, material: int, with_tangents: bool) -> int:
    """The glTF mesh of ``geometry`` (shared with any identical geometry written before)."""
    attributes = {
        "POSITION": geometry.positions,
        "NORMAL": geometry.normals,
        "TEXCOORD_0": np.stack([geometry.uvs[:, 0], 1.0 - geometry.uvs[:, 1]], axis=1).astype(np.float32),
    }
    if with_tangents:  # a normal-mapped mesh without TANGENT is a validator warning (runtime tangent space)
        frame = geometry.tangents
        if frame is None:
            frame = tangents(geometry.positions, geometry.normals, geometry.uvs, geometry.indices)
        attributes["TANGENT"] = frame
    return writer.mesh(geometry.name, attributes, index_array(geometry.indices, len(geometry.positions)), material)


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
    writer = GlbWriter(name)
    gltf = writer.gltf
    materials = _materials(writer, materials_in, groups)
    meshes: dict[int, int] = {}
    roots = writer.roots
    for group in groups:
        if group.count == 0:
            continue
        geometry = group.geometry
        if id(geometry) not in meshes:
            has_normal_map = materials_in[geometry.material].normal_png is not None
            meshes[id(geometry)] = _mesh(writer, geometry, materials[geometry.material], has_normal_map)
        mesh = meshes[id(geometry)]
        rotations = group.rotations / np.linalg.norm(group.rotations, axis=1, keepdims=True)
        if gpu_instancing and group.count > 1:
            attributes = {
                "TRANSLATION": writer.accessor(group.translations.astype(np.float32), kind="VEC3"),
                "ROTATION": writer.accessor(rotations.astype(np.float32), kind="VEC4"),
                "SCALE": writer.accessor(group.scales.astype(np.float32), kind="VEC3"),
            }
            roots.append(writer.add("nodes", {"name": group.name, "mesh": mesh,
                                              "extensions": {INSTANCING: {"attributes": attributes}}}))
            continue
        if group.count == 1:
            node = {"name": group.name, "mesh": mesh, **_trs(group.translations[0], rotations[0], group.scales[0])}
            roots.append(writer.add("nodes", node))
            continue
        children = []
        for k in range(group.count):
            node = {"name": f"{group.name}.{k}", "mesh": mesh,
                    **_trs(group.translations[k], rotations[k], group.scales[k])}
            children.append(writer.add("nodes", node))
        roots.append(writer.add("nodes", {"name": group.name, "children": children}))
    if scene is not None:
        _camera_and_lights(writer, scene)
    used_extensions = []
    if any(INSTANCING in n.get("extensions", {}) for n in gltf["nodes"]):
        used_extensions.append(INSTANCING)
        gltf["extensionsRequired"] = [INSTANCING]
    if LIGHTS in gltf.get("extensions", {}):
        used_extensions.append(LIGHTS)
    if used_extensions:
        gltf["extensionsUsed"] = sorted(used_extensions)
    return writer.glb()


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


def _camera_and_lights(writer: GlbWriter, scene: ComposedScene) -> None:
    gltf = writer.gltf
    cam = scene.camera
    camera = {"type": "perspective", "name": "camera",
              "perspective": {"yfov": float(cam.yfov), "znear": float(cam.znear), "zfar": float(cam.zfar)}}
    gltf["cameras"] = [camera]
    node = {"name": "camera", "camera": 0, **_pose(cam.pose)}
    writer.roots.append(writer.add("nodes", node))
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
        writer.roots.append(writer.add("nodes", node))
    if lights:
        gltf["extensions"] = {LIGHTS: {"lights": lights}}
    gltf["scenes"][0]["extras"] = _ambient_extras(scene)


def _pose(pose: np.ndarray) -> dict[str, Any]:
    rotation = quat_from_matrix(pose[:3, :3])
    return _trs(pose[:3, 3], rotation, np.ones(3))
