"""Exported files in the engines that run headless here: Godot 3 (Debian's ``godot3`` under ``xvfb-run``) and
Blender (``bpy`` in ``.venv-blender``) import them, and we read back instance counts, texture bindings, colour
spaces, alpha modes and light intensities; plus the per-target conventions that no engine here can load (Godot 4
``.tres``, Unity ``.meta``, Unreal names) and ``--compress`` (WebP: 0 errors, 0 warnings, loaded in Blender;
KTX2 + meshopt: decoded and inspected) checked with the Khronos validator. Conventions and their sources:
docs/ENGINES.md.

An engine that is not installed skips its test with the reason (``make setup-test`` installs bpy; Godot 3 is
``apt-get install godot3 xvfb``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, model_inside
from gltf_validation import describe, validate_gltf, validator_available
from scenegen.export.run import export_library
from scenegen.scene.gltf import LUMENS_PER_WATT, scene_to_glb
from scenegen.glb import read_glb_binary, read_glb_json
from test_scene_support import composed, tiny_sprite_model_dir

BLENDER_PYTHON = REPO / ".venv-blender" / "bin" / "python"
TARGETS = ("godot", "unity", "unreal", "blender", "gltf")
MATERIAL, SPRITES = "materials/brick_4_64/brick_4_64", "sprites/shrubs/shrubs"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> dict[str, Path]:
    """One material (tile 2 m) and a quad sprite set of two, exported for every target."""
    root = tmp_path_factory.mktemp("engines")
    library = root / "library.json"
    library.write_text(json.dumps({
        "model": model_inside(tiny_model, root),
        "sprite_model": model_inside(tiny_sprite_model_dir(tmp_path_factory), root, "sprite_model"),
        "materials": [{"class": "brick", "seeds": [4], "sizes": [64], "tile_size_m": 2.0}],
        "sprites": [{"name": "shrubs", "class": "bush", "seed": 1, "count": 2, "size": 64, "billboard": "quad",
                     "alpha_cutoff": 0.5}]}))
    outs = {}
    for target in TARGETS:
        outs[target] = root / target
        summary = export_library(library, outs[target], target=target, workers=1, progress=False)
        assert summary.built == 2 and not summary.failed, summary.text()
    return outs


@pytest.fixture(scope="module")
def scene_glbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A composed scene (a box, 12 cut-out cards, a sun of 3.0 and a spot of 20.0) as real nodes and instanced."""
    root = tmp_path_factory.mktemp("scene-glbs")
    paths = {"nodes": root / "nodes.glb", "instanced": root / "instanced.glb"}
    paths["nodes"].write_bytes(scene_to_glb(composed(12)))
    paths["instanced"].write_bytes(scene_to_glb(composed(12), gpu_instancing=True))
    return paths


# ------------------------------------------------------------------------------------- conventions in the files
def test_godot_files(exports: dict[str, Path]) -> None:
    out = exports["godot"]
    tres = (out / f"{MATERIAL}.tres").read_text()
    assert "uv1_scale = Vector3(0.5, 0.5, 0.5)" in tres, "one repeat per tile_size_m = 2 m"
    assert "uv1_triplanar = true" in tres and "uv1_world_triplanar = true" in tres
    assert Image.open(out / f"{MATERIAL}_height.png").mode == "L", "8-bit: Godot would reduce 16-bit anyway"
    assert Image.open(exports["gltf"] / f"{MATERIAL}_height.png").mode.startswith("I;16"), "other targets: 16-bit"
    sprite = (out / f"{SPRITES}_001.tres").read_text()
    assert "billboard_mode = 2" in sprite and "transparency = 2" in sprite and "alpha_scissor_threshold = 0.5" in sprite
    frames = json.loads((out / f"{SPRITES}_atlas.json").read_text())["frames"]
    region = (out / f"{SPRITES}_001_region.tres").read_text()
    f = frames["shrubs_001"]["frame"]
    assert f'region = Rect2({f["x"]}, {f["y"]}, {f["w"]}, {f["h"]})' in region
    assert 'path="shrubs_atlas.png"' in region and (out / "sprites/shrubs/shrubs_atlas.png").is_file()


def _meta(path: Path) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in path.read_text().splitlines()) if v}


