"""The one material-set writer (scenegen.material_files) and the one reuse service (scenegen.reuse): names, bit
depths, engine conventions, previews, in memory and on disk alike; cached sets served whole, verified, or redone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gltf_validation import describe, validate_gltf, validator_available
from scenegen import material_files as MF
from scenegen.errors import ScenegenError
from scenegen.export.targets import TARGETS, material_files
from scenegen.glb import read_glb_binary, read_glb_json
from scenegen.materials import derive_maps
from scenegen.reuse import Reuse, request
from test_materials import periodic_texture


@pytest.fixture(scope="module")
def material():
    return derive_maps(periodic_texture(64), name="m")


def _read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_memory_and_disk_give_the_same_bytes_for_every_target(material, target: str, tmp_path: Path) -> None:
    layout = TARGETS[target].layout
    encoded = MF.encode_material(material, "rock", layout, tile_size_m=2.0, workers=3)
    written = MF.write_material(material, tmp_path, "rock", layout, tile_size_m=2.0)
    assert sorted(encoded) == sorted(p.name for p in written.values())
    for key, path in written.items():
        assert path.read_bytes() == encoded[path.name], key
    assert MF.encode_material(material, "rock", layout, tile_size_m=2.0) == encoded, "deterministic, any thread count"


def test_names_bit_depths_and_conventions(material, tmp_path: Path) -> None:
    gl = MF.write_material(material, tmp_path / "gl", "m", MF.SetLayout())
    dx = MF.write_material(material, tmp_path / "dx", "m", TARGETS["unreal"].layout, tile_size_m=1.0)
    godot = MF.write_material(material, tmp_path / "godot", "m", TARGETS["godot"].layout, tile_size_m=1.0)
    unity = MF.write_material(material, tmp_path / "unity", "m", TARGETS["unity"].layout, tile_size_m=1.0)
    assert {p.name for p in gl.values()} == {f"m_{k}.png" for k in MF.MAP_NAMES}
    assert dx["normal"].name == "m_normal_dx.png" and dx["glb"].name == "m.glb" and unity["mask"].name == "m_mask.png"
    assert _read(gl["height"]).dtype == np.uint16 and _read(godot["height"]).dtype == np.uint8
    assert all(_read(gl[k]).dtype == np.uint8 for k in ("basecolor", "normal", "roughness", "ao", "orm"))
    green_gl, green_dx = _read(gl["normal"])[..., 1].astype(int), _read(dx["normal"])[..., 1].astype(int)
    assert np.abs(green_gl + green_dx - 255).max() <= 1, "DirectX flips green (each side rounded)"
    assert np.array_equal(_read(gl["normal"])[..., [0, 2]], _read(dx["normal"])[..., [0, 2]])
    mask = cv2.cvtColor(_read(unity["mask"]), cv2.COLOR_BGRA2RGBA)
    orm = cv2.cvtColor(_read(gl["orm"]), cv2.COLOR_BGR2RGB)
    assert np.array_equal(mask[..., 1], orm[..., 0]) and np.all(mask[..., 2] == 0), "mask G = AO, B = detail 0"
    assert np.array_equal(mask[..., 3].astype(int), 255 - orm[..., 1].astype(int)), "mask A = smoothness"
    with pytest.raises(ScenegenError, match="normal convention"):
        MF.write_material(material, tmp_path / "bad", "m", MF.SetLayout(normal_convention="dx"))
    for bad in ("../m", "m/n", "", ".m", "m\n"):
        with pytest.raises(ScenegenError, match="must be letters"):
            MF.material_paths(bad, tmp_path)


def test_target_files_keep_the_set_and_add_the_engine_files(material) -> None:
    files = material_files(material, "m", 2.0, TARGETS["unity"])
    pngs = sorted(f for f in files if f.endswith(".png"))
    assert sorted(f for f in files if f.endswith(".meta")) == [f"{p}.meta" for p in pngs]
    assert "sRGBTexture: 1" in files["m_basecolor.png.meta"].decode() and "sRGBTexture: 0" in files["m_mask.png.meta"].decode()
    assert "uv1_scale = Vector3(0.5, 0.5, 0.5)" in material_files(material, "m", 2.0, TARGETS["godot"])["m.tres"].decode()


def test_preview_glb_embeds_the_set_and_validates(material, tmp_path: Path, monkeypatch) -> None:
    if validator_available():
        pytest.skip(validator_available())
    files = MF.encode_material(material, "m", TARGETS["unreal"].layout, tile_size_m=2.0)
    gltf = read_glb_json(files["m.glb"])
    binary = read_glb_binary(files["m.glb"])
    images = {img["name"]: binary[gltf["bufferViews"][img["bufferView"]]["byteOffset"]:][
        :gltf["bufferViews"][img["bufferView"]]["byteLength"]] for img in gltf["images"]}
    assert images["m_basecolor"] == files["m_basecolor.png"] and images["m_orm"] == files["m_orm.png"]
    assert images["m_normal"] != files["m_normal_dx.png"], "the GLB keeps OpenGL normals for a DirectX target"
    assert images["m_normal"] == MF.encode_material(material, "m", MF.SetLayout(maps=("normal",)))["m_normal.png"]
    assert gltf["asset"]["extras"] == {"tile_size_m": 2.0, "normal_convention": "opengl"}
    monkeypatch.setattr(MF, "GLB_MAX_TEXTURE", 32)  # the downsampled path of large sets, on a small one
    small = read_glb_json(MF.encode_material(material, "m", MF.SetLayout(glb=True), tile_size_m=2.0)["m.glb"])
    assert len(small["images"]) == 3 and small["bufferViews"][small["images"][0]["bufferView"]]["byteLength"] < len(
        files["m_basecolor.png"])
    for name, blob in (("full", files["m.glb"]),):
        path = tmp_path / f"{name}.glb"
        path.write_bytes(blob)
        issues = validate_gltf(path)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, describe(issues)


def test_safe_name_is_one_rule_for_every_photo() -> None:
    assert MF.safe_name("my photo (1)") == "my_photo_1"
    assert MF.safe_name("wall.jpg") == "wall.jpg" and MF.safe_name("..__--") == "photo"
    assert MF.safe_name("façade_2_512") == "fa_ade_2_512"
    for text in ("my photo (1)", "façade", "a/b\\c"):
        MF.check_name(MF.safe_name(text))


# ---------------------------------------------------------------------------------------------------- reuse
def test_bytes_are_made_once_then_served(tmp_path: Path) -> None:
    reuse = Reuse("things", tmp_path)
    req = request("thing", {"n": 1}, model_identity="abc")
    calls = []

    def make() -> dict[str, bytes]:
        calls.append(1)
        return {"a.bin": b"A", "b.bin": b"B"}

    assert reuse.bytes(req, ["a.bin", "b.bin"], make) == ({"a.bin": b"A", "b.bin": b"B"}, False)
    assert reuse.bytes(req, ["a.bin", "b.bin"], make) == ({"a.bin": b"A", "b.bin": b"B"}, True)
    assert len(calls) == 1 and (reuse.hits, reuse.misses) == (1, 1)
    other = request("thing", {"n": 2}, model_identity="abc")
    assert reuse.bytes(other, ["a.bin"], make)[1] is False and len(calls) == 2
    (reuse.cache.folder / req.key / "a.bin").write_bytes(b"damaged")
    assert reuse.bytes(req, ["a.bin", "b.bin"], make)[1] is False, "a damaged entry is made again, never served"


def test_sets_appear_whole_or_not_at_all(material, tmp_path: Path) -> None:
    reuse = Reuse(MF.MATERIALS_NAMESPACE, tmp_path / "cache")
    layout = MF.SetLayout(preview=False)
    req = MF.material_request(source="class", cls="x", seed=0, size=64, layout=layout, model_identity="abc")
    out = tmp_path / "out"
    out.mkdir()

    def broken():
        raise ScenegenError("the decoder failed")

    with pytest.raises(ScenegenError, match="decoder failed"):
        MF.serve_material(reuse, req, "m", out, layout, broken)
    assert list(out.iterdir()) == [] and not (tmp_path / "cache" / "materials" / req.key).exists()

    paths, params, hit = MF.serve_material(reuse, req, "m", out, layout, lambda: material)
    assert not hit and params == material.params and sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in paths.values())
    first = {k: p.read_bytes() for k, p in paths.items()}
    paths["normal"].write_bytes(b"edited")  # what is in the folder is replaced by the verified entry
    again, params_again, hit = MF.serve_material(reuse, req, "m", tmp_path / "out", layout, broken)
    assert hit and params_again == params and {k: p.read_bytes() for k, p in again.items()} == first
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    named, _, hit = MF.serve_material(reuse, req, "rock_0", elsewhere, layout, broken)
    assert hit and {k: p.read_bytes() for k, p in named.items()} == first, "the name is no part of the key"


def test_an_unusable_cache_is_one_warning_and_the_work_is_done(material, tmp_path: Path) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("a file where the cache should be: every write into it fails, even as root")
    warnings: list[str] = []
    reuse = Reuse(MF.MATERIALS_NAMESPACE, root, warn=warnings.append)
    layout = MF.SetLayout(preview=False)
    req = MF.material_request(source="class", cls="x", seed=0, size=64, layout=layout, model_identity="abc")
    out = tmp_path / "out"
    out.mkdir()
    paths, _, hit = MF.serve_material(reuse, req, "m", out, layout, lambda: material)
    assert not hit and all(p.is_file() for p in paths.values())
    assert len(warnings) == 1 and "not usable" in warnings[0]


def test_a_request_normalises_its_map_options() -> None:
    """One key however a caller states the options: defaults left out, ints and lists as floats and tuples, other
    keys ignored; an option that changes the maps changes the key."""
    def key(options) -> str:
        return MF.material_request(source="class", cls="x", seed=0, size=64, layout=MF.SET_LAYOUT,
                                   model_identity="abc", options=options).key

    assert key(None) == key({}) == key({"normal_strength": 1, "roughness_range": [0.45, 0.95], "ao_strength": None,
                                        "metallic": 0.0, "name": "ignored"})
    assert key({"roughness_range": (0.2, 0.6)}) == key({"roughness_range": [0.2, 0.6], "metallic": 0})
    assert len({key(None), key({"roughness_range": [0.2, 0.6]}), key({"metallic": 1}), key({"normal_strength": 2})}) == 4
    assert MF.map_options({"roughness_range": [0, 1], "ao_strength": 1.0}) == {"roughness_range": (0.0, 1.0)}


def test_a_set_entry_in_memory_is_the_entry_serve_material_stores(material, tmp_path: Path) -> None:
    reuse = Reuse(MF.MATERIALS_NAMESPACE, tmp_path / "cache")
    req = MF.material_request(source="class", cls="x", seed=0, size=64, layout=MF.SET_LAYOUT, model_identity="abc")
    (tmp_path / "out").mkdir()
    MF.serve_material(reuse, req, "m", tmp_path / "out", MF.SET_LAYOUT, lambda: material)
    entry = MF.set_entry(material)
    assert sorted(entry) == sorted([f"{k}.png" for k in MF.MAP_NAMES] + [MF.PARAMS_FILE])
    assert reuse.get(req, sorted(entry)) == entry


def test_without_a_cache_a_set_is_written_beside_its_destination_not_in_the_temp_folder(material, tmp_path: Path,
                                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A full or missing system temporary folder does not fail a set whose --out has room (material --no-cache)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-folder"))
    reuse = Reuse(MF.MATERIALS_NAMESPACE, enabled=False)
    req = MF.material_request(source="class", cls="x", seed=0, size=64, layout=MF.SET_LAYOUT, model_identity="abc")
    out = tmp_path / "out"
    out.mkdir()
    paths, _, hit = MF.serve_material(reuse, req, "m", out, MF.SET_LAYOUT, lambda: material)
    assert not hit and all(p.is_file() for p in paths.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values()), "no folder left behind"
