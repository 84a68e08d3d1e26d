"""scene.json: schema, validation messages (file, JSON path, line:column), references, paths outside the folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from scenegen.errors import ScenegenError
from scenegen.imaging import encode_png
from scenegen.scene.loader import load_scene
from scenegen.scene.locate import json_path, line_col, value_positions
from test_scene_support import REPO, cli, small_scene, write_scene


def error_of(tmp_path: Path, scene: dict | str) -> str:
    path = write_scene(tmp_path, scene)
    with pytest.raises(ScenegenError) as info:
        load_scene(path)
    return str(info.value)


def test_value_positions_and_paths() -> None:
    text = '{\n  "a": [1, {"b": "x"}],\n  "c": {"d": true}\n}'
    pos = value_positions(text)
    assert line_col(text, pos[("a", 1, "b")]) == (2, 18)
    assert line_col(text, pos[("c", "d")]) == (3, 14)
    assert line_col(text, pos[("c", ("<key>", "d"))]) == (3, 9)
    assert json_path(("objects", 2, "size_m", 1)) == "objects[2].size_m[1]"
    assert json_path(("materials", "my grass", "seed")) == 'materials["my grass"].seed'
    assert json_path(()) == "$"


def test_small_scene_is_valid(tmp_path: Path) -> None:
    scene = load_scene(write_scene(tmp_path, small_scene()))
    assert scene.object_names == ["ground", "hut"]
    assert scene.spec.materials["ground"].blend.mask.path == "trail"
    assert scene.spec.scatter[1].object.type == "rock"


@pytest.mark.parametrize("mutate,where,message", [
    (lambda s: s["materials"]["wall"].update(sise=64), r"materials\.wall\.sise", "unknown key; did you mean 'size'"),
    (lambda s: s["materials"]["wall"].update(size="64"), r"materials\.wall\.size", "valid integer"),
    (lambda s: s["materials"]["wall"].update(size=100000), r"materials\.wall\.size", "less than or equal to 8192"),
    (lambda s: s["objects"][1].update(size_m=[2, -1, 2]), r"objects\[1\]\.size_m\[1\]", "greater than 0"),
    (lambda s: s["objects"][1].pop("material"), r"objects\[1\]\.material", "required but missing"),
    (lambda s: s["objects"][1].update(type="pyramid"), r"objects\[1\]", "pyramid"),
    (lambda s: s["objects"][1].update(material="marble"), r"objects\[1\]\.material", "unknown material 'marble'"),
    (lambda s: s["scatter"][0].update(sprite="ferns"), r"scatter\[0\]\.sprite", "unknown sprite 'ferns'"),
    (lambda s: s["scatter"][0].update(count=10**9), r"scatter\[0\]\.count", "less than or equal"),
    (lambda s: s["scatter"][0].update(density_per_m2=1.0), r"scatter\[0\]", "exactly one of 'count' or 'density_per_m2'"),
    (lambda s: s["render"].update(width=8000, height=8000, antialias=2), r"render", "must not exceed"),
    (lambda s: s["camera"].update(position=[0, 0, 0], target=[0, 0, 0]), r"camera", "must differ"),
    (lambda s: s["objects"].append(dict(s["objects"][1])), r"objects\[2\]\.name", "duplicate object name 'hut'"),
    (lambda s: s["materials"]["ground"]["blend"]["mask"].update(path="road"), r"materials\.ground\.blend\.mask\.path",
     "unknown path 'road'"),
    (lambda s: s["objects"][1].update(place_on="hut"), r"objects\[1\]\.place_on", "unknown earlier object 'hut'"),
])
def test_messages_name_file_path_and_position(tmp_path: Path, mutate, where: str, message: str) -> None:
    scene = small_scene()
    mutate(scene)
    text = error_of(tmp_path, scene)
    assert re.search(rf"scene\.json:\d+:\d+: {where}(\b|:)", text), text
    assert message in text
    assert "\n" not in text


def test_line_and_column_point_at_the_value(tmp_path: Path) -> None:
    text = json.dumps(small_scene(), indent=2).replace('"size": 64', '"size": "big"')
    message = error_of(tmp_path, text)
    line, col = (int(v) for v in re.search(r"scene\.json:(\d+):(\d+)", message).groups())
    assert text.splitlines()[line - 1][col - 1:].startswith('"big"')


@pytest.mark.parametrize("text,expect", [
    ('{"name": "x",, }', r"scene\.json:1:14: invalid JSON"),
    ('{"name": "x", "name": "y"}', r"scene\.json:1:15: duplicate key \"name\""),
    ('{"render": {"fog_density": NaN}}', r"scene\.json:1:\d+: invalid JSON: NaN is not a JSON number"),
    ('[1, 2]', r"scene\.json:1:1: \$: the scene must be a JSON object"),
    ('', r"scene\.json:1:1: invalid JSON"),
])
def test_syntax_errors(tmp_path: Path, text: str, expect: str) -> None:
    assert re.search(expect, error_of(tmp_path, text))


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "scene.json"
    path.write_bytes(b'{"name": "\xff"}')
    with pytest.raises(ScenegenError, match="not UTF-8"):
        load_scene(path)
    with pytest.raises(ScenegenError, match="scene file not found"):
        load_scene(tmp_path / "nope.json")


def test_files_outside_the_scene_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "photo.png"
    outside.write_bytes(encode_png(np.full((64, 64, 3), 0.5, np.float32)))  # validate decodes it
    scene = small_scene()
    scene["materials"]["wall"] = {"image": "../photo.png", "size": 64}
    folder = tmp_path / "scene"
    message = error_of(folder, scene)
    assert "materials.wall.image" in message and "outside the scene's folder" in message and "--allow-outside" in message
    assert load_scene(write_scene(folder, scene), allow_outside=True).file("materials", "wall", "image") == outside.resolve()
    scene["materials"]["wall"]["image"] = "missing.png"
    assert "file not found" in error_of(folder, scene)
    scene["materials"]["wall"] = {"class": "brick"}
    scene["objects"][1] = {"type": "mesh", "file": "hut.fbx", "material": "wall"}
    assert "unsupported mesh format" in error_of(folder, scene)


def test_schema_command_prints_the_schema() -> None:
    code, out, _ = cli("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"materials", "sprites", "objects", "scatter", "camera", "lights", "render", "outputs"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    kinds = {entry["$ref"].split("/")[-1] for entry in schema["$defs"]["ScatterSpec"]["properties"]["object"]["anyOf"][0]["oneOf"]}
    assert {"TerrainSpec", "MeshSpec", "BoxSpec", "RockSpec"} <= kinds


def test_validate_command_exit_codes(tmp_path: Path, tiny_model: Path) -> None:
    good = write_scene(tmp_path, {k: v for k, v in small_scene().items() if k not in ("sprites", "scatter")})
    code, out, err = cli("validate", str(good), "--model", str(tiny_model))
    assert code == 0, err
    assert "ok" in out
    bad_class = small_scene(sprites={}, scatter=[])
    bad_class["materials"]["wall"]["class"] = "marble"
    path = write_scene(tmp_path, bad_class, "bad.json")
    code, _, err = cli("validate", str(path), "--model", str(tiny_model))
    assert code == 2 and "Traceback" not in err
    assert re.search(r"bad\.json:\d+:\d+: materials\.wall\.class: unknown texture class 'marble'", err), err
    code, _, err = cli("validate", str(tmp_path / "absent.json"))
    assert code == 2 and err.startswith("error: ") and "scene file not found" in err


@pytest.mark.parametrize("example", sorted(p.parent.name for p in (REPO / "examples").glob("*/scene.json")))
def test_examples_validate(example: str, default_model_dir: Path) -> None:
    from scenegen.sprite_gen import default_sprite_model_dir

    if not (default_sprite_model_dir() / "config.json").exists():
        pytest.fail(f"the shipped sprite model is missing from {default_sprite_model_dir()}")
    code, _, err = cli("validate", str(REPO / "examples" / example / "scene.json"))
    assert code == 0, err