def test_unity_meta_files(exports: dict[str, Path], tmp_path: Path) -> None:
    out = exports["unity"]
    pngs = sorted(p for p in out.rglob("*.png") if p.name != "contact_sheet.png")
    assert len(pngs) == 7 + 2 * 2 + 2 and all(p.with_name(p.name + ".meta").is_file() for p in pngs)
    metas = {p.name: _meta(p.with_name(p.name + ".meta")) for p in pngs}
    assert len({m["guid"] for m in metas.values()}) == len(pngs) and all(len(m["guid"]) == 32 for m in metas.values())
    srgb = sorted(name for name, m in metas.items() if m["sRGBTexture"] == "1")
    assert srgb == ["brick_4_64_basecolor.png", "shrubs_000.png", "shrubs_001.png", "shrubs_atlas.png"]
    normals = sorted(name for name, m in metas.items() if m["textureType"] == "1")
    assert normals == ["brick_4_64_normal.png", "shrubs_000_normal.png", "shrubs_001_normal.png",
                       "shrubs_atlas_normal.png"]
    assert all(m["wrapU"] == "0" for n, m in metas.items() if n.startswith("brick")), "tileable: Repeat"
    assert all(m["wrapU"] == "1" for n, m in metas.items() if n.startswith("shrubs")), "sprites: Clamp"
    assert metas["shrubs_000.png"]["alphaIsTransparency"] == "1" and metas["brick_4_64_mask.png"]["sRGBTexture"] == "0"
    assert metas["brick_4_64_orm.png"]["maxTextureSize"] == "64"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "HDRP" in manifest["conventions"]["unity_pipelines"] and "URP" in manifest["conventions"]["unity_pipelines"]


def test_unreal_names_carry_the_convention(exports: dict[str, Path]) -> None:
    out = exports["unreal"]
    assert (out / f"{MATERIAL}_normal_dx.png").is_file() and not (out / f"{MATERIAL}_normal.png").exists()
    assert (out / f"{SPRITES}_000_normal_dx.png").is_file() and (out / f"{SPRITES}_atlas_normal_dx.png").is_file()
    dx = np.asarray(Image.open(out / f"{MATERIAL}_normal_dx.png")).astype(int)
    gl = np.asarray(Image.open(exports["gltf"] / f"{MATERIAL}_normal.png")).astype(int)
    assert np.abs(dx[..., 1] - (255 - gl[..., 1])).max() <= 1, "green flipped"


def test_glb_lights_in_photometric_units(scene_glbs: dict[str, Path]) -> None:
    gltf = read_glb_json(scene_glbs["nodes"].read_bytes())
    lights = {light["type"]: light for light in gltf["extensions"]["KHR_lights_punctual"]["lights"]}
    assert lights["directional"]["intensity"] == pytest.approx(3.0 * 683) and LUMENS_PER_WATT == 683.0
    assert lights["spot"]["intensity"] == pytest.approx(20.0 * 683)
    assert lights["directional"]["extras"] == {"renderer_intensity": 3.0}
    assert set(gltf["scenes"][0]["extras"]["ambient"]) == {"sky", "ground", "units"}
    assert "extensionsRequired" not in gltf, "real nodes by default: nothing required"
    instanced = read_glb_json(scene_glbs["instanced"].read_bytes())
    assert instanced["extensionsRequired"] == ["EXT_mesh_gpu_instancing"], "only under the explicit opt-in"


# ------------------------------------------------------------------------------------------------------ Godot 3
GODOT_CHECK = r'''
extends SceneTree

func walk(n, acc):
	if n is MeshInstance:
		acc["meshes"] += 1
		var mat = n.get_surface_material(0)
		if mat == null and n.mesh != null:
			mat = n.mesh.surface_get_material(0)
		if mat != null and not acc["materials"].has(mat.resource_name):
			acc["materials"][mat.resource_name] = {"albedo": mat.albedo_texture != null,
				"normal": mat.normal_enabled and mat.normal_texture != null, "ao": mat.ao_enabled,
				"scissor": mat.params_use_alpha_scissor, "threshold": mat.params_alpha_scissor_threshold,
				"cull": mat.params_cull_mode}
	if n is Light:
		acc["lights"][n.name] = n.light_energy
	for c in n.get_children():
		walk(c, acc)

func _init():
	var out = {"glb": {}, "png": {}}
	for f in OS.get_cmdline_args():
		if f.ends_with(".glb"):
			var packed = load("res://" + f)
			if packed == null:
				out["glb"][f] = null
			else:
				var acc = {"meshes": 0, "materials": {}, "lights": {}}
				walk(packed.instance(), acc)
				out["glb"][f] = acc
		elif f.ends_with(".png"):
			var tex = load("res://" + f)
			out["png"][f] = null if tex == null else tex.get_data().get_format()
	print("RESULT " + to_json(out))
	quit()
'''


