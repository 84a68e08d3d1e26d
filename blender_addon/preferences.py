"""Add-on preferences: the SceneGen core (installed by the add-on) or the Python that has scenegen, the model
folders, the output/cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy

from . import core, state, worker_client

ADDON_ID = __package__  # "scenegen_blender" (legacy add-on) or "bl_ext.<repo>.scenegen_blender" (extension)
_DETECTED: dict[str, str | None] = {}


def _on_change(self: bpy.types.AddonPreferences, context: bpy.types.Context) -> None:
    worker_client.stop_shared()  # the next job starts a worker with the new settings
    state.reset()


class ScenegenPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    core_scenegen: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="SceneGen package", default=core.SCENEGEN_SPEC,
        description="What pip installs: 'scenegen', 'scenegen==0.4.0', a wheel file, a source folder or a git URL",
    )
    core_torch: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Torch", default=core.TORCH_SPEC,
        description="The torch pip installs (empty: none of its own, e.g. when the wheel folder or a shared environment has it)",
    )
    core_torch_index: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Torch index", default=core.TORCH_CPU_INDEX,
        description="Package index for torch: the CPU build by default; e.g. https://download.pytorch.org/whl/cu126 "
                    "for an NVIDIA GPU, empty for the default index",
    )
    core_wheels: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Wheel folder (offline)", subtype="DIR_PATH",
        description="Install from the wheels in this folder only, without the network (pip --no-index --find-links)",
    )
    core_share: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Share packages of", subtype="FILE_PATH",
        description="Optional: the Python of an existing environment (same Python version) whose packages, "
                    "e.g. a GPU torch, the core uses instead of installing its own",
    )
    show_core_options: bpy.props.BoolProperty(name="Install options", default=False)  # type: ignore[valid-type]

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
        self._draw_core(layout)
        row = layout.row(align=True)
        row.prop(self, "python")
        row.operator("scenegen.detect_python", text="", icon="VIEWZOOM")
        if not self.python:
            detected = core_python() or _DETECTED.get("python")
            layout.label(text=f"Using: {detected}" if detected else "Empty: the SceneGen core above, else auto-detect "
                                                                    "(SCENEGEN_PYTHON, a checkout's .venv, python3 on PATH)",
                         icon="INFO")
        layout.prop(self, "model_dir")
        layout.prop(self, "sprite_model_dir")
        layout.prop(self, "output_dir")
        layout.operator("scenegen.load_classes", text="Check Worker and Load Classes", icon="CHECKMARK")

    def _draw_core(self, layout: bpy.types.UILayout) -> None:
        box = layout.box()
        record = installed_core()
        installer = state.INSTALL.get("installer")
        if record is not None:
            box.label(text=f"SceneGen core: scenegen {record.get('scenegen')}, torch {record.get('torch')}"
                           f"{' (CUDA)' if record.get('cuda') else ''}", icon="CHECKMARK")
            box.label(text=f"in {Path(record['python']).parent.parent}")
        else:
            box.label(text="SceneGen core: not installed. Install it here, or set 'Python with scenegen' below.", icon="INFO")
        if installer is not None and installer.running:
            row = box.row(align=True)
            state.progress_row(row, installer.progress, installer.step)
            row.operator("scenegen.cancel_install", text="", icon="CANCEL")
        else:
            label = "Update SceneGen core" if record is not None else "Install SceneGen core"
            box.operator("scenegen.install_core", text=label, icon="IMPORT")
        if installer is not None:
            if installer.error:
                for i, line in enumerate(state.wrap_text(installer.error, 90)):
                    box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
            col = box.column(align=True)
            for line in list(installer.log)[-8:]:
                col.label(text=line[:140])
            box.label(text=f"Log: {core_root() / core.LOG}")
        box.prop(self, "show_core_options", icon="TRIA_DOWN" if self.show_core_options else "TRIA_RIGHT", emboss=False)
        if self.show_core_options:
            for name in ("core_scenegen", "core_torch", "core_torch_index", "core_wheels", "core_share"):
                box.prop(self, name)


def get(context: bpy.types.Context | None = None) -> ScenegenPreferences:
    """This add-on's preferences."""
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences


def core_root() -> Path:
    """Where the SceneGen core lives: the extension's user folder (``.../extensions/.user/<repo>/<id>/core``),
    or for a legacy add-on ``<Blender user datafiles>/scenegen/core``; never the add-on's own folder."""
    if hasattr(bpy.utils, "extension_path_user") and ADDON_ID.startswith("bl_ext."):
        try:
            return Path(bpy.utils.extension_path_user(ADDON_ID, path="core", create=True))
        except (ValueError, OSError):
            pass
    user = bpy.utils.user_resource("DATAFILES", path="scenegen", create=True) or os.path.join(tempfile.gettempdir(), "scenegen-blender")
    return Path(user) / "core"


def installed_core() -> dict | None:
    """The SceneGen core's install record (scenegen and torch versions, its Python), or None."""
    return core.installed(core_root())


def core_python() -> str | None:
    """The SceneGen core's Python, if it is installed."""
    record = installed_core()
    return str(record["python"]) if record else None


def python_path(context: bpy.types.Context | None = None) -> str:
    """The Python the worker runs on: the preference; else ``$SCENEGEN_PYTHON``; else the installed SceneGen
    core; else an auto-detected one (a checkout's .venv, python3 on PATH; once per session). Raises if none.
    Never depends on Blender's current folder."""
    configured = bpy.path.abspath(get(context).python).strip()
    if configured:
        return configured
    found = os.environ.get("SCENEGEN_PYTHON") or core_python()
    if not found:
        if "python" not in _DETECTED:
            _DETECTED["python"] = worker_client.detect_python(Path(__file__).parent)
        found = _DETECTED["python"]
    if not found:
        raise worker_client.WorkerError(
            "no Python with scenegen found: click 'Install SceneGen core' in the SceneGen add-on preferences, "
            "or set 'Python with scenegen' there", "start")
    return found


def redetect_python() -> str | None:
    """Forget and repeat the auto-detection (the installed core counts)."""
    _DETECTED.pop("python", None)
    _DETECTED["python"] = worker_client.detect_python(Path(__file__).parent, core_python())
    return _DETECTED["python"]


def forget_detection() -> None:
    _DETECTED.clear()


def core_options(context: bpy.types.Context | None = None) -> core.Options:
    """The install options from the preferences (and Blender's online-access setting)."""
    prefs = get(context)
    wheels, share = prefs.core_wheels.strip(), prefs.core_share.strip()
    online = getattr(bpy.app, "online_access", True)
    return core.Options(scenegen=prefs.core_scenegen.strip(), torch=prefs.core_torch.strip(),
                        torch_index=prefs.core_torch_index.strip(),
                        wheels=bpy.path.abspath(wheels).rstrip("/\\") if wheels else "",
                        share_from=bpy.path.abspath(share) if share else "", online=bool(online))


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
