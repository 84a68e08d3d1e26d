"""The SceneGen core: a private Python environment with scenegen and torch, made by the add-on. Standard library only.

``Installer`` creates ``<root>/venv`` (``root`` is the add-on's user folder, never the add-on's own folder)
with the Python Blender runs on, installs torch and scenegen into it with pip, checks that the result
imports from a neutral folder, and records it in ``<root>/core.json``, which :func:`installed` reads on
the next start. Every step's output goes to ``<root>/install.log`` and to ``Installer.log`` for the UI.
Running it again updates the environment in place. Offline: ``wheels`` names a folder of wheels
(``pip --no-index --find-links``); ``share_from`` names an existing environment's Python whose packages
(a large CUDA torch, say) the core reuses instead of installing its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import worker_client

TORCH_SPEC = "torch==2.13.0"  # the build scenegen is tested with (the Makefile's TORCH_SPEC)
TORCH_CPU_INDEX = "" if sys.platform == "darwin" else "https://download.pytorch.org/whl/cpu"  # macOS wheels are CPU builds
SCENEGEN_SPEC = "scenegen"
MARKER = "core.json"
LOG = "install.log"
SHARED_PTH = "_scenegen_shared_packages.pth"
_LOG_LINES = 400

_PROBE = r"""
import json, os, sys, sysconfig
import scenegen, scenegen.worker
info = {"python": sys.executable, "prefix": sys.prefix, "version": "%d.%d" % sys.version_info[:2],
        "scenegen": scenegen.__version__, "scenegen_file": os.path.abspath(scenegen.__file__)}
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda"] = bool(torch.cuda.is_available())
except Exception as exc:
    info["torch_error"] = "%s: %s" % (type(exc).__name__, exc)
from pathlib import Path
places = [Path(scenegen.__file__).resolve().parent.parent / "assets" / "models", Path(sys.prefix) / "share" / "scenegen" / "models"]
info["models"] = any((place / "default" / "config.json").is_file() for place in places)
print("SCENEGEN-CORE " + json.dumps(info))
"""


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment (POSIX or Windows layout)."""
    windows = venv / "Scripts" / "python.exe"
    return windows if os.name == "nt" else venv / "bin" / "python"


