"""`scenegen build` end to end with real (tiny) models: outputs, cache, determinism, errors, options."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gltf_validation import describe, validate_gltf, validator_available
from scenegen.imaging import load_image
from scenegen.glb import read_glb_json
from test_scene_support import cli, small_scene, tiny_sprite_model_dir, write_scene

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return ["--model", str(tiny_model), "--sprite-model", str(tiny_sprite_model_dir(tmp_path_factory))]


@pytest.fixture(scope="module")
def first_build(models: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("build")
    scene = write_scene(root / "scene", small_scene(outputs={"depth": "depth.png"}))
    cache = root / "cache"
    code, out, err = cli("build", str(scene), "--out", str(root / "out1"), "--cache", str(cache), *models)
    assert code == 0, err
    return {"root": root, "scene": scene, "cache": cache, "out": out, "err": err}


def test_outputs_progress_and_summary(first_build: dict) -> None:
    out_dir = first_build["root"] / "out1"
    assert sorted(p.name for p in out_dir.iterdir()) == ["build.json", "depth.png", "render.png", "scene.glb"]
    for stage in ("spec", "materials", "sprites", "compose", "render", "export", "write"):
        assert re.search(rf"^{stage}\s+\d+\.\d\d s$", first_build["err"], re.M), first_build["err"]
    assert re.search(r"^counts\s+\d+ meshes, [\d,]+ instances \(150 billboards\)", first_build["out"], re.M)
    assert "cache      0 hits, 3 generated" in first_build["out"]
    summary = json.loads((out_dir / "build.json").read_text())
    assert summary["counts"]["billboards"] == 150 and summary["scatter"][0] == {"name": "tufts", "wanted": 150,
                                                                                   "placed": 150, "on": "ground"}
    for name, entry in summary["files"].items():
        assert entry["bytes"] == (out_dir / name).stat().st_size
    image = load_image(out_dir / "render.png")
    assert image.shape == (96, 160, 3)
    assert image[:10].mean(axis=(0, 1))[2] > image[:10].mean(axis=(0, 1))[0], "sky on top"
    assert image[-20:].std() > 0.02, "textured ground, not a flat fill"
    depth = load_image(out_dir / "depth.png")[..., 0]
    assert depth[0].max() == 0.0 and depth[-1].min() > 0.0, "sky has no depth, the ground has"


def test_glb_validates_and_shares_meshes(first_build: dict) -> None:
    reason = validator_available()
    if reason:
        pytest.skip(reason)
    path = first_build["root"] / "out1" / "scene.glb"
    issues = validate_gltf(path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, describe(issues)
    gltf = read_glb_json(path.read_bytes())
    tuft_meshes = [i for i, m in enumerate(gltf["meshes"]) if m["name"].startswith("tufts_")]
    assert len(tuft_meshes) == 2, "one mesh per sprite variant"
    users = sum(1 for n in gltf["nodes"] if n.get("mesh") in tuft_meshes)
    assert users == 150
    tufts = next(m for m in gltf["materials"] if m["name"] == "tufts")
    assert tufts["alphaMode"] == "MASK" and tufts["doubleSided"] is True
    assert "normalTexture" in tufts, "sprite atlases carry their normal atlas"
    assert all("TANGENT" in gltf["meshes"][i]["primitives"][0]["attributes"] for i in tuft_meshes)


def test_warm_build_hits_the_cache_and_is_byte_identical(first_build: dict, models: list[str]) -> None:
    root = first_build["root"]
    code, out, err = cli("build", str(first_build["scene"]), "--out", str(root / "out2"), "--cache",
                         str(first_build["cache"]), *models)
    assert code == 0, err
    assert "cache      3 hits, 0 generated" in out
    for name in ("render.png", "scene.glb", "build.json", "depth.png"):
        assert (root / "out1" / name).read_bytes() == (root / "out2" / name).read_bytes(), name


def test_gpu_instancing_and_preview(first_build: dict, models: list[str]) -> None:
    root = first_build["root"]
    code, _, err = cli("build", str(first_build["scene"]), "--out", str(root / "inst"), "--cache",
                       str(first_build["cache"]), "--gpu-instancing", *models)
    assert code == 0, err
    gltf = read_glb_json((root / "inst" / "scene.glb").read_bytes())
    assert "EXT_mesh_gpu_instancing" in gltf["extensionsRequired"]
    if validator_available() is None:
        assert validate_gltf(root / "inst" / "scene.glb")["numErrors"] == 0
    code, _, err = cli("build", str(first_build["scene"]), "--out", str(root / "preview"), "--cache",
                       str(first_build["cache"]), "--preview", "--width", "120", *models)
    assert code == 0, err
    assert load_image(root / "preview" / "render.png").shape == (72, 120, 3)
    assert not (root / "preview" / "scene.glb").exists()


def test_failures_write_nothing(first_build: dict, models: list[str], tmp_path: Path) -> None:
    broken_mesh = tmp_path / "scene" / "hut.obj"
    broken_mesh.parent.mkdir()
    broken_mesh.write_text("this is not an OBJ file\n")
    scene = small_scene()
    scene["objects"][1] = {"type": "mesh", "name": "hut", "file": "hut.obj", "material": "wall"}
    path = write_scene(tmp_path / "scene", scene)
    out = tmp_path / "out"
    code, _, err = cli("build", str(path), "--out", str(out), "--cache", str(first_build["cache"]), *models)
    assert code == 2 and "Traceback" not in err
    assert re.search(r"scene\.json:\d+:\d+: objects\[1\]\.file: .*hut\.obj", err), err
    assert not out.exists(), "nothing half-written"
    outside = tmp_path / "rock.obj"
    outside.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    scene["objects"][1]["file"] = "../rock.obj"
    path = write_scene(tmp_path / "scene", scene)
    code, _, err = cli("build", str(path), "--out", str(out), "--cache", str(first_build["cache"]), *models)
    assert code == 2 and "outside the scene's folder" in err and not out.exists()
    code, _, err = cli("build", str(path), "--out", str(out), "--cache", str(first_build["cache"]), "--allow-outside",
                       "--preview", *models)
    assert code == 0, err
    assert (out / "render.png").exists()


def test_material_sets_are_shared_with_the_material_command(models: list[str], tiny_model: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A scene's class or photo material is the request `scenegen material` makes for that class or photo, seed, size
    and map options: served from the entry whichever of the two made it (with or without the command's preview)."""
    from scenegen.imaging import save_png

    cache, sets = tmp_path / "cache", tmp_path / "sets"
    monkeypatch.setenv("SCENEGEN_CACHE", str(cache))  # the material command's cache; the build's is --cache
    rng = np.random.default_rng(0)
    save_png(tmp_path / "scene" / "wall.png", rng.random((96, 80, 3), dtype=np.float32))
    model = ["--model", str(tiny_model), "--out", str(sets), "--size", "64", "--quiet"]
    assert cli("material", "brick", "--seed", "2", *model)[0] == 0  # with its preview, the command's default
    assert cli("material", "--from-image", str(tmp_path / "scene" / "wall.png"), "--seed", "5", "--no-preview",
               *model)[0] == 0
    objects = [{"type": "box", "name": name, "material": name, "size_m": [1, 1, 1], "position": [2.0 * i - 3, 0, 0]}
               for i, name in enumerate(("wall", "photo", "rough", "gravel"))]
    scene = write_scene(tmp_path / "scene", {
        "name": "shared", "objects": objects, "camera": {"position": [0, 2, 8], "target": [0, 0, 0]},
        "render": {"width": 64, "height": 32, "antialias": 1},
        "materials": {"wall": {"class": "brick", "seed": 2, "size": 64, "tile_size_m": 3.0},
                      "photo": {"image": "wall.png", "seed": 5, "size": 64},
                      "rough": {"class": "brick", "seed": 2, "size": 64, "roughness": [0.2, 0.6]},
                      "gravel": {"class": "gravel", "seed": 0, "size": 64, "normal_strength": 1.0}}})
    code, out, err = cli("build", str(scene), "--out", str(tmp_path / "out"), "--cache", str(cache), *models)
    assert code == 0, err
    assert "cache      2 hits, 2 generated" in out, out  # rough: other map options, another key
    glb = (tmp_path / "out" / "scene.glb").read_bytes()
    for stem in ("brick_2", "wall_5"):
        for key in ("basecolor", "normal", "orm"):
            assert (sets / f"{stem}_{key}.png").read_bytes() in glb, (stem, key)
    code, out, err = cli("material", "gravel", "--seed", "0", "--no-preview", "--json", *model)
    assert code == 0, err
    made = json.loads(out)["materials"][0]
    assert made["cached"], "the build's set serves the command"
    assert Path(made["files"]["basecolor"]).read_bytes() in glb
