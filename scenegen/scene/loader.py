"""Load and check a scene file: JSON → :class:`SceneSpec`, names resolved, files found inside the scene folder.

This is the input gate of scene builds, with no model and no torch: it is what ``scenegen validate`` does
(with the models' classes), and the first stage of ``scenegen build``, so validate passes exactly what build
accepts short of generating. Every problem is a ScenegenError naming the file, the JSON path and the
line:column. Checked here: strict JSON (:mod:`.locate`), the spec (:mod:`.spec`), names, distinct outputs,
every referenced file (resolved without following loops or leaving the scene folder, regular files only),
every mesh parsed, every image's declared size against the pixel budget and then decoded, and the work a
scene asks for (scatter that cannot fit, path masks over too many texture repeats).
"""

from __future__ import annotations

import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ScenegenError, quote
from ..fsutil import resolve_input
from .locate import Locator, parse_json, pydantic_error, read_scene_text
from .spec import (MAX_INSTANCES, BoxSpec, CylinderSpec, GableSpec, MeshSpec, PathMask, PlaneSpec, RockSpec,
                   SceneSpec, SphereSpec, TerrainSpec)

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf")
MIN_PHOTO_SIDE = 64  # a material photo's shorter side (as scenegen.api requires)
MAX_MASK_REPEATS = 20_000  # texture repeats a path-mask material's paths may span (each one is drawn)
PACKING = 0.55  # fraction of a surface that random disks of radius min_distance_m / 2 can cover (jamming ≈ 0.547)
MIN_CAPACITY = 1000  # scatter counts up to this are never refused for lack of room
TERRAIN_SLOPE_AREA = 1.25  # a terrain's surface over its footprint, at most (hills add area)


@dataclass
class LoadedScene:
    """A validated scene: the spec, where it came from, and every referenced file resolved."""

    spec: SceneSpec
    path: Path
    root: Path
    locator: Locator
    files: dict[tuple, Path] = field(default_factory=dict)  # JSON path → resolved file
    object_names: list[str] = field(default_factory=list)
    meshes: dict[tuple, tuple] = field(default_factory=dict)  # JSON path of a mesh file → load_mesh's arrays

    def file(self, *path: Any) -> Path:
        return self.files[tuple(path)]

    def mesh(self, json_path: tuple, up_axis: str = "y") -> tuple:
        """(positions, normals, faces, uvs) of the mesh file at ``json_path`` (parsed once, when loading)."""
        key = (tuple(json_path), up_axis)
        if key not in self.meshes:
            from .shapes import load_mesh

            self.meshes[key] = load_mesh(self.file(*json_path), up_axis)
        return self.meshes[key]

    def error(self, path: tuple, message: str) -> ScenegenError:
        return self.locator.error(path, message)


def load_scene(path: str | os.PathLike[str], *, allow_outside: bool = False) -> LoadedScene:
    """Read, parse, validate and cross-check ``path``; raises ScenegenError on the first problem."""
    scene_path = Path(path)
    label = str(path)
    text = read_scene_text(scene_path)
    data = parse_json(text, label)
    locator = Locator(label, text, data)
    if not isinstance(data, dict):
        raise ScenegenError(f"{locator.where(())}: $: the scene must be a JSON object")
    try:
        spec = SceneSpec.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise pydantic_error(locator, exc, allowed=lambda parent: allowed_keys(data, parent)) from None
    root = Path(os.path.realpath(scene_path)).parent
    loaded = LoadedScene(spec=spec, path=scene_path, root=root, locator=locator)
    _check_references(loaded)
    _resolve_files(loaded, allow_outside)
    _check_contents(loaded)
    _check_work(loaded)
    return loaded


# ------------------------------------------------------------------------------------------------ references
def used_names(scene: LoadedScene) -> tuple[list[str], list[str]]:
    """Materials and sprites the scene actually uses (in first-use order)."""
    materials: list[str] = []
    sprites: list[str] = []
    for obj in scene.spec.objects:
        if obj.material not in materials:
            materials.append(obj.material)
    for layer in scene.spec.scatter:
        if layer.object is not None and layer.object.material not in materials:
            materials.append(layer.object.material)
        if layer.sprite is not None and layer.sprite not in sprites:
            sprites.append(layer.sprite)
    return materials, sprites


