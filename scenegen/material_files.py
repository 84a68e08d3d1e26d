"""The one material-set writer: a :class:`~scenegen.materials.Material` as files, by one set of conventions.

Every caller encodes a texture set here: ``scenegen material`` and the worker (:func:`serve_material`, files in a
folder), library export (:func:`encode_material` with an engine target's :class:`SetLayout`, see
:mod:`scenegen.export.targets`) and scene builds (:func:`set_entry`, in memory). All of them key a set the same way
(:func:`material_request`, options normalised by :func:`map_options`) and share its cache entry.

* **Names**: ``NAME_basecolor.png``, ``NAME<normal_suffix>.png`` (``_normal``; Unreal: ``_normal_dx``),
  ``NAME_roughness.png``, ``NAME_height.png``, ``NAME_ao.png``, ``NAME_orm.png``; optional ``NAME_mask.png``
  (Unity), ``NAME_preview.png`` (lit sphere + 2×2 swatch) and ``NAME.glb`` (a preview sphere carrying the set).
* **Bit depths**: 8-bit everywhere except the height map, 16-bit unless the layout says 8 (Godot keeps only 8
  bits of a PNG). Base colour is sRGB; every other map is data.
* **Conventions**: normals tangent space, OpenGL (+Y up), or DirectX (green flipped) when the layout says so;
  ORM packs R AO, G roughness, B metallic (glTF and Unreal); the Unity mask map R metallic, G AO, B detail mask
  (0), A smoothness = 1 − roughness. The preview GLB always embeds OpenGL normals (glTF's convention), its
  maps at most GLB_MAX_TEXTURE a side.
* **Preview hook**: ``preview`` renders :func:`scenegen.preview.render_material_preview`; ``glb`` writes the
  sphere through :class:`scenegen.glb.GlbWriter` (radius ``tile_size_m / π``: one tile spans ``tile_size_m``
  metres at the equator, 2 tiles around it, 1 from pole to pole).

Identical inputs give byte-identical files (libpng through OpenCV, zlib level 6), whichever path wrote them and
however many threads encoded them.
"""

from __future__ import annotations

import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .errors import ScenegenError
from .glb import REPEAT, GlbWriter, index_array
from .imaging import encode_png, resize, save_png, to_uint
from .materials import Material, check_normal_convention
from .reuse import Request, Reuse, request

MAP_NAMES = ("basecolor", "normal", "roughness", "height", "ao", "orm")
COLOUR_MAPS = ("basecolor",)  # sRGB; every other map is data (linear)
GLB_MAX_TEXTURE = 1024  # the preview .glb embeds maps at most this size (the PNG set keeps full size)
SPHERE_RINGS, SPHERE_SEGMENTS = 32, 64
UNITY_DETAIL_MASK = 0.0
#: Maps of at most this many pixels are encoded in parallel (a few full-size temporaries at once); larger
#: ones one at a time, so an 8192² set stays within bounded memory.
PARALLEL_PIXELS = 4096 * 4096
PNG_WRITERS = 4  # at most this many maps encoded at once (cv2's PNG encoder releases the GIL)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The preview sphere's top-level JSON order (its files' bytes are unchanged since scenegen 0.4.0).
_SPHERE_LAYOUT = ("scene", "scenes", "nodes", "meshes", "materials", "samplers", "textures", "images",
                  "accessors", "bufferViews", "buffers")


@dataclass(frozen=True)
class SetLayout:
    """Which files a set gets and in which conventions (an engine target's, or the CLI's)."""

    normal_convention: str = "opengl"  # or "directx": green flipped
    normal_suffix: str = "_normal"
    height_bits: int = 16
    maps: tuple[str, ...] = MAP_NAMES  # any of MAP_NAMES, plus "mask" (the Unity HDRP/URP mask map)
    preview: bool = False  # NAME_preview.png
    glb: bool = False  # NAME.glb, the preview sphere (needs tile_size_m)

    def suffix(self, key: str) -> str:
        """The file name after NAME for ``key`` (a map, ``preview`` or ``glb``)."""
        if key == "glb":
            return ".glb"
        return f"{self.normal_suffix if key == 'normal' else '_' + key}.png"

    def keys(self) -> tuple[str, ...]:
        """Every file of the set, by key, in writing order."""
        return self.maps + (("preview",) if self.preview else ()) + (("glb",) if self.glb else ())


