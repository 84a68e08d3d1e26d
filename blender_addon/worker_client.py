"""Talk to ``<python> -m scenegen worker`` over JSON lines. Standard library only.

Never imports bpy, torch or scenegen: the worker runs in the Python environment that has scenegen,
this module runs inside Blender. A reader thread turns the worker's stdout lines into events on
per-job queues, so polling from Blender's UI thread never blocks; a second thread keeps the last
lines of the worker's stderr for error messages.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

WORKER_NICE = 5  # the shared worker runs at lower CPU priority than Blender, whose UI thread comes first
CANCEL_GRACE_S = 3.0  # after a cancel request, how long a job may take to stop before the worker is killed
_STDERR_LINES = 40


class WorkerError(Exception):
    """A job failed: ``code`` is ``user``, ``cancelled``, ``protocol``, ``internal``, ``start`` or ``exit``."""

    def __init__(self, message: str, code: str = "user") -> None:
        super().__init__(message)
        self.code = code


def _venv_python(root: Path) -> Path | None:
    for candidate in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


def neutral_cwd() -> str:
    """The folder probes and workers run in: never Blender's current folder (which may be a checkout whose
    ``scenegen/`` sources would import there and nowhere else)."""
    return tempfile.gettempdir()


def can_import_scenegen(python: str) -> bool:
    """Whether ``python`` imports ``scenegen.worker`` from its own environment (run in a neutral folder)."""
    try:
        probe = subprocess.run([python, "-c", "import scenegen.worker"], stdin=subprocess.DEVNULL, cwd=neutral_cwd(),
                               capture_output=True, timeout=60, env=worker_env())
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def detect_python(addon_dir: str | os.PathLike[str] | None = None, core_python: str | None = None) -> str | None:
    """The Python that has scenegen: ``$SCENEGEN_PYTHON``; else ``core_python`` (the core the add-on
    installed) if it exists; else ``<checkout>/.venv`` when the add-on sits in a scenegen checkout; else
    ``python3``/``python`` on PATH if it can import scenegen from a neutral folder; else None. The result
    never depends on the current folder."""
    env = os.environ.get("SCENEGEN_PYTHON")
    if env:
        return env
    if core_python and Path(core_python).is_file():
        return core_python
    if addon_dir is not None:
        here = Path(addon_dir).resolve()
        for root in (here.parent, *here.parents):
            if (root / "scenegen" / "__init__.py").is_file() and _venv_python(root) is not None:
                return str(_venv_python(root))
            if (root / ".git").exists():
                break
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found and Path(found).resolve() != Path(sys.executable).resolve() and can_import_scenegen(found):
            return found
    return None


def worker_env() -> dict[str, str]:
    """The environment for the worker: Blender's own Python settings removed, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # Python 3.11+: the current folder is not put on sys.path (-m, -c)
    env["PYTHONIOENCODING"] = "utf-8"
    env.setdefault("PYOPENGL_PLATFORM", "egl")
    return env


