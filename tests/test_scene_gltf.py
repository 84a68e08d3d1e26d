"""The GLB writer: one glTF mesh shared by many nodes, glTF material conventions, the Khronos validator."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from gltf_validation import describe, validate_gltf, validator_available
from scenegen.scene.gltf import scene_to_glb
from scenegen.glb import read_glb_json
from test_scene_support import composed


@pytest.fixture(scope="module")
def validator() -> None:
    reason = validator_available()
    if reason:
        pytest.skip(reason)


def test_instances_share_one_mesh(tmp_path: Path, validator: None) -> None:
    data = scene_to_glb(composed(50))
    gltf = read_glb_json(data)
    assert [m["name"] for m in gltf["meshes"]] == ["box", "tuft"]
    tuft_nodes = [n for n in gltf["nodes"] if n.get("mesh") == 1]
    assert len(tuft_nodes) == 50 and all("translation" in n and "rotation" in n for n in tuft_nodes)
    parent = next(n for n in gltf["nodes"] if n["name"] == "tufts")
    assert len(parent["children"]) == 50
    house = next(n for n in gltf["nodes"] if n["name"] == "house")
    assert house["scale"] == [1.0, 2.0, 1.0] and house["rotation"] == pytest.approx([0, 0.3826834, 0, 0.9238795])
    path = tmp_path / "scene.glb"
    path.write_bytes(data)
    issues = validate_gltf(path)
    assert issues["numErrors"] == 0, describe(issues)
    assert issues["numWarnings"] == 0, describe(issues)
    assert scene_to_glb(composed(50)) == data, "deterministic"
    loaded = trimesh.load(path)
    assert len(loaded.graph.nodes_geometry) == 51


def test_material_conventions() -> None:
    gltf = read_glb_json(scene_to_glb(composed(3)))
    materials = {m["name"]: m for m in gltf["materials"]}
    stone, tufts = materials["stone"], materials["tufts"]
    orm = stone["pbrMetallicRoughness"]["metallicRoughnessTexture"]["index"]
    assert stone["occlusionTexture"]["index"] == orm, "one ORM texture for occlusion, roughness and metallic"
    assert "normalTexture" in stone and "alphaMode" not in stone and "doubleSided" not in stone
    assert tufts["alphaMode"] == "MASK" and tufts["alphaCutoff"] == 0.4 and tufts["doubleSided"] is True
    assert "normalTexture" not in tufts
    sampler = lambda m: gltf["samplers"][gltf["textures"][m["pbrMetallicRoughness"]["baseColorTexture"]["index"]]["sampler"]]  # noqa: E731
    assert sampler(stone)["wrapS"] == sampler(stone)["wrapT"] == 10497  # REPEAT
    assert sampler(tufts)["wrapS"] == sampler(tufts)["wrapT"] == 33071  # CLAMP_TO_EDGE
    assert all(img["mimeType"] == "image/png" and "bufferView" in img for img in gltf["images"])
    box_attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
    assert "TANGENT" in box_attributes and "TANGENT" not in gltf["meshes"][1]["primitives"][0]["attributes"]
    assert gltf["extensionsUsed"] == ["KHR_lights_punctual"]
    types = [light["type"] for light in gltf["extensions"]["KHR_lights_punctual"]["lights"]]
    assert types == ["directional", "spot"] and gltf["cameras"][0]["type"] == "perspective"


def test_uv_v_is_flipped_for_gltf() -> None:
    data = scene_to_glb(composed(1))
    gltf = read_glb_json(data)
    json_len = struct.unpack_from("<I", data, 12)[0]
    binary = data[20 + json_len + 8:]
    accessor = gltf["accessors"][gltf["meshes"][1]["primitives"][0]["attributes"]["TEXCOORD_0"]]
    view = gltf["bufferViews"][accessor["bufferView"]]
    uv = np.frombuffer(binary, np.float32, accessor["count"] * 2, view["byteOffset"]).reshape(-1, 2)
    assert np.allclose(uv, [[0, 1], [1, 1], [1, 0], [0, 0]])  # bottom of the card = bottom of the image (v = 1)


def test_gpu_instancing_extension(tmp_path: Path, validator: None) -> None:
    data = scene_to_glb(composed(40), gpu_instancing=True)
    gltf = read_glb_json(data)
    assert "EXT_mesh_gpu_instancing" in gltf["extensionsUsed"] and gltf["extensionsRequired"] == ["EXT_mesh_gpu_instancing"]
    node = next(n for n in gltf["nodes"] if n["name"] == "tufts")
    attributes = node["extensions"]["EXT_mesh_gpu_instancing"]["attributes"]
    assert {gltf["accessors"][a]["count"] for a in attributes.values()} == {40}
    assert len([n for n in gltf["nodes"] if "mesh" in n]) == 2
    path = tmp_path / "instanced.glb"
    path.write_bytes(data)
    issues = validate_gltf(path)
    assert issues["numErrors"] == 0, describe(issues)


def accessor_array(data: bytes, gltf: dict, index: int) -> np.ndarray:
    """The float32 data of accessor ``index`` (tightly packed, as the writer stores it)."""
    json_len = struct.unpack_from("<I", data, 12)[0]
    binary = data[20 + json_len + 8:]
    accessor = gltf["accessors"][index]
    width = {"VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    offset = gltf["bufferViews"][accessor["bufferView"]]["byteOffset"]
    return np.frombuffer(binary, np.float32, accessor["count"] * width, offset).reshape(-1, width)


@pytest.mark.parametrize("kind", ["quad", "cross", "cross3"])
def test_sprite_billboards_carry_their_normal_maps(kind: str, tmp_path: Path, validator: None) -> None:
    """Sprite materials get a normalTexture (clamped like the atlas), their cards TANGENTs along each card's u."""
    from scenegen.data.sprites_procedural import generate_sprite
    from scenegen.scene.compose import sprite_billboard
    from scenegen.scene.composed import InstanceGroup, quat_yaw
    from scenegen.scene.gltf import asset_to_glb

    scene = composed(3)
    geometry, material = sprite_billboard(generate_sprite("broadleaf_tree", 2, 64), "oak", height_m=6.0, kind=kind,
                                          alpha_cutoff=0.5)
    scene.materials["oak"] = material
    scene.groups.append(InstanceGroup("oaks", geometry, np.array([[4.0, 0, 0], [6.0, 0, 1]]),
                                      quat_yaw(np.array([0.3, 2.0])), np.ones((2, 3)), billboard=True))
    data = scene_to_glb(scene)
    standalone = asset_to_glb({"oak": material}, [InstanceGroup("oak", geometry, np.zeros((1, 3)),
                                                                np.array([[0, 0, 0, 1.0]]), np.ones((1, 3)))], "oak")
    for name, blob in (("scene", data), ("asset", standalone)):
        gltf = read_glb_json(blob)
        oak = next(m for m in gltf["materials"] if m["name"] == "oak")
        assert oak["alphaMode"] == "MASK" and oak["doubleSided"] is True
        textures = [gltf["textures"][oak["normalTexture"]["index"]],
                    gltf["textures"][oak["pbrMetallicRoughness"]["baseColorTexture"]["index"]]]
        for texture in textures:
            sampler = gltf["samplers"][texture["sampler"]]
            assert sampler["wrapS"] == sampler["wrapT"] == 33071, "CLAMP_TO_EDGE for sprites"
        mesh = next(m for m in gltf["meshes"] if m["name"] == "oak")
        attributes = mesh["primitives"][0]["attributes"]
        tangent = accessor_array(blob, gltf, attributes["TANGENT"])
        position = accessor_array(blob, gltf, attributes["POSITION"])
        normal = accessor_array(blob, gltf, attributes["NORMAL"])
        uv = accessor_array(blob, gltf, attributes["TEXCOORD_0"])
        assert np.allclose(np.einsum("ij,ij->i", tangent[:, :3], normal), 0.0, atol=1e-6) and np.all(tangent[:, 3] == 1)
        for card in range(len(position) // 4):  # corners: bottom-left, bottom-right, top-right, top-left
            c = slice(4 * card, 4 * card + 4)
            du = uv[c][1, 0] - uv[c][0, 0]
            along = (position[c][1] - position[c][0]) / du  # d position / d u on this card
            assert np.allclose(tangent[c, :3], along / np.linalg.norm(along), atol=1e-5), f"card {card}"
        path = tmp_path / f"{name}.glb"
        path.write_bytes(blob)
        issues = validate_gltf(path)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, describe(issues)
    assert "cameras" not in read_glb_json(standalone) and "extensions" not in read_glb_json(standalone)
