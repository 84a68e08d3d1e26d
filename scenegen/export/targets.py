"""Engine targets: which files a material gets, in which conventions (sources: docs/ENGINES.md).

Every target writes the texture set ``NAME_basecolor|normal|roughness|height|ao|orm.png`` (8-bit, height 16-bit
except for Godot) and a preview ``NAME.glb`` (always glTF conventions, whatever the target). On top of that:

* ``gltf``, ``blender``: nothing else; OpenGL (+Y up) normals. Blender: File › Import › glTF 2.0 on the
  ``.glb`` gives a ready node material; the PNGs plug into a Principled BSDF (normal map: Non-Color).
* ``godot``: ``NAME.tres``, a Godot 4 ``ORMMaterial3D`` whose textures are paths **relative to the material
  folder** (Godot resolves relative ``ext_resource`` paths against the ``.tres`` file's folder). World-space
  triplanar mapping with ``uv1_scale`` = 1 / ``tile_size_m``, so one texture repeat spans ``tile_size_m`` metres
  on any mesh, whatever its UVs. The height PNG is **8-bit** (Godot's importer reduces 16-bit PNGs to 8 bits
  anyway, godotengine/godot#40214); it is wired but ``heightmap_enabled`` is off (parallax does not combine with
  triplanar). OpenGL normals (Godot's convention); Godot's importer detects the normal and ORM use on first
  load. ``metallic``/``roughness`` factors are 1 so the ORM channels pass through.
* ``unity``: ``NAME_mask.png``, the HDRP Lit mask map (R metallic, G ambient occlusion, B detail mask = 0, A
  smoothness = 1 − roughness), which is also URP Lit's layout: its Metallic Map reads R and A (smoothness
  source "Metallic Alpha") and its Occlusion Map the G channel. Every PNG gets a ``.meta`` (TextureImporter):
  sRGB only for colour, texture type Normal map for normals, Repeat wrap for materials and Clamp for sprites,
  mipmaps, max size the image's own. OpenGL normals (Unity's convention).
* ``unreal``: DirectX normals (green flipped), named ``NAME_normal_dx.png`` so the convention travels with the
  file; the ORM PNG matches Unreal's packing (R AO, G roughness, B metallic; import it with sRGB off).

Sprite sets (:mod:`.sprite_files`) get, per sprite, the colour PNG, ``NAME_normal.png`` (its shape's normal map
in the target's convention; ``NAME_normal_dx.png`` for Unreal) and the billboard ``.glb`` (glTF conventions,
normal map embedded); ``godot`` adds ``NAME.tres``, a ``StandardMaterial3D`` (alpha scissor, both sides, Y-axis
billboard for quad cards, the colour and normal PNGs) and ``NAME_region.tres``, an ``AtlasTexture`` of the
sprite's frame in the set's atlas; ``unity`` adds the ``.meta`` files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from ..material_files import COLOUR_MAPS, MAP_NAMES, SetLayout, encode_material
from ..materials import Material

UNITY_WRAP = {"repeat": 0, "clamp": 1}  # TextureImporter wrapU/wrapV values


@dataclass(frozen=True)
class Target:
    """An export target: its name, normal-map convention, extra per-material files and file conventions.

    ``files_version`` enters the items' keys (:func:`scenegen.export.manifest.item_key`) when not None, so an
    earlier export of a target whose files have changed since is built again; targets whose files never changed
    keep ``None`` (and their keys).
    """

    name: str
    normal_convention: str
    extras: tuple[str, ...]
    engine: str
    normal_suffix: str = "_normal"
    height_bits: int = 16
    files_version: int | None = None
    compress: str | None = None  # "webp" / "ktx2": compressed .glb files (``--compress``; key_name ends in +FORMAT)

    @property
    def layout(self) -> SetLayout:
        """The material set this target gets (:mod:`scenegen.material_files`): maps, names, bit depths, preview GLB."""
        maps = MAP_NAMES + (("mask",) if "mask" in self.extras else ())
        return SetLayout(normal_convention=self.normal_convention, normal_suffix=self.normal_suffix,
                         height_bits=self.height_bits, maps=maps, glb=True)

    @property
    def key_name(self) -> str:
        """The name workers and item keys know this target by: ``godot``, or ``godot+webp`` / ``godot+ktx2``."""
        return self.name + (f"+{self.compress}" if self.compress else "")


TARGETS: dict[str, Target] = {
    "gltf": Target("gltf", "opengl", (), "any glTF 2.0 viewer or engine"),
    "godot": Target("godot", "opengl", ("tres",), "Godot 4 (ORMMaterial3D .tres, world triplanar at tile_size_m)",
                    height_bits=8, files_version=2),
    "unity": Target("unity", "opengl", ("mask", "meta"),
                    "Unity HDRP and URP (Lit mask map; .meta importer settings)", files_version=2),
    "unreal": Target("unreal", "directx", (), "Unreal Engine (DirectX normals as *_normal_dx.png, ORM)",
                     normal_suffix="_normal_dx", files_version=2),
    "blender": Target("blender", "opengl", (), "Blender (glTF import or Principled BSDF)"),
}


def get_target(name: str) -> Target:
    """The Target called ``name`` (a :attr:`Target.key_name`); ScenegenError listing the choices otherwise."""
    from ..errors import ScenegenError
    from ..scene.gltf_compress import FORMATS

    base, _, compress = name.partition("+")
    if base not in TARGETS or (compress and compress not in FORMATS):
        raise ScenegenError(f"unknown export target {name!r}; choose one of: {', '.join(TARGETS)}")
    return replace(TARGETS[base], compress=compress) if compress else TARGETS[base]


def finish_glb(data: bytes, target: Target) -> bytes:
    """A GLB as the target ships it: as written, or compressed in its format (:mod:`scenegen.scene.gltf_compress`)."""
    if not target.compress:
        return data
    from ..scene.gltf_compress import compress_glb

    return compress_glb(data, target.compress)[0]


def unity_guid(path: str) -> str:
    """A stable Unity asset GUID (32 hex digits) for an exported file's path: re-exports keep references."""
    return hashlib.md5(f"scenegen:{path}".encode("utf-8")).hexdigest()