def godot_import(project: Path, files: list[str]) -> dict:
    """Import ``project``'s files in the Godot 3 editor (headless, under Xvfb), then read them back."""
    godot, xvfb = shutil.which("godot3"), shutil.which("xvfb-run")
    if godot is None or xvfb is None:
        pytest.skip("godot3 or xvfb-run is not installed (Debian: apt-get install godot3 xvfb)")
    (project / "project.godot").write_text('config_version=4\n[application]\nconfig/name="scenegen-test"\n')
    (project / "check.gd").write_text(GODOT_CHECK)
    env = dict(os.environ, HOME=str(project))  # the editor writes its settings under $HOME
    imported = subprocess.run([xvfb, "-a", godot, "--path", str(project), "-e", "--quit"], capture_output=True,
                              text=True, timeout=600, env=env)
    assert (project / ".import").is_dir(), imported.stderr[-2000:]
    done = subprocess.run([xvfb, "-a", godot, "--path", str(project), "-s", "check.gd", *files], capture_output=True,
                          text=True, timeout=300, env=env)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, (done.stdout + done.stderr)[-3000:]
    return json.loads(line[len("RESULT "):])


def test_godot3_imports_scenes_and_exports(tmp_path: Path, scene_glbs: dict[str, Path],
                                           exports: dict[str, Path]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    files = {"nodes.glb": scene_glbs["nodes"], "instanced.glb": scene_glbs["instanced"],
             "material.glb": exports["godot"] / f"{MATERIAL}.glb", "sprite.glb": exports["godot"] / f"{SPRITES}_000.glb",
             "height8.png": exports["godot"] / f"{MATERIAL}_height.png",
             "height16.png": exports["gltf"] / f"{MATERIAL}_height.png"}
    for name, source in files.items():
        shutil.copy(source, project / name)
    result = godot_import(project, list(files))
    glb = result["glb"]
    assert glb["nodes.glb"]["meshes"] == 13, "the box and all 12 cards"
    assert glb["instanced.glb"]["meshes"] == 2, "Godot 3 ignores EXT_mesh_gpu_instancing: one card of 12 is left"
    stone, tufts = glb["nodes.glb"]["materials"]["stone"], glb["nodes.glb"]["materials"]["tufts"]
    assert stone["albedo"] and stone["normal"] and stone["ao"] and not stone["scissor"]
    assert tufts["albedo"] and tufts["scissor"] and tufts["threshold"] == pytest.approx(0.4) and tufts["cull"] == 2
    assert glb["nodes.glb"]["lights"]["sun_0"] == pytest.approx(3.0 * 683 / 100, rel=1e-3), "Godot 3: lux / 100"
    material = next(iter(glb["material.glb"]["materials"].values()))
    assert material["albedo"] and material["normal"] and material["ao"]
    sprite = next(iter(glb["sprite.glb"]["materials"].values()))
    assert sprite["albedo"] and sprite["normal"] and sprite["scissor"] and sprite["threshold"] == pytest.approx(0.5)
    assert sprite["cull"] == 2, "double sided"
    # Image.FORMAT_L8 == 0: Godot 3 keeps 8 bits of a 16-bit PNG (godotengine/godot#40214), hence 8-bit for godot.
    assert result["png"] == {"height8.png": 0, "height16.png": 0}


# ------------------------------------------------------------------------------------------------------ Blender
BLENDER_CHECK = r'''
import json, sys
import bpy
out = {}
for path in sys.argv[sys.argv.index("--") + 1:]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        bpy.ops.import_scene.gltf(filepath=path)
        error = None
    except Exception as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    def clipped(m):
        links = m.node_tree.links if m.node_tree else []
        return any(l.to_socket.name == "Alpha" and l.to_node.bl_idname == "ShaderNodeBsdfPrincipled" for l in links)
    out[path.rsplit("/", 1)[-1]] = {
        "error": error,
        "meshes": len([o for o in bpy.data.objects if o.type == "MESH"]),
        "lights": {o.data.type: o.data.energy for o in bpy.data.objects if o.type == "LIGHT"},
        "images": {i.name: i.colorspace_settings.name for i in bpy.data.images},
        "alpha": {m.name: clipped(m) for m in bpy.data.materials},
        "scene_ambient": "ambient" in bpy.context.scene.keys(),
        "sizes": {i.name: list(i.size) for i in bpy.data.images},
    }
print("RESULT " + json.dumps(out))
'''


def blender_import(paths: list[Path]) -> dict:
    if not BLENDER_PYTHON.exists():
        pytest.skip(".venv-blender is missing (make .venv-blender/.installed)")
    done = subprocess.run([str(BLENDER_PYTHON), "-c", BLENDER_CHECK, "--", *map(str, paths)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):])


