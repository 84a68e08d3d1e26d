"""Worker side of an export: turn one work item into ``{relative path: bytes}`` (the export folder is not touched here).

A :class:`WorkerContext` holds the loaded models (each loaded once, on first use), the target and the reuse
service (:mod:`scenegen.reuse`). Models come either as a directory on this machine or as the files' bytes (how
Ray ships them to other nodes); both are verified against their recorded SHA-256 on load.

**Reuse.** Every item asks the content-addressed cache first (``ItemCache.root``: ``--cache``, else
``$SCENEGEN_CACHE`` or ``./.cache``; every worker process of an export opens the same folder, which is safe
for concurrent processes), keyed by the model's identity (:attr:`scenegen.model.directory.ModelInfo.identity`,
passed in by the coordinator, so a hit needs no model loaded) and every parameter that decides the bytes:

* a material's PNG set is the request ``scenegen material --no-preview`` and the worker's ``material`` ops make
  for the same class or photo, seed, size and map options, OpenGL normals
  (:func:`scenegen.material_files.material_request`, namespace ``materials``): the same key and the same entry
  (``basecolor.png`` … ``orm.png``, ``params.json``), so a set either of them generated is reused here and
  vice versa. What the targets need beyond that set and cannot derive from its PNGs bit for bit (Godot's 8-bit
  height, Unity's mask map, Unreal's DirectX normals, the preview GLB's maps of sets over ``GLB_MAX_TEXTURE``)
  is a second entry beside it (:data:`EXTRAS_KIND`), made with every generated set, so an export for one
  engine after another generates nothing. The item's files (names, preview GLB, ``.tres``,
  ``.meta``) are assembled from those bytes on every run, hit or miss, so both give the same bytes.
* a sprite set's generated sprites are cached as float32 (lossless: its normal maps and atlas are derived
  from the floats), namespace ``sprites``, whatever the set's name and target.

Determinism: an item's bytes depend only on its params, the model weights and the target. oneDNN's
convolutions give slightly different floats for different torch thread counts, so :func:`pin_threads` fixes
torch (and OpenCV) to **one thread per item** in every executor; parallelism comes from running items side by
side, which also makes the best use of the cores (no oversubscription).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from ..errors import ScenegenError
from ..material_files import SET_LAYOUT, SetLayout, map_options
from .library import WorkItem
from .targets import Target, finish_material_files, get_target

ModelSource = Union[str, dict[str, bytes], None]  # a directory, the files' bytes, or None (not needed)
Check = Optional[Callable[[], None]]  # called between decode tiles; whatever it raises stops the item
MODEL_FILES = ("config.json", "model.safetensors", "prior.safetensors")
THREADS_PER_ITEM = 1
SET_MAPS = SET_LAYOUT.maps  # its PNGs, by map (``basecolor.png`` …)
GLB_MAPS = ("glb_basecolor", "glb_normal", "glb_orm")  # the preview GLB's maps when they are not the set's
EXTRAS_KIND = "material-extras"  # the entry of what a target needs beyond the set (its key holds the set's)
SPRITES_NAMESPACE = "sprites"
SPRITES_FILE = "sprites.npy"  # count × size × size × 4 float32, straight alpha


@dataclass(frozen=True)
class ItemCache:
    """What a worker needs to reuse finished work: the cache root (None: no cache) and, per item kind
    (``material``, ``sprites``), the model identity and model hash the coordinator verified."""

    root: Optional[str]
    identities: Mapping[str, Optional[str]]
    hashes: Mapping[str, Optional[str]]


@dataclass
class ItemResult:
    """What a worker sends back for one item: its files' bytes (or an error), the model hash it used and whether
    its generated part came from the cache."""

    name: str
    kind: str
    files: dict[str, bytes] = field(default_factory=dict)
    model_hash: Optional[str] = None
    seconds: float = 0.0
    error: Optional[str] = None
    cached: bool = False


def pin_threads() -> None:
    """One torch / OpenCV thread in this process (see the module docstring)."""
    import cv2
    import torch

    torch.set_num_threads(THREADS_PER_ITEM)
    cv2.setNumThreads(THREADS_PER_ITEM)


def model_bytes(directory: str | os.PathLike[str]) -> dict[str, bytes]:
    """The files of a model directory, to ship to workers that cannot see this disk."""
    root = Path(directory)
    try:
        return {name: (root / name).read_bytes() for name in MODEL_FILES}
    except OSError as exc:
        raise ScenegenError(f"{root}: cannot read the model files ({exc.__class__.__name__}: {exc})") from None


def extras(size: int) -> tuple[str, ...]:
    """The extras entry of a ``size``² set: the 8-bit height, the Unity mask map, the DirectX normal map and, when
    the preview GLB's maps are not the set's (sets over ``GLB_MAX_TEXTURE``), those (see the module docstring)."""
    from ..material_files import GLB_MAX_TEXTURE

    return ("height8", "mask", "normal_dx") + (GLB_MAPS if size > GLB_MAX_TEXTURE else ())


def needs_extras(target: Target, size: int) -> bool:
    """Whether ``target``'s files of a ``size``² set take anything from the extras entry."""
    layout = target.layout
    return (layout.height_bits == 8 or "mask" in layout.maps or layout.normal_convention != "opengl"
            or GLB_MAPS[0] in extras(size))


