"""A first-time user's seat: the one-click SceneGen core install, detection, and where outputs go.

The install runs for real: a fresh Blender (own user folder, the extension installed from the zip, no
Python path in the preferences, no SCENEGEN_PYTHON) clicks "Install SceneGen core" against a wheel folder
the test built from this checkout, then generates a material with the shipped model. Torch is not
downloaded: the installer is told to install no torch of its own and to share the packages of the main
venv (the "Share packages of" option), which is how a user reuses an existing (GPU) torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import bpy  # noqa: F401  (also makes addon_utils importable)
import pytest

REPO = Path(__file__).resolve().parents[2]

_INSTALL_SCRIPT = r'''
import json, os, sys
from pathlib import Path
import bpy, addon_utils
zip_path, wheels, share, phase = sys.argv[1:5]
name = "bl_ext.user_default.scenegen_blender"
if phase == "install":
    assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True) == {"FINISHED"}
else:
    addon_utils.enable(name, default_set=True, handle_error=None)
mod = sys.modules[name]
prefs = bpy.context.preferences.addons[name].preferences
assert prefs.python == "" and prefs.model_dir == "" and prefs.output_dir == ""
addon_dir = Path(mod.__file__).parent
before = sorted(str(p.relative_to(addon_dir)) for p in addon_dir.rglob("*") if "__pycache__" not in p.parts)
out = {"phase": phase, "core_root": str(mod.preferences.core_root()), "addon_dir": str(addon_dir)}
if phase == "install":
    try:
        mod.preferences.python_path()
        out["before_install"] = "found"
    except mod.worker_client.WorkerError as exc:
        out["before_install"] = str(exc)
    # The install options a user sets for an offline install that reuses an existing torch:
    prefs.core_wheels, prefs.core_torch, prefs.core_share = wheels, "", share
    assert bpy.ops.scenegen.install_core() == {"FINISHED"}
    installer = mod.state.INSTALL["installer"]
    out["log"] = list(installer.log)[-40:]
    out["steps"] = [line[3:] for line in installer.log if line.startswith("== ")]
elif phase == "update":
    prefs.core_wheels, prefs.core_torch, prefs.core_share = wheels, "", share
    assert bpy.ops.scenegen.install_core() == {"FINISHED"}
out["python"] = mod.preferences.python_path()
out["record"] = mod.preferences.installed_core()
bpy.ops.mesh.primitive_cube_add(size=2)
assert bpy.ops.scenegen.load_classes() == {"FINISHED"}
out["classes"] = list(mod.state.CLASSES["classes"])
settings = bpy.context.scene.scenegen
settings.material_size = "256"
assert bpy.ops.scenegen.generate_material() == {"FINISHED"}
image = bpy.context.active_object.active_material.node_tree.nodes["SG basecolor"].image
out["image"] = str(Path(bpy.path.abspath(image.filepath)).resolve())
client = mod.operators.get_client(bpy.context)
out["worker_python"] = client.call("ping", timeout=60)["python"]
out["worker_model"] = client.call("classes", {}, timeout=60)["model"]
out["after"] = sorted(str(p.relative_to(addon_dir)) for p in addon_dir.rglob("*") if "__pycache__" not in p.parts)
out["before"] = before
addon_utils.disable(name, default_set=True)
print("RESULT " + json.dumps(out))
'''


def _blender(script: str, *args: str, user: Path, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCENEGEN_", "PIP_"))}
    env["BLENDER_USER_RESOURCES"] = str(user)
    code = f"import os; os.environ['BLENDER_USER_RESOURCES'] = {str(user)!r}\n" + script
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=900,
                            cwd=cwd, env=env)
    line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert result.returncode == 0 and line, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(line[len("RESULT "):])


def test_one_click_core_install_then_a_material_with_no_path_typed(addon_zip, core_wheels, scenegen_python, tmp_path):
    user = tmp_path / "blender-user"
    shared_dist = sorted((Path(scenegen_python).parent.parent / "lib").glob("python3*/site-packages/scenegen-*.dist-info"))
    # Blender's current folder is this checkout: detection must not find the sources lying here.
    first = _blender(_INSTALL_SCRIPT, str(addon_zip), str(core_wheels), scenegen_python, "install", user=user, cwd=REPO)
    assert "Install SceneGen core" in first["before_install"], first["before_install"]
    core_root = Path(first["core_root"])
    assert core_root.is_relative_to(user) and "/extensions/.user/" in str(core_root), core_root
    assert not core_root.is_relative_to(Path(first["addon_dir"]))
    python = core_root / "venv" / "bin" / "python"
    assert first["python"] == str(python) == first["record"]["python"], first
    assert first["worker_python"] == str(python)
    assert first["steps"][0] == "creating the environment" and "installing scenegen" in first["steps"], first["steps"]
    assert first["steps"][-1].startswith("installed scenegen"), first["log"]
    record = json.loads((core_root / "core.json").read_text())
    assert record["scenegen"] and record["torch"] and Path(record["scenegen_file"]).is_relative_to(core_root / "venv")
    assert (core_root / "install.log").read_text().count("$ ") >= 3
    # The shipped model came with the wheel: generated with no model folder set.
    assert Path(first["worker_model"]).is_relative_to(core_root / "venv"), first["worker_model"]
    assert "brick" in first["classes"] and Path(first["image"]).is_file()
    assert not Path(first["image"]).is_relative_to(Path(first["addon_dir"]))
    assert first["after"] == first["before"]  # nothing written into the add-on's folder
    # The shared environment is untouched (pip never uninstalls outside its own environment).
    assert all(dist.is_dir() for dist in shared_dist)

    # Next start (a new Blender, another current folder): the core is found, nothing is installed.
    second = _blender(_INSTALL_SCRIPT, str(addon_zip), str(core_wheels), scenegen_python, "restart", user=user,
                      cwd=Path(tempfile.gettempdir()))
    assert second["python"] == str(python) and second["worker_python"] == str(python)
    # Clicking again updates in place (same environment, same record path).
    third = _blender(_INSTALL_SCRIPT, str(addon_zip), str(core_wheels), scenegen_python, "update", user=user, cwd=tmp_path)
    assert third["python"] == str(python) and third["record"]["installed"] >= first["record"]["installed"]


def test_install_errors_are_reported_not_raised(addon, tmp_path):
    import bpy
    from scenegen_blender import preferences, state

    prefs = preferences.get()
    saved = prefs.core_wheels, prefs.core_torch
    try:
        prefs.core_wheels = str(tmp_path / "no-such-folder")
        with pytest.raises(RuntimeError, match=r"wheel folder .* does not exist"):
            bpy.ops.scenegen.install_core()
        prefs.core_wheels = ""
        if not bpy.app.online_access:
            with pytest.raises(RuntimeError, match=r"online access is off"):
                bpy.ops.scenegen.install_core()
        empty = tmp_path / "empty-wheels"
        empty.mkdir()
        prefs.core_wheels, prefs.core_torch = str(empty), ""
        with pytest.raises(RuntimeError, match=r"installing scenegen failed .*No matching distribution"):
            bpy.ops.scenegen.install_core()
        assert "Traceback" not in "\n".join(state.INSTALL["installer"].log)
        assert preferences.installed_core() is None
    finally:
        prefs.core_wheels, prefs.core_torch = saved
    assert bpy.ops.scenegen.load_classes() == {"FINISHED"}  # the configured worker still runs


def test_detection_never_depends_on_the_current_folder(tmp_path, monkeypatch):
    """From inside a checkout, a Python without scenegen imports the checkout's sources; neither the
    probe nor the worker may count on that (they would fail elsewhere)."""
    from scenegen_blender import worker_client

    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3").symlink_to(sys.executable)  # Blender's Python: no scenegen installed
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PATH", str(bare))
    monkeypatch.delenv("SCENEGEN_PYTHON", raising=False)
    assert subprocess.run([sys.executable, "-c", "import scenegen.worker"], cwd=REPO, capture_output=True).returncode == 0
    assert not worker_client.can_import_scenegen(str(bare / "python3"))
    assert worker_client.detect_python(None) is None
    client = worker_client.WorkerClient(str(bare / "python3"), cwd=str(REPO))
    with pytest.raises(worker_client.WorkerError, match=r"cannot import scenegen"):
        client.call("ping", timeout=60)
    client.stop()
