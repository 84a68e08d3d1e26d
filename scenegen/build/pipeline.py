"""``scenegen build``: scene.json → materials → sprites → compose → render → GLB, timed per stage.

Materials and sprites are resolved to finished assets by the asset service (:mod:`.assets`); composing,
rendering and the GLB are :mod:`scenegen.scene`'s.

Nothing is written until every stage has succeeded; then each output file is written atomically.
``build.json`` (the summary) is deterministic like the other outputs: file hashes, counts and model
identities, no timings (those are printed).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..cache import Cache
from ..errors import ScenegenError
from ..fsutil import atomic_write_bytes, sha256_bytes
from ..imaging import encode_png
from ..model.directory import ModelInfo
from ..scene.compose import compose
from ..scene.composed import SceneAssets
from ..scene.gltf import scene_to_glb
from ..scene.loader import LoadedScene, check_outputs, dump_spec, load_scene, used_names
from ..scene.render import RenderSettings, render_scene
from ..scene.spec import render_size_problem
from .assets import AssetStore, default_sprite_model_dir, default_texture_model_dir, model_ref

CACHE_NAMESPACE = "scene-assets"
PREVIEW_MAX_WIDTH = 640


@dataclass
class BuildOptions:
    out_dir: Path | None = None  # default: ./out/<scene name>
    width: int | None = None
    height: int | None = None
    antialias: int | None = None  # supersampling factor (overrides the scene's render.antialias)
    preview: bool = False  # quick look: at most 640 px wide, no supersampling, no GLB or depth
    allow_outside: bool = False
    use_cache: bool = True
    cache_root: Path | None = None
    texture_model: Path | None = None
    sprite_model: Path | None = None
    gpu_instancing: bool | None = None  # None: as the scene file says
    compress: bool | str = False  # scene.glb compressed: "webp" (True) or "ktx2" (scenegen.scene.gltf_compress)


@dataclass
class BuildResult:
    out_dir: Path
    files: dict[str, Path]
    timings: dict[str, float]
    counts: dict[str, int]
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------- preparing
def model_refs(scene: LoadedScene, options: BuildOptions) -> tuple[ModelInfo | None, ModelInfo | None]:
    """The texture and sprite models this scene needs (None when it needs none), classes checked."""
    materials, sprites = used_names(scene)
    texture = sprite = None

    def ref(given: Path | None, field: str, default: Callable[[], Path], mode: str) -> ModelInfo:
        if given or not getattr(scene.spec, field):
            return model_ref(Path(given or default()), mode)
        try:  # a model the scene names: its errors name the scene file and field
            return model_ref(Path(scene.file(field)), mode)
        except ScenegenError as exc:
            raise scene.error((field,), str(exc)) from None

    if materials:
        texture = ref(options.texture_model, "texture_model", default_texture_model_dir, "texture")
        for name in materials:
            spec = scene.spec.materials[name]
            for key, cls in (("class", spec.class_), ("a", spec.blend.a if spec.blend else None),
                             ("b", spec.blend.b if spec.blend else None)):
                if cls is not None and cls not in texture.classes:
                    where = ("materials", name, "class") if key == "class" else ("materials", name, "blend", key)
                    raise scene.error(where, f"unknown texture class '{cls}'; the model at {texture.path} knows: "
                                             f"{', '.join(texture.classes)}")
    if sprites:
        sprite = ref(options.sprite_model, "sprite_model", default_sprite_model_dir, "sprite")
        for name in sprites:
            cls = scene.spec.sprites[name].class_
            if cls not in sprite.classes:
                raise scene.error(("sprites", name, "class"), f"unknown sprite class '{cls}'; the model at "
                                                              f"{sprite.path} knows: {', '.join(sprite.classes)}")
    return texture, sprite


def validate_scene(path: str | os.PathLike[str], options: BuildOptions | None = None) -> LoadedScene:
    """Everything ``build`` checks before doing any work: the file, names, files on disk, model classes."""
    options = options or BuildOptions()
    scene = load_scene(path, allow_outside=options.allow_outside)
    model_refs(scene, options)
    return scene


# --------------------------------------------------------------------------------------------------- build
def build_scene(path: str | os.PathLike[str], options: BuildOptions | None = None,
                progress: Callable[[str], None] = lambda _m: None) -> BuildResult:
    """Build a scene file into its outputs; see the module notes."""
    options = options or BuildOptions()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        progress(f"{name:<10} {timings[name]:6.2f} s")

    scene = load_scene(path, allow_outside=options.allow_outside)
    texture, sprite = model_refs(scene, options)
    spec = scene.spec
    settings = _render_settings(scene, options)
    out_dir = Path(options.out_dir) if options.out_dir is not None else Path("out") / spec.name
    check_outputs(scene, out_dir, {k: v for k, v in spec.outputs.model_dump().items()
                                   if k != "gpu_instancing" and isinstance(v, str)})  # before any work
    stage("spec")

    cache = Cache(CACHE_NAMESPACE, options.cache_root) if options.use_cache else None
    assets = AssetStore(cache, texture, sprite, progress=lambda m: progress(f"  {m}"))
    materials, sprites = used_names(scene)
    finished_materials = {name: assets.material(scene, name) for name in materials}
    stage("materials")
    finished_sprites = {name: assets.sprite_set(scene, name) for name in sprites}
    stage("sprites")

    composed, report = compose(scene, SceneAssets(materials=finished_materials, sprites=finished_sprites))
    counts = composed.counts()
    stage("compose")

    outputs: dict[str, bytes] = {}
    result = None
    if spec.outputs.image or spec.outputs.depth:
        result = render_scene(composed, settings)
        if spec.outputs.image:
            outputs[spec.outputs.image] = encode_png(result.color)
        if spec.outputs.depth and result.depth is not None:
            depth = np.clip(result.depth / composed.camera.zfar, 0.0, 1.0)
            outputs[spec.outputs.depth] = encode_png(depth, bits=16)
        counts["drawn_instances"] = result.drawn_instances
    stage("render")

    gpu_instancing = spec.outputs.gpu_instancing if options.gpu_instancing is None else options.gpu_instancing
    compression: dict = {}
    if spec.outputs.glb and not options.preview:
        outputs[spec.outputs.glb] = scene_to_glb(composed, gpu_instancing=gpu_instancing)
        if options.compress:
            from ..scene.gltf_compress import compress_glb

            outputs[spec.outputs.glb], compression = compress_glb(outputs[spec.outputs.glb], options.compress)
            counts["compressed_textures"] = len(compression["textures"])
    stage("export")

    summary = {
        "scene": spec.name,
        "spec_sha256": hashlib.sha256(dump_spec(spec).encode()).hexdigest(),
        "models": {k: {"path_name": m.path.name, "config_sha256": m.identity}
                   for k, m in (("texture", texture), ("sprite", sprite)) if m is not None},
        "render": {"width": settings.width, "height": settings.height, "antialias": settings.supersample,
                   "preview": options.preview},
        "counts": counts,
        "scatter": report.layers,
        "gpu_instancing": bool(gpu_instancing),
        **({"compressed": compression["format"]} if compression else {}),
        "files": {name: {"bytes": len(data), "sha256": sha256_bytes(data)} for name, data in sorted(outputs.items())},
    }
    if spec.outputs.depth:
        summary["depth_scale_m"] = composed.camera.zfar / 65535.0
    files: dict[str, Path] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenegenError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    for name, data in outputs.items():
        atomic_write_bytes(out_dir / name, data)
        files[name] = out_dir / name
    if spec.outputs.summary:
        text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(out_dir / spec.outputs.summary, text.encode("utf-8"))
        files[spec.outputs.summary] = out_dir / spec.outputs.summary
    stage("write")
    counts["cache_hits"], counts["cache_misses"] = assets.hits, assets.misses
    return BuildResult(out_dir=out_dir, files=files, timings=timings, counts=counts, summary=summary,
                       warnings=report.warnings)


def _render_settings(scene: LoadedScene, options: BuildOptions) -> RenderSettings:
    r = scene.spec.render
    width = options.width if options.width is not None else r.width
    height = options.height if options.height is not None else r.height
    supersample = options.antialias if options.antialias is not None else r.antialias
    if not 1 <= supersample <= 4:
        raise ScenegenError(f"--antialias {supersample} is outside 1–4")
    if options.width is not None and options.height is None:
        height = max(16, round(width * r.height / r.width))
    if options.height is not None and options.width is None:
        width = max(16, round(height * r.width / r.height))
    if options.preview:
        if width > PREVIEW_MAX_WIDTH:
            height, width = max(16, round(height * PREVIEW_MAX_WIDTH / width)), PREVIEW_MAX_WIDTH
        supersample = 1
    for what, value in (("--width", width), ("--height", height)):
        if not 16 <= value <= 8192:
            raise ScenegenError(f"{what} {value} is outside 16–8192 pixels")
    problem = render_size_problem(width, height, supersample)
    if problem:
        raise ScenegenError(f"render: {problem}")
    return RenderSettings(width=width, height=height, supersample=supersample, shadows=r.shadows,
                          sky_horizon=tuple(r.sky.horizon), sky_zenith=tuple(r.sky.zenith),
                          fog_density=r.fog_density, depth=bool(scene.spec.outputs.depth))
