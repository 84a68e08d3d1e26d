"""``scenegen export``: library spec, layout per target, manifest, verify, resume after kill -9, 1 vs 2 workers vs Ray.

Real parts throughout: the tiny trained model, real files, real worker processes, a real local Ray cluster and
the Khronos glTF-Validator (Node) on every exported ``.glb``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, model_inside, run_cli
from scenegen.errors import ScenegenError
from scenegen.export import library as L
from scenegen.export import manifest as M
from scenegen.export.run import export_library
from scenegen.fsutil import sha256_file
from scenegen.glb import read_glb_json

ITEMS = 8  # the module library: 7 materials and 1 sprite set
MATERIAL_NAMES = {"brick_0_64", "brick_1_64", "grass_0_64", "grass_1_64", "gravel_2_64", "gravel_2_128", "wall_0"}
FILES = 7 * 7 + 12 + 1  # 7 per material (gltf), 3 sprites × (png, normal png, glb) + atlas png/normal/json, sheet

VALIDATE_MANY_JS = (
    "const fs=require('fs');const v=require('gltf-validator');"
    "(async()=>{const out={};for(const p of process.argv.slice(1)){"
    "const r=await v.validateBytes(new Uint8Array(fs.readFileSync(p)));out[p]=r.issues;}"
    "console.log(JSON.stringify(out));})().catch(e=>{console.error(String(e));process.exit(1);});"
)


def validate_glbs(paths: list[Path]) -> dict[str, dict]:
    """Khronos glTF-Validator issues for each file (one Node process for all of them)."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("node or node_modules/gltf-validator missing: run `npm ci` in the repository root")
    env = dict(os.environ, NODE_PATH=str(REPO / "node_modules"))
    result = subprocess.run([node, "-e", VALIDATE_MANY_JS, *map(str, paths)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_library(folder: Path, model: Path, materials: list[dict], sprites: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "library.json"
    path.write_text(json.dumps({"name": "test", "model": model_inside(model, folder), "materials": materials,
                                "sprites": sprites or []}, indent=1))
    return path


def tree_files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) with its SHA-256."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory):
    """This module's exports (and the CLI runs it starts) reuse a cache of their own, not ./.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCENEGEN_CACHE", str(tmp_path_factory.mktemp("export-cache")))
        yield


@pytest.fixture(scope="module")
def sprite_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sprite model trained for a few steps on a small procedural sprite corpus."""
    from scenegen.data.sprites_procedural import build_sprite_corpus

    root = tmp_path_factory.mktemp("sprite-model")
    build_sprite_corpus(root / "corpus", per_class=6, size=64)
    result = run_cli("train", "--mode", "sprite", "--data", str(root / "corpus"), "--out", str(root / "model"),
                     "--steps", "4", "--batch", "4", "--crop", "64", "--checkpoint-every", "2", "--sample-every", "2",
                     "--quiet")
    assert result.returncode == 0, result.stderr
    return root / "model"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, sprite_model: Path,
            photo_folder: Path) -> Path:
    folder = tmp_path_factory.mktemp("lib")
    photo = next(p for p in sorted((photo_folder / "brick").glob("*.png")) if p.name != "broken.png")
    Image.open(photo).verify()
    shutil.copy(photo, folder / "wall.png")
    path = write_library(folder, tiny_model, [
        {"class": ["brick", "grass"], "seeds": [0, 1], "sizes": [64], "tile_size_m": 2.0},
        {"class": "gravel", "seeds": {"start": 2, "count": 1}, "sizes": [64, 128], "metallic": 0.25,
         "roughness_range": [0.2, 0.6]},
        {"photo": "wall.png", "seeds": [0], "sizes": [64], "tile_size_m": 3.0, "name": "wall_{seed}"},
    ], [{"name": "pines", "class": "conifer", "seed": 3, "count": 3, "size": 64, "height_m": 8.0,
         "billboard": "cross", "alpha_cutoff": 0.4}])
    data = json.loads(path.read_text())
    data["sprite_model"] = model_inside(sprite_model, folder, "sprite_model")
    path.write_text(json.dumps(data, indent=1))
    return path


@pytest.fixture(scope="module")
def reference(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted in-process export (1 worker) of ``library``."""
    out = tmp_path_factory.mktemp("ref") / "out"
    summary = export_library(library, out, workers=1, progress=False)
    assert summary.built == ITEMS and not summary.failed, summary.text()
    return out


# --------------------------------------------------------------------------------------------------- library spec
def test_expand_names_params_and_photo(library: Path) -> None:
    items = L.expand_library(L.load_library(library), library.parent, str(library))
    assert [i.name for i in items] == ["brick_0_64", "brick_1_64", "grass_0_64", "grass_1_64", "gravel_2_64",
                                       "gravel_2_128", "wall_0", "pines"]
    assert items[7].kind == "sprites" and items[7].params == {"class": "conifer", "seed": 3, "count": 3, "size": 64,
                                                              "height_m": 8.0, "billboard": "cross",
                                                              "alpha_cutoff": 0.4}
    gravel = items[5].params
    assert gravel == {"seed": 2, "size": 128, "tile_size_m": 2.0, "normal_strength": 1.0,
                      "roughness_range": [0.2, 0.6], "ao_strength": 1.0, "metallic": 0.25, "class": "gravel"}
    wall = items[6]
    assert wall.params["photo"] == "wall.png" and wall.photo == (library.parent / "wall.png").read_bytes()
    assert wall.params["photo_sha256"] == sha256_file(library.parent / "wall.png")


@pytest.mark.parametrize("data,where", [
    ({"materials": [{"class": "brick", "sizes": [100]}]}, "materials[0].sizes"),
    ({"materials": [{"class": "brick", "photo": "a.png"}]}, "materials[0]"),
    ({"materials": [{}]}, "materials[0]"),
    ({"materials": [{"class": "brick", "seeds": [1, 1]}]}, "materials[0].seeds"),
    ({"materials": [{"class": "brick", "seeds": {"start": 0}}]}, "materials[0].seeds.count"),
    ({"materials": [{"class": "brick", "colour": "red"}]}, "materials[0].colour"),
    ({"materials": [{"class": "brick", "roughness_range": [0.9, 0.1]}]}, "materials[0].roughness_range"),
    ({"sprites": [{"name": "a/b", "class": "rock"}]}, "sprites[0].name"),
    ({"sprites": [{"name": "oaks", "class": "rock", "billboard": "sphere"}]}, "sprites[0].billboard"),
    ({"sprites": [{"name": "oaks", "class": "rock", "size": 32}]}, "sprites[0].size"),
    ({"version": 2}, "version"),
])
def test_invalid_library_names_json_path(data: dict, where: str) -> None:
    with pytest.raises(ScenegenError) as info:
        L.parse_library(data, "lib.json")
    message = str(info.value)
    assert message.startswith(f"lib.json: {where}: ") and "\n" not in message


def test_expansion_errors(tmp_path: Path) -> None:
    dup = L.parse_library({"materials": [{"class": "brick", "seeds": [0], "name": "wall"},
                                         {"class": "grass", "seeds": [0], "name": "wall"}]})
    with pytest.raises(ScenegenError, match=r"materials\[1\]: name 'wall' is already produced by materials\[0\]"):
        L.expand_library(dup, tmp_path)
    with pytest.raises(ScenegenError, match=r"materials\[0\]\.name: unknown placeholder \{colour\}"):
        L.expand_library(L.parse_library({"materials": [{"class": "brick", "name": "{colour}"}]}), tmp_path)
    with pytest.raises(ScenegenError, match=r"materials\[0\]\.photo: .*missing\.jpg"):
        L.expand_library(L.parse_library({"materials": [{"photo": "missing.jpg"}]}), tmp_path)


def test_cli_errors_are_one_line(tmp_path: Path, tiny_model: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"materials": [\n  {"class": "brick",}\n]}')
    unknown = write_library(tmp_path / "u", tiny_model, [{"class": "basalt"}])
    for args, expected in [
        (["export", str(broken), "--out", str(tmp_path / "o")], "broken.json:2:"),
        (["export", str(unknown), "--out", str(tmp_path / "o")], "materials[0].class: unknown class 'basalt'"),
        (["export", str(unknown)], "usage: scenegen export"),
        (["export", "--verify", str(tmp_path)], "no export manifest here"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and expected in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_model_problems_are_caught_before_any_work(tmp_path: Path, tiny_model: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_model, tampered)
    blob = bytearray((tampered / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (tampered / "model.safetensors").write_bytes(bytes(blob))
    lib = write_library(tmp_path / "lib", tampered, [{"class": "brick"}])
    with pytest.raises(ScenegenError, match="model.safetensors: SHA-256 mismatch"):
        export_library(lib, tmp_path / "out", workers=1, progress=False)
    sprites_from_texture_model = write_library(tmp_path / "lib2", tiny_model, [],
                                               [{"name": "oaks", "class": "brick"}])
    with pytest.raises(ScenegenError, match="is a texture model, but a sprite model is needed"):
        export_library(sprites_from_texture_model, tmp_path / "out", workers=1, progress=False,
                       sprite_model=str(tiny_model))
    assert not (tmp_path / "out" / "materials").exists()


def test_schema_and_example_library() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = L.library_json_schema()
    assert {"materials", "sprites", "model"} <= set(schema["properties"])
    example = REPO / "examples" / "library" / "library.json"
    jsonschema.validate(json.loads(example.read_text()), schema)
    items = L.expand_library(L.load_library(example), example.parent, str(example))
    kinds = {i.kind for i in items}
    assert kinds == {"material", "sprites"} and any("photo" in i.params for i in items)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"materials": [{"class": "brick", "seeds": "all"}]}, schema)
    from scenegen import api, sprite_gen
    assert (L.MIN_SIZE, L.MAX_SIZE) == (api.MIN_SIZE, api.MAX_SIZE)
    assert (L.MIN_SPRITE_SIZE, L.MAX_SPRITE_SIZE) == (sprite_gen.MIN_SPRITE_SIZE, sprite_gen.MAX_SPRITE_SIZE)


# -------------------------------------------------------------------------------------------------------- layout
def test_layout_manifest_and_contact_sheet(reference: Path, library: Path) -> None:
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["target"] == "gltf" and manifest["normal_convention"] == "opengl"
    assert set(manifest["materials"]) == MATERIAL_NAMES and set(manifest["sprites"]) == {"pines"}
    listed = M.manifest_files(manifest)
    on_disk = {k: v for k, v in tree_files(reference).items() if k != "manifest.json"}
    assert listed == on_disk, "the manifest lists exactly the files on disk, with their hashes"
    record = manifest["materials"]["gravel_2_128"]
    assert record["seed"] == 2 and record["tile_size_m"] == 2.0 and record["normal_convention"] == "opengl"
    assert record["model_hash"] == manifest["models"]["texture"] and len(record["model_hash"]) == 64
    assert record["params"]["metallic"] == 0.25 and record["params"]["class"] == "gravel"
    folder = "materials/gravel_2_128/gravel_2_128"
    assert set(record["files"]) == {f"{folder}{s}" for s in ("_basecolor.png", "_normal.png", "_roughness.png",
                                                             "_height.png", "_ao.png", "_orm.png", ".glb")}
    height = Image.open(reference / f"{folder}_height.png")
    assert height.size == (128, 128) and height.mode.startswith("I;16")
    orm = np.asarray(Image.open(reference / f"{folder}_orm.png"))
    assert np.all(orm[..., 2] == 64) and orm[..., 1].min() >= 50 and orm[..., 1].max() <= 154  # metallic, roughness
    wall = manifest["materials"]["wall_0"]
    assert wall["params"]["photo_sha256"] == sha256_file(library.parent / "wall.png")
    pines = manifest["sprites"]["pines"]
    assert pines["seed"] == 3 and pines["model_hash"] == manifest["models"]["sprites"] != manifest["models"]["texture"]
    assert sorted(pines["files"]) == [f"sprites/pines/pines_{s}" for s in (
        "000.glb", "000.png", "000_normal.png", "001.glb", "001.png", "001_normal.png", "002.glb", "002.png",
        "002_normal.png", "atlas.json", "atlas.png", "atlas_normal.png")]
    assert pines["normal_convention"] == "opengl"
    sprite = np.asarray(Image.open(reference / "sprites/pines/pines_001.png"))
    assert sprite.shape == (64, 64, 4) and sprite[..., 3].max() == 255 and sprite[:2, :, 3].max() == 0
    sheet = np.asarray(Image.open(reference / "contact_sheet.png"))
    assert sheet.ndim == 3 and sheet.shape[1] >= 10 * 128, "7 materials and 3 sprites in one row"
    assert (reference / "manifest.json").stat().st_mode & 0o044, "outputs are readable like any user file"
    assert not (reference / M.STATE_DIR).exists()


def test_target_specific_files(tmp_path: Path, tiny_model: Path, sprite_model: Path) -> None:
    lib = write_library(tmp_path / "lib", tiny_model, [{"class": "brick", "seeds": [4], "sizes": [64],
                                                        "metallic": 0.5, "tile_size_m": 3.0}],
                        [{"name": "bushes", "class": "bush", "seed": 1, "count": 2, "size": 64}])
    data = json.loads(lib.read_text())
    lib.write_text(json.dumps({**data, "sprite_model": model_inside(sprite_model, lib.parent, "sprite_model")}))
    outs = {}
    for target in ("gltf", "godot", "unity", "unreal", "blender"):
        outs[target] = tmp_path / target
        summary = export_library(lib, outs[target], target=target, workers=1, progress=False)
        assert summary.built == 2 and not summary.failed
    d = "materials/brick_4_64/brick_4_64"
    png = lambda target, suffix: np.asarray(Image.open(outs[target] / f"{d}{suffix}")).astype(int)  # noqa: E731
    gl, dx = png("gltf", "_normal.png"), png("unreal", "_normal_dx.png")
    assert np.array_equal(dx[..., [0, 2]], gl[..., [0, 2]])
    assert np.abs(dx[..., 1] - (255 - gl[..., 1])).max() <= 1  # green flipped (±1: rounding of 1 - g)
    assert np.corrcoef(dx[..., 1].ravel(), gl[..., 1].ravel())[0, 1] < -0.99
    assert json.loads((outs["unreal"] / "manifest.json").read_text())["materials"]["brick_4_64"][
        "normal_convention"] == "directx"
    for target in ("godot", "unity", "blender"):
        assert np.array_equal(png(target, "_normal.png"), gl)
    # Unity HDRP mask map: R metallic, G AO, B detail (0), A smoothness = 1 - roughness.
    mask = png("unity", "_mask.png")
    assert mask.shape[2] == 4 and np.all(mask[..., 0] == 128) and np.all(mask[..., 2] == 0)
    assert np.abs(mask[..., 1] - png("unity", "_ao.png")).max() <= 1
    assert np.abs(mask[..., 3] - (255 - png("unity", "_roughness.png"))).max() <= 1
    # Godot 4 ORMMaterial3D: every referenced texture exists beside the .tres.
    tres = (outs["godot"] / f"{d}.tres").read_text()
    assert tres.startswith('[gd_resource type="ORMMaterial3D"') and "ao_enabled = true" in tres
    paths = [line.split('path="')[1].split('"')[0] for line in tres.splitlines() if line.startswith("[ext_resource")]
    assert len(paths) == 4 and all((outs["godot"] / "materials/brick_4_64" / p).is_file() for p in paths)
    assert "metadata/tile_size_m = 3.0" in tres
    assert not (outs["gltf"] / f"{d}.tres").exists() and not (outs["gltf"] / f"{d}_mask.png").exists()
    # The preview .glb is glTF whatever the target: same bytes (OpenGL normals) for unreal and gltf.
    assert sha256_file(outs["unreal"] / f"{d}.glb") == sha256_file(outs["gltf"] / f"{d}.glb")
    # Every target writes each sprite's normal map beside its colour PNG, in the target's convention.
    s = "sprites/bushes/bushes_001"
    for target in outs:
        suffix = "_normal_dx.png" if target == "unreal" else "_normal.png"  # the convention in the file name
        assert (outs[target] / f"{s}.png").is_file() and (outs[target] / f"{s}{suffix}").is_file(), target
        assert json.loads((outs[target] / "manifest.json").read_text())["sprites"]["bushes"]["normal_convention"] == \
            ("directx" if target == "unreal" else "opengl")
    sprite_normal = {t: np.asarray(Image.open(outs[t] / f"{s}{'_normal_dx' if t == 'unreal' else '_normal'}.png"))
                     .astype(int) for t in outs}
    assert sprite_normal["gltf"].shape == (64, 64, 3) and sprite_normal["gltf"].std() > 5, "not a flat map"
    for target in ("godot", "unity", "blender"):
        assert np.array_equal(sprite_normal[target], sprite_normal["gltf"])
    assert np.array_equal(sprite_normal["unreal"][..., [0, 2]], sprite_normal["gltf"][..., [0, 2]])
    assert np.abs(sprite_normal["unreal"][..., 1] - (255 - sprite_normal["gltf"][..., 1])).max() <= 1
    assert sha256_file(outs["unreal"] / f"{s}.glb") == sha256_file(outs["gltf"] / f"{s}.glb"), "GLB: OpenGL"
    # Godot: a StandardMaterial3D per sprite referencing the colour and normal PNGs beside it.
    sprite_tres = (outs["godot"] / f"{s}.tres").read_text()
    assert sprite_tres.startswith('[gd_resource type="StandardMaterial3D"') and "normal_enabled = true" in sprite_tres
    refs = [line.split('path="')[1].split('"')[0] for line in sprite_tres.splitlines()
            if line.startswith("[ext_resource")]
    assert refs == ["bushes_001.png", "bushes_001_normal.png"]
    assert all((outs["godot"] / "sprites/bushes" / r).is_file() for r in refs)
    assert not (outs["gltf"] / f"{s}.tres").exists()


def test_preview_glb_content_and_validator(reference: Path) -> None:
    glbs = sorted(reference.rglob("*.glb"))
    assert len(glbs) == 7 + 3
    issues = validate_glbs(glbs)
    for path, report in issues.items():
        assert report["numErrors"] == 0 and report["numWarnings"] == 0, (path, report["messages"])
    data = (reference / "materials/grass_0_64/grass_0_64.glb").read_bytes()
    gltf = read_glb_json(data)
    (material,) = gltf["materials"]
    assert material["normalTexture"] == {"index": 1} and material["occlusionTexture"] == {"index": 2}
    assert material["pbrMetallicRoughness"]["metallicRoughnessTexture"] == {"index": 2}
    assert gltf["samplers"] == [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
    assert set(gltf["meshes"][0]["primitives"][0]["attributes"]) == {"POSITION", "NORMAL", "TANGENT", "TEXCOORD_0"}
    radius = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["max"][1]
    assert radius == pytest.approx(2.0 / np.pi, rel=1e-5), "one tile spans tile_size_m at the equator"
    # The embedded images are the texture set's own PNG bytes.
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    start = 20 + int.from_bytes(data[12:16], "little") + 8 + view["byteOffset"]
    assert data[start:start + view["byteLength"]] == (reference / "materials/grass_0_64/grass_0_64_basecolor.png").read_bytes()


# -------------------------------------------------------------------------------------------- verify and resume
def test_verify_catches_a_flipped_byte_in_any_file(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    files = M.manifest_files(M.read_manifest(out))
    assert M.verify_export(out).ok and len(files) == FILES
    for rel in files:
        path = out / rel
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        report = M.verify_export(out)
        assert len(report.problems) == 1 and report.problems[0].startswith(f"{rel}: SHA-256 mismatch"), rel
        path.write_bytes(original)
    (out / "materials/wall_0/wall_0_ao.png").unlink()
    result = run_cli("export", "--verify", str(out))
    assert result.returncode == 1 and "materials/wall_0/wall_0_ao.png: missing" in result.stdout


def test_rerun_skips_verified_and_redoes_broken(reference: Path, library: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    before = tree_files(out)
    (out / "materials/brick_1_64/brick_1_64_normal.png").write_bytes(b"broken")
    (out / "materials/wall_0/wall_0.glb").unlink()
    (out / "materials/grass_0_64/.grass_0_64_ao.abcd1234.tmp.png").write_bytes(b"half-written")  # a crash leftover
    (out / "sprites/pines/pines_atlas.json").unlink()
    summary = export_library(library, out, workers=1, progress=False)
    assert (summary.built, summary.skipped) == (3, ITEMS - 3)
    assert tree_files(out) == before
    again = export_library(library, out, workers=1, progress=False)
    assert (again.built, again.skipped) == (0, ITEMS) and tree_files(out) == before


def test_changed_params_or_target_rebuild(tmp_path: Path, tiny_model: Path) -> None:
    lib = write_library(tmp_path / "lib", tiny_model, [{"class": "grass", "seeds": [0, 1], "sizes": [64]}])
    out = tmp_path / "out"
    export_library(lib, out, target="godot", workers=1, progress=False)
    assert (out / "materials/grass_0_64/grass_0_64.tres").exists()
    summary = export_library(lib, out, target="unity", workers=1, progress=False)
    assert summary.built == 2
    assert not (out / "materials/grass_0_64/grass_0_64.tres").exists(), "the other target's files are removed"
    assert (out / "materials/grass_0_64/grass_0_64_mask.png").exists() and M.verify_export(out).ok
    write_library(tmp_path / "lib", tiny_model, [{"class": "grass", "seeds": [0], "sizes": [64],
                                                  "normal_strength": 2.0}])
    summary = export_library(lib, out, target="unity", workers=1, progress=False)
    assert summary.built == 1 and summary.stale == ["materials/grass_1_64"] and "grass_1_64" in summary.text()
    assert set(M.read_manifest(out)["materials"]) == {"grass_0_64"} and M.verify_export(out).ok
    assert "materials/grass_1_64/grass_1_64_mask.png" in M.verify_export(out).untracked


def test_kill_9_midway_then_rerun_is_byte_identical(tmp_path: Path, tiny_model: Path) -> None:
    lib = write_library(tmp_path / "lib", tiny_model, [{"class": ["brick", "grass", "gravel"],
                                                        "seeds": {"start": 0, "count": 4}, "sizes": [128]}])
    reference = tmp_path / "reference"
    export_library(lib, reference, workers=1, progress=False)
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "scenegen", "export", str(lib), "--out", str(out),
                                "--workers", "1", "--quiet", "--no-cache"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fragments = out / M.STATE_DIR / "items"

    def finished() -> int:  # items recorded (not counting a fragment still being written under a temp name)
        return len([p for p in fragments.glob("*.json") if not p.name.startswith(".")]) if fragments.is_dir() else 0

    deadline = time.monotonic() + 300
    try:
        while not finished():
            assert process.poll() is None, "the export ended before it could be killed"
            assert time.monotonic() < deadline, "no item finished in time"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = finished()
    assert 1 <= done < 12 and not (out / "manifest.json").exists(), "killed mid-way"
    result = run_cli("export", str(lib), "--out", str(out), "--workers", "1", "--no-cache")  # built, not served
    assert result.returncode == 0, result.stderr
    assert f"{12 - done} built, {done} already up to date" in result.stdout
    assert tree_files(out) == tree_files(reference)


# ----------------------------------------------------------------------------------------- workers and Ray
def test_two_workers_and_ray_give_the_same_bytes(reference: Path, library: Path, tmp_path: Path) -> None:
    pool = export_library(library, tmp_path / "pool", workers=2, progress=False)
    assert pool.built == ITEMS and not pool.failed and pool.executor == "2 local worker processes"
    assert tree_files(tmp_path / "pool") == tree_files(reference)
    pytest.importorskip("ray")
    started = time.perf_counter()
    ray_run = export_library(library, tmp_path / "ray", workers=2, ray="local", progress=False)
    assert ray_run.built == ITEMS and not ray_run.failed and ray_run.executor == "Ray, 2 actors"
    assert (tmp_path / "ray" / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()
    assert tree_files(tmp_path / "ray") == tree_files(reference)
    assert time.perf_counter() - started < 120
    import ray

    assert not ray.is_initialized(), "the private Ray instance is shut down"


def test_cli_progress_and_summary(library: Path, tmp_path: Path) -> None:
    result = run_cli("export", str(library), "--out", str(tmp_path / "out"), "--workers", "1", "--target", "godot")
    assert result.returncode == 0, result.stderr
    assert "[8/8] 100%" in result.stderr and "items/min" in result.stderr
    assert "exported 8/8 items" in result.stdout and "8 built, 0 already up to date, 0 failed" in result.stdout
    verify = run_cli("export", "--verify", str(tmp_path / "out"))
    assert verify.returncode == 0 and f"ok: all {FILES + 13} files" in verify.stdout  # + 7 + 3 + 3 Godot .tres


# ------------------------------------------------------------------------------------------------------- sprites
def test_sprite_set_files_atlas_and_billboards(tmp_path: Path) -> None:
    """The file layer of a sprite set, on procedural sprites (real RGBA art, real GLBs, the validator)."""
    from scenegen.data.sprites_procedural import generate_sprite
    from scenegen.export.sprite_files import sprite_set_files

    sprites = [generate_sprite("conifer", seed, 64) for seed in range(3)]
    files = sprite_set_files(sprites, "pines", height_m=8.0, kind="cross", alpha_cutoff=0.4)
    assert sorted(files) == sorted([f"pines_{i:03d}{s}" for i in range(3) for s in (".glb", ".png", "_normal.png")]
                                   + ["pines_atlas.json", "pines_atlas.png", "pines_atlas_normal.png"])
    assert files == sprite_set_files(sprites, "pines", height_m=8.0, kind="cross", alpha_cutoff=0.4), "deterministic"
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    png = np.asarray(Image.open(tmp_path / "pines_001.png"))
    assert png.shape == (64, 64, 4) and np.abs(png[..., 3] / 255.0 - sprites[1][..., 3]).max() <= 0.5 / 255 + 1e-6
    atlas = json.loads(files["pines_atlas.json"])
    assert atlas["meta"]["image"] == "pines_atlas.png" and sorted(atlas["frames"]) == ["pines_000", "pines_001",
                                                                                       "pines_002"]
    sheet = np.asarray(Image.open(tmp_path / "pines_atlas.png"))
    frame = atlas["frames"]["pines_002"]["frame"]
    assert np.array_equal(sheet[frame["y"]:frame["y"] + 64, frame["x"]:frame["x"] + 64],
                          np.asarray(Image.open(tmp_path / "pines_002.png")))
    gltf = read_glb_json(files["pines_000.glb"])
    (material,) = gltf["materials"]
    assert material["alphaMode"] == "MASK" and material["alphaCutoff"] == 0.4 and material["doubleSided"] is True
    normal_texture = gltf["textures"][material["normalTexture"]["index"]]
    assert gltf["samplers"][normal_texture["sampler"]]["wrapS"] == 33071, "sprites are clamped (CLAMP_TO_EDGE)"
    assert "TANGENT" in gltf["meshes"][0]["primitives"][0]["attributes"] and "cameras" not in gltf
    view = gltf["bufferViews"][gltf["images"][normal_texture["source"]]["bufferView"]]
    blob = files["pines_000.glb"]
    start = 20 + int.from_bytes(blob[12:16], "little") + 8 + view["byteOffset"]
    assert blob[start:start + view["byteLength"]] == files["pines_000_normal.png"], "the GLB embeds the normal PNG"
    normal = np.asarray(Image.open(tmp_path / "pines_001_normal.png")).astype(np.float32) / 255.0
    assert normal.shape == (64, 64, 3)
    inside = sprites[1][..., 3] >= 0.4
    rows = np.nonzero(inside.any(axis=1))[0]
    left = [normal[r, np.nonzero(inside[r])[0][0], 0] for r in rows]
    right = [normal[r, np.nonzero(inside[r])[0][-1], 0] for r in rows]
    assert np.median(left) < 0.3 and np.median(right) > 0.7, "outline faces outwards (red < 0.5 on the left)"
    atlas_normal = np.asarray(Image.open(tmp_path / "pines_atlas_normal.png"))
    assert np.array_equal(atlas_normal[frame["y"]:frame["y"] + 64, frame["x"]:frame["x"] + 64],
                          np.asarray(Image.open(tmp_path / "pines_002_normal.png")))
    for path, report in validate_glbs(sorted(tmp_path.glob("*.glb"))).items():
        assert report["numErrors"] == 0 and report["numWarnings"] == 0, (path, report["messages"])


def test_ray_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    from scenegen.export.executors import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when the extra is not installed
    with pytest.raises(ScenegenError, match=r"pip install 'scenegen\[ray\]'"):
        make_executor(workers=2, ray="auto", target="gltf", texture_model=str(tiny_model))
    with pytest.raises(ScenegenError, match="at least 1"):
        make_executor(workers=0, ray=None, target="gltf", texture_model=str(tiny_model))


def test_progress_lines() -> None:
    import io

    from scenegen.export.progress import Progress, format_duration

    stream = io.StringIO()
    progress = Progress(3, stream=stream, interval=0.0)
    progress.update("a")
    progress.update("b", ok=False)
    progress.update("c")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3]  33%") and "items/min" in lines[0] and "left" in lines[0]
    assert lines[-1].startswith("[3/3] 100%") and lines[-1].endswith("done  1 failed")
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]
    quiet = io.StringIO()
    Progress(2, stream=quiet, enabled=False).update("a")
    assert quiet.getvalue() == ""
