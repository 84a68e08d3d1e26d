"""The one reuse service: finished work found by content before it is redone.

``scenegen material``, the worker's material ops, scene builds (:mod:`scenegen.build.assets`) and library export
ask it first; a material set has one key whichever of them asks (:func:`scenegen.material_files.material_request`). A request is keyed by :func:`scenegen.cache.request_record`: the cache format, scenegen's version and
source fingerprint, the kind, the model's identity (:attr:`scenegen.model.directory.ModelInfo.identity`), every
parameter that decides the bytes and the SHA-256 of every input file; so a hit is always what a fresh run would
make, wherever the request came from. Entries live in the content-addressed :class:`scenegen.cache.Cache`
(``$SCENEGEN_CACHE``, else ``./.cache``, or a root the caller names), verified file by file as they are served.

Two ways to use it: :meth:`Reuse.bytes` (in memory: build assets, export items) and :meth:`Reuse.files` (into a
folder: the material command and the worker). A cache that cannot be written (read-only, full) is reported once
through ``warn`` and the work is done without it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .cache import Cache, cache_key, request_record


@dataclass(frozen=True)
class Request:
    """One request: its record (what the key is computed from) and the key."""

    record: dict[str, Any]
    key: str


def request(kind: str, parameters: Mapping[str, Any], *, model_identity: str | None,
            inputs: Mapping[str, str | os.PathLike[str]] | None = None) -> Request:
    """The request of ``kind`` with ``parameters`` (plain JSON values) on the model ``model_identity``;
    ``inputs`` are files, recorded by their SHA-256."""
    record = request_record(kind, parameters, model_hash=model_identity, inputs=inputs)
    return Request(record, cache_key(record))


@dataclass(frozen=True)
class Served:
    """What :meth:`Reuse.files` did: where the files are, whether they came from the cache, the files read."""

    paths: dict[str, Path]
    hit: bool
    data: dict[str, bytes]


class Reuse:
    """One namespace of the cache (``materials``, ``scene-assets``, …), or none (``enabled=False``: always make)."""

    def __init__(self, namespace: str, root: str | os.PathLike[str] | None = None, *, enabled: bool = True,
                 warn: Callable[[str], None] | None = None) -> None:
        self.cache = Cache(namespace, root) if enabled else None
        self.warn = warn
        self.hits = 0
        self.misses = 0

    @classmethod
    def of(cls, cache: Cache | None, *, warn: Callable[[str], None] | None = None) -> "Reuse":
        """The service over an existing cache namespace (``None``: no cache)."""
        reuse = cls("unused", enabled=False, warn=warn)
        reuse.cache = cache
        return reuse

    def _unusable(self, exc: OSError) -> None:
        if self.warn is not None and self.cache is not None:
            self.warn(f"warning: cache at {self.cache.folder} not usable ({exc.strerror or exc}); working without it")
        self.cache = None

    # ---------------------------------------------------------------------------------------------- bytes
    def get(self, req: Request, names: list[str], *, also: Sequence[Request] = ()) -> dict[str, bytes] | None:
        """The entry's files ``names`` (verified), else those of the first entry of ``also`` that has them
        (requests whose entries hold the same files among others, e.g. a set with its preview), or None."""
        if self.cache is None:
            return None
        for each in (req, *also):
            with tempfile.TemporaryDirectory(prefix="scenegen-") as tmp:
                got = self.cache.fetch(each.key, {n: Path(tmp) / n for n in names})
                if got is not None:
                    return {n: Path(p).read_bytes() for n, p in got.items()}
        return None

    def put(self, req: Request, files: Mapping[str, bytes]) -> None:
        """Store ``files`` ({name in entry: bytes}) as the entry of ``req``."""
        if self.cache is None:
            return
        try:
            with tempfile.TemporaryDirectory(prefix="scenegen-") as tmp:
                paths = {}
                for name, data in files.items():
                    paths[name] = Path(tmp) / name
                    paths[name].write_bytes(data)
                self.cache.store(req.key, paths, req.record, move=True)
        except OSError as exc:
            self._unusable(exc)

    def bytes(self, req: Request, names: list[str], make: Callable[[], dict[str, bytes]], *,
              also: Sequence[Request] = ()) -> tuple[dict[str, bytes], bool]:
        """``(files, hit)``: the entry's ``names`` if cached (or in an entry of ``also``, never written; see
        :meth:`get`), else ``make()``'s files (``names`` and any more the entry keeps), stored under ``req``."""
        got = self.get(req, names, also=also)
        if got is not None:
            self.hits += 1
            return got, True
        self.misses += 1
        files = make()
        self.put(req, files)
        return {name: files[name] for name in names}, False

    # --------------------------------------------------------------------------------------------- folders
    def files(self, req: Request, destinations: Mapping[str, Path],
              write: Callable[[Path], Mapping[str, str | os.PathLike[str]]], *, read: tuple[str, ...] = (),
              before_copy: Callable[[], None] = lambda: None) -> Served:
        """The entry's files put at ``destinations`` ({name in entry: path}), all or none; the entry's files
        ``read`` are returned as bytes instead (e.g. a JSON record that does not belong in the folder).

        On a miss ``write(folder)`` writes every file ({name in entry: path}) into a private folder of the
        cache; they are stored, then served like a hit (without a usable cache, straight from that folder).
        Everything is staged in a private folder beside the destinations (``.scenegen-partial-<pid>-<hex>``)
        and moved into place after ``before_copy()`` (the worker's point of no return), so an exception or a
        cancel leaves none of the set behind.
        """
        folder = Path(next(iter(destinations.values()))).parent
        staging = folder / f".scenegen-partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staged = {name: staging / name for name in list(destinations) + list(read)}
        try:
            hit = self.cache is not None and self._fetch(req, staging, staged)
            if hit:
                self.hits += 1
            else:
                self.misses += 1
                self._make(req, staging, staged, write)  # the staging folder appears only once the set is made
            data = {name: staged[name].read_bytes() for name in read}
            before_copy()
            for name, target in destinations.items():
                os.replace(staged[name], target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Served({name: Path(target) for name, target in destinations.items()}, hit, data)

    def _fetch(self, req: Request, staging: Path, staged: Mapping[str, Path]) -> bool:
        """Copy a stored entry into a new ``staging`` folder (removed again on a miss)."""
        staging.mkdir(exist_ok=True)
        if self.cache is not None and self.cache.fetch(req.key, staged) is not None:
            return True
        shutil.rmtree(staging, ignore_errors=True)
        return False

    def _make(self, req: Request, staging: Path, staged: Mapping[str, Path],
              write: Callable[[Path], Mapping[str, str | os.PathLike[str]]]) -> None:
        """Write a missing entry, store it and fetch it into ``staged``; without a cache, write it in a private
        folder beside the destinations (named like the staging folder, so the same stale-folder clean-up finds it;
        not in the system's temporary folder, which may be smaller than ``--out``) and move it there. Nothing but
        that hidden folder appears beside the destinations until the set is whole."""
        if self.cache is not None:
            try:
                self.cache.folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(prefix=".work-", dir=self.cache.folder) as work:
                    self.cache.store(req.key, write(Path(work)), req.record, move=True)
            except OSError as exc:
                self._unusable(exc)
            else:
                if self._fetch(req, staging, staged):
                    return
        with tempfile.TemporaryDirectory(prefix=f"{staging.name}-work-", dir=staging.parent) as work:
            written = write(Path(work))
            staging.mkdir(exist_ok=True)
            for name, target in staged.items():
                shutil.move(os.fspath(written[name]), target)