def _check_references(scene: LoadedScene) -> None:
    spec, err = scene.spec, scene.error
    if not spec.objects:
        raise err(("objects",), "the scene has no objects; add at least one (a terrain or a plane to stand on)")
    names: list[str] = []
    for i, obj in enumerate(spec.objects):
        name = obj.name or f"{obj.type}_{i}"
        if name in names:
            raise err(("objects", i, "name"), f"duplicate object name '{name}'")
        names.append(name)
        if obj.material not in spec.materials:
            raise err(("objects", i, "material"), _unknown("material", obj.material, spec.materials))
        if isinstance(obj, TerrainSpec):
            for j, p in enumerate(obj.flatten_paths):
                if p not in spec.paths:
                    raise err(("objects", i, "flatten_paths", j), _unknown("path", p, spec.paths))
        if obj.place_on is not None and obj.place_on not in names[:-1]:
            raise err(("objects", i, "place_on"), _unknown("earlier object", obj.place_on, names[:-1]))
        if obj.uv == "mesh" and not isinstance(obj, MeshSpec):
            raise err(("objects", i, "uv"), "uv 'mesh' keeps a mesh file's own UVs; primitives have none: use 'box'")
    scene.object_names = names
    for name, material in spec.materials.items():
        if material.blend is not None and isinstance(material.blend.mask, PathMask):
            if material.blend.mask.path not in spec.paths:
                raise err(("materials", name, "blend", "mask", "path"), _unknown("path", material.blend.mask.path, spec.paths))
    total = 0
    terrains = [n for n, o in zip(names, spec.objects) if o.type == "terrain"]
    layer_names: set[str] = set()
    for i, layer in enumerate(spec.scatter):
        if layer.name is not None:
            if layer.name in layer_names:
                raise err(("scatter", i, "name"), f"duplicate scatter layer name '{layer.name}'")
            layer_names.add(layer.name)
        if layer.sprite is not None and layer.sprite not in spec.sprites:
            raise err(("scatter", i, "sprite"), _unknown("sprite", layer.sprite, spec.sprites))
        if layer.object is not None:
            if layer.object.material not in spec.materials:
                raise err(("scatter", i, "object", "material"), _unknown("material", layer.object.material, spec.materials))
            if layer.object.type == "terrain":
                raise err(("scatter", i, "object", "type"), "a terrain cannot be scattered")
        if layer.on is None and not terrains:
            raise err(("scatter", i), "no terrain to scatter on: add a terrain object or name one with 'on'")
        if layer.on is not None and layer.on not in names:
            raise err(("scatter", i, "on"), _unknown("object", layer.on, names))
        for j, p in enumerate(layer.avoid_paths):
            if p not in spec.paths:
                raise err(("scatter", i, "avoid_paths", j), _unknown("path", p, spec.paths))
        total += layer.count or 0
        if total > MAX_INSTANCES:
            raise err(("scatter", i, "count"), f"more than {MAX_INSTANCES:,} instances in all")


def _unknown(kind: str, name: str, known: Any) -> str:
    names = sorted(known)
    listed = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "") if names else "none defined"
    return f"unknown {kind} '{name}' (known: {listed})"


# ----------------------------------------------------------------------------------------------------- files
def _resolve_files(scene: LoadedScene, allow_outside: bool) -> None:
    spec = scene.spec
    wanted: list[tuple[tuple, str, str]] = []  # (json path, relative path, "file" | "dir")
    if spec.texture_model is not None:
        wanted.append((("texture_model",), spec.texture_model, "dir"))
    if spec.sprite_model is not None:
        wanted.append((("sprite_model",), spec.sprite_model, "dir"))
    for name, material in spec.materials.items():
        if material.image is not None:
            wanted.append((("materials", name, "image"), material.image, "file"))
        if material.blend is not None and isinstance(material.blend.mask, str):
            wanted.append((("materials", name, "blend", "mask"), material.blend.mask, "file"))
    for i, obj in enumerate(spec.objects):
        _object_files(obj, ("objects", i), wanted)
    for i, layer in enumerate(spec.scatter):
        if layer.object is not None:
            _object_files(layer.object, ("scatter", i, "object"), wanted)
    for json_path, relative, kind in wanted:
        scene.files[json_path] = resolve_inside(scene, json_path, relative, kind, allow_outside)