def check_name(name: str) -> str:
    """``name`` if it can prefix a set's file names; ScenegenError otherwise."""
    if not _NAME_RE.fullmatch(name):
        raise ScenegenError(f"material name {name!r} must be letters, digits, '.', '_' or '-' (no paths)")
    return name


def safe_name(text: str) -> str:
    """A set name from free text (a photo's stem): every run of characters other than letters, digits, '.', '_'
    and '-' becomes '_', and leading or trailing '.', '_', '-' go (``photo`` if nothing is left). The material
    command and the worker name a photo's set with it."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "photo"


def material_paths(name: str, out_dir: str | os.PathLike[str], layout: SetLayout | None = None) -> dict[str, Path]:
    """``{key: path}`` of a set's files in ``out_dir`` (by default the six maps and the preview)."""
    layout = layout or PREVIEW_LAYOUT
    check_name(name)
    folder = Path(out_dir)
    return {key: folder / f"{name}{layout.suffix(key)}" for key in layout.keys()}


# ----------------------------------------------------------------------------------------------- encoders
def quantised_normal(normal: np.ndarray, convention: str) -> np.ndarray:
    """8-bit normal map in ``convention`` (DirectX: green flipped) without a full-size float copy of the map."""
    quantised = to_uint(normal, 8)
    if convention == "directx":
        quantised[..., 1] = to_uint(1.0 - normal[..., 1], 8)
    return quantised


def quantised_orm(material: Material) -> np.ndarray:
    """8-bit ORM (R AO, G roughness, B metallic), packed straight from the 8-bit channels."""
    packed = np.empty(material.shape + (3,), dtype=np.uint8)
    packed[..., 0] = to_uint(material.ao, 8)
    packed[..., 1] = to_uint(material.roughness, 8)
    packed[..., 2] = to_uint(np.float32(material.metallic), 8)
    return packed


def unity_mask_map(material: Material) -> np.ndarray:
    """HDRP mask map, H×W×4: R metallic, G AO, B detail mask (0), A smoothness = 1 − roughness."""
    h, w = material.shape
    return np.stack([np.full((h, w), material.metallic, np.float32), material.ao,
                     np.full((h, w), UNITY_DETAIL_MASK, np.float32), 1.0 - material.roughness], axis=2)


def _images(material: Material, layout: SetLayout) -> dict[str, tuple[Callable[[], np.ndarray], int]]:
    """``{key: (make the image, bits)}`` of every PNG of the set (made on demand: bounded memory)."""
    check_normal_convention(layout.normal_convention)
    if layout.height_bits not in (8, 16):
        raise ValueError(f"height_bits must be 8 or 16, not {layout.height_bits!r}")
    table: dict[str, tuple[Callable[[], np.ndarray], int]] = {
        "basecolor": (lambda: material.basecolor, 8),
        "normal": (lambda: material.normal if layout.normal_convention == "opengl"
                   else quantised_normal(material.normal, layout.normal_convention), 8),
        "roughness": (lambda: material.roughness, 8),
        "height": (lambda: material.height, layout.height_bits),
        "ao": (lambda: material.ao, 8),
        "orm": (lambda: quantised_orm(material), 8),
        "mask": (lambda: unity_mask_map(material), 8),
    }
    unknown = [key for key in layout.maps if key not in table]
    if unknown:
        raise ValueError(f"unknown maps {unknown}; choose from {sorted(table)}")
    images = {key: table[key] for key in layout.maps}
    if layout.preview:
        from .preview import render_material_preview

        images["preview"] = (lambda: render_material_preview(material), 8)
    return images