def _entry_names(keys: tuple[str, ...]) -> list[str]:
    return [f"{key}.png" for key in keys]


def material_entries(material: Any) -> tuple[dict[str, bytes], dict[str, bytes]]:  # material: a Material
    """``(set entry, extras entry)`` of a generated material: the set exactly as
    :func:`scenegen.material_files.serve_material` caches it (the CLI's and the worker's entry) and the extras."""
    from ..glb import read_glb_binary, read_glb_json
    from ..material_files import encode_material, set_entry

    def one(layout: SetLayout, key: str, **options: Any) -> bytes:
        return encode_material(material, "m", layout, **options)[f"m{layout.suffix(key)}"]

    entry = set_entry(material, SET_LAYOUT, workers=THREADS_PER_ITEM)
    more = {"height8.png": one(SetLayout(maps=("height",), height_bits=8), "height"),
            "mask.png": one(SetLayout(maps=("mask",)), "mask"),
            "normal_dx.png": one(SetLayout(maps=("normal",), normal_convention="directx"), "normal")}
    if GLB_MAPS[0] in extras(max(material.shape)):  # the images the writer embeds, from a GLB
        glb = one(SetLayout(maps=(), glb=True), "glb", tile_size_m=1.0)
        gltf, binary = read_glb_json(glb), read_glb_binary(glb)
        for key, image in zip(GLB_MAPS, gltf["images"]):
            view = gltf["bufferViews"][image["bufferView"]]
            start = view.get("byteOffset", 0)
            more[f"{key}.png"] = binary[start:start + view["byteLength"]]
    return entry, more


def assemble_material(entry: Mapping[str, bytes], more: Mapping[str, bytes], name: str, tile_size_m: float,
                      target: Target, size: int) -> dict[str, bytes]:
    """``{file name: bytes}`` of one material for ``target`` from its cached entries: the same bytes as
    :func:`scenegen.export.targets.material_files` on the generated material."""
    from ..material_files import preview_glb

    layout = target.layout
    files = {f"{name}{layout.suffix(key)}": entry[f"{key}.png"] for key in SET_MAPS}
    if layout.normal_convention == "directx":
        files[f"{name}{layout.suffix('normal')}"] = more["normal_dx.png"]
    if layout.height_bits == 8:
        files[f"{name}{layout.suffix('height')}"] = more["height8.png"]
    if "mask" in layout.maps:
        files[f"{name}{layout.suffix('mask')}"] = more["mask.png"]
    glb = [more[f"{key}.png"] if f"{key}.png" in more else entry[f"{key[4:]}.png"] for key in GLB_MAPS]
    files[f"{name}.glb"] = preview_glb(name, *glb, tile_size_m=tile_size_m)
    return finish_material_files(files, name, tile_size_m, target, size)


