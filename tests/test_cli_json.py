"""The CLI in a pipeline: ``--json`` (one JSON object alone on stdout) and ``--quiet`` on every command that writes
files, progress lines on stderr when it is not a terminal, and help text on every option of every command.

Real processes (``python -m scenegen``, so stdout and stderr are pipes, as in a pipeline), the tiny trained
models of the test session, real files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from conftest import model_inside, run_cli
from scenegen.cli import build_parser
from test_scene_support import small_scene, tiny_sprite_model_dir, write_scene


def one_json(stdout: str) -> dict:
    """stdout holds exactly one JSON object (one line) and nothing else."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout[-2000:]
    payload = json.loads(lines[0])
    assert isinstance(payload, dict)
    return payload


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, sub in subcommands().items() for action in sub._actions
               if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()]
    assert not missing, missing
    for name in ("build", "material", "sprite", "export", "train"):
        flags = {flag for action in subcommands()[name]._actions for flag in action.option_strings}
        assert {"--json", "--quiet"} <= flags, name


def test_export_help_names_no_missing_command() -> None:
    done = run_cli("export", "--help")
    assert done.returncode == 0
    assert "schema --library" not in done.stdout and "examples/library/library.json" in done.stdout
    assert "--compress" in done.stdout and "--json" in done.stdout


def test_material_json_and_quiet(tiny_model: Path, tmp_path: Path) -> None:
    done = run_cli("material", "brick", "--size", "64", "--model", str(tiny_model), "--out", str(tmp_path),
                   "--no-preview", "--no-cache", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    payload = one_json(done.stdout)
    assert payload["command"] == "material" and payload["size"] == 64
    files = payload["materials"][0]["files"]
    assert set(files) == {"basecolor", "normal", "roughness", "height", "ao", "orm"}
    assert all(Path(path).is_file() for path in files.values())
    assert done.stderr == "", done.stderr


def test_sprite_json(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    model = tiny_sprite_model_dir(tmp_path_factory)
    done = run_cli("sprite", "bush", "--count", "2", "--size", "64", "--seed", "3", "--mesh", "quad", "--atlas",
                   "--model", str(model), "--out", str(tmp_path / "s"), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    payload = one_json(done.stdout)
    assert payload["sprites"] == ["bush_3_0", "bush_3_1"] and payload["mesh"] == "quad"
    names = sorted(Path(p).name for p in payload["files"])
    assert names == sorted(["bush_3_0.png", "bush_3_0.glb", "bush_3_1.png", "bush_3_1.glb", "bush_contact_sheet.png",
                            "bush_atlas.png", "bush_atlas.json"])
    assert all(Path(p).is_file() for p in payload["files"]) and done.stderr == ""


def test_build_json_quiet(tiny_model: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    scene = write_scene(tmp_path / "scene", small_scene())
    models = ["--model", str(tiny_model), "--sprite-model", str(tiny_sprite_model_dir(tmp_path_factory))]
    done = run_cli("build", str(scene), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"),
                   "--json", "--quiet", *models)
    assert done.returncode == 0, done.stderr
    payload = one_json(done.stdout)
    assert payload["command"] == "build" and payload["scene"] == "small" and payload["compressed"] is False
    assert set(payload["files"]) == {"render.png", "scene.glb", "build.json"}
    glb = payload["files"]["scene.glb"]
    assert Path(glb["path"]).stat().st_size == glb["bytes"] and len(glb["sha256"]) == 64
    assert payload["counts"]["billboards"] == 150 and payload["warnings"] == []
    assert "render" in payload["timings_s"]
    assert done.stderr == "", "--quiet: no stage lines"
    # Without --quiet the stage lines go to stderr, never into the JSON on stdout.
    again = run_cli("build", str(scene), "--out", str(tmp_path / "out2"), "--cache", str(tmp_path / "cache"),
                    "--json", "--gpu-instancing", *models)
    assert again.returncode == 0, again.stderr
    payload = one_json(again.stdout)
    assert payload["gpu_instancing"] is True and "EXT_mesh_gpu_instancing" in payload["warnings"][0]
    assert "render" in again.stderr and "warning: the GLB requires EXT_mesh_gpu_instancing" in again.stderr


def test_export_json_and_verify_json(tiny_model: Path, tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"model": model_inside(tiny_model, tmp_path),
                                   "materials": [{"class": "grass", "sizes": [64]}]}))
    out = tmp_path / "out"
    done = run_cli("export", str(library), "--out", str(out), "--workers", "1", "--target", "unity", "--json")
    assert done.returncode == 0, done.stderr
    payload = one_json(done.stdout)
    assert payload["target"] == "unity" and payload["built"] == 1 and payload["failed"] == []
    assert Path(payload["manifest"]).is_file() and payload["files"] == 15  # 7 PNG + mask + 7 .meta + GLB - sheet
    verify = run_cli("export", "--verify", str(out), "--json")
    assert verify.returncode == 0 and one_json(verify.stdout)["ok"] is True
    (out / "materials/grass_0_64/grass_0_64_orm.png").write_bytes(b"broken")
    verify = run_cli("export", "--verify", str(out), "--json")
    report = one_json(verify.stdout)
    assert verify.returncode == 1 and report["ok"] is False
    assert report["problems"][0].startswith("materials/grass_0_64/grass_0_64_orm.png: SHA-256 mismatch")


def test_train_json_and_progress_lines_off_a_terminal(photo_folder: Path, tmp_path: Path) -> None:
    args = ["train", "--data", str(photo_folder), "--steps", "3", "--batch", "2", "--crop", "64",
            "--checkpoint-every", "3", "--sample-every", "3", "--from-scratch"]
    done = run_cli(*args, "--out", str(tmp_path / "m1"), "--json")
    assert done.returncode == 0, done.stderr
    payload = one_json(done.stdout)
    assert payload["command"] == "train" and payload["steps"] == 3 and payload["init_from"] is None
    assert {"model.safetensors", "prior.safetensors"} <= set(payload["files"])
    assert all(Path(entry["path"]).is_file() and len(entry["sha256"]) == 64 for entry in payload["files"].values())
    # stderr is a pipe here: plain progress lines instead of a bar, ending at 100 %.
    assert "train: " in done.stderr and "100% (3/3 steps)" in done.stderr, done.stderr
    quiet = run_cli(*args, "--out", str(tmp_path / "m2"), "--json", "--quiet")
    assert quiet.returncode == 0 and "train: " not in quiet.stderr, quiet.stderr
