"""Model directories: identity from the files. A tampered model is refused by every command that uses it, with
its outputs already in the cache (the cache key never vouches for the files); config.json names only files of
its own directory; verified hashes are remembered by stat, and never trusted once a file changed.

Real shipped models (copied), real commands (in-process, as `scenegen ARGS`), real caches.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from scenegen.errors import ScenegenError
from scenegen.model import directory
from test_scene_support import REPO, cli, write_scene

CASES = ("flip", "truncate", "pickle", "dev_zero", "missing", "flip_keep_mtime")
COMMANDS = ("material", "sprite", "build", "export")


@contextlib.contextmanager
def tampered(model: Path, case: str) -> Iterator[Path]:
    """``model``'s weights damaged as ``case`` says for the duration; the original bytes put back after."""
    path = model / ("prior.safetensors" if case == "flip_keep_mtime" else "model.safetensors")
    original, st = path.read_bytes(), path.stat()
    if case in ("flip", "flip_keep_mtime"):  # in place: same inode and size
        with open(path, "r+b") as handle:
            handle.seek(len(original) // 2)
            handle.write(bytes([original[len(original) // 2] ^ 0x01]))
        if case == "flip_keep_mtime":  # only the ctime (which nobody can set) tells the stat record apart
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    elif case == "truncate":
        path.write_bytes(original[: len(original) // 3])
    elif case == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    elif case == "dev_zero":
        path.unlink()
        path.symlink_to("/dev/zero")
    else:
        path.unlink()
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        path.write_bytes(original)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Copies of the shipped models, a cache, and one scene and one library using them (cache warmed below)."""
    root = tmp_path_factory.mktemp("modeldir")
    texture = Path(shutil.copytree(REPO / "assets/models/default", root / "texture"))
    sprite = Path(shutil.copytree(REPO / "assets/models/sprites", root / "sprite"))
    scene = write_scene(root / "scene", {
        "name": "tamper",
        "materials": {"wall": {"class": "brick", "seed": 1, "size": 64, "tile_size_m": 2.0}},
        "objects": [{"type": "box", "name": "hut", "material": "wall", "size_m": [2, 2, 2]}],
        "camera": {"position": [0, 3, 8], "target": [0, 0, 0]},
        "render": {"width": 64, "height": 48, "antialias": 1},
    })
    library = root / "library" / "library.json"
    library.parent.mkdir()
    library.write_text(json.dumps({"version": 1, "name": "tamper", "materials": [
        {"class": "grass", "seeds": [0], "sizes": [64], "tile_size_m": 2.0}]}))
    saved = os.environ.get("SCENEGEN_CACHE")
    os.environ["SCENEGEN_CACHE"] = str(root / "cache")
    try:
        yield {"root": root, "texture": texture, "sprite": sprite, "scene": scene, "library": library}
    finally:
        if saved is None:
            os.environ.pop("SCENEGEN_CACHE", None)
        else:
            os.environ["SCENEGEN_CACHE"] = saved


def command(env: dict, name: str, out: Path) -> list[str]:
    model = ["--model", str(env["texture"])]
    return {
        "material": ["material", "brick", "--seed", "1", "--size", "64", "--quiet", *model],
        "sprite": ["sprite", "grass_tuft", "--count", "1", "--size", "64", "--quiet", "--model", str(env["sprite"])],
        "build": ["build", str(env["scene"]), *model, "--cache", str(env["root"] / "cache")],
        "export": ["export", str(env["library"]), "--workers", "1", "--quiet", *model],
    }[name] + ["--out", str(out)]


def model_of(env: dict, name: str) -> Path:
    return env["sprite"] if name == "sprite" else env["texture"]


@pytest.fixture(scope="module")
def warm(env: dict) -> dict:
    """Every command run once with the intact models; a second run is served from the cache."""
    for name in COMMANDS:
        code, out, err = cli(*command(env, name, env["root"] / "warm" / name))
        assert code == 0, err
        again, out, err = cli(*command(env, name, env["root"] / "warm" / name))
        assert again == 0, err
        if name == "material":
            assert "(cached)" in out, out
        elif name == "build":
            assert "cache      1 hits, 0 generated" in out, out
        elif name == "export":
            assert "1 already up to date" in err + out, err + out
    return env


def assert_refused(code: int, out: str, err: str, names: str) -> None:
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, (code, out, err)
    assert len(errors) == 1 and errors[0] == lines[-1] and names in errors[0], err  # (after progress lines)
    assert "Traceback" not in err


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", COMMANDS)
def test_tampered_model_is_refused_with_the_cache_warm(warm: dict, name: str, case: str, tmp_path: Path) -> None:
    out = warm["root"] / "warm" / "export" if name == "export" else tmp_path / "out"  # export's cache: its folder
    before = snapshot(out)
    with tampered(model_of(warm, name), case) as path:
        code, stdout, err = cli(*command(warm, name, out))
    assert_refused(code, stdout, err, str(path))
    if case == "pickle":
        assert "pickle" in err
    if case == "dev_zero":
        assert "not a regular file" in err
    assert snapshot(out) == before, "nothing written for a refused model"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


@pytest.mark.parametrize("entry", ["../../x", "../../../../etc/passwd", "/etc/passwd"])
@pytest.mark.parametrize("name", COMMANDS + ("info",))
def test_config_names_only_files_of_its_directory(warm: dict, name: str, entry: str, tmp_path: Path) -> None:
    model = model_of(warm, name)
    config = model / "config.json"
    original = config.read_bytes()
    meta = json.loads(original)
    meta["files"][entry] = "0" * 64
    config.write_text(json.dumps(meta))
    try:
        args = ["info", str(model)] if name == "info" else command(warm, name, tmp_path / "out")
        code, out, err = cli(*args)
    finally:
        config.write_bytes(original)
    assert_refused(code, out, err, str(config))
    assert "not a file of the model directory" in err and entry in err


def test_a_restored_model_serves_the_cache_again(warm: dict, tmp_path: Path) -> None:
    with tampered(warm["texture"], "flip"):
        assert cli(*command(warm, "material", tmp_path / "a"))[0] == 2
    code, out, err = cli(*command(warm, "material", tmp_path / "b"))
    assert code == 0 and "(cached)" in out, err


def test_hashes_are_remembered_by_stat_and_forgotten_on_any_change(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCENEGEN_HASH_RECORDS", str(tmp_path / "records"))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"abc" * 1000)
    real = directory.file_sha256(path)
    records = list((tmp_path / "records").iterdir())
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["sha256"] == real and record["path"] == os.path.realpath(path)
    record["sha256"] = "f" * 64  # a record is what an unchanged file is taken to hash to ...
    records[0].write_text(json.dumps(record))
    assert directory.file_sha256(path) == "f" * 64
    st = path.stat()
    with open(path, "r+b") as handle:  # ... and any write makes it stale, even with the mtime put back
        handle.write(b"x")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert directory.file_sha256(path) != "f" * 64


def test_config_checks_are_one_line_errors(tmp_path: Path) -> None:
    model = Path(shutil.copytree(REPO / "assets/models/sprites", tmp_path / "m"))
    original = json.loads((model / "config.json").read_text())

    def refused(meta: object | str, match: str) -> None:
        (model / "config.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
        with pytest.raises(ScenegenError, match=match):
            directory.inspect(model)

    refused("[" * 100_000 + "]" * 100_000, "nested too deeply")
    refused('{"format": "scenegen-vae", "format": "x"}', "duplicate key 'format'")
    refused({**original, "model": {**original["model"], "decoder_widths": [100000, 48, 32, 16]}},
            "model: decoder_widths must hold integers from 1 to 4096")
    refused({**original, "model": {**original["model"], "latent_channels": -1}}, "model: latent_channels")
    refused({**original, "model": {**original["model"], "classes": ["a", "a"]}}, "each once")
    refused({**original, "files": {**original["files"], "model.safetensors": "nothex"}}, "not a SHA-256")
    (model / "config.json").write_text(json.dumps(original))
    info = directory.inspect(model, "sprite")
    assert info.verified and info.classes == tuple(original["model"]["classes"])
    with pytest.raises(ScenegenError, match="is a sprite model, but a texture model is needed"):
        directory.inspect(model, "texture")


def test_identity_is_the_one_every_cache_key_holds(warm: dict) -> None:
    from scenegen import api
    from scenegen.build import model_ref
    from scenegen.export.run import inspect_model

    info = directory.inspect(warm["texture"])
    loaded = api.load_model(warm["texture"])
    assert info.identity == loaded.identity == model_ref(warm["texture"], "texture").identity \
        == inspect_model(warm["texture"], "texture").identity
    assert info.model_hash == loaded.model_hash
    entries = [json.loads(p.read_text())["request"]
               for p in (warm["root"] / "cache").glob("*/*/entry.json")]
    assert entries and all(e["model_hash"] == info.identity for e in entries if e["kind"].endswith("material"))
