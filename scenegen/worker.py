"""The scenegen worker: one job at a time, JSON messages over stdin/stdout (``scenegen worker``).

Front ends that must not import torch (the Blender add-on) start ``<python> -m scenegen worker`` and
talk to it line by line, UTF-8, one JSON object per line:

* request   ``{"id": "7", "op": "material", "params": {"class": "brick", "size": 512, "out_dir": "/tmp/x"}}``
* progress  ``{"id": "7", "event": "progress", "progress": 0.4, "message": "generating brick 512×512"}``
* result    ``{"id": "7", "event": "result", "result": {...}}``  (files as absolute paths)
* error     ``{"id": "7", "event": "error", "code": "user" | "cancelled" | "protocol" | "internal", "message": "..."}``

On start the worker says ``{"id": null, "event": "ready", "protocol": 1, "version": ...}``. Requests are
read by a thread, so ``{"op": "cancel", "params": {"target": "7"}}`` (no target: the running job) is seen
while a job runs; the job stops at its next step boundary (a step is never interrupted: a client that
cannot wait kills the process). ``{"op": "shutdown"}`` replies and exits; so does end of input, which
also cancels the running job and exits after EOF_GRACE_S even if a step is still running (the client
has gone). Nothing but protocol lines is written to stdout (stray prints go to stderr).

Ops (params; ``model``/``sprite_model`` default to the worker's ``--model`` / the shipped models):

* ``ping`` → protocol, version, Python, pid
* ``classes`` {model, sprite_model} → classes, model_hash, sprite_classes (or sprite_error)
* ``material`` {class, seed, size, out_dir, name, normal_convention, preview, normal_strength,
  roughness_range, ao_strength, metallic} → name, files {basecolor, normal, roughness, height, ao, orm}
* ``material_from_image`` {image, seed, size, out_dir, ...} → as ``material``
* ``sprites`` {class, seed, count, size, sprite_model, out_dir} → files (RGBA PNGs)
* ``build_scene`` {scene, out_dir, cache, allow_outside} → glb, files (the scene builder, progress relayed)
* ``export_library`` {spec, out_dir, target, workers} → manifest, summary (``scenegen export`` as a child)

Material sets are written atomically with a ``NAME_material.json`` record; the same request with the
same model returns the verified set already on disk (``cached``) and otherwise gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, TextIO

from . import __version__
from .errors import ScenegenError

PROTOCOL = 1
EOF_GRACE_S = 5.0  # after end of input, how long the running step may take before the process exits
_REQUIRED = object()
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


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
            raise ScenegenError(f"params.{key} must be a string, got {value!r}")
        return value

    def int(self, key: str, default: Any = _REQUIRED, *, low: int | None = None, high: int | None = None) -> Any:
        value = self._value(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ScenegenError(f"params.{key} must be an integer, got {value!r}")
        value = int(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ScenegenError(f"params.{key} must be between {low} and {high}, got {value}")
        return value

    def float(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._value(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenegenError(f"params.{key} must be a number, got {value!r}")
        return float(value)

    def bool(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._value(key, default)
        if value is not default and not isinstance(value, bool):
            raise ScenegenError(f"params.{key} must be true or false, got {value!r}")
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

    def check(self) -> None:
        """Raise :class:`Cancelled` if the client cancelled this job."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, fraction: float, message: str) -> None:
        """Report progress in [0, 1] with a short message, then honour a pending cancel."""
        self.check()
        self.worker.send({"id": self.id, "event": "progress", "progress": round(float(fraction), 4), "message": message})

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
            raise ScenegenError(f"params.roughness_range must be [low, high], got {value!r}")
        options["roughness_range"] = (float(value[0]), float(value[1]))
    return options


def _safe_name(text: str) -> str:
    return _SAFE_NAME.sub("-", text).strip("-.") or "material"


