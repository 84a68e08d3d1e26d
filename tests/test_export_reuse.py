"""Library export through the one reuse service (scenegen.reuse): an item's generated part is served from the cache
that ``scenegen material``, the worker and other exports share, with the same keys, and the files are the same
bytes whether it was served or generated; concurrent processes share one cache folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, model_inside, run_cli
from scenegen.export.build import assemble_material, material_entries
from scenegen.export.run import export_library
from scenegen.export.targets import TARGETS, material_files
from scenegen.materials import derive_maps

SPRITE_MODEL = REPO / "assets" / "models" / "sprites"


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    folder = tmp_path_factory.mktemp("reuse-lib")
    path = folder / "library.json"
    path.write_text(json.dumps({"name": "t", "model": model_inside(tiny_model, folder), "materials": [
        {"class": "gravel", "seeds": [0], "sizes": [64], "tile_size_m": 1.0},
        {"class": "brick", "seeds": [1], "sizes": [64], "tile_size_m": 2.0, "roughness_range": [0.2, 0.6]}],
        "sprites": [{"name": "rocks", "class": "rock", "seed": 0, "count": 2, "size": 64}]}))
    return path


def export(library: Path, out: Path, target: str = "gltf", **options):
    return export_library(library, out, target=target, workers=options.pop("workers", 1), progress=False,
                          sprite_model=str(SPRITE_MODEL), **options)


@pytest.mark.parametrize("size", [64, 1032])  # 1032: over GLB_MAX_TEXTURE, the preview GLB's maps are its own
def test_files_assembled_from_the_entries_are_the_writers_bytes(size: int) -> None:
    rng = np.random.default_rng(size)
    material = derive_maps(rng.random((size, size, 3), dtype=np.float32), name="m", metallic=0.3)
    entry, more = material_entries(material)
    for name, target in TARGETS.items():
        assert assemble_material(entry, more, "stone", 2.0, target, size) == material_files(material, "stone", 2.0, target), name


def test_targets_after_the_first_are_served_whole_and_byte_identical(library: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = export(library, tmp_path / "gltf", cache=cache)
    assert (first.built, first.cached) == (3, 0)
    for target in ("godot", "unity", "unreal"):
        warm = export(library, tmp_path / target, target, cache=cache, workers=2 if target == "unity" else 1)
        assert (warm.built, warm.cached) == (3, 3), target  # unity: two worker processes, one cache folder
        cold = export(library, tmp_path / f"{target}-cold", target, use_cache=False)
        assert cold.cached == 0 and tree(tmp_path / target) == tree(tmp_path / f"{target}-cold"), target
    assert not any(p.name.startswith(".") for p in (cache / "materials").iterdir())  # no staging left over


def test_the_material_command_and_export_share_sets(library: Path, tiny_model: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def material(cache: Path, out: Path) -> dict:
        monkeypatch.setenv("SCENEGEN_CACHE", str(cache))
        result = run_cli("material", "gravel", "--seed", "0", "--size", "64", "--no-preview", "--model",
                         str(tiny_model), "--out", str(out), "--name", "g", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["materials"][0]

    exported = tmp_path / "out" / "materials" / "gravel_0_64"
    assert export(library, tmp_path / "out", cache=tmp_path / "a").cached == 0
    assert material(tmp_path / "a", tmp_path / "cli-a")["cached"] is True  # export first, then the command
    assert material(tmp_path / "b", tmp_path / "cli-b")["cached"] is False  # the command first, then export
    assert export(library, tmp_path / "out-b", cache=tmp_path / "b").cached == 1
    for kind in ("basecolor", "normal", "roughness", "height", "ao", "orm"):
        ours = (exported / f"gravel_0_64_{kind}.png").read_bytes()
        assert ours == (tmp_path / "cli-a" / f"g_{kind}.png").read_bytes() == (tmp_path / "cli-b" / f"g_{kind}.png").read_bytes()
    assert tree(tmp_path / "out") == tree(tmp_path / "out-b")
    # the command's default (with its preview) makes the same maps: export takes them from that entry too
    monkeypatch.setenv("SCENEGEN_CACHE", str(tmp_path / "c"))
    with_preview = run_cli("material", "gravel", "--seed", "0", "--size", "64", "--model", str(tiny_model),
                           "--out", str(tmp_path / "cli-c"), "--name", "g", "--quiet")
    assert with_preview.returncode == 0 and (tmp_path / "cli-c" / "g_preview.png").is_file(), with_preview.stderr
    assert export(library, tmp_path / "out-c", cache=tmp_path / "c").cached == 1
    assert tree(tmp_path / "out") == tree(tmp_path / "out-c")


def test_scene_builds_and_export_share_sets(library: Path, tiny_model: Path, tmp_path: Path) -> None:
    """A scene's class material is the request export makes for the same class, seed, size and map options (a
    library's roughness_range is a scene's roughness): each serves the other, the same PNG bytes."""
    from scenegen.build import BuildOptions, build_scene

    scene = tmp_path / "scene" / "scene.json"
    scene.parent.mkdir()
    scene.write_text(json.dumps({
        "name": "s", "camera": {"position": [0, 2, 6], "target": [0, 0, 0]},
        "render": {"width": 32, "height": 16, "antialias": 1},
        "materials": {"g": {"class": "gravel", "seed": 0, "size": 64}, "b": {"class": "brick", "seed": 1, "size": 64,
                                                                           "roughness": [0.2, 0.6]}},
        "objects": [{"type": "box", "material": m, "size_m": [1, 1, 1], "position": [x, 0, 0]}
                    for m, x in (("g", -1), ("b", 1))]}))

    def build(cache: Path, out: Path):
        return build_scene(scene, BuildOptions(out_dir=out, texture_model=tiny_model, cache_root=cache))

    assert export(library, tmp_path / "out", cache=tmp_path / "a").cached == 0
    assert build(tmp_path / "a", tmp_path / "scene-a").counts["cache_hits"] == 2  # export first, then the build
    assert build(tmp_path / "b", tmp_path / "scene-b").counts["cache_misses"] == 2  # the build first, then export
    assert export(library, tmp_path / "out-b", cache=tmp_path / "b").cached == 2  # both sets (not the sprites)
    assert tree(tmp_path / "out") == tree(tmp_path / "out-b") and tree(tmp_path / "scene-a") == tree(tmp_path / "scene-b")
    glb = (tmp_path / "scene-a" / "scene.glb").read_bytes()
    for item in ("gravel_0_64", "brick_1_64"):
        for kind in ("basecolor", "normal", "orm"):
            assert (tmp_path / "out" / "materials" / item / f"{item}_{kind}.png").read_bytes() in glb, (item, kind)


_RACER = """
import sys, time
from scenegen.reuse import Reuse, request
root, start, tag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
time.sleep(max(0.0, start - time.time()))
def make():
    time.sleep(0.2)  # every racer misses, then all store at about the same time
    return {"a.bin": tag.encode() * 200_000, "b.bin": b"b"}
