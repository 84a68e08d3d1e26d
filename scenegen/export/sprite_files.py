"""A sprite set's files: one RGBA PNG and one billboard ``.glb`` per sprite, plus the set's atlas and its JSON."""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from .. import sprites as S
from ..imaging import encode_png


def sprite_names(set_name: str, count: int) -> list[str]:
    """``NAME_000``, ``NAME_001``, …: sorted order is generation order."""
    return [f"{set_name}_{i:03d}" for i in range(count)]


def billboard_glb(rgba: np.ndarray, name: str, *, height_m: float, kind: str, alpha_cutoff: float) -> bytes:
    """GLB bytes of a cut-out billboard (alphaMode MASK, double sided, pivot at the foot)."""
    mesh = S.billboard_mesh(rgba, height_m=height_m, kind=kind, alpha_cutoff=alpha_cutoff, name=name)
    flags = {name: {"alphaMode": "MASK", "alphaCutoff": float(alpha_cutoff), "doubleSided": True}}
    return S.tidy_glb(mesh.export(file_type="glb", include_normals=True), flags)


def sprite_set_files(sprites: Sequence[np.ndarray], set_name: str, *, height_m: float, kind: str,
                     alpha_cutoff: float) -> dict[str, bytes]:
    """``{file name: bytes}``: ``NAME_000.png``/``.glb`` …, ``NAME_atlas.png`` and ``NAME_atlas.json``.

    The atlas JSON is TexturePacker "JSON Hash" (frames keyed by sprite name, a bottom-centre pivot each).
    """
    names = sprite_names(set_name, len(sprites))
    arrays = {name: np.asarray(sprite, dtype=np.float32) for name, sprite in zip(names, sprites)}
    files: dict[str, bytes] = {}
    for name, rgba in arrays.items():
        files[f"{name}.png"] = encode_png(rgba)
        files[f"{name}.glb"] = billboard_glb(rgba, name, height_m=height_m, kind=kind, alpha_cutoff=alpha_cutoff)
    atlas, meta = S.pack_atlas(arrays, image_name=f"{set_name}_atlas.png")
    files[f"{set_name}_atlas.png"] = encode_png(atlas)
    files[f"{set_name}_atlas.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files