def _write_material(job: Job, make: Callable[[Any], Any], name: str, request: dict[str, Any],
                    check: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Shared tail of the material ops: reuse a matching set on disk, else generate, save and record it."""
    from . import api
    from .materials import save_material

    out_dir = job.out_dir()
    convention = job.params.str("normal_convention", "opengl")
    preview = job.params.bool("preview", False)
    job.progress(0.02, "loading model")
    model = api.load_model(job.model())
    if check is not None:
        check(model)
    record = json.loads(json.dumps({"request": dict(request, normal_convention=convention, preview=preview),
                                    "model_hash": model.model_hash}))
    sidecar = out_dir / f"{name}_material.json"
    cached = _cached_files(sidecar, record)
    if cached is not None:
        return {"name": name, "files": cached[0], "cached": True, "model_hash": model.model_hash,
                "params": cached[1], "seconds": 0.0}
    started = time.perf_counter()
    job.progress(0.1, f"generating {name} ({request['size']}×{request['size']})")
    material = make(model)
    job.progress(0.85, "writing maps")
    written = save_material(material, out_dir, normal_convention=convention, preview=preview)
    files = {key: str(path) for key, path in written.items()}
    _write_sidecar(sidecar, record, files, material.params)
    return {"name": name, "files": files, "cached": False, "model_hash": model.model_hash,
            "params": material.params, "seconds": round(time.perf_counter() - started, 3)}


def _cached_files(sidecar: Path, record: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]] | None:
    """``(files, params)`` of a set recorded in ``sidecar`` for the same request and model, if every file verifies."""
    from .fsutil import sha256_file

    try:
        stored = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stored.get("request") != record["request"] or stored.get("model_hash") != record["model_hash"]:
        return None
    files = {}
    for key, entry in stored.get("files", {}).items():
        path = sidecar.parent / entry.get("file", "")
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return None
        files[key] = str(path)
    return (files, stored.get("params", {})) if files else None


def _write_sidecar(sidecar: Path, record: dict[str, Any], files: dict[str, str], params: dict[str, Any]) -> None:
    from .fsutil import atomic_write_text, sha256_file

    entries = {key: {"file": Path(path).name, "sha256": sha256_file(path)} for key, path in files.items()}
    atomic_write_text(sidecar, json.dumps(dict(record, files=entries, params=params), indent=2, sort_keys=True) + "\n")


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

    p = job.params
    cls = p.str("class")
    seed, size, options = _material_request(p)
    name = p.str("name", None) or _safe_name(f"{cls}_{seed}_{size}")

    def make(model: Any) -> Any:
        return api.generate_material(cls, seed, size, model=model, name=name, **options)

    request = {"op": "material", "class": cls, "seed": seed, "size": size, "name": name, "options": options}
    return _write_material(job, make, name, request, check=lambda model: api.class_index(model, cls))


def op_material_from_image(job: Job) -> dict[str, Any]:
    """A seamless PBR set with the look of the photo ``params.image``."""
    from . import api
    from .fsutil import sha256_file

    p = job.params
    image = p.existing_file("image")
    seed, size, options = _material_request(p)
    name = p.str("name", None) or _safe_name(f"{image.stem}_{seed}_{size}")

    def make(model: Any) -> Any:
        return api.material_from_image(image, size, seed, model=model, name=name, **options)

    request = {"op": "material_from_image", "image": str(image), "image_sha256": sha256_file(image),
               "seed": seed, "size": size, "name": name, "options": options}
    return _write_material(job, make, name, request)


def _sprite_module() -> Any:
    from . import sprite_gen

    return sprite_gen


def op_sprites(job: Job) -> dict[str, Any]:
    """``params.count`` RGBA billboard sprites of ``params.class`` as PNGs (cleaned, colour bled)."""
    from .imaging import save_png

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
    files = [str(save_png(out_dir / f"{_safe_name(cls)}_{seed}_{size}_{i:03d}.png", rgba)) for i, rgba in enumerate(sprites)]
    return {"class": cls, "files": files, "model_hash": model.model_hash, "seconds": round(time.perf_counter() - started, 3)}


def _run_cli(job: Job, args: list[str], what: str) -> str:
    """Run ``python -m scenegen ARGS`` as a child (cancellable between polls); its stdout on success."""
    child = subprocess.Popen([sys.executable, "-m", "scenegen", *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            try:
                out, err = child.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if job.cancel_event.is_set():
                    child.kill()
                    child.communicate()
                    raise Cancelled() from None
    finally:
        if child.poll() is None:
            child.kill()
    if child.returncode != 0:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        message = next((line[len("error: "):] for line in reversed(lines) if line.startswith("error: ")), None)
        raise ScenegenError(message or f"{what} failed (exit code {child.returncode}): {lines[-1] if lines else 'no output'}")
    return out


def op_build_scene(job: Job) -> dict[str, Any]:
    """Build ``params.scene`` (a scene.json) with the scene builder; returns the GLB and render it wrote.

    The builder's progress lines are relayed; a cancel takes effect at its next progress line.
    """
    from .build import BuildOptions, build_scene

    p = job.params
    spec = p.existing_file("scene")
    try:
        json.loads(spec.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenegenError(f"{spec}: not valid JSON ({exc})") from None
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
        job.progress(min(0.05 + 0.04 * lines[0], 0.95), message.strip())

    job.progress(0.02, f"building {spec.name}")
    started = time.perf_counter()
    result = build_scene(spec, options, progress=relay)
    files = {name: str(path) for name, path in result.files.items()}
    glb = next((path for path in files.values() if path.endswith(".glb")), None)
    if glb is None:
        raise ScenegenError(f"{spec}: the scene builder wrote no .glb into {out_dir}")
    return {"glb": glb, "files": files, "out_dir": str(out_dir), "warnings": list(result.warnings),
            "counts": dict(result.counts), "seconds": round(time.perf_counter() - started, 3)}


def op_export_library(job: Job) -> dict[str, Any]:
    """Batch-export a library (``scenegen export LIBRARY --out DIR --target T``); returns its summary."""
    p = job.params
    spec = p.existing_file("spec")
    out_dir = job.out_dir()
    target = p.str("target", "gltf")
    job.progress(0.05, f"exporting {spec.name} for {target}")
    started = time.perf_counter()
    args = ["export", str(spec), "--out", str(out_dir), "--target", target, "--quiet"]
    if job.model() is not None:
        args += ["--model", str(job.model())]
    if p.str("sprite_model", None):
        args += ["--sprite-model", p.str("sprite_model")]
    if p.int("workers", None, low=1, high=256) is not None:
        args += ["--workers", str(p.int("workers", None))]
    out = _run_cli(job, args, "scenegen export")
    manifest = out_dir / "manifest.json"
    return {"out_dir": str(out_dir), "manifest": str(manifest) if manifest.is_file() else None,
            "summary": out.strip().splitlines()[:1], "seconds": round(time.perf_counter() - started, 3)}


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
class Worker:
    """Reads requests on a thread, runs jobs one at a time on the calling thread, writes replies."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, model: str | None = None, out_dir: str | None = None,
                 exit_on_eof: bool = False) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.exit_on_eof = exit_on_eof
        self.model, self.out_dir = model, out_dir
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._current: Job | None = None
        self._cancelled: set[Any] = set()

    def send(self, message: dict[str, Any]) -> None:
        """Write one protocol line (thread-safe)."""
        line = json.dumps(message, ensure_ascii=False, allow_nan=False, default=str)
        with self._lock:
            self.stdout.write(line + "\n")
            self.stdout.flush()

    def error(self, request_id: Any, code: str, message: str) -> None:
        self.send({"id": request_id, "event": "error", "code": code, "message": message})

    def _read(self) -> None:
        for number, line in enumerate(self.stdin, 1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError as exc:
                self.error(None, "protocol", f"request line {number} is not JSON: {exc}")
                continue
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                self.error(request.get("id") if isinstance(request, dict) else None, "protocol",
                           f"request line {number} must be an object with a string 'op'")
                continue
            if request["op"] == "cancel":
                self._cancel(request)
            else:
                self._queue.put(request)
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
        self._current = job
        try:
            result = handler(job)
            self.send({"id": request_id, "event": "result", "result": result})
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
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), "r", encoding="utf-8", closefd=False)
    try:
        return Worker(stdin, protocol_out, model=model, out_dir=out_dir, exit_on_eof=True).serve()
    except BrokenPipeError:
        return 0
