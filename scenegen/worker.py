"""The scenegen worker: one job at a time, JSON messages over stdin/stdout (``scenegen worker``).

Front ends that must not import torch (the Blender add-on) start ``<python> -m scenegen worker`` and
talk to it line by line, UTF-8, one JSON object per line:

* request   ``{"id": "7", "op": "material", "params": {"class": "brick", "size": 512, "out_dir": "/tmp/x"}}``
* progress  ``{"id": "7", "event": "progress", "progress": 0.4, "message": "generating brick 512×512"}``
* result    ``{"id": "7", "event": "result", "result": {...}}``  (files as absolute paths)
* error     ``{"id": "7", "event": "error", "code": "user" | "cancelled" | "protocol" | "internal", "message": "..."}``

On start the worker says ``{"id": null, "event": "ready", "protocol": 1, "version": ...}``. Requests are
read by a thread, so ``{"op": "cancel", "params": {"target": "7"}}`` (no target: the running job) is seen
while a job runs; the job stops at its next check: between decode tiles, maps, build stages, export items
(an export's worker processes are killed), typically within a few tenths of a second, and leaves no partial
files (a client that cannot wait kills the process). ``{"op": "shutdown"}`` replies and exits; so does end
of input, which also cancels the running job and exits after EOF_GRACE_S even if a step is still running
(the client has gone). Nothing but protocol lines is written to stdout (stray prints go to stderr).

Every request line gets an answer, malformed or not: a line that is not UTF-8, not JSON, nested too deep,
longer than MAX_REQUEST_BYTES or not an object with a string ``op`` is answered by a ``protocol`` error
carrying the request's id when one can be read from the line (else ``null``); the reader keeps going.

Ops (params; ``model``/``sprite_model`` default to the worker's ``--model`` / the shipped models):

* ``ping`` → protocol, version, Python, pid
* ``classes`` {model, sprite_model} → classes, model_hash, sprite_classes (or sprite_error)
* ``material`` {class, seed, size, out_dir, name, normal_convention, preview, normal_strength,
  roughness_range, ao_strength, metallic, cache} → name, files {basecolor, normal, roughness, height, ao, orm},
  cached, params
* ``material_from_image`` {image, seed, size, out_dir, ...} → as ``material``
* ``sprites`` {class, seed, count, size, sprite_model, out_dir} → files (RGBA PNGs)
* ``build_scene`` {scene, out_dir, cache, allow_outside} → name, glb, files, warnings (the scene builder,
  progress relayed; files a previous build of the same scene wrote into out_dir and this one did not are removed)
* ``export_library`` {spec, out_dir, target, workers, cache, allow_outside} → manifest, summary, items, built,
  cached, skipped (the exporter, in this process; a progress event per finished item with ``done``/``total``/``item``)

Material sets come from the reuse service (:mod:`scenegen.reuse`, the content-addressed cache that ``scenegen
material`` uses, under ``params.cache`` or ``$SCENEGEN_CACHE`` or ``./.cache``): the same request with the same
model is served verified from the cache (``cached``), else generated, cached and copied out; either way the set
appears in ``out_dir`` whole, byte-identical.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any, Callable

from . import __version__
from .errors import ScenegenError

PROTOCOL = 1
EOF_GRACE_S = 5.0  # after end of input, how long the running step may take before the process exits
MAX_REQUEST_BYTES = 64 * 1024  # a request is a few paths and numbers; a longer line is refused unread
PROGRESS_EVERY_S = 0.25  # at most this often a progress event with the same message (the cancel check runs every call)
BUILD_RECORD = ".scenegen-build.json"  # in a build's out_dir: the scene file and the files its last build wrote
_PARTIAL = ".scenegen-partial-"  # material sets are staged in out_dir/<_PARTIAL><pid>-<hex>/ and moved out whole
_REQUIRED = object()
_ID_IN_LINE = re.compile(rb'"id"\s*:\s*("(?:[^"\\\n]|\\.){0,200}"|-?\d{1,18})')


def _show(value: Any, limit: int = 80) -> str:
    """A user value for an error message: its repr, cut to about ``limit`` characters."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deep>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Cancelled(BaseException):
    """Raised inside a job when the client asked to cancel it (a BaseException, so that no ``except
    Exception`` in the code a job calls can swallow it)."""


