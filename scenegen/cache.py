"""A content-addressed cache of generated files: the same request returns the same bytes at once.

An entry is keyed on the SHA-256 of a canonical JSON of everything that determines its files:
``{cache_format, scenegen version, code fingerprint, kind, model_hash, parameters, input file hashes}``
(the fingerprint hashes the package's own source, so an edited generator never serves an old entry). It lives in
``<root>/<namespace>/<key>/`` with its files and ``entry.json`` (the key's JSON plus every file's
SHA-256 and size). ``root`` is ``$SCENEGEN_CACHE`` if set, else ``./.cache``.

* **Atomic**: an entry is written into a temporary folder beside it and renamed into place, so a
  reader sees a whole entry or none; concurrent writers of one key keep the first that lands.
* **Verified**: every file is hashed while it is copied out; an entry that does not match its
  record (truncated, edited, half-deleted) is removed and reported as a miss, never served.
* **Generic**: materials, scenes and exports use the same class with their own ``namespace``/``kind``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from . import __version__
from .errors import ScenegenError
from .fsutil import atomic_path, atomic_write_text, sha256_file

CACHE_ENV = "SCENEGEN_CACHE"
CACHE_FORMAT = 1
ENTRY_FILE = "entry.json"
_CHUNK = 1 << 20


def cache_root() -> Path:
    """``$SCENEGEN_CACHE`` if set, else ``.cache`` in the current directory."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / ".cache"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the scenegen package's source files (paths and bytes; compiled caches excluded)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values always give equal text (and keys)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cache parameters must be plain JSON values: {exc}") from None


def request_record(
    kind: str,
    parameters: Mapping[str, Any],
    *,
    model_hash: str | None = None,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """What a request's key is computed from; ``inputs`` are files, recorded by their SHA-256."""
    hashed: dict[str, str] = {}
    for name, path in (inputs or {}).items():
        try:
            hashed[name] = sha256_file(path)
        except FileNotFoundError:
            raise ScenegenError(f"{path}: file not found") from None
        except OSError as exc:
            raise ScenegenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return {
        "cache_format": CACHE_FORMAT,
        "scenegen": __version__,
        "code": code_fingerprint(),
        "kind": kind,
        "model_hash": model_hash,
        "parameters": dict(parameters),
        "inputs": hashed,
    }


def cache_key(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


class Cache:
    """One namespace (``materials``, ``scenes``, …) of the content-addressed cache."""

    def __init__(self, namespace: str, root: str | os.PathLike[str] | None = None) -> None:
        if not namespace or "/" in namespace or namespace.startswith("."):
            raise ValueError(f"bad cache namespace {namespace!r}")
        self.folder = Path(root if root is not None else cache_root()) / namespace

    def entry_dir(self, key: str) -> Path:
        """Where the entry for ``key`` lives (whether or not it exists)."""
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / key

    def _manifest(self, key: str) -> dict[str, Any] | None:
        path = self.entry_dir(key) / ENTRY_FILE
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(manifest, dict) or manifest.get("key") != key or not isinstance(manifest.get("files"), dict):
            return None
        return manifest

    def fetch(self, key: str, destinations: Mapping[str, str | os.PathLike[str]]) -> dict[str, Path] | None:
        """Copy the entry's files to ``destinations`` ({file name in entry: target path}), verifying each.

        Returns ``{file name: target path}`` on a hit; ``None`` on a miss (no entry, or a damaged entry,
        which is removed). Each target is replaced atomically.
        """
        manifest = self._manifest(key)
        if manifest is None:
            if self.entry_dir(key).exists():
                self.evict(key)
            return None
        files = manifest["files"]
        if any(name not in files for name in destinations):
            return None
        written: dict[str, Path] = {}
        for name, target in destinations.items():
            if not self._copy_verified(self.entry_dir(key) / name, Path(target), files[name]):
                self.evict(key)
                return None
            written[name] = Path(target)
        return written

    @staticmethod
    def _copy_verified(source: Path, target: Path, expected: Mapping[str, Any]) -> bool:
        """Stream ``source`` to ``target`` while hashing it; the target is only renamed into place on a match."""
        digest = hashlib.sha256()
        try:
            src = open(source, "rb")
        except OSError:
            return False
        try:
            with src, atomic_path(target) as tmp, open(tmp, "wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
                if digest.hexdigest() != expected.get("sha256"):
                    raise _Damaged
        except _Damaged:
            return False
        except OSError as exc:
            raise ScenegenError(f"{target}: cannot write ({exc.strerror or exc})") from None
        return True

    def store(
        self, key: str, files: Mapping[str, str | os.PathLike[str]], record: Mapping[str, Any], *, move: bool = False
    ) -> Path:
        """Add an entry: ``files`` is {file name in entry: source path}; ``record`` as for ``cache_key``.

        Sources are copied (or moved, ``move=True``) into a temporary folder that is renamed into place.
        If another process stored the same key first, its entry is kept. Returns the entry folder.
        """
        final = self.entry_dir(key)
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=self.folder))
        try:
            listing: dict[str, dict[str, Any]] = {}
            for name, source in files.items():
                if not name or "/" in name or "\\" in name or name.startswith(".") or name == ENTRY_FILE:
                    raise ValueError(f"bad cache file name {name!r}")
                target = staging / name
                if move:
                    shutil.move(os.fspath(source), target)
                else:
                    shutil.copyfile(source, target)
                listing[name] = {"sha256": sha256_file(target), "bytes": target.stat().st_size}
            manifest = {"key": key, "request": dict(record), "files": listing}
            atomic_write_text(staging / ENTRY_FILE, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            try:
                os.rename(staging, final)
            except OSError:
                if self._manifest(key) is None:  # not a finished concurrent entry: replace what is there
                    self.evict(key)
                    os.rename(staging, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return final

    def evict(self, key: str) -> None:
        """Remove an entry (no error if it is absent)."""
        shutil.rmtree(self.entry_dir(key), ignore_errors=True)


class _Damaged(Exception):
    """A cached file whose bytes do not match its recorded SHA-256."""
