"""Engine targets: which files a material gets, in which conventions.

Every target writes the texture set ``NAME_basecolor|normal|roughness|height|ao|orm.png`` (8-bit, height 16-bit)
and a preview ``NAME.glb`` (always glTF conventions, whatever the target). On top of that:

* ``gltf``, ``blender``: nothing else; OpenGL (+Y up) normals. Blender: File › Import › glTF 2.0 on the
  ``.glb`` gives a ready node material; the PNGs plug into a Principled BSDF (normal map: Non-Color).
* ``godot``: ``NAME.tres``, a Godot 4 ``ORMMaterial3D`` whose textures are paths **relative to the material
  folder** (Godot resolves relative ``ext_resource`` paths against the ``.tres`` file's folder). Copy or
  symlink ``materials/`` anywhere under the project (say ``res://materials/``); Godot imports the PNGs on
  focus and the ``.tres`` then loads as is (the normal map is detected and re-imported as one on first use).
  OpenGL normals (Godot's convention). ``metallic``/``roughness`` factors are 1 so the ORM channels pass
  through; the height map is wired but ``heightmap_enabled`` is off (turn it on for parallax).
* ``unity``: ``NAME_mask.png``, an HDRP mask map: R metallic, G ambient occlusion, B detail mask = 0 (no
  detail map; paint it or set it to 1 where an HDRP detail map should apply), A smoothness = 1 − roughness.
  OpenGL normals (Unity's convention; import the normal PNG with Texture Type "Normal map").
* ``unreal``: DirectX normals (green flipped) in ``NAME_normal.png``; the ORM PNG matches Unreal's packing
  (R AO, G roughness, B metallic; import it with sRGB off).

Sprite sets (:mod:`.sprite_files`) get, per sprite, the colour PNG, ``NAME_normal.png`` (its shape's normal map
in the target's convention) and the billboard ``.glb`` (glTF conventions, normal map embedded); ``godot`` adds
``NAME.tres``, a ``StandardMaterial3D`` (alpha scissor, both sides, the colour and normal PNGs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..imaging import encode_png, resize
from ..materials import Material, to_directx
from .preview_glb import material_glb

GLB_MAX_TEXTURE = 1024  # the preview .glb embeds maps at most this size (the PNG set keeps full size)
UNITY_DETAIL_MASK = 0.0


@dataclass(frozen=True)
class Target:
    """An export target: its name, normal-map convention and extra per-material files."""

    name: str
    normal_convention: str
    extras: tuple[str, ...]
    engine: str


TARGETS: dict[str, Target] = {
    "gltf": Target("gltf", "opengl", (), "any glTF 2.0 viewer or engine"),
    "godot": Target("godot", "opengl", ("tres",), "Godot 4 (ORMMaterial3D .tres)"),
    "unity": Target("unity", "opengl", ("mask",), "Unity HDRP (mask map)"),
    "unreal": Target("unreal", "directx", (), "Unreal Engine (DirectX normals, ORM)"),
    "blender": Target("blender", "opengl", (), "Blender (glTF import or Principled BSDF)"),
}


def get_target(name: str) -> Target:
    """The Target called ``name``; ScenegenError listing the choices otherwise."""
    from ..errors import ScenegenError

    if name not in TARGETS:
        raise ScenegenError(f"unknown export target {name!r}; choose one of: {', '.join(TARGETS)}")
    return TARGETS[name]


def unity_mask_map(material: Material) -> np.ndarray:
    """HDRP mask map, H×W×4: R metallic, G AO, B detail mask (0), A smoothness = 1 − roughness."""
    h, w = material.shape
    return np.stack([np.full((h, w), material.metallic, np.float32), material.ao,
                     np.full((h, w), UNITY_DETAIL_MASK, np.float32), 1.0 - material.roughness], axis=2)


def godot_tres(name: str, tile_size_m: float) -> str:
    """A Godot 4 ORMMaterial3D resource referencing the set's PNGs by folder-relative paths."""
    textures = [("1_albedo", "basecolor"), ("2_orm", "orm"), ("3_normal", "normal"), ("4_height", "height")]
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
        "texture_filter = 5",
        f"metadata/tile_size_m = {float(tile_size_m)!r}",
        "",
    ]
    return "\n".join(lines)


def godot_sprite_tres(name: str, alpha_cutoff: float) -> str:
    """A Godot 4 StandardMaterial3D for a billboard sprite: alpha scissor, no culling, colour + normal PNG."""
    lines = [
        '[gd_resource type="StandardMaterial3D" load_steps=3 format=3]',
        "",
        f'[ext_resource type="Texture2D" path="{name}.png" id="1_albedo"]',
        f'[ext_resource type="Texture2D" path="{name}_normal.png" id="2_normal"]',
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
        "",
    ]
    return "\n".join(lines)


def _glb_maps(material: Material) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base colour, OpenGL normal and ORM, area-downsampled to at most GLB_MAX_TEXTURE (normals renormalised)."""
    h, w = material.shape
    if max(h, w) <= GLB_MAX_TEXTURE:
        return material.basecolor, material.normal, material.orm()
    th, tw = max(1, round(h * GLB_MAX_TEXTURE / max(h, w))), max(1, round(w * GLB_MAX_TEXTURE / max(h, w)))
    vectors = resize(material.normal, th, tw) * 2.0 - 1.0
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True) + 1e-8
    return resize(material.basecolor, th, tw), (vectors * 0.5 + 0.5).astype(np.float32), resize(material.orm(), th, tw)


def material_files(material: Material, name: str, tile_size_m: float, target: Target) -> dict[str, bytes]:
    """``{file name: bytes}`` of one material for ``target`` (names relative to its folder)."""
    normal = material.normal if target.normal_convention == "opengl" else to_directx(material.normal)
    files = {
        f"{name}_basecolor.png": encode_png(material.basecolor),
        f"{name}_normal.png": encode_png(normal),
        f"{name}_roughness.png": encode_png(material.roughness),
        f"{name}_height.png": encode_png(material.height, bits=16),
        f"{name}_ao.png": encode_png(material.ao),
        f"{name}_orm.png": encode_png(material.orm()),
    }
    if max(material.shape) <= GLB_MAX_TEXTURE:
        base_png, orm_png = files[f"{name}_basecolor.png"], files[f"{name}_orm.png"]
        normal_png = files[f"{name}_normal.png"] if target.normal_convention == "opengl" else encode_png(material.normal)
    else:
        base, gl_normal, orm = _glb_maps(material)
        base_png, normal_png, orm_png = encode_png(base), encode_png(gl_normal), encode_png(orm)
    files[f"{name}.glb"] = material_glb(name, base_png, normal_png, orm_png, tile_size_m=tile_size_m)
    if "tres" in target.extras:
        files[f"{name}.tres"] = godot_tres(name, tile_size_m).encode("utf-8")
    if "mask" in target.extras:
        files[f"{name}_mask.png"] = encode_png(unity_mask_map(material))
    return files