class Params:
    """Typed access to a request's ``params`` object; errors name the JSON path (``params.size``)."""

    def __init__(self, raw: Any, op: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ScenegenError(f"params of op '{op}' must be a JSON object, got {type(raw).__name__}")
        self.raw, self.op = raw, op

    def _value(self, key: str, default: Any) -> Any:
        if key in self.raw and self.raw[key] is not None:
            return self.raw[key]
        if default is _REQUIRED:
            raise ScenegenError(f"params.{key} is required for op '{self.op}'")
        return default

    def str(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._value(key, default)
        if value is not default and not isinstance(value, str):
            raise ScenegenError(f"params.{key} must be a string, got {_show(value)}")
        return value

    def int(self, key: str, default: Any = _REQUIRED, *, low: int | None = None, high: int | None = None) -> Any:
        value = self._value(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ScenegenError(f"params.{key} must be an integer, got {_show(value)}")
        value = int(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ScenegenError(f"params.{key} must be between {low} and {high}, got {value}")
        return value

    def float(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._value(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenegenError(f"params.{key} must be a number, got {_show(value)}")
        return float(value)

    def bool(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._value(key, default)
        if value is not default and not isinstance(value, bool):
            raise ScenegenError(f"params.{key} must be true or false, got {_show(value)}")
        return value

    def path(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.str(key, default)
        return Path(value).expanduser().resolve() if isinstance(value, str) else value

    def existing_file(self, key: str) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise ScenegenError(f"params.{key}: file not found: {path}")
        return path


class Job:
    """What an op handler sees: its params, progress reporting and the cancel flag."""

    def __init__(self, worker: "Worker", request_id: Any, op: str, params: Params) -> None:
        self.worker, self.id, self.op, self.params = worker, request_id, op, params
        self.cancel_event = threading.Event()
        self._last: tuple[float, str, float] | None = None  # (fraction, message, time) of the last event sent
        self._commit_lock = threading.Lock()
        self._committing = self._abandoned = False

    def commit(self) -> None:
        """Mark the point of no return (the job's files are about to be moved or written into place): a
        cancel before it stops the job, a cancel after it waits for the job to finish. Raises Cancelled if
        the job was cancelled."""
        with self._commit_lock:
            self.check()
            self._committing = True

    def abandon(self) -> bool:
        """Called by the serving thread after a cancel: True if the job has not committed, and then never will
        (its thread stops at its next check; the client is told at once)."""
        with self._commit_lock:
            if not self._committing:
                self._abandoned = True
            return self._abandoned

    def check(self) -> None:
        """Raise :class:`Cancelled` if the client cancelled this job."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, fraction: float, message: str, force: bool = True, check: bool = True, **extra: Any) -> None:
        """Honour a pending cancel (unless ``check`` is False), then report progress in [0, 1] with a short
        message (and ``extra`` fields). With ``force=False`` (many small steps, e.g. decode tiles) an event
        is sent only when the message changes or PROGRESS_EVERY_S has passed; the cancel check always runs.
        """
        if check:
            self.check()
        fraction = round(float(fraction), 4)
        now = time.monotonic()
        last = self._last
        if not force and last is not None and last[1] == message and now - last[2] < PROGRESS_EVERY_S:
            return
        self._last = (fraction, message, now)
        self.worker.send({"id": self.id, "event": "progress", "progress": fraction, "message": message, **extra})

    def span(self, start: float, end: float, message: str) -> Callable[[float], None]:
        """A ``progress(fraction)`` callback for one step (decode tiles …) mapped onto [start, end] of the job."""
        return lambda fraction: self.progress(start + (end - start) * min(max(float(fraction), 0.0), 1.0), message, force=False)

    def model(self) -> Any:
        """``params.model`` or the worker's default model directory (None: the shipped model)."""
        return self.params.str("model", self.worker.model)

    def out_dir(self) -> Path:
        """``params.out_dir`` (created), or the worker's ``--out``."""
        default = str(self.worker.out_dir) if self.worker.out_dir is not None else _REQUIRED
        path = self.params.path("out_dir", default)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenegenError(f"params.out_dir: cannot create {path}: {exc.strerror}") from None
        return path


# ------------------------------------------------------------------------------------------------- ops
def op_ping(job: Job) -> dict[str, Any]:
    """Who is answering: protocol, scenegen version, Python executable, process id."""
    return {"protocol": PROTOCOL, "version": __version__, "python": sys.executable, "pid": os.getpid(), "ops": sorted(OPS)}


def op_classes(job: Job) -> dict[str, Any]:
    """Texture classes of the model, and the sprite model's classes (or why there are none)."""
    from . import api

    job.progress(0.1, "loading model")
    model = api.load_model(job.model())
    result: dict[str, Any] = {"classes": list(model.classes), "model_hash": model.model_hash, "model": str(model.path)}
    job.progress(0.6, "loading sprite model")
    try:
        sprite_model = _sprite_module().load_sprite_model(job.params.str("sprite_model", None))
        result.update(sprite_classes=list(sprite_model.classes), sprite_model=str(sprite_model.path))
    except ScenegenError as exc:
        result.update(sprite_classes=[], sprite_error=str(exc))
    return result


def _material_options(params: Params) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key in ("normal_strength", "ao_strength", "metallic"):
        if params.raw.get(key) is not None:
            options[key] = params.float(key)
    if params.raw.get("roughness_range") is not None:
        value = params.raw["roughness_range"]
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ScenegenError(f"params.roughness_range must be [low, high], got {_show(value)}")
        options["roughness_range"] = (float(value[0]), float(value[1]))
    return options


def _write_material(job: Job, make: Callable[[Any, Callable[[float], None]], Any], name: str, *, source: str,
                    cls: str | None, seed: int, size: int, options: dict[str, Any], photo: Path | None = None,
                    check: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Shared tail of the material ops: the set from the reuse service (the cache ``scenegen material`` uses:
    ``params.cache``, else ``$SCENEGEN_CACHE`` or ``./.cache``), else generated, cached and copied out whole."""
    from . import api
    from .material_files import MATERIALS_NAMESPACE, SetLayout, material_request, serve_material
    from .materials import check_normal_convention
    from .reuse import Reuse

    out_dir = job.out_dir()
    layout = SetLayout(normal_convention=check_normal_convention(job.params.str("normal_convention", "opengl")),
                       preview=job.params.bool("preview", False))
    reuse = Reuse(MATERIALS_NAMESPACE, job.params.path("cache", None), warn=lambda text: print(text, file=sys.stderr))
    job.progress(0.02, "loading model")
    model = api.load_model(job.model())
    if check is not None:
        check(model)
    # the key scenegen material, library export and scene builds give the same request
    req = material_request(source=source, cls=cls, seed=seed, size=size, layout=layout, model_identity=model.identity,
                           options=options, scale=1.0 if photo is not None else None, photo=photo)
    started = time.perf_counter()
    message = f"generating {name} ({size}×{size})"

    def generate() -> Any:  # only on a cache miss
        job.progress(0.1, message)
        material = make(model, job.span(0.1, 0.8, message))
        job.progress(0.85, "writing maps")
        return material

    _remove_dead_partials(out_dir)
    paths, params, hit = serve_material(reuse, req, name, out_dir, layout, generate, progress=lambda _key: job.check(),
                                        before_copy=job.commit)
    return {"name": name, "files": {key: str(path) for key, path in paths.items()}, "cached": hit,
            "model_hash": model.model_hash, "params": params,
            "seconds": 0.0 if hit else round(time.perf_counter() - started, 3)}


def _remove_dead_partials(out_dir: Path) -> None:
    """Remove private save folders left by worker processes that no longer run (killed mid-write)."""
    for path in out_dir.glob(f"{_PARTIAL}*"):
        try:
            pid = int(path.name[len(_PARTIAL):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def _material_request(p: Params) -> tuple[int, int, dict[str, Any]]:
    """(seed, size, map options) of a material job's params, checked."""
    from . import api

    seed = p.int("seed", 0, low=0, high=2**31 - 1)
    size = p.int("size", 512)
    api.check_size(size, "params.size")
    return seed, size, _material_options(p)


def op_material(job: Job) -> dict[str, Any]:
    """A seamless PBR set of ``params.class`` (``seed``, ``size``) written under ``params.out_dir``."""
    from . import api
    from .material_files import safe_name

    p = job.params
    cls = p.str("class")
    seed, size, options = _material_request(p)
    name = p.str("name", None) or safe_name(f"{cls}_{seed}_{size}")

    def make(model: Any, progress: Callable[[float], None]) -> Any:
        return api.generate_material(cls, seed, size, model=model, name=name, progress=progress, **options)

    return _write_material(job, make, name, source="class", cls=cls, seed=seed, size=size, options=options,
                           check=lambda model: api.class_index(model, cls))


def op_material_from_image(job: Job) -> dict[str, Any]:
    """A seamless PBR set with the look of the photo ``params.image``."""
    from . import api
    from .material_files import safe_name

    p = job.params
    image = p.existing_file("image")
    seed, size, options = _material_request(p)
    name = p.str("name", None) or safe_name(f"{image.stem}_{seed}_{size}")

    def make(model: Any, progress: Callable[[float], None]) -> Any:
        return api.material_from_image(image, size, seed, model=model, name=name, progress=progress, **options)

    return _write_material(job, make, name, source="photo", cls=None, seed=seed, size=size, options=options,
                           photo=image)


def _sprite_module() -> Any:
    from . import sprite_gen

    return sprite_gen


def op_sprites(job: Job) -> dict[str, Any]:
    """``params.count`` RGBA billboard sprites of ``params.class`` as PNGs (cleaned, colour bled)."""
    from .imaging import save_png
    from .material_files import safe_name

    p = job.params
    cls = p.str("class")
    seed = p.int("seed", 0, low=0, high=2**31 - 1)
    count = p.int("count", 4, low=1, high=256)
    size = p.int("size", 256)
    out_dir = job.out_dir()
    job.progress(0.02, "loading sprite model")
    module = _sprite_module()
    model = module.load_sprite_model(p.str("sprite_model", None))
    module.check_sprite_size(size)
    job.progress(0.1, f"generating {count} {cls} sprites")
    started = time.perf_counter()
    sprites = module.generate_sprites(cls, seed, count, size, model=model)
    job.progress(0.8, "writing sprites")
    job.commit()
    files = [str(save_png(out_dir / f"{safe_name(cls)}_{seed}_{size}_{i:03d}.png", rgba)) for i, rgba in enumerate(sprites)]
    return {"class": cls, "files": files, "model_hash": model.model_hash, "seconds": round(time.perf_counter() - started, 3)}


def op_build_scene(job: Job) -> dict[str, Any]:
    """Build ``params.scene`` (a scene.json) with the scene builder; returns the GLB and render it wrote.

    The builder's progress lines are relayed and a cancel takes effect at the next one (before any file is
    written). ``out_dir`` keeps a record of the scene and the files its build wrote: a rebuild of the same
    scene removes what the previous build wrote and this one no longer does, and touches nothing else.
    """
    from .build import BuildOptions, build_scene
    from .fsutil import atomic_write_text

    p = job.params
    spec = p.existing_file("scene")
    try:
        json.loads(spec.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ScenegenError(f"{spec}: not valid JSON ({str(exc)[:120]})") from None
    out_dir = job.out_dir()
    options = BuildOptions(
        out_dir=out_dir,
        allow_outside=p.bool("allow_outside", False),
        cache_root=p.path("cache", None),
        texture_model=Path(job.model()) if job.model() is not None else None,
        sprite_model=p.path("sprite_model", None),
    )
    lines = [0]

    def relay(message: str) -> None:
        lines[0] += 1
        text = message.strip()
        if text.startswith("export"):  # the GLB is made; the builder writes its files next
            job.commit()
        # "write" is reported after the files are written: the build is done, a cancel now changes nothing
        job.progress(min(0.05 + 0.04 * lines[0], 0.95), text, check=not text.startswith("write"))

    job.progress(0.02, f"building {spec.name}")
    started = time.perf_counter()
    previous = _read_build_record(out_dir)
    result = build_scene(spec, options, progress=relay)
    files = {name: str(path) for name, path in result.files.items()}
    glb = next((path for path in files.values() if path.endswith(".glb")), None)
    if glb is None:
        raise ScenegenError(f"{spec}: the scene builder wrote no .glb into {out_dir}")
    if previous.get("scene") == str(spec):
        for name in set(previous.get("files", [])) - set(files):
            if isinstance(name, str) and name == Path(name).name and not name.startswith("."):
                (out_dir / name).unlink(missing_ok=True)
    atomic_write_text(out_dir / BUILD_RECORD, json.dumps({"scene": str(spec), "files": sorted(files)}, indent=1) + "\n")
    return {"name": str(result.summary.get("scene", spec.stem)), "glb": glb, "files": files, "out_dir": str(out_dir),
            "warnings": list(result.warnings), "counts": dict(result.counts),
            "seconds": round(time.perf_counter() - started, 3)}


def _read_build_record(out_dir: Path) -> dict[str, Any]:
    try:
        record = json.loads((out_dir / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return record if isinstance(record, dict) else {}


def op_export_library(job: Job) -> dict[str, Any]:
    """Batch-export a library (what ``scenegen export LIBRARY --out DIR --target T`` does), in this process.

    :func:`scenegen.export.run.export_library` runs on the job's thread, as ``build_scene`` runs the scene
    builder: no CLI child, no output to parse. Its item callback sends a progress event per finished item
    (``done``, ``total``, ``item``) and its check is the job's cancel check, which it calls between decode tiles
    (one worker: this process), while it waits for its worker processes (which a cancel kills at once) and
    between items; a cancel removes their temporary files, and the items already exported stay, whole and
    verified, for the next run to skip. Items come from the reuse service (``params.cache``, else
    ``$SCENEGEN_CACHE`` or ``./.cache``), as the material ops' sets do.
    """
    from .export.manifest import remove_stale_temporaries
    from .export.run import export_library

    p = job.params
    spec = p.existing_file("spec")
    out_dir = job.out_dir()
    target = p.str("target", "gltf")
    workers = p.int("workers", None, low=1, high=256)
    sprite_model, allow_outside, cache = p.str("sprite_model", None), p.bool("allow_outside", False), p.path("cache", None)

    def item_done(done: int, total: int, item: str | None, ok: bool) -> None:
        if item is None:
            job.progress(0.05, f"exporting {total} item(s)", done=0, total=total)
        else:
            job.progress(0.05 + 0.9 * done / max(total, 1), f"exported {done}/{total}: {item}", done=done,
                         total=total, item=item, ok=ok)

    job.progress(0.02, f"exporting {spec.name} for {target}")
    started = time.perf_counter()
    try:
        summary = export_library(spec, out_dir, target=target, workers=workers, model=job.model(),
                                 sprite_model=sprite_model, progress=False, on_item=item_done,
                                 allow_outside=allow_outside, cache=cache, check=job.check)
    except BaseException:
        remove_stale_temporaries(out_dir)
        raise
    if summary.failed:
        name, error = summary.failed[0]
        raise ScenegenError(f"{len(summary.failed)} of {summary.total} items failed (the others were exported to "
                            f"{out_dir}); first: {name}: {error}")
    manifest = out_dir / "manifest.json"
    return {"out_dir": str(out_dir), "manifest": str(manifest) if manifest.is_file() else None,
            "summary": summary.text().splitlines()[:1], "items": summary.total, "built": summary.built,
            "cached": summary.cached, "skipped": summary.skipped, "failed": [],
            "seconds": round(time.perf_counter() - started, 3)}


OPS: dict[str, Callable[[Job], dict[str, Any]]] = {
    "ping": op_ping,
    "classes": op_classes,
    "material": op_material,
    "material_from_image": op_material_from_image,
    "sprites": op_sprites,
    "build_scene": op_build_scene,
    "export_library": op_export_library,
}
CONTROL_OPS = ("cancel", "shutdown")


# ------------------------------------------------------------------------------------------------- loop
def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _salvage_id(raw: bytes) -> Any:
    """The ``"id"`` of a line that could not be parsed, if its start shows one (a string or an integer), else None."""
    match = _ID_IN_LINE.search(raw[:4096])
    if match is None:
        return None
    try:
        value = json.loads(match.group(1).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if _valid_id(value) else None


class Worker:
    """Reads requests on a thread, runs jobs one at a time on the calling thread, writes replies."""

    def __init__(self, stdin: IO[Any], stdout: IO[str], *, model: str | None = None, out_dir: str | None = None,
                 exit_on_eof: bool = False) -> None:
        self.stdin, self.stdout = stdin, stdout  # stdin: bytes (as serve_stdio opens it) or text
        self.exit_on_eof = exit_on_eof
        self.model, self.out_dir = model, out_dir
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._current: Job | None = None
        self._draining: threading.Thread | None = None
        self._cancelled: set[Any] = set()

    def send(self, message: dict[str, Any]) -> None:
        """Write one protocol line (thread-safe)."""
        line = json.dumps(message, ensure_ascii=False, allow_nan=False, default=str)
        with self._lock:
            self.stdout.write(line + "\n")
            self.stdout.flush()

    def error(self, request_id: Any, code: str, message: str) -> None:
        self.send({"id": request_id, "event": "error", "code": code, "message": message})

    def _lines(self) -> Any:
        """``(line, too_long)`` per input line as bytes, at most MAX_REQUEST_BYTES of it kept (the rest of a
        longer line is read and dropped), until end of input."""
        limit = MAX_REQUEST_BYTES
        while True:
            chunk = self.stdin.readline(limit + 1)
            if not chunk:
                return
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8", "surrogateescape")
            if len(chunk) <= limit or chunk.endswith(b"\n"):
                yield chunk, False
                continue
            while chunk and not chunk.endswith(b"\n"):  # drop the rest of the over-long line
                rest = self.stdin.readline(limit)
                if not rest:
                    break
                chunk = chunk[:limit] + (rest.encode("utf-8", "surrogateescape") if isinstance(rest, str) else rest)
            yield chunk[:limit], True

    def _parse(self, number: int, raw: bytes, too_long: bool) -> dict[str, Any] | None:
        """The request on one line, or None after answering it with a protocol error."""
        if too_long:
            self.error(_salvage_id(raw), "protocol", f"request line {number} is longer than {MAX_REQUEST_BYTES} bytes")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(_salvage_id(raw), "protocol", f"request line {number} is not UTF-8 (byte {exc.start + 1})")
            return None
        try:
            request = json.loads(text)
        except RecursionError:
            self.error(_salvage_id(raw), "protocol", f"request line {number} is nested too deep")
            return None
        except ValueError as exc:
            self.error(_salvage_id(raw), "protocol", f"request line {number} is not JSON: {str(exc)[:120]}")
            return None
        request_id = request.get("id") if isinstance(request, dict) else None
        if not _valid_id(request_id):
            self.error(None, "protocol", f"request line {number}: 'id' must be a string or a number, got {_show(request_id)}")
            return None
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            self.error(request_id, "protocol", f"request line {number} must be an object with a string 'op'")
            return None
        return request

    def _read(self) -> None:
        number = 0
        try:
            for raw, too_long in self._lines():
                number += 1
                if not raw.strip():
                    continue
                try:
                    request = self._parse(number, raw, too_long)
                    if request is None:
                        continue
                    if request["op"] == "cancel":
                        self._cancel(request)
                    else:
                        self._queue.put(request)
                except BrokenPipeError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the reader must survive any line
                    traceback.print_exc(file=sys.stderr)
                    self.error(None, "internal", f"request line {number}: {type(exc).__name__}: {str(exc)[:200]}")
        except (OSError, ValueError):  # stdin or stdout closed under us: the client has gone
            pass
        current = self._current
        if current is not None:
            current.cancel_event.set()
        self._queue.put(None)
        if self.exit_on_eof:  # the client is gone: do not finish a long step nobody will read
            deadline = time.monotonic() + EOF_GRACE_S
            while self._current is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._current is not None:
                os._exit(0)

    def _cancel(self, request: dict[str, Any]) -> None:
        params = request.get("params") if isinstance(request.get("params"), dict) else {}
        target = params.get("target")
        current = self._current
        running = current is not None and (target is None or target == current.id)
        if running:
            current.cancel_event.set()
        elif target is not None:
            self._cancelled.add(target)
        self.send({"id": request.get("id"), "event": "result", "result": {"target": target if target is not None else (current.id if current else None), "running": running}})

    def serve(self) -> int:
        """Answer requests until ``shutdown`` or end of input; returns the exit code (0)."""
        self.send({"id": None, "event": "ready", "protocol": PROTOCOL, "version": __version__, "pid": os.getpid()})
        threading.Thread(target=self._read, name="scenegen-worker-reader", daemon=True).start()
        while True:
            request = self._queue.get()
            if request is None:
                return 0
            request_id, op = request.get("id"), request["op"]
            if op == "shutdown":
                self.send({"id": request_id, "event": "result", "result": {"shutdown": True}})
                return 0
            if request_id in self._cancelled:
                self._cancelled.discard(request_id)
                self.error(request_id, "cancelled", f"op '{op}' cancelled")
                continue
            self._run(request_id, op, request.get("params"))

    def _run(self, request_id: Any, op: str, raw_params: Any) -> None:
        handler = OPS.get(op)
        if handler is None:
            self.error(request_id, "protocol", f"unknown op '{op}'; known: {', '.join(sorted(OPS) + list(CONTROL_OPS))}")
            return
        try:
            job = Job(self, request_id, op, Params(raw_params, op))
        except ScenegenError as exc:
            self.error(request_id, "user", str(exc))
            return
        if self._draining is not None:  # a cancelled job's thread ends its last step before the next job runs
            self._draining.join()
            self._draining = None
        self._current = job
        try:
            outcome: dict[str, Any] = {}
            finished = threading.Event()

            def run() -> None:
                try:
                    outcome["result"] = handler(job)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the serving thread below
                    outcome["error"] = exc
                finally:
                    finished.set()

            thread = threading.Thread(target=run, name=f"scenegen-job-{op}", daemon=True)
            thread.start()
            while not finished.wait(0.02):
                if job.cancel_event.is_set() and job.abandon():
                    self._draining = thread  # it stops at its next check and writes nothing
                    raise Cancelled()
            if "error" in outcome:
                raise outcome["error"]
            self.send({"id": request_id, "event": "result", "result": outcome["result"]})
        except Cancelled:
            self.error(request_id, "cancelled", f"op '{op}' cancelled")
        except ScenegenError as exc:
            self.error(request_id, "user", str(exc))
        except BrokenPipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the client, traceback to stderr
            traceback.print_exc(file=sys.stderr)
            self.error(request_id, "internal", f"internal error in op '{op}': {type(exc).__name__}: {exc}")
        finally:
            self._current = None


def serve_stdio(*, model: str | None = None, out_dir: str | None = None) -> int:
    """Run the worker on this process's stdin/stdout; stray writes to stdout are sent to stderr."""
    _default_models_from_install()
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), "rb", buffering=0 if os.name == "nt" else -1, closefd=False)
    try:
        return Worker(stdin, protocol_out, model=model, out_dir=out_dir, exit_on_eof=True).serve()
    except BrokenPipeError:
        return 0


def _default_models_from_install() -> None:
    """A scenegen installed from a wheel has no checkout around it: its shipped models lie in
    ``<prefix>/share/scenegen/models`` (the wheel's data files). Point ``$SCENEGEN_MODEL`` and
    ``$SCENEGEN_SPRITE_MODEL`` there when they are unset and the checkout's ``assets/models`` is absent."""
    checkout = Path(__file__).resolve().parent.parent / "assets" / "models"
    installed = Path(sys.prefix) / "share" / "scenegen" / "models"
    for variable, name in (("SCENEGEN_MODEL", "default"), ("SCENEGEN_SPRITE_MODEL", "sprites")):
        if not os.environ.get(variable) and not (checkout / name / "config.json").is_file() \
                and (installed / name / "config.json").is_file():
            os.environ[variable] = str(installed / name)