def _each(keys: list[str], run: Callable[[str], object], pixels: int, workers: int,
          progress: Callable[[str], None] | None) -> dict[str, object]:
    """``run(key)`` for every key, on up to ``workers`` threads while the maps are small enough; results in order."""
    done: dict[str, object] = {}
    workers = min(workers, os.cpu_count() or 1, len(keys))
    if pixels > PARALLEL_PIXELS or workers < 2:
        for key in keys:
            done[key] = run(key)
            if progress is not None:
                progress(key)
        return done
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenegen-png") as pool:
        futures = {pool.submit(run, key): key for key in keys}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if progress is not None:
                progress(futures[future])
    return {key: done[key] for key in keys}


def encode_material(material: Material, name: str, layout: SetLayout, *, tile_size_m: float | None = None,
                    workers: int = 1, progress: Callable[[str], None] | None = None) -> dict[str, bytes]:
    """``{file name: bytes}`` of the set (names relative to its folder), in the layout's order.

    ``tile_size_m`` is needed for the preview GLB; ``workers`` threads encode the PNGs (same bytes for any number).
    """
    check_name(name)
    if layout.glb and tile_size_m is None:
        raise ValueError("the preview GLB needs tile_size_m")
    images = _images(material, layout)
    encoded = _each(list(images), lambda key: encode_png(images[key][0](), bits=images[key][1]),
                    material.shape[0] * material.shape[1], workers, progress)
    files = {f"{name}{layout.suffix(key)}": blob for key, blob in encoded.items()}
    if layout.glb:
        files[f"{name}.glb"] = _material_glb(material, name, layout, encoded, float(tile_size_m))
        if progress is not None:
            progress("glb")
    return files


