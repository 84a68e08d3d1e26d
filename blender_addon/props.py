"""Per-scene settings shown in the SceneGen sidebar (``scene.scenegen``)."""

from __future__ import annotations

import bpy

from . import state

SIZES = [(str(s), f"{s}²", f"{s}×{s} pixels") for s in (256, 512, 1024, 2048, 4096)]
TARGETS = [("gltf", "glTF", "glTF 2.0 conventions (OpenGL normals, ORM)"), ("godot", "Godot", "Godot 4 ORMMaterial3D .tres"),
           ("unity", "Unity", "Unity HDRP mask maps"), ("unreal", "Unreal", "DirectX normals"),
           ("blender", "Blender", "Blender conventions")]
SPRITE_SIZES = [(str(s), f"{s}²", f"{s}×{s} pixels") for s in (64, 128, 256, 512)]


def _search(key: str):
    def search(self, context, edit_text: str) -> list[str]:
        names = state.CLASSES.get(key) or state.CLASSES.get("classes") or []
        return [name for name in names if edit_text.lower() in name.lower()] or list(names)
    return search


class SceneGenSettings(bpy.types.PropertyGroup):
    # Material
    material_class: bpy.props.StringProperty(name="Class", description="Texture class of the model", search=_search("classes"))  # type: ignore[valid-type]
    material_seed: bpy.props.IntProperty(name="Seed", default=0, min=0)  # type: ignore[valid-type]
    material_size: bpy.props.EnumProperty(name="Size", items=SIZES, default="512")  # type: ignore[valid-type]
    tile_size: bpy.props.FloatProperty(name="Tile Size", description="Metres of surface one texture tile covers",  # type: ignore[valid-type]
                                       default=1.0, min=0.001, soft_max=100.0, subtype="DISTANCE", unit="LENGTH")
    displacement: bpy.props.BoolProperty(name="Displacement", description="Link the height map as true displacement (Cycles, subdivided meshes)")  # type: ignore[valid-type]
    ao_multiply: bpy.props.BoolProperty(name="Multiply AO", description="Darken the base colour by the AO map (as game engines do)")  # type: ignore[valid-type]
    # Billboards
    billboard_class: bpy.props.StringProperty(name="Class", description="Sprite class", search=_search("sprite_classes"))  # type: ignore[valid-type]
    billboard_variants: bpy.props.IntProperty(name="Variants", description="Distinct sprites generated", default=4, min=1, max=64)  # type: ignore[valid-type]
    billboard_size: bpy.props.EnumProperty(name="Sprite Size", items=SPRITE_SIZES, default="256")  # type: ignore[valid-type]
    billboard_seed: bpy.props.IntProperty(name="Seed", default=0, min=0)  # type: ignore[valid-type]
    billboard_mode: bpy.props.EnumProperty(name="Amount", items=[("COUNT", "Count", "About this many billboards on the surface"),  # type: ignore[valid-type]
                                                                 ("DENSITY", "Density", "Billboards per square metre")], default="COUNT")
    billboard_count: bpy.props.IntProperty(name="Count", default=100, min=1, soft_max=100000)  # type: ignore[valid-type]
    billboard_density: bpy.props.FloatProperty(name="Density /m²", default=2.0, min=0.0, soft_max=1000.0)  # type: ignore[valid-type]
    billboard_spacing: bpy.props.FloatProperty(name="Min Distance", default=0.2, min=0.0, subtype="DISTANCE", unit="LENGTH")  # type: ignore[valid-type]
    scale_min: bpy.props.FloatProperty(name="Height Min", default=0.8, min=0.01, subtype="DISTANCE", unit="LENGTH")  # type: ignore[valid-type]
    scale_max: bpy.props.FloatProperty(name="Height Max", default=1.5, min=0.01, subtype="DISTANCE", unit="LENGTH")  # type: ignore[valid-type]
    max_slope: bpy.props.FloatProperty(name="Max Slope °", default=45.0, min=0.0, max=90.0)  # type: ignore[valid-type]
    billboard_kind: bpy.props.EnumProperty(name="Card", items=[("cross", "Cross", "Two crossed quads"), ("quad", "Quad", "One quad")], default="cross")  # type: ignore[valid-type]
    # Scene / library
    scene_path: bpy.props.StringProperty(name="scene.json", subtype="FILE_PATH")  # type: ignore[valid-type]
    export_spec: bpy.props.StringProperty(name="Library spec", subtype="FILE_PATH")  # type: ignore[valid-type]
    export_dir: bpy.props.StringProperty(name="Export to", subtype="DIR_PATH")  # type: ignore[valid-type]
    export_target: bpy.props.EnumProperty(name="Target", default="gltf", items=TARGETS)  # type: ignore[valid-type]


classes = (SceneGenSettings,)
