"""Fuzz test of the input gate (issue #18): 1,150 generated hostile scene files, library files and command lines.

Every generated case is invalid by construction (one hostile change to a valid base), and must end in exit
code 2 with a located message (the file's line:col or a JSON path, or the flag), with no traceback, without
opening any file of a folder beside the spec folder that the cases point at (an audit hook sees every open),
within 20 s (an alarm catches hangs such as a FIFO opened for reading) and with the process's peak RSS
bounded. The CLI runs in-process (``scenegen.cli.main``); a handful of cases run as subprocesses too.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_hostile import png_header_bomb, real_png
from test_scene_support import cli, small_scene, tiny_sprite_model_dir

SCENE_CASES, LIBRARY_CASES, ARGS_CASES = 500, 350, 300
MAX_RSS_GROWTH_MB = 1500  # over the peak before the first case (torch and the tiny models already loaded)
START_RSS_MB = 0.0
FUZZ = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


# ----------------------------------------------------------------------------------------- the sandbox
class Sandbox:
    """spec/ holds the files the specs may name (and hostile ones); outside/ must never be opened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spec = root / "spec"
        self.outside = root / "outside"
        self.spec.mkdir(parents=True)
        self.outside.mkdir()
        (self.outside / "secret.png").write_bytes(real_png(64))
        (self.outside / "secret.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
        (self.spec / "photo.png").write_bytes(real_png(96))
        (self.spec / "bomb.png").write_bytes(png_header_bomb())
        (self.spec / "wide_bomb.png").write_bytes(png_header_bomb(2**31 - 1, 2))
        (self.spec / "truncated.png").write_bytes(real_png(96)[:80])
        (self.spec / "garbage.obj").write_bytes(b"\x00garbage\xff" * 30)
        (self.spec / "empty.obj").write_bytes(b"")
        (self.spec / "garbage.glb").write_bytes(b"glTF\x02\x00\x00\x00" + b"\x00" * 12)
        (self.spec / "tiny.png").write_bytes(real_png(8))
        os.symlink("loop2.png", self.spec / "loop1.png")
        os.symlink("loop1.png", self.spec / "loop2.png")
        os.symlink(self.outside / "secret.png", self.spec / "out_link.png")
        os.symlink(self.outside / "secret.obj", self.spec / "out_link.obj")
        os.symlink(self.outside, self.spec / "out_dir_link")
        os.symlink("/dev/zero", self.spec / "zero.png")
        os.mkfifo(self.spec / "pipe.png")
        os.mkfifo(self.spec / "pipe.obj")
        (self.spec / "dir.png").mkdir()

    def hostile_paths(self, suffix: str) -> list[str]:
        """Paths a spec may write that must all be refused (relative to the spec folder, or absolute)."""
        return [f"loop1{'.png' if suffix == '.png' else '.png'}", f"out_link{suffix}", "zero.png", f"pipe{suffix}",
                "dir.png", f"../outside/secret{suffix}", str(self.outside / f"secret{suffix}"), f"nul\x00{suffix}",
                f"missing{suffix}", "/dev/zero", "/dev/urandom", "/etc/passwd", "../" * 12 + "etc/passwd",
                "x" * 5000 + suffix]


HOSTILE_IMAGES = ["bomb.png", "wide_bomb.png", "truncated.png", "garbage.obj", "tiny.png"]
HOSTILE_MESHES = ["garbage.obj", "empty.obj", "garbage.glb", "photo.png"]


@pytest.fixture(scope="module")
def env(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    sprite_model = tiny_sprite_model_dir(tmp_path_factory)
    box = Sandbox(tmp_path_factory.mktemp("fuzz"))
    opened: list[str] = []
    state = {"on": False}

    def hook(event: str, args: tuple) -> None:
        if state["on"] and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # cannot be removed; it records only while state["on"]
    global START_RSS_MB
    START_RSS_MB = peak_rss_mb()
    return {"box": box, "model": tiny_model, "sprite_model": sprite_model, "opened": opened, "state": state}


class Hang(Exception):
    pass


CASES_RUN: dict[str, int] = {}


def run_case(env: dict, argv: list[str], family: str) -> tuple[int, str, str]:
    """Run the CLI in-process with an alarm and the open-recording hook on; check nothing outside was opened."""
    def alarm(_signum, _frame):
        raise Hang(f"still running after 20 s: {argv!r:.300}")

    previous = signal.signal(signal.SIGALRM, alarm)
    CASES_RUN[family] = CASES_RUN.get(family, 0) + 1
    env["opened"].clear()
    env["state"]["on"] = True
    signal.alarm(20)
    try:
        code, out, err = cli(*argv)
    finally:
        signal.alarm(0)
        env["state"]["on"] = False
        signal.signal(signal.SIGALRM, previous)
    outside = str(Path(os.path.realpath(env["box"].outside)))
    read = [p for p in env["opened"] if os.path.realpath(p).startswith(outside)]
    assert not read, f"opened outside the spec folder: {read} for {argv!r:.300}"
    return code, out, err


def assert_refused(code: int, out: str, err: str, located: str, what: Any) -> None:
    assert "Traceback" not in out + err, (what, err[-3000:])
    assert code == 2, (code, str(what)[:400], err[-1500:])
    lines = err.strip().splitlines()
    errors = [line for line in lines if "error: " in line]
    assert len(errors) == 1, (str(what)[:400], err[-1500:])
    assert re.search(located, errors[0]), (located, errors[0][:500], str(what)[:300])
    assert len(errors[0]) < 2100, f"error line of {len(errors[0])} characters"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------- scenes
def _paths_into(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths_into(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths_into(value, path + (index,))
    return out


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def base_scene() -> dict:
    scene = small_scene()
    scene["lights"] = [{"type": "sun"}, {"type": "ambient"}]
    return scene


NUMBERS = {  # JSON path → values that must be refused there
    ("render", "width"): [0, 8193, 10**12, -5, 7.5], ("render", "antialias"): [0, 5, 2**40],
    ("camera", "position", 0): [1e308, -1e308, 1e7], ("camera", "yfov_deg"): [0, 170, 1e308],
    ("objects", 0, "size_m", 0): [0, -1, 1e-300, 1e6], ("objects", 0, "resolution"): [1, 4097, 10**9],
    ("objects", 1, "size_m", 2): [0, 1e-9, 1e300], ("objects", 1, "position", 1): [1e308, -1e300],
    ("materials", "wall", "size"): [16, 8193, 10**9], ("materials", "wall", "tile_size_m"): [0, 0.001, -2, 1e9],
    ("materials", "wall", "seed"): [-1, 2**31, 10**30], ("sprites", "tufts", "variants"): [0, 33, 10**6],
    ("sprites", "tufts", "size"): [63, 513, 2**30], ("scatter", 0, "count"): [-1, 10**7, 10**12],
    ("scatter", 0, "min_distance_m"): [-1, 1e9], ("scatter", 1, "scale"): [{"min": 0, "max": 1}, {"min": 2, "max": 1}],
    ("paths", "trail", "width_m"): [0, -3, 1e9], ("lights", 0, "elevation_deg"): [0, 91, -45],
}
JUNK = [b"\xff", b"\x00", b"\x1f", b"\xc3(", b"\xed\xa0\x80"]  # invalid anywhere: not UTF-8, or a control character
WRONG_TYPES = ["512", True, None, [], {}, [1, 2, 3, 4, 5], "x" * 300]


@st.composite
def hostile_scene(draw, box: Sandbox) -> tuple[bytes, str]:
    """(file bytes, regex of the location the message must give)."""
    scene = base_scene()
    kind = draw(st.sampled_from(["number", "type", "path", "image", "mesh", "outputs", "unknown", "deep", "dup",
                                 "bytes", "structure", "name", "fit"]))
    located = r"scene\.json:\d+:\d+: "
    if kind == "number":
        path = draw(st.sampled_from(sorted(NUMBERS, key=str)))
        _set(scene, path, draw(st.sampled_from(NUMBERS[path])))
    elif kind == "type":
        leaves = [p for p in _paths_into(scene) if p and not isinstance(_get(scene, p), (dict, list))
                  and p[-1] not in ("name", "on") and not (len(p) > 1 and p[-2] == "avoid_paths")]
        path = draw(st.sampled_from(leaves))
        value = _get(scene, path)
        choices = [v for v in WRONG_TYPES if type(v) is not type(value)]
        _set(scene, path, draw(st.sampled_from(choices)))
    elif kind == "path":
        where = draw(st.sampled_from(["image", "mask", "height", "mesh"]))
        target = draw(st.sampled_from(box.hostile_paths(".obj" if where == "mesh" else ".png")))
        if where == "image":
            scene["materials"]["wall"] = {"image": target, "size": 64}
        elif where == "mask":
            scene["materials"]["ground"]["blend"]["mask"] = target
        elif where == "height":
            scene["objects"][0]["height"] = {"image": target}
        else:
            scene["objects"][1] = {"type": "mesh", "name": "hut", "file": target, "material": "wall"}
    elif kind == "image":
        target = draw(st.sampled_from(HOSTILE_IMAGES))
        where = draw(st.sampled_from(["image", "mask", "height"]))
        if where == "image":
            scene["materials"]["wall"] = {"image": target, "size": 64}
        elif where == "mask":
            if target == "tiny.png":
                target = "bomb.png"  # a tiny mask is fine (it is resized)
            scene["materials"]["ground"]["blend"]["mask"] = target
        else:
            if target == "tiny.png":
                target = "truncated.png"
            scene["objects"][0]["height"] = {"image": target}
    elif kind == "mesh":
        scene["objects"][1] = {"type": "mesh", "name": "hut", "file": draw(st.sampled_from(HOSTILE_MESHES)),
                               "material": "wall"}
    elif kind == "outputs":
        names = draw(st.sampled_from([("render.png", "render.png"), ("scene.glb", "SCENE.GLB"), ("a.png", "a.png")]))
        keys = draw(st.sampled_from([("image", "depth"), ("image", "glb"), ("glb", "summary"), ("depth", "summary")]))
        scene["outputs"] = dict(zip(keys, names))
    elif kind == "unknown":
        where = draw(st.sampled_from([p for p in _paths_into(scene) if isinstance(_get(scene, p), dict)]))
        size = draw(st.sampled_from([3, 80, 5000, 200_000]))
        key = "zz" + draw(st.text(alphabet="abcxyz_\u00e9\u4e2d\n\"\\", min_size=1, max_size=5)) * size
        _get(scene, where)[key[:size]] = 1
    elif kind == "deep":
        depth = draw(st.sampled_from([65, 200, 985, 5000, 100_000]))
        text = json.dumps(scene)[:-1] + ', "x": ' + draw(st.sampled_from(["[", '{"a":'])) * depth + "}"
        return text.encode(), r"scene\.json:\d+:\d+: invalid JSON: nested"
    elif kind == "dup":
        text = json.dumps(scene, indent=1)
        key = draw(st.sampled_from(['"name"', '"materials"', '"render"', '"objects"']))
        text = text.replace("{", "{" + key + ": 1, ", 1)
        return text.encode(), r"scene\.json:\d+:\d+: duplicate key"
    elif kind == "bytes":
        data = json.dumps(scene, indent=1).encode()
        at = draw(st.integers(0, len(data) - 1))
        junk = draw(st.sampled_from(JUNK))
        return data[:at] + junk + data[at + 1:], r"scene\.json(:\d+:\d+)?: "
    elif kind == "structure":
        path = draw(st.sampled_from([("materials",), ("objects",), ("scatter",), ("camera",), ("render",), ("lights",),
                                     ("objects", 0), ("paths", "trail", "points"), ("outputs",)]))
        _set(scene, path, draw(st.sampled_from([7, "text", True, [[]], None, [1, 2]])))
    elif kind == "name":
        path = draw(st.sampled_from([("name",), ("objects", 1, "name"), ("scatter", 0, "name")]))
        _set(scene, path, draw(st.sampled_from(["a" * 300, "../x", "a/b", "", " ", "a\x00b", "{x}"])))
    else:  # work that cannot be done
        choice = draw(st.sampled_from(["scatter", "terrain", "render", "empty", "path"]))
        if choice == "scatter":
            scene["scatter"][0].update(count=draw(st.sampled_from([10**6, 500_000])), min_distance_m=0.4)
        elif choice == "terrain":
            scene["objects"][0].update(size_m=draw(st.sampled_from([[1e-3, 40], [1e-3, 1e5], [1, 3000]])), resolution=2048)
        elif choice == "render":
            scene["render"] = draw(st.sampled_from([{"width": 8192, "height": 16, "antialias": 4},
                                                    {"width": 16, "height": 5000, "antialias": 4}]))
        elif choice == "empty":
            scene["objects"], scene["scatter"] = [], []
        else:
            scene["materials"]["ground"]["tile_size_m"] = 0.01
            scene["paths"]["trail"]["points"] = [[-2000, -2000], [2000, 2000]]
    return json.dumps(scene, indent=1).encode(), located


@settings(max_examples=SCENE_CASES, **FUZZ)
@given(data=st.data())
def test_fuzz_scene_files(env: dict, data) -> None:
    box: Sandbox = env["box"]
    blob, located = data.draw(hostile_scene(box))
    path = box.spec / "scene.json"
    path.write_bytes(blob)
    command = data.draw(st.sampled_from(["validate", "validate", "validate", "build"]))
    argv = [command, str(path), "--model", str(env["model"]), "--sprite-model", str(env["sprite_model"])]
    if command == "build":
        argv += ["--out", str(box.root / "build-out"), "--no-cache"]
    code, out, err = run_case(env, argv, "scene")
    assert_refused(code, out, err, located, blob[:300])
    assert not (box.root / "build-out").exists(), "build wrote outputs for a refused scene"


# -------------------------------------------------------------------------------------------- libraries
def base_library() -> dict:
    return {"name": "lib", "materials": [{"class": ["brick", "grass"], "seeds": [0, 1], "sizes": [64]},
                                         {"photo": "photo.png", "seeds": {"start": 2, "count": 2}, "sizes": [64],
                                          "name": "wall_{seed}"}],
            "sprites": [{"name": "tufts", "class": "grass_tuft", "count": 2, "size": 64, "height_m": 0.5}]}


LIB_NUMBERS = {
    ("materials", 0, "sizes", 0): ["512", 512.0, True, 100, 0, -64, 2**40, None],
    ("materials", 0, "seeds", 0): ["0", -1, 2**31, 1.5, True],
    ("materials", 1, "seeds", "count"): [0, -1, "2", 10**9, True],
    ("materials", 0, "tile_size_m"): [0, -1, "2", 1e9, True],
    ("materials", 0, "normal_strength"): [-1, 100, "1"],
    ("sprites", 0, "count"): [True, "8", 0, 257, 8.0],
    ("sprites", 0, "size"): [100, "64", 1024, 64.0],
    ("sprites", 0, "height_m"): ["512", 0, -1, 1e9],
    ("sprites", 0, "alpha_cutoff"): [0, 1, "0.5"],
    ("version",): [2, True, "1", 1.0],
}


@st.composite
def hostile_library(draw, box: Sandbox) -> tuple[bytes, str, str | None]:
    """(file bytes, regex of the location, the library model field given instead of its flag, or None)."""
    lib = base_library()
    kind = draw(st.sampled_from(["number", "photo", "model", "name", "template", "unknown", "deep", "dup", "bytes",
                                 "structure", "dupname"]))
    located = r"library\.json:\d+:\d+: "
    if kind == "model":  # a model directory named by the library: outside, a symlink out, a file, a loop, none
        field = draw(st.sampled_from(["model", "sprite_model"]))
        lib[field] = draw(st.sampled_from(box.hostile_paths(".png") + [
            "../outside", str(box.outside), "out_dir_link", "out_dir_link/..", "dir.png", "photo.png", "."]))
        return json.dumps(lib, indent=1).encode(), located + field + "(:| )", field
    if kind == "number":
        path = draw(st.sampled_from(sorted(LIB_NUMBERS, key=str)))
        _set(lib, path, draw(st.sampled_from(LIB_NUMBERS[path])))
    elif kind == "photo":
        lib["materials"][1]["photo"] = draw(st.sampled_from(box.hostile_paths(".png") + HOSTILE_IMAGES))
    elif kind == "name":
        path = draw(st.sampled_from([("name",), ("sprites", 0, "name")]))
        _set(lib, path, draw(st.sampled_from(["a" * 300, "a" * 101, "../x", "a/b", "", "-x", "a\x00"])))
    elif kind == "template":
        lib["materials"][0]["name"] = draw(st.sampled_from(["{", "}", "x{", "{class", "{colour}", "{0}", "{seed!r}",
                                                             "{seed:>300}", "{class.__class__}", "a" * 96 + "{class}",
                                                             "{class}/{seed}", "same"]))
    elif kind == "unknown":
        where = draw(st.sampled_from([(), ("materials", 0), ("sprites", 0), ("materials", 1, "seeds")]))
        _get(lib, where)["z" * draw(st.sampled_from([2, 90, 10_000, 300_000]))] = 1
    elif kind == "deep":
        depth = draw(st.sampled_from([65, 1000, 100_000]))
        text = json.dumps(lib)[:-1] + ', "d": ' + "[" * depth + "}"
        return text.encode(), r"library\.json:\d+:\d+: invalid JSON: nested", None
    elif kind == "dup":
        text = json.dumps(lib, indent=1).replace('"name": "lib"', '"name": "lib", "name": "x"', 1)
        return text.encode(), r"library\.json:\d+:\d+: duplicate key", None
    elif kind == "bytes":
        data = json.dumps(lib, indent=1).encode()
        at = draw(st.integers(0, len(data) - 1))
        junk = draw(st.sampled_from(JUNK))
        return data[:at] + junk + data[at + 1:], r"library\.json(:\d+:\d+)?: ", None
    elif kind == "structure":
        path = draw(st.sampled_from([("materials",), ("sprites",), ("materials", 0), ("sprites", 0, "class"),
                                     ("materials", 0, "class"), ("materials", 1, "seeds")]))
        _set(lib, path, draw(st.sampled_from([7, True, None, [[]], {"a": 1}, [] if path[-1] == "class" else "x"])))
    else:
        lib["materials"].append({"class": "brick", "seeds": [1], "sizes": [64]})
    return json.dumps(lib, indent=1).encode(), located, None


def test_base_library_is_valid(env: dict) -> None:
    from scenegen.export.library import expand_library, load_library

    box: Sandbox = env["box"]
    path = box.spec / "library.json"
    path.write_text(json.dumps(base_library()))
    assert len(expand_library(load_library(path), box.spec, str(path))) == 7


@settings(max_examples=LIBRARY_CASES, **FUZZ)
@given(data=st.data())
def test_fuzz_library_files(env: dict, data) -> None:
    box: Sandbox = env["box"]
    blob, located, model_field = data.draw(hostile_library(box))
    path = box.spec / "library.json"
    path.write_bytes(blob)
    out = box.root / "export-out"
    shutil.rmtree(out, ignore_errors=True)
    models = {"model": ["--model", str(env["model"])], "sprite_model": ["--sprite-model", str(env["sprite_model"])]}
    models.pop(model_field, None)  # the library's own field is used (a flag would win over it)
    argv = ["export", str(path), "--out", str(out), *sum(models.values(), []), "--workers", "1", "--quiet"]
    code, stdout, err = run_case(env, argv, "library")
    assert_refused(code, stdout, err, located, blob[:300])
    assert not out.exists(), "export started for a refused library"


# ------------------------------------------------------------------------------------------ command lines
def _bad_values(box: Sandbox) -> dict[tuple[str, str], list[str]]:
    photos = [str(box.spec / p) for p in ("bomb.png", "wide_bomb.png", "pipe.png", "loop1.png", "zero.png", "dir.png",
                                          "truncated.png", "tiny.png")] + ["/dev/zero", "/dev/urandom", "nul\x00.png"]
    return {
        ("material", "--size"): ["0", "31", "8193", str(10**12), "-512", "x", "1e3", ""],
        ("material", "--variations"): ["0", "-1", str(10**9), "10001", "x"],
        ("material", "--seed"): ["-1", "x", "1.5"],
        ("material", "--grain"): ["-1", "nan", "inf", "100", "x"],
        ("material", "--scale"): ["0", "nan", "-1", "1e9"],
        ("material", "--from-image"): photos,
        ("sprite", "--count"): ["0", "-1", str(10**9), "5000", "x"],
        ("sprite", "--size"): ["0", "63", "513", str(2**40), "x"],
        ("sprite", "--height-m"): ["0", "-1", "inf", "nan", "1e9", "x"],
        ("sprite", "--temperature"): ["nan", "-1", "3", "inf"],
        ("sprite", "--seed"): ["-1", "x"],
        ("export", "--workers"): ["0", "-1", str(10**6), "x"],
        ("export", "--target"): ["vulkan", ""],
        ("gallery", "--seeds"): ["0", "-1", "65", str(10**9), "x"],
        ("gallery", "--size"): ["0", "31", "8193", "x"],
        ("train", "--checkpoint-every"): ["0", "-1", "x"],
        ("train", "--sample-every"): ["0", "-5"],
        ("train", "--lr"): ["nan", "-1", "0", "inf", "2", "x"],
        ("train", "--steps"): ["0", "-1", "x"],
        ("train", "--batch"): ["0", "-1", "100000"],
        ("train", "--crop"): ["0", "63", "65", "4096"],
        ("train", "--kl-weight"): ["nan", "-1", "inf"],
        ("train", "--out"): [str(box.spec / "photo.png"), str(box.spec / "photo.png" / "sub")],
        ("train", "--data"): [str(box.spec / "missing"), str(box.spec / "photo.png")],
        ("build", "--antialias"): ["0", "5", "x"],
        ("build", "--width"): ["0", "15", "8193", str(10**9)],
    }


def _argv(box: Sandbox, env: dict, command: str, flag: str, value: str) -> list[str]:
    if command == "material":
        base = ["material", "brick", "--model", str(env["model"]), "--out", str(box.root / "m-out"), "--no-cache",
                "--no-preview", "--quiet"]
        if flag == "--from-image":
            base.remove("brick")
        if flag == "--scale":
            base.remove("brick")
            base += ["--from-image", str(box.spec / "photo.png")]
    elif command == "sprite":
        base = ["sprite", "grass_tuft", "--model", str(env["sprite_model"]), "--out", str(box.root / "s-out"), "--quiet"]
    elif command == "export":
        lib = box.spec / "good-library.json"
        lib.write_text(json.dumps({"materials": [{"class": "brick", "sizes": [64]}]}))
        base = ["export", str(lib), "--out", str(box.root / "e-out"), "--model", str(env["model"]), "--quiet"]
    elif command == "gallery":
        base = ["gallery", "--model", str(env["model"]), "--out", str(box.root / "g-out"), "--size", "32"]
    elif command == "train":
        base = ["train", "--data", str(box.spec), "--out", str(box.root / "t-out"), "--quiet"]
        if flag in ("--out", "--data"):
            base = [b for i, b in enumerate(base) if b != flag and (i == 0 or base[i - 1] != flag)]
    else:
        scene = box.spec / "good-scene.json"
        scene.write_text(json.dumps({"materials": {"m": {"class": "brick", "size": 64}},
                                     "objects": [{"type": "plane", "material": "m"}]}))
        base = ["build", str(scene), "--out", str(box.root / "b-out"), "--model", str(env["model"]), "--no-cache"]
    return base + [flag, value]


@settings(max_examples=ARGS_CASES, **FUZZ)
@given(data=st.data())
def test_fuzz_command_lines(env: dict, data) -> None:
    box: Sandbox = env["box"]
    table = _bad_values(box)
    command, flag = data.draw(st.sampled_from(sorted(table)))
    value = data.draw(st.sampled_from(table[(command, flag)]))
    argv = _argv(box, env, command, flag, value)
    noise = data.draw(st.integers(0, 2**31 - 1))  # a valid option beside the bad one (which comes last and wins)
    valid = {"material": ["--seed", str(noise)], "sprite": ["--seed", str(noise)], "train": ["--seed", str(noise)],
             "gallery": ["--size", str(32 + noise % 33)], "export": ["--target", ["gltf", "godot", "unity"][noise % 3]],
             "build": ["--height", str(16 + noise % 49)]}[command]
    argv = argv[:1] + valid + argv[1:]
    code, out, err = run_case(env, argv, "args")
    # our errors name the flag or the file; argparse's name the argument
    located = rf"({re.escape(flag)}|{re.escape(os.path.basename(value))[:40] or 'NUL'}|NUL|argument {re.escape(flag)}|render)"
    assert_refused(code, out, err, located, argv)
    for produced in ("m-out", "s-out", "e-out", "g-out", "t-out", "b-out"):
        assert not any((box.root / produced).rglob("*.png")), f"{command} wrote files for a refused argument"


def test_fuzz_counts_and_memory(env: dict) -> None:
    """Runs after the fuzz tests above (pytest keeps file order): how many cases ran, and the peak RSS reached."""
    if set(CASES_RUN) == {"scene", "library", "args"}:  # all three ran (not a -k selection)
        assert sum(CASES_RUN.values()) >= 1000, CASES_RUN
    assert peak_rss_mb() - START_RSS_MB < MAX_RSS_GROWTH_MB, f"peak RSS grew {peak_rss_mb() - START_RSS_MB:.0f} MB"


# ----------------------------------------------------------------------------------------------- subprocesses
SUBPROCESS_CASES = [
    (["material", "--from-image", "{spec}/pipe.png", "--model", "{model}"], r"pipe\.png: .*FIFO"),
    (["material", "--from-image", "{spec}/bomb.png", "--model", "{model}"], r"bomb\.png: .*30000×30000"),
    (["material", "--from-image", "/dev/zero", "--model", "{model}"], r"/dev/zero: .*character device"),
    (["sprite", "rock", "--count", str(10**9), "--model", "{sprite_model}"], r"--count must be"),
    (["validate", "{spec}/deep.json", "--model", "{model}"], r"deep\.json:1:\d+: invalid JSON: nested"),
    (["export", "{spec}/pipe.png", "--out", "{root}/x"], r"pipe\.png: .*FIFO"),
]


@pytest.mark.parametrize("argv,located", SUBPROCESS_CASES, ids=[" ".join(a[:2]) for a, _ in SUBPROCESS_CASES])
def test_fuzz_subprocess_cases(env: dict, argv: list[str], located: str) -> None:
    box: Sandbox = env["box"]
    (box.spec / "deep.json").write_text("[" * 1_000_000)
    values = {"spec": str(box.spec), "model": str(env["model"]), "sprite_model": str(env["sprite_model"]),
              "root": str(box.root)}
    argv = [a.format(**values) for a in argv]
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run([sys.executable, "-m", "scenegen", *argv], capture_output=True, text=True, timeout=120,
                              cwd=cwd, env=dict(os.environ, SCENEGEN_CACHE=str(Path(cwd) / "cache")))
    assert_refused(done.returncode, done.stdout, done.stderr, located, argv)
    peak_child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    assert peak_child_mb < 3000, f"a subprocess peaked at {peak_child_mb:.0f} MB"