class WorkerContext:
    """Models (loaded lazily, once), the target and the reuse service of one worker process or actor."""

    def __init__(self, target: str, texture_model: ModelSource, sprite_model: ModelSource = None,
                 cache: Optional[ItemCache] = None) -> None:
        self.target = get_target(target)
        self._sources = {"texture": texture_model, "sprites": sprite_model}
        self._models: dict[str, Any] = {}
        self._tmp: list[tempfile.TemporaryDirectory] = []
        self.cache = cache or ItemCache(None, {}, {})
        self._reuse: dict[str, Any] = {}

    def model(self, kind: str):  # -> scenegen.model.weights.LoadedModel
        if kind not in self._models:
            from .. import api

            source = self._sources[kind]
            if source is None:
                raise ScenegenError(f"no {kind} model was given to the export workers")
            if isinstance(source, dict):
                folder = tempfile.TemporaryDirectory(prefix=f"scenegen-{kind}-model-")
                self._tmp.append(folder)
                for name, blob in source.items():
                    Path(folder.name, name).write_bytes(blob)
                source = folder.name
            self._models[kind] = api.load_model(source)
        return self._models[kind]

    def reuse(self, namespace: str):  # -> scenegen.reuse.Reuse
        """This process's reuse service over ``namespace`` of the cache (a miss every time without one)."""
        if namespace not in self._reuse:
            from ..reuse import Reuse

            self._reuse[namespace] = Reuse(namespace, self.cache.root, enabled=self.cache.root is not None,
                                           warn=lambda text: print(text, file=sys.stderr))
        return self._reuse[namespace]

    def build(self, item: WorkItem, check: Check = None) -> ItemResult:
        """Build one item; errors come back in the result (one line), never as an exception (but whatever
        ``check`` raises, e.g. a cancel, goes through)."""
        started = time.perf_counter()
        result = ItemResult(item.name, item.kind)
        try:
            if item.kind == "material":
                result.files, result.model_hash, result.cached = self._material(item, check)
            else:
                result.files, result.model_hash, result.cached = self._sprites(item)
        except ScenegenError as exc:
            result.error = str(exc)
        except Exception as exc:  # a bug or a resource problem: keep the other items going
            last = traceback.extract_tb(exc.__traceback__)[-1]
            result.error = f"{exc.__class__.__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
        result.seconds = time.perf_counter() - started
        return result

    def _identity(self, kind: str) -> str:
        identity = self.cache.identities.get(kind)
        if identity is None:  # an executor made without the coordinator's identities: read them from the model
            identity = self.model("texture" if kind == "material" else "sprites").identity
        return identity

    def _loaded(self, kind: str, identity: str):  # -> LoadedModel, checked against the identity keys hold
        model = self.model("texture" if kind == "material" else "sprites")
        if model.identity != identity:
            raise ScenegenError(f"the worker's {kind} model {model.identity[:12]}… is not the one the export "
                                f"checked ({identity[:12]}…)")
        return model

    def _material(self, item: WorkItem, check: Check) -> tuple[dict[str, bytes], str, bool]:
        from ..material_files import MATERIALS_NAMESPACE, PARAMS_FILE, PREVIEW_LAYOUT, material_request
        from ..reuse import request

        p = item.params
        identity, target = self._identity("material"), self.target
        options = map_options(p)
        more_files = extras(p["size"])
        with tempfile.TemporaryDirectory(prefix="scenegen-photo-") as tmp:
            photo = None
            if "class" not in p:
                if item.photo is None:
                    raise ScenegenError(f"{item.where}: the photo's bytes did not reach the worker")
                photo = Path(tmp) / "photo"
                photo.write_bytes(item.photo)  # the request records its SHA-256, as the CLI's does the file's
            req, with_preview = (material_request(
                source="class" if photo is None else "photo", cls=p.get("class"), seed=p["seed"], size=p["size"],
                layout=layout, model_identity=identity, scale=None if photo is None else 1.0, options=options,
                photo=photo) for layout in (SET_LAYOUT, PREVIEW_LAYOUT))
        more_req = request(EXTRAS_KIND, {"set": req.key, "files": list(more_files)}, model_identity=identity)
        reuse = self.reuse(MATERIALS_NAMESPACE)
        names = _entry_names(SET_MAPS) + [PARAMS_FILE]
        entry = reuse.get(req, names, also=[with_preview])  # `scenegen material`'s default set has the same maps
        wanted = entry is not None and needs_extras(target, p["size"])  # else: made below, or not needed
        more = reuse.get(more_req, _entry_names(more_files)) if wanted else {}
        cached = entry is not None and more is not None
        if cached:
            reuse.hits += 1
            model_hash = self.cache.hashes.get("material")
        else:
            reuse.misses += 1
            model = self._loaded("material", identity)
            model_hash = model.model_hash
            material = self._generate_material(item, model, options, check)
            fresh, fresh_more = material_entries(material)
            if entry is None:
                reuse.put(req, fresh)
            reuse.put(more_req, fresh_more)  # kept as it is if there already
            entry, more = fresh, fresh_more  # what this run made, all of one piece
        files = assemble_material(entry, more, item.name, p["tile_size_m"], target, p["size"])
        return {f"materials/{item.name}/{file}": blob for file, blob in files.items()}, model_hash, cached

    @staticmethod
    def _generate_material(item: WorkItem, model: Any, options: dict[str, Any], check: Check):  # -> Material
        from .. import api
        from ..imaging import load_image

        p = item.params
        progress = (lambda _fraction: check()) if check is not None else None
        if "class" in p:
            return api.generate_material(p["class"], p["seed"], p["size"], model=model, name=item.name,
                                         progress=progress, **options)
        photo = load_image(io.BytesIO(item.photo))
        return api.material_from_image(photo, p["size"], p["seed"], model=model, name=item.name, progress=progress,
                                       **options)

    def _sprites(self, item: WorkItem) -> tuple[dict[str, bytes], str, bool]:
        from ..reuse import request
        from .sprite_files import sprite_set_files

        p = item.params
        identity = self._identity("sprites")
        req = request("sprites", {key: p[key] for key in ("class", "seed", "count", "size")}, model_identity=identity)
        made: list[str] = []

        def generate() -> dict[str, bytes]:
            from ..sprite_gen import generate_sprites

            model = self._loaded("sprites", identity)
            made.append(model.model_hash)
            sprites = generate_sprites(p["class"], p["seed"], p["count"], p["size"], model=model)
            buffer = io.BytesIO()
            np.save(buffer, np.stack([np.asarray(s, dtype=np.float32) for s in sprites]), allow_pickle=False)
            return {SPRITES_FILE: buffer.getvalue()}

        entry, cached = self.reuse(SPRITES_NAMESPACE).bytes(req, [SPRITES_FILE], generate)
        sprites = list(np.load(io.BytesIO(entry[SPRITES_FILE]), allow_pickle=False))
        files = sprite_set_files(sprites, item.name, height_m=p["height_m"], kind=p["billboard"],
                                 alpha_cutoff=p["alpha_cutoff"], target=self.target)
        model_hash = made[0] if made else self.cache.hashes.get("sprites")
        return {f"sprites/{item.name}/{file}": blob for file, blob in files.items()}, model_hash, cached
