"""Model directories are data: hashes verified, pickle refused, clear one-line errors."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from scenegen.errors import ScenegenError
from scenegen.model.weights import load_model_dir


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints", "samples"))
    return dst


def test_round_trip_loads(tiny_model: Path) -> None:
    model = load_model_dir(tiny_model)
    assert model.classes == ("brick", "grass", "gravel")
    assert len(model.model_hash) == 64


def test_info_describes_model(tiny_model: Path) -> None:
    result = run_cli("info", str(tiny_model))
    assert result.returncode == 0, result.stderr
    assert "brick, grass, gravel" in result.stdout and "sha256" in result.stdout


@pytest.mark.parametrize("damage", ["flip", "truncate", "pickle", "missing"])
def test_damaged_model_is_refused_without_traceback(tiny_model: Path, tmp_path: Path, damage: str) -> None:
    model = _copy(tiny_model, tmp_path / "m")
    weights = model / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0x01
        weights.write_bytes(bytes(blob))
    elif damage == "truncate":
        weights.write_bytes(bytes(blob[: len(blob) // 3]))
    elif damage == "pickle":
        weights.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    else:
        weights.unlink()
    with pytest.raises(ScenegenError):
        load_model_dir(model)
    result = run_cli("info", str(model))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and str(weights) in result.stderr
    if damage == "pickle":
        assert "pickle" in result.stderr


def test_edited_config_hash_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    model = _copy(tiny_model, tmp_path / "m")
    meta = json.loads((model / "config.json").read_text())
    meta["files"]["prior.safetensors"] = "0" * 64
    (model / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ScenegenError, match="SHA-256 mismatch"):
        load_model_dir(model)


def test_garbage_config_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    model = _copy(tiny_model, tmp_path / "m")
    (model / "config.json").write_text("{not json")
    result = run_cli("info", str(model))
    assert result.returncode == 2 and "invalid JSON" in result.stderr and "Traceback" not in result.stderr