def test_blender_imports_scenes_and_exports(tmp_path: Path, scene_glbs: dict[str, Path],
                                            exports: dict[str, Path]) -> None:
    result = blender_import([scene_glbs["nodes"], scene_glbs["instanced"], exports["blender"] / f"{MATERIAL}.glb",
                             exports["blender"] / f"{SPRITES}_000.glb"])
    nodes, instanced = result["nodes.glb"], result["instanced.glb"]
    assert nodes["error"] is None and nodes["meshes"] == 13
    assert instanced["error"] is None and instanced["meshes"] == 13, "Blender reads EXT_mesh_gpu_instancing"
    # Blender's importer divides lux by 683 (sun: W/m²) and multiplies candela by 4π/683 (W): the renderer's numbers.
    assert nodes["lights"]["SUN"] == pytest.approx(3.0, rel=1e-5)
    assert nodes["lights"]["SPOT"] == pytest.approx(20.0 * 4 * math.pi, rel=1e-5)
    assert nodes["scene_ambient"], "scenes[0].extras.ambient arrives as a scene custom property"
    assert nodes["images"] == {"stone_basecolor": "sRGB", "stone_normal": "Non-Color", "stone_orm": "Non-Color",
                               "tufts_basecolor": "sRGB"}
    assert nodes["alpha"] == {"stone": False, "tufts": True}
    material = result["brick_4_64.glb"]
    assert material["images"] == {"brick_4_64_basecolor": "sRGB", "brick_4_64_normal": "Non-Color",
                                  "brick_4_64_orm": "Non-Color"}
    sprite = result["shrubs_000.glb"]
    assert sprite["meshes"] == 1 and list(sprite["alpha"].values()) == [True]
    assert sorted(sprite["images"].values()) == ["Non-Color", "sRGB"], "colour + its normal map"


# ----------------------------------------------------------------------------------------------------- compress
INSPECT = r"""
import { readFileSync, writeFileSync } from "node:fs";
import { NodeIO } from "@gltf-transform/core";
import { ALL_EXTENSIONS } from "@gltf-transform/extensions";
import { MeshoptDecoder } from "meshoptimizer";
import { read } from "ktx-parse";
await MeshoptDecoder.ready;
const io = new NodeIO().registerExtensions(ALL_EXTENSIONS).registerDependencies({ "meshopt.decoder": MeshoptDecoder });
const doc = await io.readBinary(new Uint8Array(readFileSync(process.argv[1])));
const root = doc.getRoot();
const textures = {};
for (const t of root.listTextures()) {
  const k = read(t.getImage());
  const dfd = k.dataFormatDescriptor[0];
  textures[t.getName()] = { mime: t.getMimeType(), scheme: k.supercompressionScheme, model: dfd.colorModel,
                            transfer: dfd.transferFunction, levels: k.levels.length, width: k.pixelWidth };
}
for (const e of root.listExtensionsUsed()) if (e.extensionName === "EXT_meshopt_compression") e.dispose();
writeFileSync(process.argv[2], await io.writeBinary(doc));
console.log(JSON.stringify({ nodes: root.listNodes().length, meshes: root.listMeshes().length, textures }));
"""
KTX2_SCHEME = {"etc1s": 1, "uastc": 2}  # KTX2 supercompressionScheme: BasisLZ, Zstandard
KTX2_MODEL = {"etc1s": 163, "uastc": 166}  # KHR_DF_MODEL_ETC1S, KHR_DF_MODEL_UASTC
SRGB, LINEAR = 2, 1  # KHR_DF_TRANSFER


