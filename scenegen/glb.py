"""The one glTF 2.0 binary (GLB) writer of scenegen: numpy geometry + PNG bytes in, deterministic GLB bytes out.

Every GLB the project makes is assembled by a :class:`GlbWriter`: composed scenes and standalone sprite
billboards (:mod:`scenegen.scene.gltf`), material preview spheres (:func:`scenegen.material_files.preview_glb`).
The writer owns what all of them share; each product describes only its own nodes and materials:

* one binary buffer of 4-byte aligned buffer views (vertex and index views carry their ``target``),
  accessors with their component type from the array's dtype (``min``/``max`` where asked: POSITION);
* **identical geometry is written once**: :meth:`GlbWriter.mesh` keys a mesh on the bytes of its
  attributes, indices and material, so two objects with the same shape share one glTF mesh (each keeps its
  node); textures are shared by PNG content, samplers by wrap mode (created on first use: the validator
  flags unused objects);
* the container: JSON chunk (UTF-8, space-padded), BIN chunk (zero-padded) when there is binary data.

Key order of the JSON follows ``layout`` (the top-level arrays are created in that order and left out
when empty), so a product keeps its document's bytes whatever else the writer learns. Same input, same bytes.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any, Mapping, Sequence

import numpy as np

from . import __version__

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
REPEAT, CLAMP_TO_EDGE, LINEAR, LINEAR_MIPMAP_LINEAR = 10497, 33071, 9729, 9987
WRAPS = {"repeat": REPEAT, "clamp": CLAMP_TO_EDGE}  # tileable materials / sprites and atlases
_COMPONENTS = {np.dtype(np.float32): FLOAT, np.dtype(np.uint16): UNSIGNED_SHORT, np.dtype(np.uint32): UNSIGNED_INT}
_KINDS = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}

#: Top-level keys in the order scenes write them (after ``asset``); the binary bookkeeping comes last.
SCENE_LAYOUT = ("scene", "scenes", "nodes", "meshes", "materials", "textures", "images", "samplers",
                "accessors", "bufferViews", "buffers")
_ARRAYS = ("scenes", "nodes", "meshes", "materials", "textures", "images", "samplers", "accessors", "bufferViews",
           "buffers")


class GlbWriter:
    """Accumulates one glTF document and its binary buffer; :meth:`glb` returns the finished file."""

    def __init__(self, name: str, *, layout: Sequence[str] = SCENE_LAYOUT,
                 asset_extras: Mapping[str, Any] | None = None) -> None:
        asset: dict[str, Any] = {"version": "2.0", "generator": f"scenegen {__version__}"}
        if asset_extras:
            asset["extras"] = dict(asset_extras)
        self.gltf: dict[str, Any] = {"asset": asset}
        for key in layout:
            self.gltf[key] = 0 if key == "scene" else []
        self.gltf["scenes"] = self.gltf.get("scenes") or []
        self.gltf["scenes"].append({"name": name, "nodes": []})
        self._chunks: list[bytes] = []
        self._offset = 0
        self._meshes: dict[bytes, int] = {}
        self._textures: dict[bytes, int] = {}
        self._samplers: dict[int, int] = {}

    @property
    def roots(self) -> list[int]:
        """The node indices of the (one) scene."""
        return self.gltf["scenes"][0]["nodes"]

    def add(self, key: str, entry: dict[str, Any]) -> int:
        """Append ``entry`` to the top-level array ``key``; its index."""
        return _append(self.gltf.setdefault(key, []), entry)

    # ------------------------------------------------------------------------------------------ binary data
    def view(self, data: bytes, target: int | None = None) -> int:
        """A buffer view of ``data`` (4-byte aligned), with ``target`` for vertex and index data."""
        pad = (-self._offset) % 4
        if pad:
            self._chunks.append(b"\x00" * pad)
            self._offset += pad
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": self._offset, "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self._chunks.append(data)
        self._offset += len(data)
        return self.add("bufferViews", entry)

    def accessor(self, array: np.ndarray, target: int | None = None, *, kind: str | None = None,
                 bounds: bool = False) -> int:
        """An accessor over a float32, uint16 or uint32 array (N, or N×1…4) in its own buffer view."""
        data = np.ascontiguousarray(array)
        if data.dtype not in _COMPONENTS:
            raise ValueError(f"glTF accessors hold float32, uint16 or uint32, not {data.dtype}")
        kind = kind or _KINDS[1 if data.ndim == 1 else data.shape[1]]
        count = int(data.size) if kind == "SCALAR" else int(len(data))
        entry: dict[str, Any] = {"bufferView": self.view(data.astype(data.dtype.newbyteorder("<")).tobytes(), target),
                                 "componentType": _COMPONENTS[data.dtype], "count": count, "type": kind}
        if bounds:
            flat = data.reshape(len(data), -1) if kind != "SCALAR" else data.reshape(-1, 1)
            entry["min"] = [_num(v) for v in flat.min(axis=0)]
            entry["max"] = [_num(v) for v in flat.max(axis=0)]
        return self.add("accessors", entry)

    # ------------------------------------------------------------------------------------ shared objects
    def sampler(self, wrap: int) -> int:
        """The trilinear sampler with ``wrap`` (REPEAT or CLAMP_TO_EDGE) on both axes, created on first use."""
        if wrap not in self._samplers:
            self._samplers[wrap] = self.add("samplers", {"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                                                         "wrapS": wrap, "wrapT": wrap})
        return self._samplers[wrap]

    def texture(self, png: bytes, name: str, wrap: int) -> int:
        """A texture of the PNG ``png`` (embedded once per content and wrap mode) with the sampler of ``wrap``."""
        key = hashlib.sha256(png).digest() + struct.pack("<I", wrap)
        if key not in self._textures:
            sampler = self.sampler(wrap)
            image = self.add("images", {"name": name, "bufferView": self.view(png), "mimeType": "image/png"})
            self._textures[key] = self.add("textures", {"sampler": sampler, "source": image})
        return self._textures[key]

    def mesh(self, name: str, attributes: Mapping[str, np.ndarray], indices: np.ndarray, material: int) -> int:
        """A one-primitive triangle mesh of glTF-ready ``attributes`` (written in their order; POSITION gets
        bounds) and ``indices``; an identical mesh already written is returned instead (its name kept)."""
        digest = hashlib.sha256(struct.pack("<I", material))
        for semantic, array in list(attributes.items()) + [("indices", indices)]:
            data = np.ascontiguousarray(array)
            digest.update(f"{semantic}:{data.dtype.str}:{data.shape}".encode() + data.tobytes())
        key = digest.digest()
        if key not in self._meshes:
            accessors = {semantic: self.accessor(array, ARRAY_BUFFER, bounds=semantic == "POSITION")
                         for semantic, array in attributes.items()}
            primitive = {"attributes": accessors, "indices": self.accessor(indices, ELEMENT_ARRAY_BUFFER,
                                                                           kind="SCALAR"),
                         "material": material, "mode": 4}
            self._meshes[key] = self.add("meshes", {"name": name, "primitives": [primitive]})
        return self._meshes[key]

    # ------------------------------------------------------------------------------------------- finishing
    def glb(self) -> bytes:
        """The GLB bytes: the buffer closed, empty top-level arrays left out."""
        data = b"".join(self._chunks)
        binary = data + b"\x00" * ((-len(data)) % 4)
        gltf = self.gltf
        if gltf.get("accessors") or gltf.get("bufferViews"):
            gltf.setdefault("buffers", []).append({"byteLength": len(binary)})
        else:
            binary = b""
        for key in _ARRAYS:
            if key in gltf and not gltf[key]:
                del gltf[key]
        return pack_glb(gltf, binary)


def index_array(indices: np.ndarray, vertex_count: int) -> np.ndarray:
    """Triangle indices flattened, as uint16 when every vertex fits (fewer than 65,535), else uint32."""
    return np.asarray(indices).reshape(-1).astype(np.uint16 if vertex_count < 65535 else np.uint32)


def _append(items: list, entry: Any) -> int:
    items.append(entry)
    return len(items) - 1


def _num(value: Any) -> float | int:
    return int(value) if isinstance(value, (np.integer, int)) else float(value)


def pack_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    """GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded) if any."""
    payload = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    payload += b" " * ((-len(payload)) % 4)
    body = struct.pack("<I4s", len(payload), b"JSON") + payload
    if binary:
        binary += b"\x00" * ((-len(binary)) % 4)
        body += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < 20 or data[:4] != b"glTF" or struct.unpack_from("<I", data, 4)[0] != 2:
        from .errors import ScenegenError

        raise ScenegenError("not a glTF 2.0 binary (GLB) file")
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from("<I4s", data, offset)
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 8 + length
    return chunks


def read_glb_json(data: bytes) -> dict:
    """The JSON chunk of GLB bytes."""
    kind, payload = _chunks(data)[0]
    if kind != b"JSON":
        from .errors import ScenegenError

        raise ScenegenError("not a glTF 2.0 binary (GLB) file: the first chunk is not JSON")
    return json.loads(payload.decode("utf-8"))


def read_glb_binary(data: bytes) -> bytes:
    """The BIN chunk of GLB bytes (empty when there is none)."""
    return next((payload for kind, payload in _chunks(data) if kind == b"BIN\x00"), b"")


def write_glb_json(data: bytes, gltf: dict) -> bytes:
    """GLB bytes with the JSON chunk replaced by ``gltf``; the binary chunk kept."""
    return pack_glb(gltf, read_glb_binary(data))
