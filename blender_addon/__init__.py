"""SceneGen for Blender: seamless PBR materials, scattered billboards and composed scenes.

A thin front end: all generation runs in a ``scenegen worker`` process (the Python environment that
has scenegen, set in the preferences), so Blender never imports torch and its UI stays responsive.
Nothing is started, downloaded or written at registration; outputs go to the output/cache folder.
"""

from __future__ import annotations

bl_info = {  # read by Blender < 4.2 and by the legacy add-on installer; 4.2+ extensions use blender_manifest.toml
    "name": "SceneGen",
    "author": "scenegen contributors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D Viewport > Sidebar > SceneGen",
    "description": "Seamless PBR materials, scattered billboards and composed scenes from scenegen",
    "category": "Material",
}

import bpy  # noqa: E402

from . import operators, panels, preferences, props  # noqa: E402

_CLASSES = preferences.classes + props.classes + operators.classes + panels.classes


def register() -> None:
    """Register classes and ``Scene.scenegen``; starts no process and touches no network."""
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.scenegen = bpy.props.PointerProperty(type=props.SceneGenSettings)


def unregister() -> None:
    """Stop the worker (cancelling jobs) and unregister everything."""
    operators.shutdown()
    del bpy.types.Scene.scenegen
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
