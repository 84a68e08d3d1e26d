"""Atomic file writes, content hashes, and the safe way to read a file a user names.

Outputs appear whole or not at all; a write that fails (read-only folder, full disk, file too large) is an
:class:`~scenegen.errors.OutputError`, one line naming the file. Inputs are checked before they are opened:
only regular files, never a FIFO, a device, a directory or a symlink loop (:func:`open_input`,
:func:`resolve_input`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError, ScenegenError, quote

_UMASK = os.umask(0o022)  # read once at import (os.umask can only be read by setting it) ...
os.umask(_UMASK)  # ... and put back at once


def write_failure(path: str | os.PathLike[str], exc: OSError) -> OutputError:
    """The one-line error for a failed write of ``path`` (read-only folder, full disk, file too large …)."""
    if isinstance(exc, OutputError):
        return exc
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT if hasattr(errno, "EDQUOT") else errno.ENOSPC):
        reason += " (the disk is full)"
    elif exc.errno == errno.EFBIG:
        reason += " (the file-size limit was reached)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += " (the folder is not writable)"
    return OutputError(f"{quote_path(path)}: cannot write ({reason})")


def probe_writable(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` (and its parents) and write and remove a small file in it, so a read-only or full
    ``--out`` is reported in one line before long work starts (OutputError, see :func:`write_failure`).
    Folders it had to create are removed again (the work that follows creates what it writes)."""
    path = Path(folder)
    probe = path / f".scenegen-probe-{os.getpid()}"
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise write_failure(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
        for made in created:  # innermost first
            with contextlib.suppress(OSError):
                made.rmdir()
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temp name keeps the suffix so writers that infer the format from it (PIL, cv2, torch) work.
    An OSError while writing becomes an :class:`~scenegen.errors.OutputError` naming ``path``.
    """
    target = Path(path)
    tmp_path: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem[:64]}.", suffix=f".tmp{target.suffix}", dir=target.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    except OSError as exc:
        raise write_failure(target, exc) from None
    finally:
        if tmp_path is not None and tmp_path.exists():
            with contextlib.suppress(OSError):
                tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's contents, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------- reading inputs
MAX_INPUT_BYTES = 512 * 1024 * 1024  # any one file a user names (photo, mesh, heightmap, mask)

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _reason(exc: OSError, kind: str = "file") -> str:
    what = "directory" if kind == "dir" else "file"
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    if exc.errno == errno.ENOENT:
        return f"{what} not found"
    if exc.errno == errno.ENOTDIR:
        return f"{what} not found (a part of the path is not a folder)"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or exc.__class__.__name__


def input_stat(path: str | os.PathLike[str], kind: str = "file") -> os.stat_result:
    """``os.stat`` of a path a user gave, checked to be a regular file (``kind="file"``) or a directory.

    Raises ScenegenError("PATH: reason") for NUL bytes, symlink loops, missing paths, FIFOs, devices,
    sockets and directories (or files where a directory is wanted), without ever opening the path.
    """
    text = os.fspath(path)
    if "\x00" in str(text):
        raise ScenegenError(f"{quote_path(text)}: the path contains a NUL character")
    try:
        info = os.stat(text)
    except OSError as exc:
        raise ScenegenError(f"{quote_path(text)}: {_reason(exc, kind)}") from None
    except ValueError as exc:  # pragma: no cover - e.g. a path the OS cannot represent
        raise ScenegenError(f"{quote_path(text)}: not a usable path ({exc})") from None
    if kind == "dir":
        if not stat.S_ISDIR(info.st_mode):
            raise ScenegenError(f"{quote_path(text)}: not a directory")
    elif not stat.S_ISREG(info.st_mode):
        raise ScenegenError(f"{quote_path(text)}: {_kind(info.st_mode)}, not a regular file")
    return info


def open_input(path: str | os.PathLike[str], max_bytes: int = MAX_INPUT_BYTES) -> io.BufferedReader:
    """Open a user's input file for reading: only a regular file of at most ``max_bytes``.

    Checked before opening (:func:`input_stat`), then opened non-blocking (a FIFO swapped in meanwhile cannot
    block) and checked again on the open descriptor. Raises ScenegenError("PATH: reason").
    """
    input_stat(path)
    text = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(text, flags)
    except OSError as exc:
        raise ScenegenError(f"{quote_path(text)}: cannot open ({_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ScenegenError(f"{quote_path(text)}: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise ScenegenError(f"{quote_path(text)}: {info.st_size:,} bytes; the limit is {max_bytes:,}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: str | os.PathLike[str], max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a user's input file (see :func:`open_input`)."""
    with open_input(path, max_bytes) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise ScenegenError(f"{quote_path(path)}: cannot read ({_reason(exc)})") from None
    if len(data) > max_bytes:
        raise ScenegenError(f"{quote_path(path)}: more than {max_bytes:,} bytes")
    return data


def resolve_input(base: str | os.PathLike[str], relative: str, kind: str = "file", *,
                  allow_outside: bool = False, folder_name: str = "folder") -> Path:
    """``relative`` (a path written in a user's file) resolved against ``base``, checked, never opened.

    Refused (ScenegenError with a reason, no location: callers add it): NUL bytes, symlink loops, a path that
    leaves ``base`` (symlinks followed) unless ``allow_outside``, and anything but a regular file
    (``kind="file"``) or a directory (``kind="dir"``).
    """
    if "\x00" in relative:
        raise ScenegenError(f"{quote_path(relative)}: the path contains a NUL character")
    root = Path(os.path.realpath(base))
    joined = root / relative
    candidate = Path(os.path.realpath(joined))  # symlinks followed; a loop is left for input_stat to report
    if not allow_outside and not candidate.is_relative_to(root):
        raise ScenegenError(f"{quote_path(relative)} points outside the {folder_name} {quote_path(root)} "
                            "(pass --allow-outside to permit it)")
    try:
        input_stat(candidate, kind)
    except ScenegenError as exc:
        raise ScenegenError(f"{quote_path(relative)}: {str(exc).rsplit(': ', 1)[-1]} ({quote_path(joined)})") from None
    return candidate


def quote_path(path: str | os.PathLike[str], limit: int = 240) -> str:
    """A path for a message: as is when printable and at most ``limit`` characters, else JSON-quoted and cut."""
    text = os.fspath(path)
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if len(text) <= limit and text.isprintable():
        return text
    return quote(text, limit)