def unity_texture_meta(path: str, size: int, *, srgb: bool, normal_map: bool = False, wrap: str = "repeat",
                       alpha_cutoff: float | None = None) -> str:
    """A Unity ``.meta`` file (TextureImporter) for the PNG at ``path`` (its path in the export folder).

    ``srgb`` off for data maps (normal, roughness, height, AO, ORM, mask); ``normal_map`` sets texture type
    Normal map; ``wrap`` "repeat" (tileable materials) or "clamp" (sprites, atlases); ``alpha_cutoff`` (cut-out
    sprites) marks alpha as transparency and keeps the alpha-tested coverage in every mip level. The max size is
    the image's own (Unity's default, 2048, would shrink larger sets).
    """
    max_size = 32
    while max_size < size and max_size < 16384:
        max_size *= 2
    cutout = alpha_cutoff is not None
    return "\n".join([
        "fileFormatVersion: 2",
        f"guid: {unity_guid(path)}",
        "TextureImporter:",
        "  internalIDToNameTable: []",
        "  externalObjects: {}",
        "  serializedVersion: 12",
        "  mipmaps:",
        "    mipMapMode: 0",
        "    enableMipMap: 1",
        f"    sRGBTexture: {int(srgb and not normal_map)}",
        "    linearTexture: 0",
        "    fadeOut: 0",
        "    borderMipMap: 0",
        f"    mipMapsPreserveCoverage: {int(cutout)}",
        f"    alphaTestReferenceValue: {float(alpha_cutoff) if cutout else 0.5!r}",
        "  bumpmap:",
        "    convertToNormalMap: 0",
        "    externalNormalMap: 0",
        "    heightScale: 0.25",
        "    normalMapFilter: 0",
        "    flipGreenChannel: 0",
        "  isReadable: 0",
        "  streamingMipmaps: 0",
        f"  maxTextureSize: {max_size}",
        "  textureSettings:",
        "    serializedVersion: 2",
        "    filterMode: 2",
        "    aniso: 4",
        "    mipBias: 0",
        f"    wrapU: {UNITY_WRAP[wrap]}",
        f"    wrapV: {UNITY_WRAP[wrap]}",
        f"    wrapW: {UNITY_WRAP[wrap]}",
        "  nPOTScale: 1",
        "  lightmap: 0",
        "  compressionQuality: 50",
        "  spriteMode: 0",
        "  alphaUsage: 1",
        f"  alphaIsTransparency: {int(cutout)}",
        f"  textureType: {1 if normal_map else 0}",
        "  textureShape: 1",
        "  userData: ",
        "  assetBundleName: ",
        "  assetBundleVariant: ",
        "",
    ])


def _meta_name(png: str) -> str:
    return f"{png}.meta"


