"""Add-on preferences: the Python that has scenegen, the model folder, the output/cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy

from . import state, worker_client

ADDON_ID = __package__  # "scenegen_blender" (legacy add-on) or "bl_ext.<repo>.scenegen_blender" (extension)
_DETECTED: dict[str, str | None] = {}


def _on_change(self: bpy.types.AddonPreferences, context: bpy.types.Context) -> None:
    worker_client.stop_shared()  # the next job starts a worker with the new settings
    state.reset()


class ScenegenPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    python: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Python with scenegen", subtype="FILE_PATH", update=_on_change,
        description="Python executable of the environment where scenegen is installed (empty: auto-detect)",
    )
    model_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Model folder", subtype="DIR_PATH", update=_on_change,
        description="scenegen model directory (empty: the model shipped with scenegen)",
    )
    sprite_model_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Sprite model folder", subtype="DIR_PATH", update=_on_change,
        description="scenegen sprite model directory for billboards (empty: the sprite model shipped with scenegen)",
    )
    output_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output / cache folder", subtype="DIR_PATH",
        description="Where generated textures, sprites and scenes are written (empty: Blender's user folder for this add-on)",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        row = layout.row(align=True)
        row.prop(self, "python")
        row.operator("scenegen.detect_python", text="", icon="VIEWZOOM")
        if not self.python:
            detected = _DETECTED.get("python")
            layout.label(text=f"Auto-detected: {detected}" if detected else "Auto-detect runs on first use (SCENEGEN_PYTHON, a checkout's .venv, python3 on PATH)",
                         icon="INFO")
        layout.prop(self, "model_dir")
        layout.prop(self, "sprite_model_dir")
        layout.prop(self, "output_dir")
        layout.operator("scenegen.load_classes", text="Check Worker and Load Classes", icon="CHECKMARK")


def get(context: bpy.types.Context | None = None) -> ScenegenPreferences:
    """This add-on's preferences."""
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences


def python_path(context: bpy.types.Context | None = None) -> str:
    """The configured Python, else the auto-detected one (detected once per session); raises if none."""
    configured = bpy.path.abspath(get(context).python).strip()
    if configured:
        return configured
    if "python" not in _DETECTED:
        _DETECTED["python"] = worker_client.detect_python(Path(__file__).parent)
    found = _DETECTED["python"]
    if not found:
        raise worker_client.WorkerError(
            "no Python with scenegen found: set 'Python with scenegen' in the SceneGen add-on preferences "
            "(or the SCENEGEN_PYTHON environment variable)", "start")
    return found


def redetect_python() -> str | None:
    """Forget and repeat the auto-detection."""
    _DETECTED.pop("python", None)
    _DETECTED["python"] = worker_client.detect_python(Path(__file__).parent)
    return _DETECTED["python"]


def _folder(value: str) -> str | None:
    value = value.strip()
    return bpy.path.abspath(value).rstrip("/\\") or None if value else None


def model_dir(context: bpy.types.Context | None = None) -> str | None:
    """The texture model folder, or None for scenegen's default."""
    return _folder(get(context).model_dir)


def sprite_model_dir(context: bpy.types.Context | None = None) -> str | None:
    """The sprite model folder, or None for scenegen's default."""
    return _folder(get(context).sprite_model_dir)


def output_dir(context: bpy.types.Context | None = None, sub: str = "") -> Path:
    """The output/cache folder (created): the preference, else the extension's user folder, else a
    ``scenegen`` folder in Blender's user data; never the add-on's own folder."""
    value = get(context).output_dir.strip()
    if value:
        root = Path(bpy.path.abspath(value))
    else:
        root = None
        if hasattr(bpy.utils, "extension_path_user") and ADDON_ID.startswith("bl_ext."):
            try:
                root = Path(bpy.utils.extension_path_user(ADDON_ID, path="output", create=True))
            except (ValueError, OSError):
                root = None
        if root is None:
            user = bpy.utils.user_resource("DATAFILES", path="scenegen") or os.path.join(tempfile.gettempdir(), "scenegen-blender")
            root = Path(user)
    folder = root / sub if sub else root
    folder.mkdir(parents=True, exist_ok=True)
    return folder


classes = (ScenegenPreferences,)