files, hit = Reuse("race", root).bytes(request("race", {"n": 1}, model_identity="m"), ["a.bin", "b.bin"], make)
print(files["a.bin"][:8].decode(), hit)
"""


def test_concurrent_processes_share_one_cache_folder(tmp_path: Path) -> None:
    """Racing writers of one key: each gets a whole set, the first entry stored is kept, nothing half-written."""
    start = time.time() + 1.5
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path), str(start), f"w{i}"], cwd=REPO,
                               stdout=subprocess.PIPE, text=True) for i in range(4)]
    outputs = [r.communicate(timeout=120)[0].split() for r in racers]
    assert all(r.returncode == 0 for r in racers)
    from scenegen.reuse import Reuse, request

    kept = Reuse("race", tmp_path).get(request("race", {"n": 1}, model_identity="m"), ["a.bin", "b.bin"])
    assert kept is not None and len(kept["a.bin"]) == 400_000 and kept["b.bin"] == b"b"
    for i, (head, hit) in enumerate(outputs):  # a miss gets what it made; a late one the entry that was kept
        assert head == (kept["a.bin"][:8].decode() if hit == "True" else f"w{i}" * 4), (i, head, hit)
    assert [p.name for p in (tmp_path / "race").iterdir()] == [p.name for p in (tmp_path / "race").iterdir()
                                                               if not p.name.startswith(".")]