def godot_tres(name: str, tile_size_m: float, normal_suffix: str = "_normal") -> str:
    """A Godot 4 ORMMaterial3D resource referencing the set's PNGs by folder-relative paths.

    World-space triplanar mapping at ``uv1_scale`` = 1 / ``tile_size_m``: one repeat per ``tile_size_m``
    metres on any mesh, with no UV set-up.
    """
    textures = [("1_albedo", "basecolor"), ("2_orm", "orm"), ("3_normal", normal_suffix[1:]), ("4_height", "height")]
    scale = 1.0 / float(tile_size_m)
    lines = [f'[gd_resource type="ORMMaterial3D" load_steps={len(textures) + 1} format=3]', ""]
    lines += [f'[ext_resource type="Texture2D" path="{name}_{kind}.png" id="{rid}"]' for rid, kind in textures]
    lines += [
        "",
        "[resource]",
        f'resource_name = "{name}"',
        'albedo_texture = ExtResource("1_albedo")',
        'orm_texture = ExtResource("2_orm")',
        "metallic = 1.0",
        "roughness = 1.0",
        "ao_enabled = true",
        "normal_enabled = true",
        "normal_scale = 1.0",
        'normal_texture = ExtResource("3_normal")',
        "heightmap_enabled = false",
        'heightmap_texture = ExtResource("4_height")',
        f"uv1_scale = Vector3({scale!r}, {scale!r}, {scale!r})",
        "uv1_triplanar = true",
        "uv1_world_triplanar = true",
        "texture_filter = 5",
        f"metadata/tile_size_m = {float(tile_size_m)!r}",
        "",
    ]
    return "\n".join(lines)


#: Godot BaseMaterial3D.BillboardMode per billboard kind: a quad card turns about Y towards the camera
#: (BILLBOARD_FIXED_Y = 2); cross cards are seen from every side as they are (BILLBOARD_DISABLED = 0).
GODOT_BILLBOARD = {"quad": 2, "cross": 0, "cross3": 0}


def godot_sprite_tres(name: str, alpha_cutoff: float, kind: str = "quad", normal_suffix: str = "_normal") -> str:
    """A Godot 4 StandardMaterial3D for a billboard sprite: alpha scissor, no culling, Y billboard for quads."""
    lines = [
        '[gd_resource type="StandardMaterial3D" load_steps=3 format=3]',
        "",
        f'[ext_resource type="Texture2D" path="{name}.png" id="1_albedo"]',
        f'[ext_resource type="Texture2D" path="{name}{normal_suffix}.png" id="2_normal"]',
        "",
        "[resource]",
        f'resource_name = "{name}"',
        "transparency = 2",  # TRANSPARENCY_ALPHA_SCISSOR
        f"alpha_scissor_threshold = {float(alpha_cutoff)!r}",
        "cull_mode = 2",  # CULL_DISABLED
        'albedo_texture = ExtResource("1_albedo")',
        "metallic = 0.0",
        "roughness = 0.9",
        "normal_enabled = true",
        "normal_scale = 1.0",
        'normal_texture = ExtResource("2_normal")',
        "texture_filter = 3",  # linear with mipmaps
        "texture_repeat = false",
        f"billboard_mode = {GODOT_BILLBOARD.get(kind, 0)}",
        "billboard_keep_scale = true",
        "",
    ]
    return "\n".join(lines)


def godot_atlas_tres(name: str, atlas_png: str, frame: tuple[int, int, int, int]) -> str:
    """A Godot 4 AtlasTexture: the sprite's frame (x, y, w, h) in the set's atlas PNG (for Sprite3D, 2D, UI)."""
    x, y, w, h = (int(v) for v in frame)
    return "\n".join([
        '[gd_resource type="AtlasTexture" load_steps=2 format=3]',
        "",
        f'[ext_resource type="Texture2D" path="{atlas_png}" id="1_atlas"]',
        "",
        "[resource]",
        f'resource_name = "{name}"',
        'atlas = ExtResource("1_atlas")',
        f"region = Rect2({x}, {y}, {w}, {h})",
        "filter_clip = true",
        "",
    ])


def material_files(material: Material, name: str, tile_size_m: float, target: Target) -> dict[str, bytes]:
    """``{file name: bytes}`` of one material for ``target`` (names relative to its folder): the set in the target's
    :attr:`Target.layout` (:func:`scenegen.material_files.encode_material`), then its engine files."""
    files = encode_material(material, name, target.layout, tile_size_m=tile_size_m)
    return finish_material_files(files, name, tile_size_m, target, max(material.shape))


def finish_material_files(files: dict[str, bytes], name: str, tile_size_m: float, target: Target,
                          size: int) -> dict[str, bytes]:
    """``files`` (a ``size``² set in the target's layout, with its preview GLB) as ``target`` ships it: the GLB
    compressed when the target says so, then the engine files (``.tres``, ``.meta``)."""
    files = dict(files)
    if target.compress:
        files[f"{name}.glb"] = finish_glb(files[f"{name}.glb"], target)
    if "tres" in target.extras:
        files[f"{name}.tres"] = godot_tres(name, tile_size_m, target.normal_suffix).encode("utf-8")
    if "meta" in target.extras:
        for file in sorted(f for f in files if f.endswith(".png")):
            kind = file[len(name):-len(".png")]
            meta = unity_texture_meta(f"materials/{name}/{file}", size, srgb=kind[1:] in COLOUR_MAPS,
                                      normal_map=kind == target.normal_suffix, wrap="repeat")
            files[_meta_name(file)] = meta.encode("utf-8")
    return files
