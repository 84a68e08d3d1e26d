"""Property test: malformed scene files never crash `scenegen validate` (≥ 200 random mutations of a valid file).

Each mutation is chosen to be invalid for sure: a value of a wrong type, an unknown key, a required key
removed, an absurd number, a dangling name, a path leaving the folder, bytes that are not UTF-8 or not
JSON, a truncated file. Every one must give exit code 2, one ``error:`` line naming the file and a JSON
path or line:column, and no traceback.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_scene_support import cli, small_scene, tiny_sprite_model_dir

FILE = "broken_scene.json"
WHERE = re.compile(rf"{re.escape(FILE)}(:\d+:\d+)?: ")
REQUIRED = [  # (path to a dict, key) whose removal makes the scene invalid
    (("objects", 0), "type"), (("objects", 1), "material"), (("paths", "trail"), "points"),
    (("materials", "wall"), "class"), (("scatter", 0), "sprite"), (("scatter", 1), "object"),
    (("scatter", 1, "object"), "material"), (("sprites", "tufts"), "class"), (("lights", 0), "type"),
    (("materials", "ground", "blend"), "mask"),
]
ABSURD = [
    (("materials", "wall", "size"), 10**9), (("render", "width"), 10**6), (("scatter", 0, "count"), 10**12),
    (("objects", 0, "resolution"), 10**7), (("sprites", "tufts", "variants"), 10**4), (("render", "antialias"), 64),
    (("scatter", 0, "min_distance_m"), -1), (("objects", 1, "size_m"), [2, 0, 2]), (("camera", "yfov_deg"), 400),
    (("sprites", "tufts", "size"), 1 << 20), (("materials", "wall", "tile_size_m"), 0),
]
DANGLING = [
    (("objects", 1, "material"), "nothing"), (("scatter", 0, "sprite"), "nothing"), (("scatter", 0, "on"), "nothing"),
    (("scatter", 0, "avoid_paths"), ["nothing"]), (("materials", "wall", "class"), "no_such_class"),
    (("sprites", "tufts", "class"), "no_such_sprite"), (("objects", 1, "place_on"), "hut"),
    (("materials", "wall"), {"image": "../../outside.png"}), (("objects", 1), {"type": "mesh", "file": "/etc/passwd",
                                                                               "material": "wall"}),
]


def base_scene() -> dict:
    scene = small_scene()
    scene["lights"] = [{"type": "sun", "azimuth_deg": 200, "elevation_deg": 40}, {"type": "ambient"}]
    return scene


def leaves(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out += leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += leaves(value, path + (index,))
    else:
        out.append((path, node))
    return out


def containers(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += containers(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += containers(value, path + (index,))
    return out


def get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def set_at(node: Any, path: tuple, value: Any) -> None:
    get(node, path[:-1])[path[-1]] = value


def wrong_type(value: Any, pick: int) -> Any:
    if isinstance(value, bool):
        return ["yes", 1, None][pick % 3] if pick % 3 != 2 else "true"
    if isinstance(value, (int, float)):
        return ["12", {"v": 1}, [value], True][pick % 4]
    if isinstance(value, str):
        return [12345, ["x"], {"s": value}, False][pick % 4]
    return "oops"


@st.composite
def malformed(draw) -> bytes:
    scene = base_scene()
    text = json.dumps(scene, indent=2)
    kind = draw(st.sampled_from(["type", "unknown", "missing", "absurd", "dangling", "garbage", "truncate", "container"]))
    if kind == "type":
        path, value = draw(st.sampled_from(leaves(scene)))
        set_at(scene, path, wrong_type(value, draw(st.integers(0, 11))))
    elif kind == "unknown":
        where = draw(st.sampled_from(containers(scene)))
        key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12))
        get(scene, where)["zz_" + key] = draw(st.sampled_from([1, "x", None, [1], {"a": 2}]))
    elif kind == "missing":
        where, key = draw(st.sampled_from(REQUIRED))
        del get(scene, where)[key]
    elif kind == "absurd":
        path, value = draw(st.sampled_from(ABSURD))
        set_at(scene, path, value)
    elif kind == "dangling":
        path, value = draw(st.sampled_from(DANGLING))
        set_at(scene, path, value)
    elif kind == "container":  # a whole section of the wrong shape
        path = draw(st.sampled_from([("materials",), ("objects",), ("scatter",), ("camera",), ("render",),
                                     ("objects", 0), ("scatter", 0), ("lights",), ("paths", "trail", "points")]))
        set_at(scene, path, draw(st.sampled_from([7, "text", True, [[]], [1, 2]])))
    data = json.dumps(scene, indent=2).encode("utf-8") if kind not in ("garbage", "truncate") else text.encode()
    if kind == "garbage":
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3(", b"\x01", b"@", b"}", b"{", b",,", b"\x00", b"]"]))
        data = data[:at] + junk + data[at:]
    elif kind == "truncate":
        data = data[:draw(st.integers(0, len(data) - 2))]
    return data


@pytest.fixture(scope="module")
def models(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_model, tiny_sprite_model_dir(tmp_path_factory)


def test_base_scene_is_valid(models: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / FILE
    path.write_text(json.dumps(base_scene()))
    code, _, err = cli("validate", str(path), "--model", str(models[0]), "--sprite-model", str(models[1]))
    assert code == 0, err


@settings(max_examples=240, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=malformed())
def test_malformed_scenes_fail_cleanly(models: tuple[Path, Path], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene" / FILE
        path.parent.mkdir()
        (Path(tmp) / "outside.png").write_bytes(b"\x89PNG")
        path.write_bytes(data)
        code, out, err = cli("validate", str(path), "--model", str(models[0]), "--sprite-model", str(models[1]))
    assert "Traceback" not in err + out
    assert code == 2, (data[:400], err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert WHERE.search(lines[0]), err
    located = re.search(rf"{re.escape(FILE)}:\d+:\d+: ", lines[0]) or re.search(r": [A-Za-z_$][\w.\[\]\"$]*: ", lines[0])
    assert located, f"no line:col or JSON path in {lines[0]!r}"
