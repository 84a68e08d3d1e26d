"""Hostile inputs (issue #18): every case gives exactly one located ``error:`` line and exit code 2, never a
traceback, a hang or a memory blow-up, before any work starts.

Each case builds real files (symlink loops, FIFOs, a PNG header declaring 30000² px, /dev/zero, garbage meshes)
and runs the real CLI in-process (``scenegen.cli.main``); read-only and full-disk ``--out`` run in a subprocess
(a read-only folder needs the root's DAC override dropped; a full disk is a file-size limit: RLIMIT_FSIZE).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from test_scene_support import cli, small_scene, tiny_sprite_model_dir, write_scene

SCENE = "scene.json"
LIB = "library.json"


def png_header_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny file whose PNG header declares width × height 1-bit pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def real_png(size: int = 96) -> bytes:
    from scenegen.imaging import encode_png

    rng = np.random.default_rng(0)
    return encode_png(rng.random((size, size, 3)).astype(np.float32))


class Folder:
    """A fresh folder per case, with the models, a scene folder and a library folder beside an 'outside' file."""

    def __init__(self, root: Path, model: Path, sprite_model: Path) -> None:
        self.root, self.model, self.sprite_model = root, model, sprite_model
        self.scene_dir = root / "spec"
        self.scene_dir.mkdir(parents=True)
        (root / "outside.png").write_bytes(real_png())
        (self.scene_dir / "photo.png").write_bytes(real_png())
        (self.scene_dir / "bomb.png").write_bytes(png_header_bomb())
        (self.scene_dir / "truncated.png").write_bytes(real_png()[:60])
        (self.scene_dir / "garbage.obj").write_bytes(b"\x00\x01garbage \xff\xfe\n" * 20)
        (self.scene_dir / "empty.obj").write_bytes(b"")
        (self.scene_dir / "garbage.glb").write_bytes(b"glTF\x02\x00\x00\x00" + b"\xff" * 40)
        os.symlink("loop_b.obj", self.scene_dir / "loop_a.obj")
        os.symlink("loop_a.obj", self.scene_dir / "loop_b.obj")
        os.symlink("loop_d.png", self.scene_dir / "loop_c.png")
        os.symlink("loop_c.png", self.scene_dir / "loop_d.png")
        os.symlink(root / "outside.png", self.scene_dir / "link_out.png")
        os.mkfifo(self.scene_dir / "fifo.png")
        (self.scene_dir / "folder.png").mkdir()

    def scene(self, mutate: Callable[[dict], object] | None = None, text: str | None = None) -> str:
        data = small_scene()
        if mutate is not None:
            mutate(data)
        return str(write_scene(self.scene_dir, text if text is not None else data, SCENE))

    def library(self, data: dict | None = None, text: str | None = None) -> str:
        path = self.scene_dir / LIB
        path.write_text(text if text is not None else json.dumps(data, indent=2), encoding="utf-8")
        return str(path)

    def validate(self, *args: str) -> list[str]:
        return ["validate", *args, "--model", str(self.model), "--sprite-model", str(self.sprite_model)]

    def export(self, lib: str, *args: str) -> list[str]:
        return ["export", lib, "--out", str(self.root / "out"), "--model", str(self.model),
                "--sprite-model", str(self.sprite_model), "--workers", "1", "--quiet", *args]


def set_(path: tuple, value) -> Callable[[dict], None]:
    def mutate(scene: dict) -> None:
        node = scene
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return mutate


def mesh_object(file: str) -> Callable[[dict], None]:
    return lambda s: s["objects"].__setitem__(1, {"type": "mesh", "name": "hut", "file": file, "material": "wall"})


def height_image(file: str) -> Callable[[dict], None]:
    return lambda s: s["objects"][0].__setitem__("height", {"image": file, "height_m": 2})


def material_image(file: str) -> Callable[[dict], None]:
    return lambda s: s["materials"].__setitem__("wall", {"image": file, "size": 64})


def blend_mask(file: str) -> Callable[[dict], None]:
    return lambda s: s["materials"]["ground"]["blend"].__setitem__("mask", file)


def nested(depth: int) -> str:
    return json.dumps(small_scene())[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"


def at(path: str) -> str:
    """A regex: the scene file, line:col and a JSON path."""
    return rf"{SCENE}:\d+:\d+: {path}(:| )"


def lib_at(path: str) -> str:
    return rf"{LIB}:\d+:\d+: {path}(:| )"


# (case id, argv builder, regex the one error line must match)
SCENE_CASES: list[tuple[str, Callable[[Folder], list[str]], str]] = [
    # outputs that would overwrite each other
    ("outputs-summary-is-image", lambda f: f.validate(f.scene(set_(("outputs",), {"summary": "render.png"}))),
     at("outputs") + ".*same file"),
    ("outputs-image-is-glb", lambda f: f.validate(f.scene(set_(("outputs",), {"image": "scene.glb"}))),
     at("outputs") + ".*same file"),
    ("outputs-depth-is-image", lambda f: f.validate(f.scene(set_(("outputs",), {"depth": "render.png"}))),
     at("outputs") + ".*same file"),
    ("outputs-case-only", lambda f: f.validate(f.scene(set_(("outputs",), {"glb": "Render.PNG"}))),
     at("outputs") + ".*same file"),
    ("outputs-all-null", lambda f: f.validate(f.scene(set_(("outputs",), {"image": None, "glb": None, "summary": None}))),
     at("outputs") + ".*nothing would be written"),
    # files: loops, NUL, FIFOs, devices, directories, outside
    ("mesh-symlink-loop", lambda f: f.validate(f.scene(mesh_object("loop_a.obj"))), at(r"objects\[1\]\.file") + ".*symlink loop"),
    ("height-symlink-loop", lambda f: f.validate(f.scene(height_image("loop_c.png"))),
     at(r"objects\[0\]\.height\.image") + ".*symlink loop"),
    ("mask-symlink-loop", lambda f: f.validate(f.scene(blend_mask("loop_c.png"))),
     at(r"materials\.ground\.blend\.mask") + ".*symlink loop"),
    ("photo-nul-byte", lambda f: f.validate(f.scene(material_image("photo\x00.png"))), at(r"materials\.wall\.image") + ".*NUL"),
    ("photo-fifo", lambda f: f.validate(f.scene(material_image("fifo.png"))), at(r"materials\.wall\.image") + ".*FIFO"),
    ("photo-directory", lambda f: f.validate(f.scene(material_image("folder.png"))), at(r"materials\.wall\.image") + ".*directory"),
    ("photo-dev-zero", lambda f: f.validate(f.scene(material_image("/dev/zero")), "--allow-outside"),
     at(r"materials\.wall\.image") + ".*character device"),
    ("photo-outside", lambda f: f.validate(f.scene(material_image("../outside.png"))), at(r"materials\.wall\.image") + ".*outside"),
    ("photo-symlink-out", lambda f: f.validate(f.scene(material_image("link_out.png"))), at(r"materials\.wall\.image") + ".*outside"),
    ("mesh-etc-passwd", lambda f: f.validate(f.scene(mesh_object("/etc/passwd.obj"))), at(r"objects\[1\]\.file") + ".*outside"),
    ("texture-model-outside", lambda f: ["validate", f.scene(set_(("texture_model",), str(f.model)))],
     at("texture_model") + ".*outside the scene's folder.*--allow-outside"),
    ("sprite-model-symlink-out", lambda f: (os.symlink(f.sprite_model, f.scene_dir / "sm"),
                                            ["validate", f.scene(set_(("sprite_model",), "sm"))])[1],
     at("sprite_model") + ".*outside the scene's folder"),
    ("texture-model-missing", lambda f: ["validate", f.scene(set_(("texture_model",), "nope"))],
     at("texture_model") + ".*not found"),
    # images checked header-first
    ("photo-decompression-bomb", lambda f: f.validate(f.scene(material_image("bomb.png"))),
     at(r"materials\.wall\.image") + ".*30000×30000.*limit"),
    ("heightmap-decompression-bomb", lambda f: f.validate(f.scene(height_image("bomb.png"))),
     at(r"objects\[0\]\.height\.image") + ".*30000×30000"),
    ("photo-truncated", lambda f: f.validate(f.scene(material_image("truncated.png"))),
     at(r"materials\.wall\.image") + ".*not a readable image"),
    ("mask-not-an-image", lambda f: f.validate(f.scene(blend_mask("garbage.obj"))),
     at(r"materials\.ground\.blend\.mask") + ".*not a readable image"),
    # meshes parsed by validate
    ("mesh-garbage-obj", lambda f: f.validate(f.scene(mesh_object("garbage.obj"))), at(r"objects\[1\]\.file") + ".*mesh"),
    ("mesh-empty-obj", lambda f: f.validate(f.scene(mesh_object("empty.obj"))), at(r"objects\[1\]\.file") + ".*triangles"),
    ("mesh-garbage-glb", lambda f: f.validate(f.scene(mesh_object("garbage.glb"))), at(r"objects\[1\]\.file") + ".*mesh"),
    # sizes and counts that do not fit
    ("camera-1e308", lambda f: f.validate(f.scene(set_(("camera", "position"), [1e308, 0, 0]))),
     at(r"camera\.position\[0\]") + ".*less than or equal"),
    ("camera-at-target", lambda f: f.validate(f.scene(set_(("camera",), {"position": [0, 1, 0], "target": [0, 1, 1e-9]}))),
     at("camera") + ".*must differ"),
    ("terrain-1e-300", lambda f: f.validate(f.scene(set_(("objects", 0, "size_m"), [1e-300, 40]))),
     at(r"objects\[0\]\.size_m\[0\]") + ".*at least"),
    ("terrain-1e-4-by-1e5", lambda f: f.validate(f.scene(lambda s: s["objects"][0].update(size_m=[1e-4, 1e5],
                                                                                          resolution=2048))),
     at(r"objects\[0\]\.size_m\[0\]") + ".*at least"),
    ("terrain-elongated", lambda f: f.validate(f.scene(lambda s: s["objects"][0].update(size_m=[1e-3, 1e5], resolution=2048))),
     at(r"objects\[0\]") + ".*cells"),
    ("render-8192x16-aa4", lambda f: f.validate(f.scene(set_(("render",), {"width": 8192, "height": 16, "antialias": 4}))),
     at("render") + ".*16,384 pixels a side"),
    ("no-objects-no-scatter", lambda f: f.validate(f.scene(lambda s: s.update(objects=[], scatter=[]))),
     at("objects") + ".*no objects"),
    ("tile-size-1mm", lambda f: f.validate(f.scene(set_(("materials", "ground", "tile_size_m"), 0.001))),
     at(r"materials\.ground\.tile_size_m") + ".*greater than or equal"),
    ("path-mask-too-many-repeats", lambda f: f.validate(f.scene(lambda s: (
        s["materials"]["ground"].update(tile_size_m=0.01), s["paths"]["trail"].update(points=[[-500, 0], [500, 300]])))),
     at(r"materials\.ground\.tile_size_m") + ".*repeats"),
    ("scatter-1e6-cannot-fit", lambda f: f.validate(f.scene(set_(("scatter", 0, "count"), 1_000_000))),
     at(r"scatter\[0\]\.count") + ".*cannot fit"),
    ("scatter-density-cannot-fit", lambda f: f.validate(f.scene(lambda s: s["scatter"][0].update(
        count=None, density_per_m2=1000, min_distance_m=1.0))), at(r"scatter\[0\]\.density_per_m2") + ".*cannot"),
    # strict JSON
    ("nested-985-deep", lambda f: f.validate(f.scene(text=nested(985))), rf"{SCENE}:1:\d+: invalid JSON: nested more than"),
    ("nested-100000-deep", lambda f: f.validate(f.scene(text="[" * 100_000)), rf"{SCENE}:1:\d+: invalid JSON: nested"),
    ("duplicate-key", lambda f: f.validate(f.scene(text='{"name": "a", "name": "b"}')), rf"{SCENE}:1:\d+: duplicate key \"name\""),
    ("unknown-key-1mb", lambda f: f.validate(f.scene(set_(("k" * 1_000_000,), 1))), rf"{SCENE}:\d+:\d+: \[\"kkk.*…\"\]: unknown key"),
    ("string-for-number", lambda f: f.validate(f.scene(set_(("materials", "wall", "size"), "512"))),
     at(r"materials\.wall\.size") + ".*valid integer"),
    ("float-for-int", lambda f: f.validate(f.scene(set_(("materials", "wall", "size"), 512.0))),
     at(r"materials\.wall\.size") + ".*valid integer"),
    ("bool-for-count", lambda f: f.validate(f.scene(set_(("scatter", 0, "count"), True))), at(r"scatter\[0\]\.count")),
    ("name-300-chars", lambda f: f.validate(f.scene(set_(("name",), "a" * 300))), at("name") + ".*pattern"),
    # build refuses the same before any work (build runs the same gate)
    ("build-camera-1e308", lambda f: ["build", f.scene(set_(("camera", "target"), [0, -1e308, 0])), "--out",
                                      str(f.root / "b"), "--model", str(f.model), "--sprite-model", str(f.sprite_model)],
     at(r"camera\.target\[1\]")),
    ("build-empty-obj", lambda f: ["build", f.scene(mesh_object("empty.obj")), "--out", str(f.root / "b"),
                                   "--model", str(f.model), "--sprite-model", str(f.sprite_model)], at(r"objects\[1\]\.file")),
    ("build-overwrites-scene-file", lambda f: ["build", f.scene(set_(("outputs",), {"summary": SCENE})), "--out",
                                               str(f.scene_dir), "--model", str(f.model), "--sprite-model",
                                               str(f.sprite_model)], at(r"outputs\.summary") + ".*input of this scene"),
    ("build-antialias-override", lambda f: ["build", f.scene(set_(("render",), {"width": 8192, "height": 16})), "--antialias",
                                            "4", "--out", str(f.root / "b"), "--model", str(f.model)],
     r"render: .*16,384 pixels a side"),
]

LIBRARY_CASES: list[tuple[str, Callable[[Folder], list[str]], str]] = [
    ("lib-size-string", lambda f: f.export(f.library({"materials": [{"class": "brick", "sizes": ["512"]}]})),
     lib_at(r"materials\[0\]\.sizes\[0\]") + ".*valid integer"),
    ("lib-size-float", lambda f: f.export(f.library({"materials": [{"class": "brick", "sizes": [512.0]}]})),
     lib_at(r"materials\[0\]\.sizes\[0\]") + ".*valid integer"),
    ("lib-count-true", lambda f: f.export(f.library({"sprites": [{"name": "a", "class": "rock", "count": True}]})),
     lib_at(r"sprites\[0\]\.count")),
    ("lib-height-string", lambda f: f.export(f.library({"sprites": [{"name": "a", "class": "rock", "height_m": "512"}]})),
     lib_at(r"sprites\[0\]\.height_m") + ".*valid number"),
    ("lib-duplicate-key", lambda f: f.export(f.library(text='{"materials": [], "materials": []}')),
     rf"{LIB}:1:\d+: duplicate key \"materials\""),
    ("lib-name-300", lambda f: f.export(f.library({"sprites": [{"name": "a" * 300, "class": "rock"}]})),
     lib_at(r"sprites\[0\]\.name") + ".*at most 100"),
    ("lib-template-open-brace", lambda f: f.export(f.library({"materials": [{"class": "brick", "name": "x{"}]})),
     lib_at(r"materials\[0\]\.name") + ".*bad template"),
    ("lib-template-close-brace", lambda f: f.export(f.library({"materials": [{"class": "brick", "name": "}"}]})),
     lib_at(r"materials\[0\]\.name") + ".*bad template"),
    ("lib-template-long-name", lambda f: f.export(f.library({"materials": [{"class": "brick", "sizes": [64],
                                                                           "name": "w" * 99 + "{size}"}]})),
     lib_at(r"materials\[0\]\.name") + ".*limit is 100"),
    ("lib-photo-dotdot-passwd", lambda f: f.export(f.library({"materials": [{"photo": "../../../etc/passwd"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*outside the library's folder"),
    ("lib-photo-etc-passwd", lambda f: f.export(f.library({"materials": [{"photo": "/etc/passwd"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*outside"),
    ("lib-photo-symlink-out", lambda f: f.export(f.library({"materials": [{"photo": "link_out.png"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*outside"),
    ("lib-photo-nul-byte", lambda f: f.export(f.library({"materials": [{"photo": "photo\x00.png"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*NUL"),
    ("lib-photo-dev-urandom", lambda f: f.export(f.library({"materials": [{"photo": "/dev/urandom"}]}), "--allow-outside"),
     lib_at(r"materials\[0\]\.photo") + ".*character device"),
    ("lib-tile-size-0.1mm", lambda f: f.export(f.library({"materials": [{"class": "brick", "tile_size_m": 1e-4}]})),
     lib_at(r"materials\[0\]\.tile_size_m") + ".*greater than or equal"),
    ("lib-photo-fifo", lambda f: f.export(f.library({"materials": [{"photo": "fifo.png"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*FIFO"),
    ("lib-photo-dev-zero", lambda f: f.export(f.library({"materials": [{"photo": "/dev/zero"}]}), "--allow-outside"),
     lib_at(r"materials\[0\]\.photo") + ".*character device"),
    ("lib-photo-bomb", lambda f: f.export(f.library({"materials": [{"photo": "bomb.png"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*30000×30000"),
    ("lib-photo-loop", lambda f: f.export(f.library({"materials": [{"photo": "loop_c.png"}]})),
     lib_at(r"materials\[0\]\.photo") + ".*symlink loop"),
    ("lib-nested", lambda f: f.export(f.library(text='{"materials": ' + "[" * 5000 + "]" * 5000 + "}")),
     rf"{LIB}:1:\d+: invalid JSON: nested"),
    ("lib-unknown-key-1mb", lambda f: f.export(f.library({"x" * 1_000_000: 1})), rf"{LIB}:\d+:\d+: \[\"xxx.*…\"\]: unknown key"),
    ("lib-version-true", lambda f: f.export(f.library({"version": True})), lib_at("version")),
    ("lib-is-fifo", lambda f: f.export(str(f.scene_dir / "fifo.png")), r"fifo\.png: .*FIFO"),
]


def _args_cases() -> list[tuple[str, Callable[[Folder], list[str]], str]]:
    from scenegen.limits import max_workers

    def material(*args: str) -> Callable[[Folder], list[str]]:
        return lambda f: ["material", *args, "--model", str(f.model), "--out", str(f.root / "m"), "--no-cache"]

    def sprite(*args: str) -> Callable[[Folder], list[str]]:
        return lambda f: ["sprite", "rock", *args, "--model", str(f.sprite_model), "--out", str(f.root / "s")]

    def train(*args: str) -> Callable[[Folder], list[str]]:
        return lambda f: ["train", "--data", str(f.scene_dir), "--out", str(f.root / "t"), "--quiet", *args]

    return [
        ("material-bomb-photo", lambda f: material("--from-image", str(f.scene_dir / "bomb.png"))(f), r"bomb\.png: .*30000×30000"),
        ("material-fifo-photo", lambda f: material("--from-image", str(f.scene_dir / "fifo.png"))(f), r"fifo\.png: .*FIFO"),
        ("material-dev-zero", material("--from-image", "/dev/zero"), r"/dev/zero: .*character device"),
        ("material-dev-urandom", material("--from-image", "/dev/urandom"), r"/dev/urandom: .*character device"),
        ("material-nul-photo", material("--from-image", "photo\x00.png"), r"NUL"),
        ("material-loop-photo", lambda f: material("--from-image", str(f.scene_dir / "loop_c.png"))(f), r"symlink loop"),
        ("material-variations-1e9", material("brick", "--variations", str(10**9)), r"--variations must be"),
        ("sprite-count-1e9", sprite("--count", str(10**9)), r"--count must be from 1 to"),
        ("sprite-count-512px", sprite("--count", "600", "--size", "512"), r"--count must be from 1 to 512 at --size 512"),
        ("sprite-height-inf", sprite("--height-m", "inf"), r"--height-m must be"),
        ("sprite-height-nan", sprite("--height-m", "nan"), r"--height-m must be"),
        ("export-workers-64", lambda f: f.export(f.library({"materials": [{"class": "brick", "sizes": [64]}]}))[:-3]
         + ["--workers", str(max(64, max_workers() + 1)), "--quiet"], r"--workers must be from 1 to"),
        ("export-workers-0", lambda f: f.export(f.library({"materials": [{"class": "brick", "sizes": [64]}]}))[:-3]
         + ["--workers", "0"], r"--workers must be at least 1"),
        ("gallery-seeds-0", lambda f: ["gallery", "--seeds", "0", "--model", str(f.model), "--out", str(f.root / "g")],
         r"--seeds must be from 1"),
        ("gallery-seeds-negative", lambda f: ["gallery", "--seeds", "-3", "--model", str(f.model)], r"--seeds must be"),
        ("train-out-is-a-file", lambda f: ["train", "--data", str(f.scene_dir), "--out", str(f.scene_dir / "photo.png")],
         r"photo\.png: --out exists and is not a folder"),
        ("train-checkpoint-every-0", train("--checkpoint-every", "0"), r"--checkpoint-every must be at least 1"),
        ("train-checkpoint-every-negative", train("--checkpoint-every", "-1"), r"--checkpoint-every must be at least 1"),
        ("train-sample-every-0", train("--sample-every", "0"), r"--sample-every must be at least 1"),
        ("train-lr-nan", train("--lr", "nan"), r"--lr must be"),
        ("train-lr-negative", train("--lr", "-1"), r"--lr must be"),
        ("train-lr-inf", train("--lr", "inf"), r"--lr must be"),
        ("train-data-only-a-bomb", lambda f: (f.scene_dir.joinpath("data", "brick").mkdir(parents=True),
                                              (f.scene_dir / "data" / "brick" / "b.png").write_bytes(png_header_bomb()),
                                              ["train", "--data", str(f.scene_dir / "data"), "--out", str(f.root / "t")])[2],
         r"brick: class 'brick' has no usable image"),
        ("train-data-missing", lambda f: ["train", "--data", str(f.root / "nope"), "--out", str(f.root / "t")],
         r"nope: --data is not a folder"),
    ]


ARGS_CASES = _args_cases()
ALL_CASES = SCENE_CASES + LIBRARY_CASES + ARGS_CASES


@pytest.fixture(scope="module")
def models(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_model, tiny_sprite_model_dir(tmp_path_factory)


def one_located_line(code: int, out: str, err: str, located: str) -> str:
    assert "Traceback" not in out + err, err
    assert code == 2, (code, err[-2000:])
    errors = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err[-2000:]
    line = errors[0]
    assert re.search(located, line), f"{located!r} not in {line!r}"
    assert len(line) < 700, f"error line of {len(line)} characters"
    return line


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_hostile_input_gives_one_located_line(case, models: tuple[Path, Path], tmp_path: Path) -> None:
    _, build, located = case
    folder = Folder(tmp_path, *models)
    argv = build(folder)
    code, out, err = cli(*argv)
    one_located_line(code, out, err, located)
    for produced in ("out", "b", "m", "s", "t", "g"):
        assert not (tmp_path / produced).exists() or not any((tmp_path / produced).rglob("*.png")), "work was done"


def test_base_cases_are_valid(models: tuple[Path, Path], tmp_path: Path) -> None:
    """The unmutated scene, a good photo and a good mesh pass: the cases above fail for their one change only."""
    folder = Folder(tmp_path, *models)
    (folder.scene_dir / "tri.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nmtllib ../../../../etc/passwd\n")
    code, _, err = cli(*folder.validate(folder.scene(lambda s: (material_image("photo.png")(s), mesh_object("tri.obj")(s)))))
    assert code == 0, err
    from scenegen.export.library import expand_library, load_library

    lib = folder.library({"materials": [{"photo": "photo.png", "sizes": [64]}, {"class": "brick", "name": "b_{seed}"}]})
    items = expand_library(load_library(lib), folder.scene_dir, lib)
    assert [i.name for i in items] == ["photo_0_64", "b_0"]


def test_training_lists_symlink_loops_and_bombs_with_the_skipped_files(tmp_path: Path) -> None:
    import warnings

    from scenegen.data.patches import load_patch_set

    cls = tmp_path / "data" / "brick"
    cls.mkdir(parents=True)
    (cls / "good.png").write_bytes(real_png(128))
    (cls / "bomb.png").write_bytes(png_header_bomb())
    os.symlink("b.png", cls / "a.png")
    os.symlink("a.png", cls / "b.png")
    os.mkfifo(cls / "pipe.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patches = load_patch_set(tmp_path / "data", min_size=64)
    assert len(patches.images) == 1
    skipped = " ".join(patches.skipped)
    assert "a.png (a symlink loop)" in skipped and "b.png (a symlink loop)" in skipped
    assert "pipe.png (a named pipe (FIFO), not a regular file)" in skipped and "bomb.png (too many pixels)" in skipped
    assert any("skipped 4 file(s)" in str(w.message) for w in caught)


@pytest.mark.parametrize("section,message", [
    ({"decoder_widths": [100000, 48, 24]}, "decoder_widths must hold integers from 1 to 4096"),
    ({"latent_channels": -1}, "latent_channels must hold integers from 1 to 256"),
    ({"latent_channels": True}, "latent_channels must hold integers"),
    ({"encoder_widths": "wide"}, "encoder_widths must be a list"),
    ({"mode": "video"}, "mode must be"),
])
def test_model_config_bounds(section: dict, message: str) -> None:
    from scenegen.model.config import ModelConfig

    base = {"mode": "texture", "classes": ["brick"], "latent_channels": 12, "encoder_widths": [32, 64],
            "decoder_widths": [96, 48, 24]}
    assert ModelConfig.from_dict(base).decoder_widths == (96, 48, 24)
    with pytest.raises(ValueError, match=re.escape(message)):
        ModelConfig.from_dict({**base, **section})


CONFIG_CASES: list[tuple[str, Callable[[dict], object], str]] = [
    ("nested-100000-deep", lambda meta: "[" * 100_000 + "]" * 100_000, r"nested too deeply"),
    ("decoder-widths-100000", lambda meta: {**meta, "model": {**meta["model"], "decoder_widths": [100000, 48, 24]}},
     r"model: decoder_widths must hold integers from 1 to 4096"),
    ("latent-channels-negative", lambda meta: {**meta, "model": {**meta["model"], "latent_channels": -1}},
     r"model: latent_channels must hold integers"),
    ("file-entry-dotdot", lambda meta: {**meta, "files": {**meta["files"], "../../x": "0" * 64}},
     r"not a file of the model directory"),
    ("file-entry-etc-passwd", lambda meta: {**meta, "files": {**meta["files"], "../../../../etc/passwd": "0" * 64}},
     r"not a file of the model directory"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_hostile_model_config_is_one_line_from_the_cli(case, models: tuple[Path, Path], tmp_path: Path) -> None:
    """A model directory's config.json nested 10⁵ deep, asking for a 360 GB decoder or a negative latent, or naming
    files outside its directory: `scenegen material --model DIR` answers one line naming config.json, exit 2."""
    from conftest import model_inside

    _, edit, located = case
    model = tmp_path / model_inside(models[0], tmp_path)
    config = model / "config.json"
    meta = edit(json.loads(config.read_text()))
    config.write_text(meta if isinstance(meta, str) else json.dumps(meta))
    code, out, err = cli("material", "brick", "--size", "64", "--model", str(model), "--out", str(tmp_path / "m"),
                         "--no-cache", "--quiet")
    one_located_line(code, out, err, re.escape(str(config)) + ".*" + located)
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------------------------------- read-only, full disk
def _write_cases(folder: Path, model: Path, sprite_model: Path, photos: Path) -> dict[str, list[str]]:
    scene = write_scene(folder / "spec", {"name": "w", "materials": {"m": {"class": "brick", "size": 64}},
                                          "objects": [{"type": "plane", "material": "m", "size_m": [4, 4]}],
                                          "render": {"width": 32, "height": 32}})
    lib = folder / "spec" / LIB
    lib.write_text(json.dumps({"materials": [{"class": "brick", "sizes": [64]}]}))
    return {
        "material": ["material", "brick", "--size", "64", "--model", str(model), "--no-cache", "--quiet"],
        "gallery": ["gallery", "--seeds", "1", "--size", "32", "--model", str(model)],
        "train": ["train", "--data", str(photos), "--init-from", str(model), "--steps", "2", "--batch", "4", "--crop",
                  "64", "--checkpoint-every", "1", "--sample-every", "1", "--quiet"],
        "sprite": ["sprite", "rock", "--count", "1", "--size", "64", "--model", str(sprite_model), "--quiet"],
        "build": ["build", str(scene), "--model", str(model), "--no-cache"],
        "export": ["export", str(lib), "--model", str(model), "--workers", "1", "--quiet"],
    }


def _drop_root_override() -> list[str]:
    """Root writes into a read-only folder anyway; a root process without CAP_DAC_OVERRIDE does not."""
    if os.geteuid() != 0:
        return []
    tool = shutil.which("setpriv")
    if tool is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
    return [tool, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("command", ["material", "sprite", "build", "export", "gallery", "train"])
@pytest.mark.parametrize("failure", ["read-only", "full-disk"])
def test_unwritable_out_is_one_line(command: str, failure: str, models: tuple[Path, Path], photo_folder: Path,
                                    tmp_path: Path) -> None:
    """Every command that writes reports a read-only or full ``--out`` in one line naming it, exit code 2."""
    argv = _write_cases(tmp_path, *models, photo_folder)[command]
    env = dict(os.environ, SCENEGEN_CACHE=str(tmp_path / "cache"), PYOPENGL_PLATFORM="egl", OMP_NUM_THREADS="1")
    if failure == "read-only":
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        out = locked / "out"
        prefix, limit = _drop_root_override(), None
    else:
        out, prefix = tmp_path / "out", []

        def limit() -> None:  # a full disk: writes past 512 bytes fail with EFBIG ("File too large")
            resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))
    done = subprocess.run([*prefix, sys.executable, "-m", "scenegen", *argv, "--out", str(out)], capture_output=True,
                          text=True, timeout=300, env=env, preexec_fn=limit)
    expected = "Permission denied" if failure == "read-only" else "File too large"
    line = one_located_line(done.returncode, done.stdout, done.stderr, rf"{re.escape(str(out))}.*: cannot .*{expected}")
    assert "cannot" in line


def test_library_model_errors_name_the_library_file_and_field(tmp_path: Path) -> None:
    """A library's ``model`` that is missing, a file or a FIFO is refused in one line naming the library file, the
    position and the field."""
    from conftest import run_cli

    lib = tmp_path / "lib" / "library.json"
    lib.parent.mkdir()
    (lib.parent / "afile").write_text("x")
    os.mkfifo(lib.parent / "fifo")
    for written, reason in (("missing_model", "not found"), ("afile", "not a directory"), ("fifo", "not a directory")):
        lib.write_text(json.dumps({"version": 1, "name": "t", "model": written,
                                   "materials": [{"class": "gravel", "seeds": [0], "sizes": [64], "tile_size_m": 1.0}]}))
        refused = run_cli("export", str(lib), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet")
        line = one_located_line(refused.returncode, refused.stdout, refused.stderr, lib_at("model"))
        assert reason in line.lower(), line


# ------------------------------------------------------------------------------- library models stay inside
def _model_library(folder: Folder, **models: str) -> str:
    return folder.library({**models, "materials": [{"class": "brick", "seeds": [0], "sizes": [64]}],
                           "sprites": [{"name": "rocks", "class": "rock", "count": 1, "size": 64}]})


def _export_with_library_models(folder: Folder, lib: str, *args: str) -> list[str]:
    """``scenegen export`` with no --model / --sprite-model: the library's own model fields are used."""
    return ["export", lib, "--out", str(folder.root / "out"), "--workers", "1", "--quiet", *args]