class Job:
    """One request: poll() it from the UI thread, or wait() for it."""

    def __init__(self, client: "WorkerClient", job_id: str, op: str) -> None:
        self.client, self.id, self.op = client, job_id, op
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.progress = 0.0
        self.message = f"{op}: waiting for the worker"
        self.history: list[float] = []  # every progress value received, in order
        self.result: dict[str, Any] | None = None
        self.error: WorkerError | None = None
        self.cancel_requested_at: float | None = None
        self.process: Any = None  # the worker process this job was sent to

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    def poll(self, timeout: float = 0.0) -> bool:
        """Apply the events that have arrived (waiting at most ``timeout`` s for the first); True when done."""
        deadline = time.monotonic() + timeout
        while not self.done:
            remaining = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=remaining) if remaining > 0 else self.events.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
        if not self.done and self.process is self.client.process and self.client.exit_message is not None and self.events.empty():
            self.error = WorkerError(self.client.exit_message, "exit")  # the worker died before this job was queued
        if not self.done and self.cancel_requested_at is not None and time.monotonic() - self.cancel_requested_at > CANCEL_GRACE_S:
            self.client.kill()
            self.error = WorkerError(f"{self.op} cancelled (worker stopped)", "cancelled")
        return self.done

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "progress":
            self.progress = float(event.get("progress", self.progress))
            self.message = str(event.get("message", self.message))
            if len(self.history) < 100_000:
                self.history.append(self.progress)
        elif kind == "result":
            self.progress, self.result = 1.0, event.get("result") or {}
        elif kind == "error":
            self.error = WorkerError(str(event.get("message", "unknown error")), str(event.get("code", "user")))
        elif kind == "exit":
            self.error = WorkerError(str(event.get("message")), "exit")

    def wait(self, timeout: float | None = None, on_progress: Callable[["Job"], None] | None = None) -> dict[str, Any]:
        """Block until the job ends; returns its result or raises :class:`WorkerError`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll(0.1):
            if on_progress is not None:
                on_progress(self)
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                deadline = None
        if self.error is not None:
            raise self.error
        return self.result or {}

    def cancel(self) -> None:
        """Ask the worker to stop this job; if it has not stopped within CANCEL_GRACE_S, poll() kills it."""
        if self.done or self.cancel_requested_at is not None:
            return
        self.cancel_requested_at = time.monotonic()
        try:
            self.client.send({"id": f"{self.id}-cancel", "op": "cancel", "params": {"target": self.id}})
        except WorkerError:
            pass


class WorkerClient:
    """A ``scenegen worker`` child process, started on first use and restarted if it died."""

    def __init__(self, python: str, *, cwd: str | os.PathLike[str] | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.python, self.cwd, self.extra_args = python, cwd, tuple(extra_args)
        self.process: subprocess.Popen[str] | None = None
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self.ready: dict[str, Any] | None = None
        self.exit_message: str | None = None  # set when the current process's output has ended

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the worker process if it is not running (raises WorkerError if it cannot start)."""
        if self.alive:
            return
        command = [self.python, "-m", "scenegen", "worker", *self.extra_args]
        self._stderr.clear()
        self.ready = self.exit_message = None
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd or neutral_cwd(), env=worker_env(), text=True, encoding="utf-8", bufsize=1,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as exc:
            raise WorkerError(f"cannot start the scenegen worker with Python '{self.python}': {exc.strerror or exc}", "start") from None
        process = self.process
        threading.Thread(target=self._read_stdout, args=(process,), name="scenegen-client-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(process,), name="scenegen-client-stderr", daemon=True).start()

    def _read_stdout(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                self._stderr.append(line.rstrip())
                continue
            if not isinstance(event, dict):
                continue
            if event.get("event") == "ready":
                self.ready = event
                continue
            with self._lock:
                job = self._jobs.get(str(event.get("id")))
            if job is not None:
                job.events.put(event)
                if event.get("event") in ("result", "error"):
                    with self._lock:
                        self._jobs.pop(job.id, None)
        code = process.wait()
        message = self._exit_message(code)
        with self._lock:
            if process is self.process:
                self.exit_message = message
            orphans = [job for job in self._jobs.values() if job.process is process]
            for job in orphans:
                del self._jobs[job.id]
        for job in orphans:
            job.events.put({"event": "exit", "message": message})

    def _read_stderr(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    def _exit_message(self, code: int) -> str:
        time.sleep(0.05)  # let the stderr thread catch the last lines
        lines = list(self._stderr)
        last = next((line for line in reversed(lines) if line.startswith("error: ")), lines[-1] if lines else "")
        if "No module named scenegen" in "\n".join(lines):
            return f"the Python at '{self.python}' cannot import scenegen; set the SceneGen Python in the add-on preferences"
        detail = f": {last}" if last else ""
        return f"the scenegen worker stopped (exit code {code}){detail}"

    def send(self, message: dict[str, Any]) -> None:
        """Write one request line (raises WorkerError if the worker is gone)."""
        process = self.process
        if process is None or process.stdin is None:
            raise WorkerError("the scenegen worker is not running", "exit")
        try:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise WorkerError(self._exit_message(process.poll() or -1), "exit") from None

    def submit(self, op: str, params: dict[str, Any] | None = None) -> Job:
        """Start the worker if needed and send one request; returns its :class:`Job`."""
        self.start()
        job = Job(self, f"j{next(self._ids)}", op)
        job.process = self.process
        with self._lock:
            self._jobs[job.id] = job
        try:
            self.send({"id": job.id, "op": op, "params": params or {}})
        except WorkerError as exc:
            with self._lock:
                self._jobs.pop(job.id, None)
            job.error = exc
        return job

    def call(self, op: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Submit and wait: the result, or WorkerError."""
        return self.submit(op, params).wait(timeout)

    def kill(self) -> None:
        """Stop the worker now (pending jobs end with an error)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to shut down; kill it if it does not within ``timeout`` s."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:
                self.send({"id": "shutdown", "op": "shutdown"})
                process.stdin.close()  # type: ignore[union-attr]
            except (WorkerError, OSError):
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


_CLIENT: WorkerClient | None = None
_CLIENT_KEY: tuple[Any, ...] | None = None


def shared_client(python: str, cwd: str | None = None) -> WorkerClient:
    """One worker per Blender session (models stay loaded between jobs); a new Python restarts it."""
    global _CLIENT, _CLIENT_KEY
    key = (python, cwd)
    if _CLIENT is None or _CLIENT_KEY != key:
        stop_shared()
        _CLIENT, _CLIENT_KEY = WorkerClient(python, cwd=cwd, extra_args=("--nice", str(WORKER_NICE))), key
    return _CLIENT


def stop_shared() -> None:
    """Stop the shared worker (add-on unregister, preference change)."""
    global _CLIENT, _CLIENT_KEY
    if _CLIENT is not None:
        _CLIENT.stop()
    _CLIENT, _CLIENT_KEY = None, None