def write_material(material: Material, out_dir: str | os.PathLike[str], name: str, layout: SetLayout, *,
                   tile_size_m: float | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the set into ``out_dir`` (each file atomically); returns ``{key: path}``.

    PNGs are quantised and encoded on up to ``PNG_WRITERS`` threads while the maps have at most
    ``PARALLEL_PIXELS``, larger ones one at a time (bounded memory at 8192²); ``progress(key)`` is called after
    each file, on the calling thread.
    """
    from .fsutil import atomic_write_bytes

    paths = material_paths(name, out_dir, layout)
    images = _images(material, layout)
    written = _each(list(images), lambda key: save_png(paths[key], images[key][0](), bits=images[key][1]),
                    material.shape[0] * material.shape[1], PNG_WRITERS, progress)
    if layout.glb:
        if tile_size_m is None:
            raise ValueError("the preview GLB needs tile_size_m")
        atomic_write_bytes(paths["glb"], _material_glb(material, name, layout, {}, float(tile_size_m)))
        written["glb"] = paths["glb"]
        if progress is not None:
            progress("glb")
    return {key: Path(path) for key, path in written.items()}  # type: ignore[arg-type]


def save_material(material: Material, out_dir: str | os.PathLike[str], *, normal_convention: str = "opengl",
                  preview: bool = True, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The CLI's and the worker's set: the six maps (height 16-bit) and, with ``preview``, ``NAME_preview.png``,
    named after ``material.name``; ``normal_convention="directx"`` flips the normal map's green channel."""
    layout = SetLayout(normal_convention=check_normal_convention(normal_convention), preview=preview)
    return write_material(material, out_dir, material.name, layout, progress=progress)


# ---------------------------------------------------------------------------------------------------- reuse
MATERIALS_NAMESPACE = "materials"  # the cache namespace of material sets (every caller's)
PARAMS_FILE = "params.json"  # the Material.params of a cached set, beside its PNGs in the entry
#: The set a key names when a caller wants only the maps (export, scene builds, ``scenegen material
#: --no-preview``): the six maps, OpenGL normals, 16-bit height, no preview.
SET_LAYOUT = SetLayout()
PREVIEW_LAYOUT = SetLayout(preview=True)  # what `scenegen material` writes by default: the same maps, a preview more
MAP_OPTIONS = ("normal_strength", "roughness_range", "ao_strength", "metallic")  # derive_maps' knobs


def map_options(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The map options of ``params`` (any of :data:`MAP_OPTIONS`; others ignored) that differ from
    :func:`scenegen.materials.derive_maps`'s defaults, as floats: what a material request records, so a request
    that leaves an option at its default has the key of one that states it. Also what to pass to the API."""
    import inspect

    from .materials import derive_maps

    defaults = {name: p.default for name, p in inspect.signature(derive_maps).parameters.items()}
    options = {}
    for key in MAP_OPTIONS:
        if params is not None and params.get(key) is not None:
            value = tuple(float(v) for v in params[key]) if key == "roughness_range" else float(params[key])
            if value != defaults[key]:
                options[key] = value
    return options


def material_request(*, source: str, cls: str | None, seed: int, size: int, layout: SetLayout,
                     model_identity: str, grain: float = 0.0, scale: float | None = None,
                     options: Mapping[str, Any] | None = None, photo: str | os.PathLike[str] | None = None) -> Request:
    """The reuse request of a material set, the same for every caller (``scenegen material``, the worker's
    material ops, library export, scene builds): every parameter that decides its bytes, the model's identity and
    the photo's SHA-256 (never the set's name or folder). ``options`` are normalised by :func:`map_options`;
    ``scale`` is a photo's (None for a class)."""
    parameters = {"source": source, "class": cls, "seed": int(seed), "size": int(size),
                  "normal_convention": layout.normal_convention, "grain": float(grain), "scale": scale,
                  "preview": layout.preview, "options": json.loads(json.dumps(map_options(options)))}
    return request("material", parameters, model_identity=model_identity,
                   inputs={"photo": photo} if photo is not None else None)


def _params_json(material: Material) -> bytes:
    return (json.dumps(material.params, sort_keys=True) + "\n").encode("utf-8")


def set_entry(material: Material, layout: SetLayout = SET_LAYOUT, *, workers: int = PNG_WRITERS) -> dict[str, bytes]:
    """A cache entry of ``material``'s set in ``layout`` (PNG maps only), in memory: ``{map}.png`` and
    ``params.json``; with :data:`SET_LAYOUT` the files :func:`serve_material` stores."""
    if layout.preview or layout.glb:
        raise ValueError("a set entry holds maps only")
    encoded = encode_material(material, "m", layout, workers=workers)
    entry = {f"{key}.png": encoded[f"m{layout.suffix(key)}"] for key in layout.maps}
    entry[PARAMS_FILE] = _params_json(material)
    return entry


def serve_material(reuse: Reuse, req: Request, name: str, out_dir: str | os.PathLike[str], layout: SetLayout,
                   make: Callable[[], Material], *, progress: Callable[[str], None] | None = None,
                   before_copy: Callable[[], None] = lambda: None) -> tuple[dict[str, Path], dict[str, Any], bool]:
    """``({key: path}, params, hit)``: the set of ``req`` in ``out_dir`` named ``name``, from the cache or made by
    ``make()`` and written (then cached); the set appears whole or not at all (:meth:`scenegen.reuse.Reuse.files`)."""
    if layout.glb:
        raise ValueError("serve_material writes PNG sets; the preview GLB needs a tile size")
    paths = material_paths(name, out_dir, layout)

    def write(folder: Path) -> dict[str, Path]:
        material = make()
        written = write_material(material, folder, "m", layout, progress=progress)
        record = folder / PARAMS_FILE
        record.write_bytes(_params_json(material))
        return {**{f"{key}.png": path for key, path in written.items()}, PARAMS_FILE: record}

    served = reuse.files(req, {f"{key}.png": path for key, path in paths.items()}, write, read=(PARAMS_FILE,),
                         before_copy=before_copy)
    return paths, json.loads(served.data[PARAMS_FILE]), served.hit


# -------------------------------------------------------------------------------------------- preview GLB
def _glb_maps(material: Material) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base colour, OpenGL normal and ORM, area-downsampled to at most GLB_MAX_TEXTURE (normals renormalised)."""
    h, w = material.shape
    if max(h, w) <= GLB_MAX_TEXTURE:
        return material.basecolor, material.normal, material.orm()
    th, tw = max(1, round(h * GLB_MAX_TEXTURE / max(h, w))), max(1, round(w * GLB_MAX_TEXTURE / max(h, w)))
    vectors = resize(material.normal, th, tw) * 2.0 - 1.0
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True) + 1e-8
    return resize(material.basecolor, th, tw), (vectors * 0.5 + 0.5).astype(np.float32), resize(material.orm(), th, tw)


def _material_glb(material: Material, name: str, layout: SetLayout, encoded: dict[str, bytes],
                  tile_size_m: float) -> bytes:
    """The preview sphere of a set, reusing the set's PNGs where they are what the GLB embeds."""
    if max(material.shape) <= GLB_MAX_TEXTURE:
        base = encoded.get("basecolor") or encode_png(material.basecolor)
        orm = encoded.get("orm") or encode_png(quantised_orm(material))
        normal = (encoded.get("normal") if layout.normal_convention == "opengl" else None) \
            or encode_png(material.normal)
    else:
        base_map, normal_map, orm_map = _glb_maps(material)
        base, normal, orm = encode_png(base_map), encode_png(normal_map), encode_png(orm_map)
    return preview_glb(name, base, normal, orm, tile_size_m=tile_size_m)


def sphere_geometry(radius: float, rings: int = SPHERE_RINGS, segments: int = SPHERE_SEGMENTS) -> dict[str, np.ndarray]:
    """glTF-ready arrays: POSITION, NORMAL, TANGENT (w = +1), TEXCOORD_0 (v down) and indices."""
    from .preview import uv_sphere  # pure numpy; the preview renderer's sphere (2×1 tiles)

    pos, normals, uvs, tangents, faces = uv_sphere(rings, segments)
    return {
        "POSITION": (pos.astype(np.float64) * radius).astype(np.float32),
        "NORMAL": normals.astype(np.float32),
        "TANGENT": tangents.astype(np.float32),
        "TEXCOORD_0": np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], axis=1).astype(np.float32),  # glTF: v = 0 at the top
        "indices": index_array(faces, len(pos)),
    }