LIBRARY_MODEL_CASES: list[tuple[str, Callable[[Folder], dict], str]] = [
    ("model-absolute-outside", lambda f: {"model": str(f.model)}, "model"),
    ("model-dotdot-outside", lambda f: {"model": os.path.relpath(f.model, f.scene_dir)}, "model"),
    ("model-symlink-out", lambda f: (os.symlink(f.model, f.scene_dir / "linked_model"), {"model": "linked_model"})[1],
     "model"),
    ("sprite-model-absolute-outside", lambda f: {"sprite_model": str(f.sprite_model)}, "sprite_model"),
    ("sprite-model-symlink-out", lambda f: (os.symlink(f.sprite_model, f.scene_dir / "sm"), {"sprite_model": "sm"})[1],
     "sprite_model"),
]


@pytest.mark.parametrize("case", LIBRARY_MODEL_CASES, ids=[c[0] for c in LIBRARY_MODEL_CASES])
def test_library_model_outside_its_folder_is_refused(case, models: tuple[Path, Path], tmp_path: Path) -> None:
    """A library's model / sprite_model leaving the library's folder (absolute, ``..``, a symlink out) is one
    located line naming the file and the field, with the way out (``--allow-outside``); nothing is exported."""
    _, fields, field = case
    folder = Folder(tmp_path, *models)
    lib = _model_library(folder, **fields(folder))
    code, out, err = cli(*_export_with_library_models(folder, lib))
    line = one_located_line(code, out, err, lib_at(field) + r".*outside the library's folder.*--allow-outside")
    assert LIB in line
    assert not (tmp_path / "out").exists(), "export started for a refused library"


