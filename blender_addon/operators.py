"""SceneGen operators. Every worker-backed operator shares one job driver (:class:`WorkerJob`):
``job_request`` builds the request, ``job_finished`` turns the result into Blender data. Only the
waiting differs: ``invoke`` in the UI is modal (a timer polls the worker; progress in the status bar
and the sidebar; Esc cancels), ``execute`` (scripts, background mode, tests) waits in place.
Worker errors become operator reports and ``{'CANCELLED'}``, never tracebacks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import bpy

from . import core, nodes, preferences, props, scatter, state, worker_client
from .worker_client import WorkerError

POLL_S = 0.1


class UserError(Exception):
    """A problem with the user's input in Blender (nothing selected, no file chosen)."""


def get_client(context: bpy.types.Context) -> worker_client.WorkerClient:
    """The shared worker for the configured Python (started lazily)."""
    return worker_client.shared_client(preferences.python_path(context), cwd=str(preferences.output_dir(context)))


def with_model(context: bpy.types.Context, params: dict[str, Any]) -> dict[str, Any]:
    """Add the configured model folders (none: scenegen's shipped models) to a request's params."""
    model, sprite_model = preferences.model_dir(context), preferences.sprite_model_dir(context)
    if model:
        params["model"] = model
    if sprite_model:
        params["sprite_model"] = sprite_model
    return params


def store_classes(context: bpy.types.Context | None, result: dict[str, Any]) -> None:
    state.CLASSES.update(classes=list(result.get("classes", [])), sprite_classes=list(result.get("sprite_classes", [])),
                         sprite_error=result.get("sprite_error", ""), model_hash=result.get("model_hash", ""),
                         error="", loading=False)
    scene = context.scene if context is not None else None
    if scene is not None and hasattr(scene, "scenegen"):
        settings = scene.scenegen
        if not settings.material_class and state.CLASSES["classes"]:
            settings.material_class = state.CLASSES["classes"][0]
        if not settings.billboard_class and state.CLASSES["sprite_classes"]:
            settings.billboard_class = state.CLASSES["sprite_classes"][0]


def _redraw_ui() -> None:
    for window in getattr(getattr(bpy.context, "window_manager", None), "windows", []):
        for area in (window.screen.areas if window.screen is not None else ()):
            if area.type in ("VIEW_3D", "PREFERENCES"):
                area.tag_redraw()


def load_classes_async(context: bpy.types.Context) -> None:
    """Fetch the model's classes without blocking the UI (the sidebar calls this on first draw)."""
    if state.CLASSES["loading"] or state.CLASSES["classes"] or state.CLASSES["error"]:
        return
    state.CLASSES["loading"] = True

    def start() -> None:
        try:
            job = get_client(bpy.context).submit("classes", with_model(bpy.context, {}))
        except (WorkerError, OSError) as exc:
            state.CLASSES.update(error=str(exc), loading=False)
            _redraw_ui()
            return None

        def tick() -> float | None:
            if not job.poll(0.0):
                return 0.2
            if job.error is not None:
                state.CLASSES.update(error=str(job.error), loading=False)
            else:
                store_classes(bpy.context, job.result or {})
            _redraw_ui()
            return None

        bpy.app.timers.register(tick, first_interval=0.2)
        return None

    bpy.app.timers.register(start, first_interval=0.05)