def preview_glb(name: str, basecolor_png: bytes, normal_png: bytes, orm_png: bytes, *, tile_size_m: float,
                metallic: float = 1.0) -> bytes:
    """GLB bytes of a UV sphere (radius ``tile_size_m / π``) with the PNG texture set embedded.

    ``normal_png`` must be in the glTF (OpenGL, +Y up) convention; the ORM image is R occlusion, G roughness,
    B metallic; the factors are 1 so the textures pass through unchanged; one REPEAT sampler, trilinear.
    """
    geometry = sphere_geometry(tile_size_m / math.pi)
    writer = GlbWriter(name, layout=_SPHERE_LAYOUT,
                       asset_extras={"tile_size_m": float(tile_size_m), "normal_convention": "opengl"})
    indices = geometry.pop("indices")
    writer.roots.append(writer.add("nodes", {"name": name, "mesh": writer.mesh(name, geometry, indices, 0)}))
    writer.add("materials", {
        "name": name,
        "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicRoughnessTexture": {"index": 2},
                                 "metallicFactor": float(metallic), "roughnessFactor": 1.0},
        "normalTexture": {"index": 1},
        "occlusionTexture": {"index": 2},
    })
    sampler = writer.sampler(REPEAT)
    for kind, png in (("basecolor", basecolor_png), ("normal", normal_png), ("orm", orm_png)):
        image = writer.add("images", {"bufferView": writer.view(png), "mimeType": "image/png", "name": f"{name}_{kind}"})
        writer.add("textures", {"sampler": sampler, "source": image})
    return writer.glb()
