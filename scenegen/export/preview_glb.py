"""A material's preview ``.glb``: a UV sphere carrying the texture set, written directly as glTF 2.0 binary.

Written by hand rather than through trimesh so the file is exactly what engines want (and the Khronos
validator passes): POSITION/NORMAL/TANGENT/TEXCOORD_0 each in its own buffer view with its ``target``,
an explicit REPEAT sampler with trilinear filtering, base colour + tangent-space normal map (OpenGL/glTF
convention, +Y up) + ORM used both as metallicRoughness (G, B) and occlusion (R). The sphere's radius is
``tile_size_m / π``, so one texture tile spans ``tile_size_m`` metres at the equator (2 tiles around it,
1 from pole to pole): the preview shows the material at its physical scale. Deterministic bytes.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from .. import __version__

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
LINEAR, LINEAR_MIPMAP_LINEAR, REPEAT = 9729, 9987, 10497
SPHERE_RINGS, SPHERE_SEGMENTS = 32, 64


def sphere_geometry(radius: float, rings: int = SPHERE_RINGS, segments: int = SPHERE_SEGMENTS) -> dict[str, np.ndarray]:
    """glTF-ready arrays: positions, normals, tangents (w = +1), texcoords (v down) and indices."""
    from ..preview import uv_sphere  # pure numpy; reuses the preview renderer's sphere (2×1 tiles)

    pos, normals, uvs, tangents, faces = uv_sphere(rings, segments)
    texcoords = np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], axis=1)  # glTF: v = 0 at the image top
    index_type = np.uint16 if len(pos) < 65536 else np.uint32
    return {
        "POSITION": (pos.astype(np.float64) * radius).astype(np.float32),
        "NORMAL": normals.astype(np.float32),
        "TANGENT": tangents.astype(np.float32),
        "TEXCOORD_0": texcoords.astype(np.float32),
        "indices": faces.reshape(-1).astype(index_type),
    }


class _Builder:
    """Accumulates the binary chunk (4-byte aligned views) and the JSON arrays that point into it."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob += b"\0" * (-len(self.blob) % 4)
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self.blob += data
        self.views.append(entry)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, target: int, with_bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        kinds = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
        components = 1 if array.ndim == 1 else array.shape[1]
        component = {np.dtype(np.float32): FLOAT, np.dtype(np.uint16): UNSIGNED_SHORT,
                     np.dtype(np.uint32): UNSIGNED_INT}[array.dtype]
        entry: dict[str, Any] = {"bufferView": self.view(array.astype(array.dtype.newbyteorder("<")).tobytes(), target),
                                 "componentType": component, "count": int(array.shape[0]), "type": kinds[components]}
        if with_bounds:
            entry["min"] = [float(v) for v in np.atleast_1d(array.min(axis=0))]
            entry["max"] = [float(v) for v in np.atleast_1d(array.max(axis=0))]
        self.accessors.append(entry)
        return len(self.accessors) - 1


def material_glb(name: str, basecolor_png: bytes, normal_png: bytes, orm_png: bytes, *, tile_size_m: float,
                 metallic: float = 1.0) -> bytes:
    """GLB bytes of a UV sphere (radius ``tile_size_m / π``) with the PNG texture set embedded.

    ``normal_png`` must be in the glTF (OpenGL, +Y up) convention; the ORM image is R occlusion,
    G roughness, B metallic; factors are 1 so the textures pass through unchanged.
    """
    geometry = sphere_geometry(tile_size_m / math.pi)
    builder = _Builder()
    attributes = {key: builder.accessor(geometry[key], ARRAY_BUFFER, with_bounds=key == "POSITION")
                  for key in ("POSITION", "NORMAL", "TANGENT", "TEXCOORD_0")}
    indices = builder.accessor(geometry["indices"], ELEMENT_ARRAY_BUFFER)
    images = [{"bufferView": builder.view(png), "mimeType": "image/png", "name": f"{name}_{kind}"}
              for kind, png in (("basecolor", basecolor_png), ("normal", normal_png), ("orm", orm_png))]
    builder.blob += b"\0" * (-len(builder.blob) % 4)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": f"scenegen {__version__}",
                  "extras": {"tile_size_m": float(tile_size_m), "normal_convention": "opengl"}},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": [{"attributes": attributes, "indices": indices, "material": 0,
                                                  "mode": 4}]}],
        "materials": [{
            "name": name,
            "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicRoughnessTexture": {"index": 2},
                                     "metallicFactor": float(metallic), "roughnessFactor": 1.0},
            "normalTexture": {"index": 1},
            "occlusionTexture": {"index": 2},
        }],
        "samplers": [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR, "wrapS": REPEAT, "wrapT": REPEAT}],
        "textures": [{"sampler": 0, "source": i} for i in range(3)],
        "images": images,
        "accessors": builder.accessors,
        "bufferViews": builder.views,
        "buffers": [{"byteLength": len(builder.blob)}],
    }
    return pack_glb(gltf, bytes(builder.blob))


def pack_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    """Assemble a GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    payload = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    payload += b" " * (-len(payload) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<I4s", len(payload), b"JSON") + payload + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
