"""Fixtures for the add-on tests, which run inside the bpy virtual environment (``.venv-blender``):

    .venv-blender/bin/python -m pytest tests/blender -q -p no:cacheprovider --confcutdir tests/blender

(``tests/test_blender_addon.py`` runs exactly that from the main suite.) Under any Python without
``bpy`` this folder is not collected. Blender's user folders are redirected to a temporary folder
before ``bpy`` is imported; the add-on is installed from the built zip like a user would.

Environment: ``SCENEGEN_PYTHON`` (the Python that has scenegen; default ``<repo>/.venv/bin/python``),
``SCENEGEN_TEST_MODEL`` (a small model for the functional tests; default: trained here in ~1 min),
``SCENEGEN_TEST_SPRITE_MODEL`` (a sprite model; default ``assets/models/sprites``, else trained here),
``SCENEGEN_DEFAULT_MODEL`` (the shipped model, for the render test; default ``assets/models/default``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("bpy") is None:  # the main venv: tests/test_blender_addon.py runs us in .venv-blender
    collect_ignore_glob = ["*.py"]
else:
    _USER = tempfile.mkdtemp(prefix="scenegen-blender-user-")
    os.environ["BLENDER_USER_RESOURCES"] = _USER  # config, scripts, extensions, datafiles: never the real ones
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

    import pytest

    sys.path.insert(0, str(Path(__file__).parent))

    @pytest.fixture(scope="session")
    def scenegen_python() -> str:
        python = os.environ.get("SCENEGEN_PYTHON") or str(REPO / ".venv" / "bin" / "python")
        if not Path(python).exists():
            pytest.fail(f"no Python with scenegen at {python} (set SCENEGEN_PYTHON)")
        return python

    @pytest.fixture(scope="session")
    def test_model(scenegen_python: str, tmp_path_factory: pytest.TempPathFactory) -> str:
        """A model for functional tests: $SCENEGEN_TEST_MODEL, else a tiny one trained now (real training)."""
        given = os.environ.get("SCENEGEN_TEST_MODEL")
        if given:
            return given
        root = tmp_path_factory.mktemp("tiny")
        script = ("import sys; sys.path.insert(0, %r); from photo_folder import make_photo_folder; "
                  "from pathlib import Path; make_photo_folder(Path(%r))") % (str(REPO / "tests"), str(root / "photos"))
        subprocess.run([scenegen_python, "-c", script], check=True, timeout=300)
        out = root / "model"
        result = subprocess.run([scenegen_python, "-m", "scenegen", "train", "--data", str(root / "photos"), "--out", str(out),
                                 "--steps", "4", "--batch", "4", "--crop", "64", "--checkpoint-every", "2",
                                 "--sample-every", "2", "--quiet"], capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr
        return str(out)

    @pytest.fixture(scope="session")
    def sprite_model(scenegen_python: str, tmp_path_factory: pytest.TempPathFactory) -> str:
        """$SCENEGEN_TEST_SPRITE_MODEL, else the shipped sprite model, else a tiny one trained now."""
        given = os.environ.get("SCENEGEN_TEST_SPRITE_MODEL")
        if given:
            return given
        shipped = REPO / "assets" / "models" / "sprites"
        if (shipped / "config.json").exists():
            return str(shipped)
        root = tmp_path_factory.mktemp("tiny-sprites")
        code = ("import sys; from pathlib import Path; from scenegen.data.sprites_procedural import SPRITE_CLASSES, "
                "generate_sprite; from scenegen.imaging import save_png\n"
                "for c in SPRITE_CLASSES:\n"
                "    for s in range(6):\n"
                "        save_png(Path(sys.argv[1]) / c / f'{c}_{s}.png', generate_sprite(c, s, 64))\n")
        subprocess.run([scenegen_python, "-c", code, str(root / "corpus")], check=True, timeout=900)
        result = subprocess.run([scenegen_python, "-m", "scenegen", "train", "--mode", "sprite", "--data", str(root / "corpus"),
                                 "--out", str(root / "model"), "--steps", "2", "--batch", "4", "--crop", "64",
                                 "--checkpoint-every", "2", "--sample-every", "2", "--quiet"],
                                capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stderr
        return str(root / "model")

    @pytest.fixture(scope="session")
    def default_model() -> str:
        path = Path(os.environ.get("SCENEGEN_DEFAULT_MODEL") or REPO / "assets" / "models" / "default")
        if not (path / "config.json").exists():
            pytest.fail(f"the shipped default model is missing from {path}")
        return str(path)

    @pytest.fixture(scope="session")
    def addon_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
        """The installable zip, built by blender_addon/build_zip.py into a temporary folder."""
        out = tmp_path_factory.mktemp("dist") / "scenegen_blender.zip"
        subprocess.run([sys.executable, str(REPO / "blender_addon" / "build_zip.py"), "--out", str(out)],
                       check=True, capture_output=True, timeout=60)
        return out

    @pytest.fixture(scope="session")
    def addon(addon_zip: Path, scenegen_python: str, test_model: str, sprite_model: str,
              tmp_path_factory: pytest.TempPathFactory):
        """The add-on installed from the zip as a legacy add-on and enabled, preferences set explicitly."""
        import addon_utils
        import bpy

        assert "FINISHED" in bpy.ops.preferences.addon_install(filepath=str(addon_zip), overwrite=True)
        module = addon_utils.enable("scenegen_blender", default_set=True, handle_error=None)
        assert module is not None, "the add-on failed to enable"
        prefs = bpy.context.preferences.addons["scenegen_blender"].preferences
        prefs.python = scenegen_python
        prefs.model_dir = test_model
        prefs.sprite_model_dir = sprite_model
        prefs.output_dir = str(tmp_path_factory.mktemp("blender-out"))
        yield module
        addon_utils.disable("scenegen_blender", default_set=True)

    @pytest.fixture()
    def scene(addon):
        """A fresh, empty scene made current (preferences and the running worker are kept)."""
        import bpy

        old = bpy.context.window.scene
        new = bpy.data.scenes.new("test")
        bpy.context.window.scene = new
        yield new
        bpy.context.window.scene = old
        for obj in list(new.objects):
            bpy.data.objects.remove(obj)
        bpy.data.scenes.remove(new)

    @pytest.fixture(scope="session")
    def core_wheels(scenegen_python: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """A wheel folder holding only scenegen, built now from this checkout (``pip wheel --no-deps``, no
        network, from a copy of the sources so that the checkout gets no build folder)."""
        import shutil

        root = tmp_path_factory.mktemp("core-wheels")
        source = root / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, source / name)
        shutil.copytree(REPO / "scenegen", source / "scenegen", ignore=ignore)
        shutil.copytree(REPO / "assets" / "models", source / "assets" / "models", ignore=ignore)
        wheels = root / "wheels"
        result = subprocess.run([scenegen_python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                                 "-q", "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert [p.name for p in wheels.glob("scenegen-*.whl")], list(wheels.iterdir())
        return wheels