class WorkerJob:
    """Mixin: submit one worker request, wait (blocking or modal), then finish in Blender."""

    bl_options = {"REGISTER", "UNDO"}

    def job_request(self, context: bpy.types.Context) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def job_finished(self, context: bpy.types.Context, result: dict[str, Any]) -> set[str]:
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def _submit(self, context: bpy.types.Context) -> worker_client.Job:
        op, params = self.job_request(context)
        job = get_client(context).submit(op, params)
        state.RUNNING[job.id] = job
        return job

    def _conclude(self, context: bpy.types.Context, job: worker_client.Job) -> set[str]:
        state.RUNNING.pop(job.id, None)
        state.FINISHED.append(job)
        _redraw_ui()
        if job.error is not None:
            level = "WARNING" if job.error.code == "cancelled" else "ERROR"
            self.report({level}, f"SceneGen: {job.error}")
            return {"CANCELLED"}
        try:
            return self.job_finished(context, job.result or {})
        except (UserError, WorkerError, OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"SceneGen: {exc}")
            return {"CANCELLED"}

    def _start(self, context: bpy.types.Context) -> worker_client.Job | None:
        try:
            return self._submit(context)
        except (UserError, WorkerError, OSError) as exc:
            self.report({"ERROR"}, f"SceneGen: {exc}")
            return None

    # -- blocking: scripts, background mode -----------------------------------------------------
    def execute(self, context: bpy.types.Context) -> set[str]:
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        while not job.poll(POLL_S):
            pass
        return self._conclude(context, job)

    # -- modal: the UI ----------------------------------------------------------------------------
    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        return self.start_modal(context)

    def start_modal(self, context: bpy.types.Context) -> set[str]:
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        self._job = job
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_S, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        self._status(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            self._status(context, "cancelling…")
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if job.poll(0.0):
            self._end_modal(context)
            return self._conclude(context, job)
        context.window_manager.progress_update(int(job.progress * 100))
        self._status(context)
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        job = getattr(self, "_job", None)
        if job is not None:
            job.cancel()
            state.RUNNING.pop(job.id, None)
        self._end_modal(context)

    def _status(self, context: bpy.types.Context, note: str = "") -> None:
        job = self._job
        text = f"SceneGen: {note or job.message} — {int(job.progress * 100)}%  (Esc to cancel)"
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        _redraw_ui()

    def _end_modal(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        timer = getattr(self, "_timer", None)
        if timer is not None:
            wm.event_timer_remove(timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)


def _mesh_targets(context: bpy.types.Context) -> list[bpy.types.Object]:
    objects = [obj for obj in context.selected_objects if obj.type == "MESH"]
    if not objects and context.active_object is not None and context.active_object.type == "MESH":
        objects = [context.active_object]
    if not objects:
        raise UserError("select one or more mesh objects to put the material on")
    return objects


def _file(path: str, what: str) -> str:
    path = bpy.path.abspath(path or "")
    if not path:
        raise UserError(f"choose a {what}")
    if not Path(path).is_file():
        raise UserError(f"{what} not found: {path}")
    return str(Path(path).resolve())


# ------------------------------------------------------------------------------------------------- material
class _BrowseFirst:
    """Operators that take a file: invoked without one, they open the file browser first, then run modally."""

    def default_path(self, context: bpy.types.Context) -> str:
        return ""

    def remember_path(self, context: bpy.types.Context) -> None:
        """Called with the file the user just picked."""

    def invoke(self, context, event):
        if not self.filepath:
            self.filepath = self.default_path(context)
        if not self.filepath and not bpy.app.background:
            self._browsing = True
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return super().invoke(context, event)

    def execute(self, context):
        if getattr(self, "_browsing", False):  # back from the file browser: run modally
            self._browsing = False
            self.remember_path(context)
            getattr(bpy.ops.scenegen, self.bl_idname.split(".", 1)[1])("INVOKE_DEFAULT", filepath=self.filepath)
            return {"FINISHED"}
        return super().execute(context)


class _MaterialJob(WorkerJob):
    def _remember(self, context: bpy.types.Context) -> None:
        settings = context.scene.scenegen
        self._targets = [obj.name for obj in _mesh_targets(context)]
        self._options = {"tile_size_m": settings.tile_size, "displacement": settings.displacement,
                         "ao_multiply": settings.ao_multiply}

    def _seed_size_out(self, context: bpy.types.Context) -> dict[str, Any]:
        settings = context.scene.scenegen
        return {"seed": settings.material_seed, "size": int(settings.material_size),
                "out_dir": str(preferences.output_dir(context, "materials"))}

    def job_finished(self, context: bpy.types.Context, result: dict[str, Any]) -> set[str]:
        objects = [bpy.data.objects[name] for name in self._targets if name in bpy.data.objects]
        if not objects:
            raise UserError("the target objects were deleted while the material was generating")
        options = dict(self._options)
        tile = options.pop("tile_size_m")
        assigned = nodes.apply_material(objects, result["name"], result["files"], tile,
                                        params=result.get("params"), **options)
        cached = " (cached)" if result.get("cached") else f" in {result.get('seconds', 0):.1f}s"
        self.report({"INFO"}, f"SceneGen: {result['name']} on {len(assigned)} object(s){cached}")
        return {"FINISHED"}


class SCENEGEN_OT_generate_material(_MaterialJob, bpy.types.Operator):
    """Generate a seamless PBR material of the chosen class and put it on the selected meshes"""

    bl_idname = "scenegen.generate_material"
    bl_label = "Generate Material"

    def job_request(self, context):
        settings = context.scene.scenegen
        self._remember(context)
        cls = settings.material_class.strip()
        if not cls:
            raise UserError("choose a material class")
        return "material", with_model(context, {"class": cls, **self._seed_size_out(context)})


class SCENEGEN_OT_material_from_image(_BrowseFirst, _MaterialJob, bpy.types.Operator):
    """A seamless PBR material with the look of a photo, on the selected meshes"""

    bl_idname = "scenegen.material_from_image"
    bl_label = "Material From Image…"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: bpy.props.StringProperty(default="*.png;*.jpg;*.jpeg;*.tif;*.tiff;*.webp;*.bmp", options={"HIDDEN"})  # type: ignore[valid-type]

    def job_request(self, context):
        self._remember(context)
        image = _file(self.filepath, "photo")
        return "material_from_image", with_model(context, {"image": image, **self._seed_size_out(context)})


# ------------------------------------------------------------------------------------------------- billboards
class SCENEGEN_OT_scatter_billboards(WorkerJob, bpy.types.Operator):
    """Generate billboard sprites and scatter them as instances over the active mesh"""

    bl_idname = "scenegen.scatter_billboards"
    bl_label = "Scatter Billboards"

    def job_request(self, context):
        settings = context.scene.scenegen
        surface = context.active_object
        if surface is None or surface.type != "MESH":
            raise UserError("make a mesh the active object: billboards are scattered over it")
        cls = settings.billboard_class.strip()
        if not cls:
            raise UserError("choose a billboard class")
        if settings.scale_max < settings.scale_min:
            raise UserError("Height Max must not be below Height Min")
        self._surface = surface.name
        self._settings = {key: getattr(settings, key) for key in (
            "billboard_mode", "billboard_count", "billboard_density", "billboard_spacing", "scale_min", "scale_max",
            "max_slope", "billboard_kind", "billboard_seed")}
        self._class = cls
        out = preferences.output_dir(context, f"sprites/{cls}_{settings.billboard_seed}_{settings.billboard_size}")
        params = {"class": cls, "seed": settings.billboard_seed, "count": settings.billboard_variants,
                  "size": int(settings.billboard_size), "out_dir": str(out)}
        return "sprites", with_model(context, params)

    def job_finished(self, context, result):
        surface = bpy.data.objects.get(self._surface)
        if surface is None:
            raise UserError("the surface object was deleted while the sprites were generating")
        s = self._settings
        collection = scatter.billboard_collection(f"SG {self._class} billboards", list(result["files"]),
                                                  kind=s["billboard_kind"], scene=context.scene)
        if s["billboard_mode"] == "DENSITY":
            density = s["billboard_density"]
        else:
            density = s["billboard_count"] / max(scatter.surface_area(surface, s["max_slope"]), 1e-6)
        obj = scatter.scatter(surface, collection, density=density, distance_min=s["billboard_spacing"],
                              seed=s["billboard_seed"], scale_min=s["scale_min"], scale_max=s["scale_max"],
                              max_slope_deg=s["max_slope"], name=f"SG {self._class} scatter")
        self.report({"INFO"}, f"SceneGen: {len(result['files'])} {self._class} billboards scattered on {surface.name} ({obj.name})")
        return {"FINISHED"}


# ------------------------------------------------------------------------------------------------- scene / library
class SCENEGEN_OT_build_scene(_BrowseFirst, WorkerJob, bpy.types.Operator):
    """Compose a scene.json with scenegen and import the result into the current scene"""

    bl_idname = "scenegen.build_scene"
    bl_label = "Build From scene.json…"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def default_path(self, context):
        return context.scene.scenegen.scene_path

    def remember_path(self, context):
        context.scene.scenegen.scene_path = self.filepath

    def job_request(self, context):
        spec = _file(self.filepath or context.scene.scenegen.scene_path, "scene.json")
        self._spec = spec
        self._name, folder = scene_folder(preferences.output_dir(context, "scenes"), spec)
        return "build_scene", with_model(context, {"scene": spec, "out_dir": str(folder)})

    def job_finished(self, context, result):
        collection = scene_collection(context.scene, self._spec, self._name)
        before = set(bpy.data.objects)
        layer = _find_layer(context.view_layer.layer_collection, collection)
        previous = context.view_layer.active_layer_collection
        if layer is not None:
            context.view_layer.active_layer_collection = layer
        try:
            status = bpy.ops.import_scene.gltf(filepath=result["glb"])
        finally:
            context.view_layer.active_layer_collection = previous
        if "FINISHED" not in status:
            raise UserError(f"could not import {result['glb']}")
        imported = [obj for obj in bpy.data.objects if obj not in before]
        for obj in imported:
            if collection not in obj.users_collection:
                for other in list(obj.users_collection):
                    other.objects.unlink(obj)
                collection.objects.link(obj)
        for warning in result.get("warnings") or []:
            self.report({"WARNING"}, f"SceneGen: {warning}")
        self.report({"INFO"}, f"SceneGen: imported {len(imported)} objects from {Path(result['glb']).name} "
                              f"into '{collection.name}'")
        return {"FINISHED"}


_SCENE_RECORD = ".scenegen-build.json"  # written by the worker into a build's folder: {"scene": spec path, "files": [...]}


def scene_name(spec: str) -> str:
    """A scene's name for folders and collections: the spec's ``"name"``, else its folder's name (a file
    name ending in ``scene.json`` says little), made safe for a file name."""
    name = ""
    try:
        data = json.loads(Path(spec).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
    except (OSError, ValueError, RecursionError):
        pass  # the worker reports what is wrong with the file
    path = Path(spec)
    name = name.strip() or (path.parent.name if path.stem.lower() in ("scene", "spec") else path.stem) or path.stem
    return re.sub(r"[^\w.-]+", "-", name).strip("-.")[:64] or "scene"


def scene_folder(root: Path, spec: str) -> tuple[str, Path]:
    """``(name, folder)`` for a scene: ``root/<name>``, or ``root/<name>-2`` … when that folder holds the
    build of another scene file; the same scene file always gets its own folder back."""
    base = scene_name(spec)
    for n in range(1, 1000):
        name = base if n == 1 else f"{base}-{n}"
        folder = root / name
        if not folder.exists() or not any(folder.iterdir()):
            return name, folder
        try:
            owner = json.loads((folder / _SCENE_RECORD).read_text(encoding="utf-8")).get("scene")
        except (OSError, ValueError, AttributeError, RecursionError):
            owner = None
        if owner == spec:
            return name, folder
    raise UserError(f"too many scenes named '{base}' in {root}")


def scene_collection(scene: bpy.types.Scene, spec: str, name: str) -> bpy.types.Collection:
    """The collection for a scene file's objects: the one an earlier build of the same file made (emptied),
    else a new ``SG <name>`` linked to the scene."""
    collection = next((c for c in bpy.data.collections if c.get("scenegen_spec") == spec), None)
    if collection is None:
        collection = bpy.data.collections.new(f"SG {name}")
        collection["scenegen_spec"] = spec
    else:
        for obj in list(collection.all_objects):
            data = obj.data
            bpy.data.objects.remove(obj)
            if isinstance(data, bpy.types.Mesh) and data.users == 0:
                bpy.data.meshes.remove(data)
        for child in list(collection.children):
            collection.children.unlink(child)
            if child.users == 0:
                bpy.data.collections.remove(child)
    if collection.name not in scene.collection.children:
        scene.collection.children.link(collection)
    return collection


def _find_layer(layer: bpy.types.LayerCollection, collection: bpy.types.Collection) -> bpy.types.LayerCollection | None:
    if layer.collection == collection:
        return layer
    for child in layer.children:
        found = _find_layer(child, collection)
        if found is not None:
            return found
    return None


class SCENEGEN_OT_export_library(WorkerJob, bpy.types.Operator):
    """Batch-export a material/sprite library for a game engine (scenegen export): a dialog with its options"""

    bl_idname = "scenegen.export_library"
    bl_label = "Export Library…"

    spec: bpy.props.StringProperty(name="Library spec", subtype="FILE_PATH",  # type: ignore[valid-type]
                                   description="library.json listing the materials and sprite sets")
    out_dir: bpy.props.StringProperty(name="Export to", subtype="DIR_PATH",  # type: ignore[valid-type]
                                      description="Output folder (empty: the add-on's output folder / library)")
    target: bpy.props.EnumProperty(name="Target", default="gltf", items=props.TARGETS)  # type: ignore[valid-type]
    workers: bpy.props.IntProperty(name="Workers", default=0, min=0, max=256,  # type: ignore[valid-type]
                                   description="Parallel processes (0: one per CPU core)")
    confirmed: bpy.props.BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def _defaults(self, context: bpy.types.Context) -> None:
        settings = context.scene.scenegen
        for name, key in (("spec", "export_spec"), ("out_dir", "export_dir")):
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(settings, key))
        if not self.properties.is_property_set("target"):
            self.target = settings.export_target

    def invoke(self, context, event):
        self._defaults(context)
        if self.confirmed or bpy.app.background:
            return super().invoke(context, event)
        self._dialog = True
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        for name in ("spec", "out_dir", "target", "workers"):
            layout.prop(self, name)

    def execute(self, context):
        if getattr(self, "_dialog", False):  # OK in the dialog: run modally (progress, Esc) rather than block the UI
            self._dialog = False
            self._store(context)
            bpy.ops.scenegen.export_library("INVOKE_DEFAULT", spec=self.spec, out_dir=self.out_dir, target=self.target,
                                            workers=self.workers, confirmed=True)
            return {"FINISHED"}
        self._defaults(context)
        return super().execute(context)

    def _store(self, context: bpy.types.Context) -> None:
        settings = context.scene.scenegen
        settings.export_spec, settings.export_dir, settings.export_target = self.spec, self.out_dir, self.target

    def job_request(self, context):
        spec = _file(self.spec, "library spec")
        self._store(context)
        out = bpy.path.abspath(self.out_dir) if self.out_dir else str(preferences.output_dir(context, "library"))
        params = {"spec": spec, "out_dir": out, "target": self.target}
        if self.workers:
            params["workers"] = self.workers
        return "export_library", with_model(context, params)

    def job_finished(self, context, result):
        summary = " ".join(result.get("summary") or []) or f"exported to {result.get('out_dir')}"
        self.report({"INFO"}, f"SceneGen: {summary}")
        return {"FINISHED"}


# ------------------------------------------------------------------------------------------------- housekeeping
class SCENEGEN_OT_load_classes(WorkerJob, bpy.types.Operator):
    """Ask the scenegen worker which classes the model knows (also checks the Python and the model)"""

    bl_idname = "scenegen.load_classes"
    bl_label = "Load Classes"
    bl_options = {"REGISTER"}

    def job_request(self, context):
        state.CLASSES.update(error="")
        return "classes", with_model(context, {})

    def job_finished(self, context, result):
        store_classes(context, result)
        self.report({"INFO"}, f"SceneGen: {len(state.CLASSES['classes'])} classes from {result.get('model')}")
        return {"FINISHED"}

    def _conclude(self, context, job):
        if job.error is not None:
            state.CLASSES.update(error=str(job.error), loading=False)
        return super()._conclude(context, job)


class SCENEGEN_OT_cancel_jobs(bpy.types.Operator):
    """Cancel the running SceneGen jobs"""

    bl_idname = "scenegen.cancel_jobs"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    def execute(self, context):
        self.report({"INFO"}, f"SceneGen: cancelling {state.cancel_all()} job(s)")
        return {"FINISHED"}


class SCENEGEN_OT_install_core(bpy.types.Operator):
    """Install (or update) the SceneGen core: a private Python environment with scenegen and torch in this
    add-on's user folder, used by every SceneGen job"""

    bl_idname = "scenegen.install_core"
    bl_label = "Install SceneGen Core"
    bl_options = {"REGISTER"}

    def _installer(self, context: bpy.types.Context) -> core.Installer | None:
        current = state.INSTALL.get("installer")
        if current is not None and current.running:
            self.report({"WARNING"}, "SceneGen: the core is already being installed")
            return None
        state.cancel_all()
        worker_client.stop_shared()  # the worker may run from the environment about to change
        state.reset()
        installer = core.Installer(preferences.core_root(), preferences.core_options(context))
        state.INSTALL["installer"] = installer
        return installer

    def _finish(self, installer: core.Installer) -> set[str]:
        preferences.forget_detection()
        state.reset()
        if installer.error:
            self.report({"ERROR"}, f"SceneGen: core install failed: {installer.error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"SceneGen: {installer.step}")
        return {"FINISHED"}

    def execute(self, context):  # scripts and background mode: install in place
        installer = self._installer(context)
        if installer is None:
            return {"CANCELLED"}
        installer.run()
        return self._finish(installer)

    def invoke(self, context, event):  # the UI: install on a thread, the preferences show progress and log
        if bpy.app.background:
            return self.execute(context)
        installer = self._installer(context)
        if installer is None:
            return {"CANCELLED"}
        installer.start()

        def tick() -> float | None:
            _redraw_ui()
            if not installer.done:
                return 0.25
            preferences.forget_detection()
            state.reset()
            return None

        bpy.app.timers.register(tick, first_interval=0.25)
        return {"FINISHED"}


class SCENEGEN_OT_cancel_install(bpy.types.Operator):
    """Stop the running SceneGen core install"""

    bl_idname = "scenegen.cancel_install"
    bl_label = "Cancel Install"
    bl_options = {"REGISTER"}

    def execute(self, context):
        installer = state.INSTALL.get("installer")
        if installer is None or not installer.running:
            return {"CANCELLED"}
        installer.cancel()
        return {"FINISHED"}


class SCENEGEN_OT_detect_python(bpy.types.Operator):
    """Look for a Python that has scenegen (SCENEGEN_PYTHON, a checkout's .venv, python3 on PATH)"""

    bl_idname = "scenegen.detect_python"
    bl_label = "Detect Python"
    bl_options = {"REGISTER"}

    def execute(self, context):
        found = preferences.redetect_python()
        if not found:
            self.report({"ERROR"}, "SceneGen: no Python with scenegen found; set its path by hand")
            return {"CANCELLED"}
        preferences.get(context).python = found
        self.report({"INFO"}, f"SceneGen: using {found}")
        return {"FINISHED"}


classes = (
    SCENEGEN_OT_generate_material,
    SCENEGEN_OT_material_from_image,
    SCENEGEN_OT_scatter_billboards,
    SCENEGEN_OT_build_scene,
    SCENEGEN_OT_export_library,
    SCENEGEN_OT_load_classes,
    SCENEGEN_OT_cancel_jobs,
    SCENEGEN_OT_install_core,
    SCENEGEN_OT_cancel_install,
    SCENEGEN_OT_detect_python,
)


def shutdown() -> None:
    """Cancel jobs and a running core install, stop the worker (add-on unregister)."""
    installer = state.INSTALL.get("installer")
    if installer is not None and installer.running:
        installer.cancel()
    state.cancel_all()
    state.RUNNING.clear()
    worker_client.stop_shared()
    state.reset()
