"""Model directories without torch: the format, ``read_config``, verification and one identity.

A model directory holds ``config.json`` (format, architecture, classes, training record and the SHA-256 of
every file it names) beside the files it names (``model.safetensors`` and ``prior.safetensors``).
:func:`inspect` checks a directory and returns a :class:`ModelInfo`; :mod:`scenegen.model.weights` turns a
verified directory into a torch module (it is the only part that needs torch).

* **Names stay inside.** ``config.json`` may name only plain file names of its own directory (no ``/``, ``..``,
  absolute paths or hidden names), and each must be a regular file there (a symlink to a device, a FIFO or a
  file outside the directory is refused before it is opened).
* **Verified from the files.** Every named file is checked against its recorded SHA-256 before anything made
  from the model is served or loaded: cached outputs included. Hashing is paid once per file version: the hash
  of a verified file is remembered under its ``(device, inode, size, mtime_ns, ctime_ns)`` in the user cache
  (``~/.cache/scenegen/file-hashes``, see :func:`hash_records_dir`); any write to the file changes its
  ctime, which nobody can set back, so a changed file is always hashed again.
* **One identity.** :attr:`ModelInfo.identity` (the SHA-256 of ``config.json``, which records the architecture,
  the classes and every file's SHA-256) keys every cache of model outputs. :attr:`ModelInfo.model_hash`
  (SHA-256 over the weight files' hashes) is the hash reports show (``scenegen info``, manifests, the worker).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import ScenegenError
from ..fsutil import atomic_write_text
from .config import ModelConfig

FORMAT = "scenegen-vae"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "prior.safetensors")
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol ≥ 2, and torch.save's zip container
MAX_CONFIG_BYTES = 16 << 20
MAX_FILE_BYTES = 1 << 30  # the shipped models are 17 MB and 8 MB
UPSAMPLE_MODES = ("nearest", "bilinear")
HASH_RECORDS = "file-hashes"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    """A checked model directory, known without torch (weights not loaded)."""

    path: Path
    meta: dict[str, Any] = field(repr=False, compare=False)
    config_sha256: str
    verified: bool = False

    @property
    def identity(self) -> str:
        """What every cache key of the model's outputs holds: SHA-256 of config.json (architecture, classes
        and the SHA-256 of every file, which are verified)."""
        return self.config_sha256

    @property
    def files(self) -> dict[str, str]:
        """{file name: recorded SHA-256} of every file config.json names."""
        return dict(self.meta["files"])

    @property
    def model_hash(self) -> str:
        """The reported hash of the weights: SHA-256 over the recorded SHA-256 of ``WEIGHT_FILES``."""
        return weights_hash(self.meta["files"])

    @property
    def mode(self) -> str:
        return str(self.meta["model"].get("mode", "texture"))

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta["model"].get("classes", ()))

    @property
    def architecture(self) -> dict[str, Any]:
        """The ``model`` section of config.json (what ``ModelConfig.from_dict`` reads)."""
        return dict(self.meta["model"])

    @property
    def pixels_per_cell(self) -> int:
        return 2 ** (len(self.meta["model"].get("decoder_widths", (128, 64, 32, 16))) - 1)

    def file(self, name: str) -> Path:
        """Path of a file config.json names."""
        if name not in self.meta["files"]:
            raise ScenegenError(f"{self.path / CONFIG_FILE}: names no file {name!r}")
        return self.path / name


def weights_hash(files: dict[str, str]) -> str:
    """SHA-256 over the recorded hashes of the weight files (``LoadedModel.model_hash``)."""
    return hashlib.sha256("".join(files[name] for name in WEIGHT_FILES).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- config.json
def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:80]!r}")
        result[key] = value
    return result


def _is_plain_name(name: Any) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and not name.startswith(".")
            and not any(c in name for c in "/\\\0:") and name != CONFIG_FILE)


def _check_architecture(model: Any, where: str) -> None:
    """The ``model`` section must build (``ModelConfig.from_dict``'s bounds: what a CPU can allocate), name each
    class once and upsample in a known way."""
    try:
        cfg = ModelConfig.from_dict(model)
    except (TypeError, ValueError) as exc:
        raise ScenegenError(f"{where}: model: {str(exc)[:160]}") from None
    if not cfg.classes or len(set(cfg.classes)) != len(cfg.classes):
        raise ScenegenError(f"{where}: model.classes must name at least one class, each once")
    if cfg.upsample not in UPSAMPLE_MODES:
        raise ScenegenError(f"{where}: model.upsample must be one of {', '.join(UPSAMPLE_MODES)}")


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    """config.json's bytes → its checked contents (format, version, file names, architecture)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenegenError(f"{where}: not UTF-8 text") from None
    try:
        meta = json.loads(text, object_pairs_hook=_strict_object)
    except json.JSONDecodeError as exc:
        raise ScenegenError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise ScenegenError(f"{where}: invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ScenegenError(f"{where}: invalid JSON ({str(exc)[:120]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ScenegenError(f"{where}: not a scenegen model config (format must be '{FORMAT}')")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ScenegenError(f"{where}: unsupported format_version {str(meta.get('format_version'))[:40]}")
    files = meta.get("files")
    if not isinstance(files, dict) or any(not isinstance(files.get(n), str) for n in WEIGHT_FILES):
        raise ScenegenError(f"{where}: missing SHA-256 entries for {', '.join(WEIGHT_FILES)}")
    for name, digest in files.items():
        if not _is_plain_name(name):
            raise ScenegenError(f"{where}: files: {name[:80]!r} is not a file of the model directory "
                                "(a plain name: no folders, '..' or absolute paths)")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ScenegenError(f"{where}: files.{name}: not a SHA-256 (64 lowercase hex digits)")
    _check_architecture(meta.get("model"), where)
    return meta


def _config_bytes(root: Path, what: str) -> bytes:
    path = root / CONFIG_FILE
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not root.exists():
            raise ScenegenError(f"{root}: {what} directory not found") from None
        raise ScenegenError(f"{root}: not a scenegen model directory (no {CONFIG_FILE})") from None
    except OSError as exc:
        raise ScenegenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenegenError(f"{path}: not a regular file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise ScenegenError(f"{path}: {st.st_size:,} bytes; a model config is at most {MAX_CONFIG_BYTES:,}")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ScenegenError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check a model directory's config.json (files not verified: see :func:`inspect`)."""
    root = Path(directory)
    return parse_config(_config_bytes(root, "model"), str(root / CONFIG_FILE))


def inspect(directory: str | os.PathLike[str], mode: str | None = None, *, verify: bool = True,
            what: str | None = None) -> ModelInfo:
    """Check a model directory: its config.json and (``verify``) every file it names, against its SHA-256.

    ``mode`` ("texture" or "sprite") refuses a model of the other kind. Any problem is one ScenegenError line.
    """
    root = Path(directory)
    data = _config_bytes(root, what or (f"{mode} model" if mode else "model"))
    meta = parse_config(data, str(root / CONFIG_FILE))
    info = ModelInfo(path=root, meta=meta, config_sha256=hashlib.sha256(data).hexdigest(), verified=verify)
    if mode is not None and info.mode != mode:
        raise ScenegenError(f"{root}: is a {info.mode} model, but a {mode} model is needed here")
    if verify:
        for name, expected in meta["files"].items():
            actual = file_sha256(_member(root, name))
            if actual != expected:
                raise _mismatch(root / name, expected, actual)
    return info


def _mismatch(path: Path, expected: str, actual: str, head: bytes | None = None) -> ScenegenError:
    if head is None:
        try:
            with open(path, "rb") as handle:
                head = handle.read(4)
        except OSError:
            head = b""
    if head.startswith(PICKLE_MAGIC):
        return ScenegenError(f"{path}: pickle-format weights are refused; scenegen reads safetensors only "
                             "(and this file does not match its recorded SHA-256)")
    return ScenegenError(f"{path}: SHA-256 mismatch (recorded {expected[:12]}…, file {actual[:12]}…): tampered or "
                         "truncated")


def _member(root: Path, name: str) -> Path:
    """The named file of the model directory, refused unless it is a regular file inside the directory."""
    path = root / name
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ScenegenError(f"{path}: missing model file") from None
    except OSError as exc:
        raise ScenegenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenegenError(f"{path}: not a regular file (a device, FIFO or folder is never read as weights)")
    if os.path.islink(path):
        real, inside = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([real, inside]) != inside:
            raise ScenegenError(f"{path}: a link to a file outside the model directory")
    if st.st_size > MAX_FILE_BYTES:
        raise ScenegenError(f"{path}: {st.st_size:,} bytes; a model file is at most {MAX_FILE_BYTES:,}")
    return path


# --------------------------------------------------------------------------------- hashes, verified once
def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def hash_records_dir() -> Path:
    """Where verified hashes are remembered: ``$SCENEGEN_HASH_RECORDS``, else the user cache
    (``$XDG_CACHE_HOME/scenegen/file-hashes``, ``~/.cache/scenegen/file-hashes``); never the project's
    ``$SCENEGEN_CACHE``, which a refused request leaves untouched."""
    env = os.environ.get("SCENEGEN_HASH_RECORDS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scenegen" / HASH_RECORDS


def _record_path(path: Path) -> Path:
    real = os.path.realpath(path)
    return hash_records_dir() / f"{hashlib.sha256(real.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}.json"


def _recorded(path: Path, key: list[int]) -> str | None:
    try:
        record = json.loads(_record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("stat") != key or record.get("path") != os.path.realpath(path):
        return None
    digest = record.get("sha256")
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def _remember(path: Path, key: list[int], digest: str) -> None:
    try:
        atomic_write_text(_record_path(path), json.dumps({"path": os.path.realpath(path), "stat": key,
                                                          "sha256": digest}) + "\n")
    except OSError:
        pass  # a read-only or full cache only costs hashing again next time


def _chunks(handle, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        yield chunk


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a regular file, taken from the record of its current stat when there is one."""
    path = Path(path)
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        key = _stat_key(before)
        known = _recorded(path, key)
        if known is not None:
            return known
        digest = hashlib.sha256()
        for chunk in _chunks(handle, before.st_size):
            digest.update(chunk)
        after = os.fstat(handle.fileno())
    value = digest.hexdigest()
    if _stat_key(after) == key:  # not written to while it was read
        _remember(path, key, value)
    return value


def read_verified(info: ModelInfo, name: str) -> bytes:
    """The bytes of a file config.json names, checked against its SHA-256 (from its stat record when the file
    is unchanged since it was last hashed). Nothing is parsed here; a file that is not the recorded one (a
    pickle among them) is refused."""
    path = _member(info.path, name)
    expected = info.meta["files"][name]
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode) or before.st_size > MAX_FILE_BYTES:
                raise ScenegenError(f"{path}: not a regular model file")
            blob = b"".join(_chunks(handle, before.st_size))
            after = os.fstat(handle.fileno())
    except OSError as exc:
        raise ScenegenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    key = _stat_key(before)
    unchanged = _stat_key(after) == key and len(blob) == before.st_size
    actual = _recorded(path, key) if unchanged else None
    if actual is None:
        actual = hashlib.sha256(blob).hexdigest()
        if unchanged:
            _remember(path, key, actual)
    if actual != expected:
        raise _mismatch(path, expected, actual, blob[:4])
    return blob


def safetensors_header(blob: bytes, where: str) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor names, dtypes, shapes), checked without torch."""
    if len(blob) < 8:
        raise ScenegenError(f"{where}: not a valid safetensors file (shorter than its header)")
    length = int.from_bytes(blob[:8], "little")
    if length > min(len(blob) - 8, 100 << 20):
        raise ScenegenError(f"{where}: not a valid safetensors file (header length {length})")
    try:
        header = json.loads(blob[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ScenegenError(f"{where}: not a valid safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise ScenegenError(f"{where}: not a valid safetensors file")
    return header
