"""Shared fixtures: a small photo folder and a tiny trained texture model (real torch, real files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from photo_folder import make_photo_folder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# tests/blender runs inside the bpy venv (see tests/test_blender_addon.py), not in this interpreter.
collect_ignore = ["blender"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m scenegen ARGS`` in a fresh process, capturing text output."""
    return subprocess.run(
        [sys.executable, "-m", "scenegen", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def model_inside(model: Path, folder: Path, name: str = "model") -> str:
    """A copy of the model directory ``model`` at ``folder/name`` (its checkpoints and samples left out), for a
    library file in ``folder`` to name: a library's ``model``/``sprite_model`` must lie inside its folder (a
    symlink out is refused like any path out). Returns ``name``, the path to write."""
    import shutil

    shutil.copytree(model, folder / name, ignore=shutil.ignore_patterns("checkpoints", "samples"), dirs_exist_ok=True)
    return name


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, photo_folder: Path) -> Path:
    """A texture model trained for a few steps on the photo folder (enough to exercise every path)."""
    out = tmp_path_factory.mktemp("tiny") / "model"
    result = run_cli("train", "--data", str(photo_folder), "--out", str(out), "--steps", "4", "--batch", "4",
                     "--crop", "64", "--checkpoint-every", "2", "--sample-every", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    path = REPO / "assets" / "models" / "default"
    if not (path / "config.json").exists():
        pytest.fail("the shipped default model is missing from assets/models/default")
    return path
