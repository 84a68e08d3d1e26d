"""The "SceneGen" tab in the 3D Viewport sidebar: Material, Billboards, Scene."""

from __future__ import annotations

import bpy

from . import operators, state


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SceneGen"


class SCENEGEN_PT_main(_Panel, bpy.types.Panel):
    bl_label = "SceneGen"

    def draw(self, context):
        layout = self.layout
        classes = state.CLASSES
        if not classes["classes"] and not classes["error"]:
            operators.load_classes_async(context)
        if classes["loading"]:
            layout.label(text="Starting the scenegen worker…", icon="TIME")
        elif classes["error"]:
            col = layout.column(align=True)
            col.label(text="SceneGen worker problem:", icon="ERROR")
            for line in state.wrap_text(classes["error"], 40):
                col.label(text=line)
            col.operator("scenegen.load_classes", text="Retry", icon="FILE_REFRESH")
        installer = state.INSTALL.get("installer")
        if installer is not None and installer.running:
            state.progress_row(layout.row(), installer.progress, f"Installing the SceneGen core: {installer.step}")
        elif classes["error"].startswith("no Python with scenegen"):
            layout.operator("scenegen.install_core", text="Install SceneGen Core", icon="IMPORT")
        for job in list(state.RUNNING.values()):
            state.progress_row(layout.row(align=True), job.progress, job.message)
        if state.RUNNING:
            layout.operator("scenegen.cancel_jobs", icon="CANCEL")


class SCENEGEN_PT_material(_Panel, bpy.types.Panel):
    bl_label = "Material"
    bl_parent_id = "SCENEGEN_PT_main"

    def draw(self, context):
        settings = context.scene.scenegen
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        row = layout.row(align=True)
        row.prop(settings, "material_class")
        row.operator("scenegen.load_classes", text="", icon="FILE_REFRESH")
        layout.prop(settings, "material_seed")
        layout.prop(settings, "material_size")
        layout.prop(settings, "tile_size")
        layout.prop(settings, "displacement")
        layout.prop(settings, "ao_multiply")
        col = layout.column(align=True)
        col.use_property_split = False
        col.operator("scenegen.generate_material", icon="MATERIAL")
        col.operator("scenegen.material_from_image", icon="IMAGE_DATA").filepath = ""


class SCENEGEN_PT_billboards(_Panel, bpy.types.Panel):
    bl_label = "Billboards"
    bl_parent_id = "SCENEGEN_PT_main"

    def draw(self, context):
        settings = context.scene.scenegen
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(settings, "billboard_class")
        if state.CLASSES["sprite_error"]:
            col = layout.column(align=True)
            for i, line in enumerate(state.wrap_text(state.CLASSES["sprite_error"], 40)):
                col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        layout.prop(settings, "billboard_variants")
        layout.prop(settings, "billboard_size")
        layout.prop(settings, "billboard_seed")
        layout.prop(settings, "billboard_mode")
        layout.prop(settings, "billboard_count" if settings.billboard_mode == "COUNT" else "billboard_density")
        layout.prop(settings, "billboard_spacing")
        col = layout.column(align=True)
        col.prop(settings, "scale_min")
        col.prop(settings, "scale_max")
        layout.prop(settings, "max_slope")
        layout.prop(settings, "billboard_kind")
        row = layout.row()
        row.use_property_split = False
        row.enabled = context.active_object is not None and context.active_object.type == "MESH"
        row.operator("scenegen.scatter_billboards", icon="OUTLINER_OB_POINTCLOUD")


class SCENEGEN_PT_scene(_Panel, bpy.types.Panel):
    bl_label = "Scene"
    bl_parent_id = "SCENEGEN_PT_main"

    def draw(self, context):
        settings = context.scene.scenegen
        layout = self.layout
        layout.prop(settings, "scene_path")
        layout.operator("scenegen.build_scene", icon="SCENE_DATA").filepath = settings.scene_path
        layout.separator()
        layout.prop(settings, "export_spec")
        layout.prop(settings, "export_dir")
        layout.prop(settings, "export_target")
        layout.operator("scenegen.export_library", icon="EXPORT")


classes = (SCENEGEN_PT_main, SCENEGEN_PT_material, SCENEGEN_PT_billboards, SCENEGEN_PT_scene)