def test_library_models_inside_or_allowed_outside_are_used(models: tuple[Path, Path], tmp_path: Path) -> None:
    """Copies inside the library's folder need no flag; the same models outside (absolute paths, a symlink out)
    are used with ``--allow-outside``; either way the manifest records those models' hashes."""
    from conftest import model_inside
    from scenegen.model.directory import inspect

    model, sprite_model = models
    folder = Folder(tmp_path, *models)
    hashes = {"texture": inspect(model, "texture").model_hash, "sprites": inspect(sprite_model, "sprite").model_hash}
    inside = _model_library(folder, model=model_inside(model, folder.scene_dir),
                            sprite_model=model_inside(sprite_model, folder.scene_dir, "sprite_model"))
    code, _, err = cli(*_export_with_library_models(folder, inside))
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["models"] == hashes
    shutil.rmtree(tmp_path / "out")
    os.symlink(sprite_model, folder.scene_dir / "sm")
    outside = _model_library(folder, model=str(model), sprite_model="sm")
    code, _, err = cli(*_export_with_library_models(folder, outside, "--allow-outside"))
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["models"] == hashes


# ------------------------------------------------------------------------ a tampered model, every command, cold
TAMPER_COMMANDS = ("material", "sprite", "build", "build-scene-model", "validate", "export", "export-library-model",
                   "gallery", "info", "train", "worker")


