"""Load and check a scene file: JSON → :class:`SceneSpec`, names resolved, files found inside the scene folder.

Everything here is cheap (no model, no torch): it is all ``scenegen validate`` does, and the first stage of
``scenegen build``. Every problem is a ScenegenError naming the file, the JSON path and the line:column.
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

from ..errors import ScenegenError
from .locate import Locator, parse_json, pydantic_error, read_scene_text
from .spec import MAX_INSTANCES, MeshSpec, PathMask, SceneSpec, TerrainSpec

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf")


@dataclass
class LoadedScene:
    """A validated scene: the spec, where it came from, and every referenced file resolved."""

    spec: SceneSpec
    path: Path
    root: Path
    locator: Locator
    files: dict[tuple, Path] = field(default_factory=dict)  # JSON path → resolved file
    object_names: list[str] = field(default_factory=list)

    def file(self, *path: Any) -> Path:
        return self.files[tuple(path)]

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
    root = scene_path.resolve().parent
    loaded = LoadedScene(spec=spec, path=scene_path, root=root, locator=locator)
    _check_references(loaded)
    _resolve_files(loaded, allow_outside)
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
    listed = ", ".join(sorted(known)) if known else "none defined"
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
    """``relative`` resolved against the scene folder; refused if it leaves the folder (unless allowed)."""
    if "\x00" in relative:
        raise scene.error(json_path, "path contains a NUL character")
    candidate = (scene.root / relative).resolve()
    if not allow_outside and not candidate.is_relative_to(scene.root):
        raise scene.error(json_path, f"'{relative}' points outside the scene's folder {scene.root} "
                                     "(pass --allow-outside to permit it)")
    if kind == "mesh":
        raise scene.error(json_path, f"'{relative}': unsupported mesh format; use one of {', '.join(MESH_SUFFIXES)}")
    if kind == "dir":
        if not candidate.is_dir():
            raise scene.error(json_path, f"'{relative}': directory not found ({candidate})")
    elif not candidate.is_file():
        raise scene.error(json_path, f"'{relative}': file not found ({candidate})")
    return candidate


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