def installed(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record of a finished install in ``root`` whose Python still exists, else None."""
    try:
        record = json.loads((Path(root) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not Path(str(record.get("python", ""))).is_file():
        return None
    return record


def base_python() -> str:
    """The interpreter to build the venv with: the Python Blender runs on (``sys.executable`` is it in
    Blender 2.91+ and in the bpy module), else a ``python3.X`` of the same version on PATH."""
    exe = Path(sys.executable)
    if exe.name.lower().startswith("python") and exe.is_file():
        return str(exe)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    found = shutil.which(version) or shutil.which("python3")
    if found is None:
        raise CoreError(f"cannot find a {version} to create the SceneGen core with (Blender's Python is {exe})")
    return found


class CoreError(Exception):
    """An install step failed; the message says which and why."""


@dataclass
class Options:
    """What to install: pip requirement specs, an optional index for torch, an offline wheel folder, a
    Python whose packages to reuse."""

    scenegen: str = SCENEGEN_SPEC
    torch: str = TORCH_SPEC  # empty: install no torch of its own (the wheels folder or shared packages have it)
    torch_index: str = TORCH_CPU_INDEX
    wheels: str = ""  # a folder: pip --no-index --find-links FOLDER for every step
    share_from: str = ""  # a Python executable whose site-packages the core sees (after its own)
    online: bool = True  # Blender's "Allow Online Access"; without it an install needs ``wheels``


@dataclass
class Installer:
    """One install (or update) of the core into ``root``; ``run()`` blocks, ``start()`` runs it on a thread."""

    root: Path
    options: Options
    on_change: Callable[[], None] | None = None  # called (on the installer's thread) after progress or log lines
    progress: float = 0.0
    step: str = "waiting"
    log: deque = field(default_factory=lambda: deque(maxlen=_LOG_LINES))
    error: str | None = None
    result: dict[str, Any] | None = None
    done: bool = False
    _process: subprocess.Popen | None = None
    _cancelled: bool = False
    _thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="scenegen-core-install", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (True) or ``timeout`` seconds passed (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def cancel(self) -> None:
        """Stop the running step (its process is killed); the install ends with an error."""
        self._cancelled = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    # -- the steps ---------------------------------------------------------------------------------------
    def run(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._logfile = open(self.root / LOG, "w", encoding="utf-8")
        try:
            self._say(f"SceneGen core install into {self.venv} ({time.strftime('%Y-%m-%d %H:%M:%S')})")
            self._check_options()
            python = self._make_venv()
            self._share(python)
            pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
            pip += ["--no-index", "--find-links", self.options.wheels] if self.options.wheels else []
            if self.options.torch.strip():
                index = ["--index-url", self.options.torch_index] if self.options.torch_index and not self.options.wheels else []
                self._run("installing torch", 0.15, 0.6, [*pip, *index, self.options.torch.strip()])
            spec = self.options.scenegen.strip() or SCENEGEN_SPEC
            # scenegen itself first, always into the core (also when a shared environment has one), then its
            # dependencies (already satisfied ones are kept: torch above, shared packages)
            self._run("installing scenegen", 0.6, 0.75, [*pip, "--upgrade", "--force-reinstall", "--no-deps", spec])
            self._run("installing scenegen's dependencies", 0.75, 0.92, [*pip, spec])
            info = self._verify(python)
            record = dict(info, installed=time.strftime("%Y-%m-%d %H:%M:%S"), options=self.options.__dict__)
            tmp = self.root / f".{MARKER}.tmp"
            tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.root / MARKER)
            self.result = record
            self._set(1.0, f"installed scenegen {info['scenegen']}, torch {info.get('torch', '?')}")
        except CoreError as exc:
            self.error = str(exc)
            self._say(f"error: {exc}")
        except Exception as exc:  # noqa: BLE001 - shown in the preferences, never a traceback in Blender
            self.error = f"{type(exc).__name__}: {exc}"
            self._say(f"error: {self.error}")
        finally:
            self.done = True
            self._logfile.close()
            self._notify()

    def _check_options(self) -> None:
        o = self.options
        if o.wheels and not Path(o.wheels).is_dir():
            raise CoreError(f"the wheel folder {o.wheels} does not exist")
        if not o.wheels and not o.online:
            raise CoreError("Blender's online access is off (Preferences > System > Network): allow it, "
                            "or choose a folder of wheels to install from")
        if o.share_from and not Path(o.share_from).is_file():
            raise CoreError(f"the Python to share packages with, {o.share_from}, does not exist")

    def _make_venv(self) -> Path:
        python = venv_python(self.venv)
        if python.is_file() and self._quiet([str(python), "-c", "import pip"]) == 0:
            self._set(0.1, f"updating the environment in {self.venv}")
            return python
        if self.venv.exists():
            self._say(f"{self.venv} is not a working environment: making it again")
            shutil.rmtree(self.venv)
        self._run("creating the environment", 0.0, 0.1, [base_python(), "-m", "venv", str(self.venv)])
        if not python.is_file():
            raise CoreError(f"'python -m venv' made no interpreter at {python}")
        return python

    def _share(self, python: Path) -> None:
        """Write (or remove) the .pth that puts a shared environment's site-packages after the core's own."""
        site = self._ask(str(python), "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        pth = Path(site) / SHARED_PTH
        source = self.options.share_from
        if not source:
            pth.unlink(missing_ok=True)
            return
        code = ("import json, sys, sysconfig; p = sysconfig.get_paths(); "
                "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'paths': sorted({p['purelib'], p['platlib']})}))")
        theirs = json.loads(self._ask(source, code))
        ours = self._ask(str(python), "import sys; print('%d.%d' % sys.version_info[:2])")
        if theirs["version"] != ours:
            raise CoreError(f"{source} is Python {theirs['version']} and the core is Python {ours}: "
                            "their packages cannot be shared")
        pth.write_text("".join(f"{path}\n" for path in theirs["paths"]), encoding="utf-8")
        self._say(f"sharing the packages of {source}: {', '.join(theirs['paths'])}")
        # A Python 3.11 venv comes with an old setuptools of its own, which would hide the shared one (torch
        # needs a recent one): the shared environment's takes its place.
        self._run("using the shared setuptools", 0.12, 0.15, [str(python), "-m", "pip", "uninstall", "-y", "--no-input",
                                                               "--disable-pip-version-check", "setuptools"])

    def _verify(self, python: Path) -> dict[str, Any]:
        self._set(0.95, "checking the installation")
        out = self._ask(str(python), _PROBE)
        line = next((l for l in out.splitlines() if l.startswith("SCENEGEN-CORE ")), None)
        if line is None:
            raise CoreError("the installed scenegen did not answer the check")
        info = json.loads(line[len("SCENEGEN-CORE "):])
        if "torch_error" in info:
            raise CoreError(f"scenegen is installed but torch does not import: {info['torch_error']}")
        if not Path(info["scenegen_file"]).resolve().is_relative_to(self.venv.resolve()):
            raise CoreError(f"the core imports scenegen from {info['scenegen_file']}, outside {self.venv}")
        self._say(f"ok: scenegen {info['scenegen']}, torch {info['torch']} (CUDA: {info['cuda']}) in {info['python']}")
        if not info["models"]:
            self._say("warning: this scenegen has no shipped models: set the model folders in the preferences")
        return info

    # -- processes and reporting ------------------------------------------------------------------------
    def _run(self, step: str, start: float, end: float, command: list[str]) -> None:
        """Run one step, streaming its output into the log; progress creeps from ``start`` towards ``end``."""
        if self._cancelled:
            raise CoreError("install cancelled")
        self._set(start, step)
        self._say("$ " + " ".join(command))
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                                             cwd=str(self.root), env=self._env(),
                                             creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as exc:
            raise CoreError(f"{step}: cannot run {command[0]}: {exc.strerror or exc}") from None
        lines = 0
        assert self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip()
            if not line:
                continue
            self._say(line)
            lines += 1
            self.progress = start + (end - start) * (1.0 - 0.9 ** lines)  # pip gives no total: creep towards end
            self._notify()
        code = self._process.wait()
        self._process = None
        if self._cancelled:
            raise CoreError("install cancelled")
        if code != 0:
            last = next((l for l in reversed(self.log) if l.startswith("ERROR:")), None) or (self.log[-1] if self.log else "")
            raise CoreError(f"{step} failed (exit code {code}): {last[:300]} (full log: {self.root / LOG})")
        self.progress = end

    def _ask(self, python: str, code: str) -> str:
        result = subprocess.run([python, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                cwd=str(self.root), env=self._env(), timeout=300)
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise CoreError(f"{python} failed: {tail[:300]}")
        return result.stdout.strip()

    def _quiet(self, command: list[str]) -> int:
        try:
            return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, cwd=str(self.root),
                                  env=self._env(), timeout=120).returncode
        except (OSError, subprocess.SubprocessError):
            return -1

    def _env(self) -> dict[str, str]:
        env = worker_client.worker_env()
        env["PIP_NO_INPUT"] = "1"
        env.pop("PIP_REQUIRE_VIRTUALENV", None)
        return env

    def _set(self, progress: float, step: str) -> None:
        self.progress, self.step = progress, step
        self._say(f"== {step}")

    def _say(self, line: str) -> None:
        self.log.append(line)
        logfile = getattr(self, "_logfile", None)
        if logfile is not None and not logfile.closed:
            logfile.write(line + "\n")
            logfile.flush()
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - a UI refresh must not break the install
                pass