def _object_files(obj: Any, prefix: tuple, wanted: list) -> None:
    if isinstance(obj, MeshSpec):
        if Path(obj.file).suffix.lower() not in MESH_SUFFIXES:
            wanted.append((prefix + ("file",), obj.file, "mesh"))
        else:
            wanted.append((prefix + ("file",), obj.file, "file"))
    if isinstance(obj, TerrainSpec) and hasattr(obj.height, "image"):
        wanted.append((prefix + ("height", "image"), obj.height.image, "file"))


def resolve_inside(scene: LoadedScene, json_path: tuple, relative: str, kind: str, allow_outside: bool) -> Path:
    """``relative`` resolved against the scene folder, checked without opening it (see
    :func:`scenegen.fsutil.resolve_input`): refused if it leaves the folder (unless allowed), loops, or is not
    a regular file (``kind`` "file") or a directory ("dir"); "mesh" is a file of an unsupported format."""
    if kind == "mesh":
        raise scene.error(json_path, f"{quote(relative)}: unsupported mesh format; use one of {', '.join(MESH_SUFFIXES)}")
    try:
        return resolve_input(scene.root, relative, kind, allow_outside=allow_outside, folder_name="scene's folder")
    except ScenegenError as exc:
        raise scene.error(json_path, str(exc)) from None


# -------------------------------------------------------------------------------------------------- contents
def _check_contents(scene: LoadedScene) -> None:
    """What build would find wrong in the files themselves: every mesh parsed, every image decoded (its
    declared size checked against the pixel budget first)."""
    from ..imaging import image_header, load_image

    spec = scene.spec
    for json_path, path in scene.files.items():
        if json_path[-1] == "file":  # a mesh
            obj = _object_at(spec, json_path[:-1])
            try:
                positions, _normals, faces, uvs = scene.mesh(json_path, obj.up_axis)
            except ScenegenError as exc:
                raise scene.error(json_path, str(exc)) from None
            if obj.uv == "mesh" and uvs is None:
                raise scene.error(json_path[:-1] + ("uv",), "the mesh file has no UVs; use 'box'")
        elif json_path[-1] in ("image", "mask"):
            try:
                width, height = image_header(path)
                image = load_image(path)
            except ScenegenError as exc:
                raise scene.error(json_path, str(exc)) from None
            if json_path[0] == "materials" and json_path[-1] == "image" and min(width, height) < MIN_PHOTO_SIDE:
                raise scene.error(json_path, f"photo is {width}×{height} px; need at least {MIN_PHOTO_SIDE} px "
                                             "on the shorter side")
            if json_path[-2:] == ("height", "image") and min(image.shape[:2]) < 2:
                raise scene.error(json_path, "heightmap must be at least 2×2 pixels")


def _object_at(spec: SceneSpec, path: tuple) -> Any:
    if path[0] == "objects":
        return spec.objects[path[1]]
    return spec.scatter[path[1]].object


# ------------------------------------------------------------------------------------------------------ work
def _check_work(scene: LoadedScene) -> None:
    """Refuse work that cannot finish: path masks over too many texture repeats, scatter that cannot fit."""
    spec, err = scene.spec, scene.error
    for name, material in spec.materials.items():
        if material.blend is None or not isinstance(material.blend.mask, PathMask):
            continue
        points = spec.paths[material.blend.mask.path].points
        xs, zs = [p[0] for p in points], [p[1] for p in points]
        tile = material.tile_size_m
        repeats = (int((max(xs) - min(xs)) / tile) + 3) * (int((max(zs) - min(zs)) / tile) + 3)
        if repeats > MAX_MASK_REPEATS:
            raise err(("materials", name, "tile_size_m"),
                      f"path '{material.blend.mask.path}' spans {repeats:,} repeats of this {tile:g} m tile; "
                      f"the limit is {MAX_MASK_REPEATS:,} (raise tile_size_m)")
    for i, layer in enumerate(spec.scatter):
        if layer.min_distance_m <= 0:
            continue
        target = layer.on or next(n for n, o in zip(scene.object_names, spec.objects) if o.type == "terrain")
        index = scene.object_names.index(target)
        area = _area_estimate(scene, spec.objects[index], ("objects", index))
        disk = 3.141592653589793 * (layer.min_distance_m / 2.0) ** 2
        capacity = PACKING * area / disk
        if layer.count is not None and layer.count > max(MIN_CAPACITY, capacity):
            raise err(("scatter", i, "count"),
                      f"{layer.count:,} instances {layer.min_distance_m:g} m apart cannot fit on '{target}' "
                      f"(about {area:,.0f} m²: room for about {capacity:,.0f}); lower count or min_distance_m")
        if layer.density_per_m2 is not None and layer.density_per_m2 * disk > PACKING:
            raise err(("scatter", i, "density_per_m2"),
                      f"{layer.density_per_m2:g} per m² cannot be {layer.min_distance_m:g} m apart (at most "
                      f"{PACKING / disk:,.3g} per m² fit); lower density_per_m2 or min_distance_m")


