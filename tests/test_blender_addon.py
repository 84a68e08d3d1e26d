"""The Blender add-on from the main suite: its packaging, its thinness, and its bpy tests.

The bpy tests (tests/blender) need Blender's Python module, which lives in its own virtual environments:
``.venv-blender`` (bpy==5.0.1, the newest) and ``.venv-blender42`` (bpy==4.2.23, the oldest LTS the add-on
supports), each with numpy<2 and pytest; ``make test`` creates both. They are run here in subprocesses, so
the single ``make test`` covers both Blender versions.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "blender_addon"
BLENDERS = {"5.0": (REPO / ".venv-blender", "bpy==5.0.1"), "4.2": (REPO / ".venv-blender42", "bpy==4.2.23")}


def _build(out: Path) -> Path:
    subprocess.run([sys.executable, str(ADDON / "build_zip.py"), "--out", str(out)], check=True, capture_output=True, timeout=60)
    return out


def test_zip_installs_as_extension_and_legacy_addon_and_is_reproducible(tmp_path):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    first, second = _build(tmp_path / "a.zip"), _build(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("scenegen_blender/blender_manifest.toml").decode())
        init = archive.read("scenegen_blender/__init__.py").decode()
    assert all(name.startswith("scenegen_blender/") for name in names), names  # one folder: both installers accept it
    assert not any("__pycache__" in name or name.endswith((".pyc", "build_zip.py")) for name in names)
    sources = sorted(p.name for p in ADDON.iterdir() if p.suffix in (".py", ".toml") and p.name != "build_zip.py")
    assert sorted(Path(name).name for name in names) == sources
    assert manifest["id"] == "scenegen_blender" and manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0" and manifest["schema_version"] == "1.0.0"
    permissions = manifest.get("permissions", {})
    assert set(permissions) == {"files", "network"}  # network: only the core install the user clicks
    assert all(len(reason) <= 64 and not reason.endswith(".") for reason in permissions.values())
    for key in ("name", "tagline", "maintainer", "license", "version"):
        assert manifest[key], key
    assert len(manifest["tagline"]) <= 64 and not manifest["tagline"].endswith(".")
    bl_info = ast.literal_eval(re.search(r"bl_info = (\{.*?\n\})", init, re.S).group(1))
    assert ".".join(map(str, bl_info["version"])) == manifest["version"]
    assert bl_info["blender"] == (4, 2, 0)


def test_addon_is_thin_no_torch_no_scenegen_imports():
    """The add-on talks to scenegen only through the worker; worker_client is standard library only."""
    stdlib = set(sys.stdlib_module_names)
    for path in sorted(ADDON.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module.split(".")[0]]
            else:
                continue
            for module in modules:
                assert module not in ("torch", "scenegen", "safetensors", "trimesh", "pyrender"), f"{path.name} imports {module}"
                if path.name in ("worker_client.py", "core.py", "build_zip.py"):
                    assert module in stdlib or module == "__future__", f"{path.name} imports non-stdlib {module}"


@pytest.mark.slow
@pytest.mark.parametrize("blender", sorted(BLENDERS))
def test_addon_tests_pass_inside_blender(blender, tiny_model, tmp_path_factory):
    """Runs tests/blender in the bpy venv of each Blender version: register/unregister, the core install,
    every operator, scenes by name, export progress, cancel, a Cycles render, errors."""
    from test_scene_support import tiny_sprite_model_dir  # shared with the scene tests (trained once a session)

    venv, requirement = BLENDERS[blender]
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: `make test` creates it (python3 -m venv {venv.name} && "
                    f"{venv.name}/bin/pip install {requirement} 'numpy<2' pytest)")
    env = dict(os.environ, SCENEGEN_PYTHON=sys.executable, SCENEGEN_TEST_MODEL=str(tiny_model))
    if not (REPO / "assets" / "models" / "sprites" / "config.json").exists():
        env["SCENEGEN_TEST_SPRITE_MODEL"] = str(tiny_sprite_model_dir(tmp_path_factory))
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(python), "-m", "pytest", "tests/blender", "-q", "-p", "no:cacheprovider", "--confcutdir", "tests/blender"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
    )
    tail = result.stdout[-6000:] + "\n" + result.stderr[-3000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "skipped" not in summary and "error" not in summary, summary