def assert_fully_valid(path: Path) -> None:
    """The Khronos validator: 0 errors, 0 warnings, and no info saying it could not check something."""
    issues = validate_gltf(path)
    assert (issues["numErrors"], issues["numWarnings"], issues["numInfos"]) == (0, 0, 0), describe(issues)


def assert_ktx2_validator_limit(issues: dict, images: int) -> None:
    """0 errors, and exactly the two warnings this validator gives every KTX2 image, no other: it implements neither
    KHR_texture_basisu nor ``image/ktx2`` (KhronosGroup/glTF-Validator#177). Fails when that changes."""
    assert issues["numErrors"] == 0, describe(issues)
    warnings = sorted((m["code"], m["pointer"]) for m in issues["messages"] if m["severity"] == 1)
    assert warnings == sorted([("VALUE_NOT_IN_LIST", f"/images/{i}/mimeType") for i in range(images)]
                              + [("IMAGE_UNRECOGNIZED_FORMAT", f"/images/{i}") for i in range(images)]), describe(issues)


def glb_images(data: bytes) -> dict[str, tuple[str, bytes]]:
    """{image name: (mimeType, bytes)} of a GLB's embedded images."""
    gltf, binary = read_glb_json(data), read_glb_binary(data)
    out = {}
    for image in gltf["images"]:
        view = gltf["bufferViews"][image["bufferView"]]
        start = view.get("byteOffset", 0)
        out[image["name"]] = (image["mimeType"], binary[start:start + view["byteLength"]])
    return out


