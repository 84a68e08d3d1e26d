"""A sprite set's files: per sprite an RGBA PNG, its normal map and a billboard ``.glb`` (plus, for the godot target,
a ``StandardMaterial3D`` and an ``AtlasTexture`` ``.tres``; for unity, ``.meta`` importer settings), and the set's
atlas, normal atlas and atlas JSON. Conventions and their sources: docs/ENGINES.md."""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from .. import sprites as S
from ..imaging import encode_png
from ..materials import to_directx
from ..scene.compose import sprite_billboard
from ..scene.composed import InstanceGroup
from ..scene.gltf import asset_to_glb
from .targets import TARGETS, Target, finish_glb, godot_atlas_tres, godot_sprite_tres, unity_texture_meta

ATLAS_PADDING = 2


def sprite_names(set_name: str, count: int) -> list[str]:
    """``NAME_000``, ``NAME_001``, …: sorted order is generation order."""
    return [f"{set_name}_{i:03d}" for i in range(count)]


def billboard_glb(rgba: np.ndarray, name: str, *, height_m: float, kind: str, alpha_cutoff: float,
                  normal: np.ndarray | None = None) -> bytes:
    """GLB bytes of a cut-out billboard (alphaMode MASK, double sided, pivot at the foot) with its normal map.

    Written by :func:`scenegen.scene.gltf.asset_to_glb` (TANGENT per card, CLAMP_TO_EDGE sampler); ``normal``
    is the sprite's OpenGL normal map if already computed (:func:`scenegen.sprites.sprite_normal_map`).
    """
    geometry, material = sprite_billboard(rgba, name, height_m=height_m, kind=kind, alpha_cutoff=alpha_cutoff,
                                          normal=normal)
    group = InstanceGroup(name=name, geometry=geometry, translations=np.zeros((1, 3)),
                          rotations=np.array([[0.0, 0.0, 0.0, 1.0]]), scales=np.ones((1, 3)), billboard=True)
    return asset_to_glb({name: material}, [group], name)


def sprite_set_files(sprites: Sequence[np.ndarray], set_name: str, *, height_m: float, kind: str,
                     alpha_cutoff: float, target: Target | None = None) -> dict[str, bytes]:
    """``{file name: bytes}``: ``NAME_000.png``/``_normal.png``/``.glb`` …, ``NAME_atlas.png``, ``_atlas_normal.png``
    and ``NAME_atlas.json`` (+ ``NAME_000.tres`` and ``NAME_000_region.tres`` … for Godot, ``*.png.meta`` for Unity).

    Normal PNGs follow the target's convention (DirectX for Unreal, named ``*_normal_dx.png``, else OpenGL); the
    ``.glb`` always embeds the OpenGL one. The atlas JSON is TexturePacker "JSON Hash" (frames keyed by sprite name, a bottom-centre pivot
    each); the normal atlas has the colour atlas's layout.
    """
    target = target or TARGETS["gltf"]
    names = sprite_names(set_name, len(sprites))
    arrays = {name: np.asarray(sprite, dtype=np.float32) for name, sprite in zip(names, sprites)}

    def convention(normal: np.ndarray) -> np.ndarray:
        return normal if target.normal_convention == "opengl" else to_directx(normal)

    suffix = target.normal_suffix
    files: dict[str, bytes] = {}
    for name, rgba in arrays.items():
        normal = S.sprite_normal_map(rgba, alpha_cutoff=alpha_cutoff)
        files[f"{name}.png"] = encode_png(rgba)
        files[f"{name}{suffix}.png"] = encode_png(convention(normal))
        files[f"{name}.glb"] = finish_glb(billboard_glb(rgba, name, height_m=height_m, kind=kind,
                                                        alpha_cutoff=alpha_cutoff, normal=normal), target)
        if "tres" in target.extras:
            files[f"{name}.tres"] = godot_sprite_tres(name, alpha_cutoff, kind, suffix).encode("utf-8")
    atlas, meta = S.pack_atlas(arrays, padding=ATLAS_PADDING, image_name=f"{set_name}_atlas.png")
    frames = [[meta["frames"][n]["frame"][k] for k in ("x", "y", "w", "h")] for n in names]
    normals = S.sprite_normal_atlas(list(arrays.values()), frames, (atlas.shape[1], atlas.shape[0]),
                                    padding=ATLAS_PADDING, alpha_cutoff=alpha_cutoff)
    files[f"{set_name}_atlas.png"] = encode_png(atlas)
    files[f"{set_name}_atlas{suffix}.png"] = encode_png(convention(normals))
    files[f"{set_name}_atlas.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    if "tres" in target.extras:
        for name, frame in zip(names, frames):
            files[f"{name}_region.tres"] = godot_atlas_tres(name, f"{set_name}_atlas.png", frame).encode("utf-8")
    if "meta" in target.extras:
        sizes = {f"{name}": max(a.shape[:2]) for name, a in arrays.items()}
        for file in sorted(f for f in files if f.endswith(".png")):
            stem = file[:-len(".png")]
            normal_map = stem.endswith(suffix)
            base = stem[:-len(suffix)] if normal_map else stem
            size = sizes.get(base, max(atlas.shape[:2]))
            files[f"{file}.meta"] = unity_texture_meta(f"sprites/{set_name}/{file}", size, srgb=not normal_map,
                                                       normal_map=normal_map, wrap="clamp",
                                                       alpha_cutoff=None if normal_map else alpha_cutoff).encode()
    return files