def _flip_in_place(path: Path) -> None:
    """One bit of ``path`` flipped in place: same inode, size and mtime (only the ctime tells)."""
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("command", TAMPER_COMMANDS)
def test_tampered_model_is_refused_by_every_command_without_a_cache(
        command: str, models: tuple[Path, Path], photo_folder: Path, tmp_path: Path, monkeypatch) -> None:
    """A model whose verified hashes are on record (by stat), then changed in place keeping size and mtime, is
    refused by every command that takes a model, with nothing cached (test_modeldir.py: the same with the cache
    warm): one line naming the damaged file, exit code 2, nothing written."""
    from conftest import model_inside
    from scenegen.model.directory import inspect

    monkeypatch.setenv("SCENEGEN_HASH_RECORDS", str(tmp_path / "hash-records"))
    monkeypatch.setenv("SCENEGEN_CACHE", str(tmp_path / "cache"))
    spec, out = tmp_path / "spec", tmp_path / "out"
    spec.mkdir()
    texture, sprite = spec / model_inside(models[0], spec, "texture"), spec / model_inside(models[1], spec, "sprite")
    assert inspect(texture, "texture").verified and inspect(sprite, "sprite").verified  # hashes now on record
    victim = (sprite if command == "sprite" else texture) / "model.safetensors"
    _flip_in_place(victim)
    scene = write_scene(spec, {"name": "t", **({"texture_model": "texture"} if command == "build-scene-model" else {}),
                               "materials": {"m": {"class": "brick", "size": 64}},
                               "objects": [{"type": "plane", "material": "m", "size_m": [4, 4]}],
                               "render": {"width": 32, "height": 32}})
    lib = spec / LIB
    lib.write_text(json.dumps({**({"model": "texture"} if command == "export-library-model" else {}),
                               "materials": [{"class": "brick", "sizes": [64]}]}))
    model = ["--model", str(texture)]
    located = re.escape(str(victim)) + ": SHA-256 mismatch"
    if command == "worker":
        from test_worker import RawWorker

        worker = RawWorker()
        try:
            worker.send({"id": "m", "op": "material", "params": {"class": "brick", "size": 64, "model": str(texture),
                                                                 "out_dir": str(out)}})
            event = worker.until_done("m")[-1]
        finally:
            worker.close()
        assert event["event"] == "error" and event["code"] == "user", event
        assert re.search(located, event["message"]) and "\n" not in event["message"], event
    else:
        argv = {
            "material": ["material", "brick", "--size", "64", *model, "--out", str(out), "--quiet"],
            "sprite": ["sprite", "rock", "--count", "1", "--size", "64", "--model", str(sprite), "--out", str(out)],
            "build": ["build", str(scene), *model, "--out", str(out)],
            "build-scene-model": ["build", str(scene), "--out", str(out)],
            "validate": ["validate", str(scene), *model],
            "export": ["export", str(lib), *model, "--out", str(out), "--workers", "1", "--quiet"],
            "export-library-model": ["export", str(lib), "--out", str(out), "--workers", "1", "--quiet"],
            "gallery": ["gallery", "--seeds", "1", "--size", "32", *model, "--out", str(out)],
            "info": ["info", str(texture)],
            "train": ["train", "--data", str(photo_folder), "--init-from", str(texture), "--steps", "1", "--batch",
                      "4", "--crop", "64", "--out", str(out), "--quiet"],
        }[command]
        if command == "build-scene-model":
            located = at("texture_model") + ".*" + located
        elif command == "export-library-model":
            located = lib_at("model") + ".*" + located
        code, stdout, err = cli(*argv)
        one_located_line(code, stdout, err, located)
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), "files written for a tampered model"
    assert not any((tmp_path / "cache").rglob("*.png")), "a tampered model's output was cached"