def _area_estimate(scene: LoadedScene, obj: Any, where: tuple) -> float:
    """An upper estimate of an object's surface area in m² (scale included; terrain slopes add a quarter)."""
    import numpy as np

    scale = np.broadcast_to(np.asarray(obj.scale, dtype=np.float64), (3,))
    s = float(np.max(scale)) ** 2
    if isinstance(obj, TerrainSpec):
        return TERRAIN_SLOPE_AREA * obj.size_m[0] * obj.size_m[1] * s
    if isinstance(obj, PlaneSpec):
        return obj.size_m[0] * obj.size_m[1] * s
    if isinstance(obj, (BoxSpec, GableSpec)):
        x, y, z = obj.size_m
        return 2.0 * (x * y + y * z + x * z) * s
    if isinstance(obj, (SphereSpec, RockSpec)):
        return 4.0 * 3.141592653589793 * obj.radius_m**2 * s * (1.5 if isinstance(obj, RockSpec) else 1.0)
    if isinstance(obj, CylinderSpec):
        return 2.0 * 3.141592653589793 * obj.radius_m * (obj.radius_m + obj.height_m) * s
    positions, _n, faces, _uv = scene.mesh(where + ("file",), obj.up_axis)
    tri = positions[faces] * scale
    return float(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum())


# --------------------------------------------------------------------------------------- keys for did-you-mean
def allowed_keys(data: Any, parent: tuple) -> list[str]:
    """The keys the spec accepts at JSON path ``parent`` of ``data`` (empty when unknown)."""
    annotation: Any = SceneSpec
    node = data
    for part in parent:
        model = _pick_model(annotation, node)
        if model is not None:
            fields = {(f.alias or n): f for n, f in model.model_fields.items()}
            if part not in fields:
                return []
            annotation = fields[part].annotation
        else:
            origin, args = typing.get_origin(_strip(annotation)), typing.get_args(_strip(annotation))
            if origin is dict and args:
                annotation = args[1]
            elif origin in (list, tuple) and args:
                annotation = args[0]
            else:
                return []
        node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
    model = _pick_model(annotation, node)
    return [(f.alias or n) for n, f in model.model_fields.items()] if model is not None else []


def _has(node: Any, part: Any) -> bool:
    return (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and part < len(node))


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _pick_model(annotation: Any, node: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    options = [_strip(a) for a in typing.get_args(annotation)]
    models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
    if not models:
        return None
    if isinstance(node, dict) and "type" in node:
        for m in models:
            tfield = m.model_fields.get("type")
            if tfield is not None and node["type"] in typing.get_args(tfield.annotation):
                return m
    if isinstance(node, dict):
        return max(models, key=lambda m: len(set(node) & {(f.alias or n) for n, f in m.model_fields.items()}))
    return models[0]


def dump_spec(spec: SceneSpec) -> str:
    """The fully defaulted spec as canonical JSON (for caches and summaries)."""
    return json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))


def check_outputs(scene: LoadedScene, out_dir: Path, names: dict[str, str]) -> None:
    """Refuse outputs ({"image": "render.png", …}) that would replace the scene file or a file it reads."""
    inputs = {os.path.realpath(scene.path)} | {os.path.realpath(p) for p in scene.files.values()}
    folder = os.path.realpath(out_dir)
    for key, name in names.items():
        target = os.path.join(folder, name)
        if target in inputs:
            raise scene.error(("outputs", key), f"'{name}' in {folder} is an input of this scene; writing it "
                                                "would replace that file (choose another --out or name)")