def pixels(data: bytes) -> np.ndarray:
    import io

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")).astype(float)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def compressed(scene_glbs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """The real-nodes scene GLB compressed in each format: {format: (path, report)} (each made twice: same bytes)."""
    from scenegen.scene.gltf_compress import FORMATS, compress_glb, compress_unavailable

    if compress_unavailable() or validator_available():
        pytest.skip(compress_unavailable() or validator_available())
    root, source = tmp_path_factory.mktemp("compressed"), scene_glbs["nodes"].read_bytes()
    out = {}
    for fmt in FORMATS:
        data, report = compress_glb(source, fmt)
        assert data == compress_glb(source, fmt)[0], f"{fmt}: deterministic"
        assert report["format"] == fmt
        (root / f"{fmt}.glb").write_bytes(data)
        out[fmt] = (root / f"{fmt}.glb", report)
    return out


def test_compress_webp_validates_and_loads(scene_glbs: dict[str, Path], compressed: dict) -> None:
    path, report = compressed["webp"]
    data = path.read_bytes()
    gltf = read_glb_json(data)
    assert gltf["extensionsRequired"] == ["EXT_texture_webp"], "geometry untouched: nothing else required"
    assert {t["name"]: t["mode"] for t in report["textures"]} == {
        "stone_basecolor": "lossy", "stone_orm": "near_lossless", "stone_normal": "near_lossless",
        "tufts_basecolor": "png"}, "a 2-colour 8x8 card is smaller as PNG and stays PNG"
    assert sum(t["bytes"] for t in report["textures"]) < sum(t["png_bytes"] for t in report["textures"])
    assert gltf["scenes"][0]["extras"]["ambient"] and "KHR_lights_punctual" in gltf["extensionsUsed"], "kept"
    assert_fully_valid(path)
    # Each image in its declared format, same size; the flat data maps exact. (The colour map here is white noise,
    # lossy coding's worst case: generated textures' quality is checked in test_export_and_build_compress.)
    before, after = glb_images(scene_glbs["nodes"].read_bytes()), glb_images(data)
    assert set(before) == set(after)
    for t in report["textures"]:
        mime, image = after[t["name"]]
        assert mime == ("image/png" if t["mode"] == "png" else "image/webp") and image[:4] == (
            b"\x89PNG" if t["mode"] == "png" else b"RIFF"), t
        old, new = pixels(before[t["name"]][1]), pixels(image)
        assert old.shape == new.shape and (t["mode"] == "lossy" or np.array_equal(old, new)), t
    # Blender reads EXT_texture_webp: the same objects, images (decoded), colour spaces and alpha modes as the PNG file.
    if BLENDER_PYTHON.exists():
        result = blender_import([scene_glbs["nodes"], path])
        plain, webp = result["nodes.glb"], result["webp.glb"]
        assert webp["error"] is None and webp["meshes"] == plain["meshes"] == 13
        assert webp["images"] == plain["images"] and webp["alpha"] == plain["alpha"] == {"stone": False, "tufts": True}
        assert webp["sizes"] == plain["sizes"] and all(w > 0 for w, _ in webp["sizes"].values()), webp["sizes"]


def test_compress_ktx2_and_meshopt(tmp_path: Path, scene_glbs: dict[str, Path], compressed: dict) -> None:
    path, report = compressed["ktx2"]
    data, source = path.read_bytes(), scene_glbs["nodes"].read_bytes()
    gltf = read_glb_json(data)
    assert set(gltf["extensionsRequired"]) == {"KHR_texture_basisu", "EXT_meshopt_compression", "KHR_mesh_quantization"}
    assert {t["name"]: t["mode"] for t in report["textures"]} == {
        "stone_basecolor": "etc1s", "stone_orm": "uastc", "stone_normal": "uastc", "tufts_basecolor": "etc1s"}
    assert gltf["scenes"][0]["extras"]["ambient"] and "KHR_lights_punctual" in gltf["extensionsUsed"], "kept"
    assert_ktx2_validator_limit(validate_gltf(path), len(gltf["images"]))
    # Decode it as a loader would (meshopt → plain quantised accessors) and look inside every KTX2 image.
    decoded = tmp_path / "decoded.glb"
    done = subprocess.run(["node", "--input-type=module", "-e", INSPECT, str(path), str(decoded)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    inside = json.loads(done.stdout.splitlines()[-1])
    original = read_glb_json(source)
    assert inside["nodes"] == len(original["nodes"]) and inside["meshes"] == len(original["meshes"])
    for texture in report["textures"]:
        ktx = inside["textures"][texture["name"]]
        assert ktx["mime"] == "image/ktx2" and ktx["levels"] == 6, ktx  # 32² with its mip chain
        assert ktx["scheme"] == KTX2_SCHEME[texture["mode"]] and ktx["model"] == KTX2_MODEL[texture["mode"]]
        assert ktx["transfer"] == (SRGB if texture["mode"] == "etc1s" else LINEAR), texture
    assert_ktx2_validator_limit(validate_gltf(decoded), len(gltf["images"]))
    # Engines without the extensions refuse the file loudly instead of showing it wrong (Blender, measured).
    if BLENDER_PYTHON.exists():
        assert "EXT_meshopt_compression" in blender_import([path])["ktx2.glb"]["error"]


def test_export_and_build_compress(tmp_path: Path, exports: dict[str, Path], tiny_model: Path,
                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    from scenegen.errors import ScenegenError
    from scenegen.export.targets import get_target
    from scenegen.scene.gltf_compress import compress_unavailable
    from test_scene_support import cli, small_scene, write_scene

    if compress_unavailable() or validator_available():
        pytest.skip(compress_unavailable() or validator_available())
    library = exports["godot"].parent / "library.json"
    out = tmp_path / "godot"
    summary = export_library(library, out, target="godot", workers=1, progress=False, compress=True)
    assert summary.built == 2 and not summary.failed, summary.text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert "WebP" in manifest["compressed"] and manifest["target"] == "godot"
    glbs = sorted(out.rglob("*.glb"))
    assert len(glbs) == 3, glbs  # the material's preview and two sprites
    for glb in glbs:
        assert read_glb_json(glb.read_bytes())["extensionsRequired"] == ["EXT_texture_webp"], glb
        assert glb.stat().st_size < (exports["godot"] / glb.relative_to(out)).stat().st_size, glb
        assert_fully_valid(glb)
        # Generated textures: colour lossy but close, alpha (a sprite's cut-out) bit for bit; normal and ORM maps
        # near-lossless.
        plain = glb_images((exports["godot"] / glb.relative_to(out)).read_bytes())
        for name, (mime, image) in glb_images(glb.read_bytes()).items():
            old, new = pixels(plain[name][1]), pixels(image)
            assert mime == "image/webp" and np.array_equal(old[..., 3], new[..., 3]), (glb, name)
            quality = psnr(old[..., :3], new[..., :3])  # measured: colour 38.7-43.0 dB, data maps 48.0-49.9 dB
            assert quality >= (35.0 if name.endswith("basecolor") else 45.0), (glb, name, quality)
    for png in sorted(exports["godot"].rglob("*.png")):  # the texture sets themselves are the same files
        if png.name != "contact_sheet.png":
            assert (out / png.relative_to(exports["godot"])).read_bytes() == png.read_bytes(), png
    again = export_library(library, out, target="godot", workers=1, progress=False)
    assert again.built == 2, "compressed and plain exports are different items: switching rebuilds"
    assert "compressed" not in json.loads((out / "manifest.json").read_text())
    # export --compress ktx2: every .glb KTX2 + meshopt, with the validator's known KTX2 warnings and nothing else.
    code, stdout, stderr = cli("export", str(library), "--out", str(tmp_path / "ktx2-export"), "--target", "godot",
                               "--workers", "1", "--compress", "ktx2", "--json", "--quiet")
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["compressed"] == "ktx2" and payload["built"] == 2, payload
    assert "KTX2" in json.loads((tmp_path / "ktx2-export" / "manifest.json").read_text())["compressed"]
    for glb in sorted((tmp_path / "ktx2-export").rglob("*.glb")):
        gltf = read_glb_json(glb.read_bytes())
        assert {"KHR_texture_basisu", "EXT_meshopt_compression"} <= set(gltf["extensionsRequired"]), glb
        assert_ktx2_validator_limit(validate_gltf(glb), len(gltf["images"]))
    assert [get_target(n).key_name for n in ("godot", "godot+webp", "unity+ktx2")] == ["godot", "godot+webp", "unity+ktx2"]
    with pytest.raises(ScenegenError, match="unknown export target"):
        get_target("godot+png")
    # build --compress: scene.glb compressed (WebP by default), validated, recorded in build.json.
    scene = write_scene(tmp_path / "scene", small_scene(objects=small_scene()["objects"][:1], scatter=[]))
    code, stdout, stderr = cli("build", str(scene), "--out", str(tmp_path / "build"), "--cache", str(tmp_path / "c"),
                               "--model", str(tiny_model), "--sprite-model", str(tiny_sprite_model_dir(tmp_path_factory)),
                               "--compress", "--json", "--quiet")
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["compressed"] == "webp" and payload["counts"]["compressed_textures"] >= 3
    glb = tmp_path / "build" / "scene.glb"
    assert read_glb_json(glb.read_bytes())["extensionsRequired"] == ["EXT_texture_webp"]
    assert_fully_valid(glb)
    assert json.loads((tmp_path / "build" / "build.json").read_text())["compressed"] == "webp"
    # build --compress ktx2: the runtime format, with the validator's known KTX2 warnings and nothing else.
    code, stdout, stderr = cli("build", str(scene), "--out", str(tmp_path / "ktx2"), "--cache", str(tmp_path / "c"),
                               "--model", str(tiny_model), "--sprite-model", str(tiny_sprite_model_dir(tmp_path_factory)),
                               "--compress", "ktx2", "--json", "--quiet")
    assert code == 0, stderr
    assert json.loads(stdout)["compressed"] == "ktx2"
    gltf = read_glb_json((tmp_path / "ktx2" / "scene.glb").read_bytes())
    assert {"KHR_texture_basisu", "EXT_meshopt_compression"} <= set(gltf["extensionsRequired"])
    assert_ktx2_validator_limit(validate_gltf(tmp_path / "ktx2" / "scene.glb"), len(gltf["images"]))
    code, _, stderr = cli("build", str(scene), "--compress", "png", "--json")
    assert code == 2 and "--compress" in stderr and "webp" in stderr, stderr
