"""The one GLB writer (scenegen.glb): identical geometry written once, shared textures and samplers, the container,
and every kind of GLB the project makes through it, checked by the Khronos glTF-Validator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gltf_validation import describe, validate_gltf, validator_available
from scenegen.glb import (CLAMP_TO_EDGE, REPEAT, GlbWriter, index_array, pack_glb, read_glb_binary, read_glb_json,
                          write_glb_json)
from test_scene_support import composed


@pytest.fixture(scope="module")
def validator() -> None:
    reason = validator_available()
    if reason:
        pytest.skip(reason)


def _quad() -> dict[str, np.ndarray]:
    return {"POSITION": np.float32([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]),
            "NORMAL": np.float32([[0, 0, 1]] * 4), "TEXCOORD_0": np.float32([[0, 1], [1, 1], [1, 0], [0, 0]])}


def test_identical_meshes_are_written_once_and_different_ones_are_not() -> None:
    writer = GlbWriter("t")
    indices = index_array(np.array([[0, 1, 2], [0, 2, 3]]), 4)
    first = writer.mesh("a", _quad(), indices, 0)
    assert writer.mesh("b", _quad(), indices.copy(), 0) == first, "same bytes: the same mesh"
    assert writer.mesh("c", _quad(), indices, 1) != first, "another material: another mesh"
    moved = _quad()
    moved["POSITION"] = moved["POSITION"] + np.float32(1e-3)
    assert writer.mesh("d", moved, indices, 0) not in (first,)
    as_uint32 = indices.astype(np.uint32)
    assert writer.mesh("e", _quad(), as_uint32, 0) != first, "the index type is part of the mesh"
    gltf = writer.gltf
    assert [m["name"] for m in gltf["meshes"]] == ["a", "c", "d", "e"]
    assert len(gltf["accessors"]) == 4 * 4, "four accessors per mesh written, none for the duplicate"


def test_textures_and_samplers_are_shared_by_content_and_wrap() -> None:
    writer = GlbWriter("t")
    png = b"\x89PNG fake bytes"
    a = writer.texture(png, "a", REPEAT)
    assert writer.texture(bytes(bytearray(png)), "b", REPEAT) == a, "equal bytes, another object: one texture"
    clamp = writer.texture(png, "c", CLAMP_TO_EDGE)
    assert clamp != a and len(writer.gltf["samplers"]) == 2 and len(writer.gltf["images"]) == 2
    assert writer.sampler(REPEAT) == 0 and writer.sampler(CLAMP_TO_EDGE) == 1


def test_container_layout_round_trip_and_empty_arrays_dropped() -> None:
    writer = GlbWriter("empty", layout=("scene", "scenes", "nodes", "samplers", "accessors", "bufferViews", "buffers"),
                       asset_extras={"note": "x"})
    writer.roots.append(writer.add("nodes", {"name": "n"}))
    data = writer.glb()
    gltf = read_glb_json(data)
    assert list(gltf) == ["asset", "scene", "scenes", "nodes"], "empty arrays left out, the layout's order kept"
    assert gltf["asset"]["extras"] == {"note": "x"} and read_glb_binary(data) == b""
    assert len(data) % 4 == 0 and int.from_bytes(data[8:12], "little") == len(data)
    packed = pack_glb({"asset": {"version": "2.0"}}, b"abc")
    assert read_glb_binary(packed) == b"abc\x00" and read_glb_json(write_glb_json(packed, {"a": 1})) == {"a": 1}
    with pytest.raises(Exception, match="not a glTF 2.0 binary"):
        read_glb_json(b"PNG" * 10)


def test_courtyard_like_scene_shares_meshes_between_equal_objects(tmp_path: Path, validator: None) -> None:
    """Four columns of one shape → one glTF mesh and four nodes; the file validates and stays deterministic."""
    from scenegen.scene.composed import InstanceGroup
    from scenegen.scene.gltf import scene_to_glb

    scene = composed(3)
    box = scene.groups[0].geometry
    for i in range(4):  # each column its own Geometry object with equal arrays, as compose makes them
        twin = type(box)(f"column_{i}", box.positions.copy(), box.normals, box.uvs, box.indices, box.material,
                         box.tangents)
        scene.groups.append(InstanceGroup(f"column_{i}", twin, [[3.0 * i, 0, 4]], [[0, 0, 0, 1]], [[1, 1, 1]]))
    data = scene_to_glb(scene)
    gltf = read_glb_json(data)
    assert [m["name"] for m in gltf["meshes"]] == ["box", "tuft"], "the columns reuse the house's mesh"
    assert sum(1 for n in gltf["nodes"] if n.get("mesh") == 0) == 5
    assert {n["name"] for n in gltf["nodes"] if n.get("mesh") == 0} == {"house"} | {f"column_{i}" for i in range(4)}
    path = tmp_path / "scene.glb"
    path.write_bytes(data)
    issues = validate_gltf(path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, describe(issues)
    assert scene_to_glb(scene) == data
