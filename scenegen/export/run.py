"""``scenegen export``: a library of materials and sprite sets → an engine-ready, verifiable, resumable folder.

Layout of ``DIR``::

    materials/NAME/NAME_basecolor.png … NAME_orm.png, NAME.glb (+ NAME.tres | NAME_mask.png per target)
    sprites/SET/SET_000.png, SET_000_normal.png, SET_000.glb (+ SET_000.tres for godot), …,
                SET_atlas.png, SET_atlas_normal.png, SET_atlas.json
    contact_sheet.png       every material (2×2 tiled swatch) and sprite, labelled
    manifest.json           every file's SHA-256, the parameters, seed, model hash, tile size, normal convention

Resume: an item whose recorded key (params + model identity + target) matches and whose files all verify is
skipped; anything missing, changed or half-written is built again. Files are written atomically, and an
item is recorded only after all its files are in place.

Reuse: an item to build asks the reuse service first (:mod:`scenegen.reuse`, the cache ``scenegen material``,
the worker and scene builds use: ``cache``, else ``$SCENEGEN_CACHE`` or ``./.cache``), with the keys those use
for the same request (:mod:`scenegen.export.build`), so a material set or sprite set already generated, by an
earlier export into another folder or by ``scenegen material``, is not generated again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

try:  # POSIX; elsewhere the folder is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from ..cache import cache_root
from ..errors import ScenegenError
from ..fsutil import resolve_input, sha256_bytes, write_failure
from ..model.directory import ModelInfo, inspect
from . import manifest as M
from .build import Check, ItemCache
from .executors import Executor, make_executor
from .library import WorkItem, expand_library, load_library
from .progress import ItemListener, Progress, format_duration
from .targets import get_target

CONTACT_SHEET = "contact_sheet.png"
THUMBNAIL = 128
SHEET_COLUMNS = 12
SHEET_MAX_CELLS = 1024


@dataclass
class ExportSummary:
    """What an export did."""

    out: Path
    total: int
    built: int = 0
    cached: int = 0  # of the built items, those whose generated part came from the cache
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, error)
    files: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    executor: str = ""
    stale: list[str] = field(default_factory=list)  # items of an earlier export no longer in the library

    @property
    def items_per_min(self) -> float:
        return 60.0 * self.built / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        cached = f"; {self.cached} of the built served from the cache" if self.cached else ""
        lines = [f"exported {self.total - len(self.failed)}/{self.total} items to {self.out} "
                 f"({self.built} built, {self.skipped} already up to date, {len(self.failed)} failed{cached}) "
                 f"in {format_duration(self.seconds)}"
                 + (f", {self.items_per_min:.1f} items/min on {self.executor}" if self.built else ""),
                 f"{self.files} files, {self.bytes_written / 1e6:.1f} MB written; manifest: {self.out / M.MANIFEST}"]
        lines += [f"failed: {name}: {error}" for name, error in self.failed]
        if self.stale:
            lines.append(f"note: {len(self.stale)} item(s) of an earlier export are not in this library and were left "
                         f"on disk, outside the manifest: {', '.join(self.stale[:5])}{' …' if len(self.stale) > 5 else ''}")
        return "\n".join(lines)


def inspect_model(path: str | os.PathLike[str], mode: str) -> ModelInfo:
    """The verified model directory ``path`` of kind ``mode``: config.json checked, every file's SHA-256 too.

    The weights are not loaded (the workers do that), and torch is not imported here, so a coordinator
    that only hands work to other processes starts fast.
    """
    return inspect(path, mode, what=f"{mode} model")


def _resolve_models(items: list[WorkItem], library, base: Path, model: Optional[str], sprite_model: Optional[str],
                    source: str, allow_outside: bool = False) -> dict[str, Optional[ModelInfo]]:
    """The models the items need: ``--model``/``--sprite-model`` as given (anywhere: they are not from a user
    file), else the library's ``model`` and ``sprite_model`` (relative to the library's folder and inside it,
    symlinks followed, unless ``allow_outside``, like photos; errors name the library file, position and
    field), else the shipped ones."""
    from ..api import default_model_dir
    from ..sprite_gen import default_sprite_model_dir

    def pick(given: Optional[str], field: str, written: Optional[str], default: Path, mode: str) -> ModelInfo:
        if given or not written:
            return inspect_model(Path(given) if given else default, mode)
        try:
            path = resolve_input(base, written, "dir", allow_outside=allow_outside, folder_name="library's folder")
            return inspect_model(path, mode)
        except ScenegenError as exc:
            raise ScenegenError(f"{library.where(field, source)}: {exc}") from None

    refs: dict[str, Optional[ModelInfo]] = {"texture": None, "sprites": None}
    kinds = {item.kind for item in items}
    if "material" in kinds:
        refs["texture"] = pick(model, "model", library.model, default_model_dir(), "texture")
    if "sprites" in kinds:
        refs["sprites"] = pick(sprite_model, "sprite_model", library.sprite_model, default_sprite_model_dir(), "sprite")
    for item in items:
        ref = refs["texture" if item.kind == "material" else "sprites"]
        cls = item.params.get("class")
        if cls is not None and ref is not None and ref.classes and cls not in ref.classes:
            raise ScenegenError(f"{source}: {item.where}.class: unknown class {cls!r}; the model at {ref.path} "
                                f"knows: {', '.join(ref.classes)}")
    return refs


class _Lock:
    """An exclusive lock on the output folder, so two exports never write into the same one."""

    def __init__(self, out: Path) -> None:
        self._out = out
        (out / M.STATE_DIR).mkdir(parents=True, exist_ok=True)
        self._handle = open(out / M.STATE_DIR / "lock", "w")
        if fcntl is None:
            return
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.close()
            raise ScenegenError(f"{out}: another scenegen export is writing to this folder") from None

    def release(self, tidy: bool = False) -> None:
        """Unlock; with ``tidy`` also remove the lock file and the state folder when nothing else is in it."""
        if tidy:
            (self._out / M.STATE_DIR / "lock").unlink(missing_ok=True)
            try:
                (self._out / M.STATE_DIR).rmdir()
            except OSError:
                pass
        if fcntl is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def export_library(library_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, target: str = "gltf",
                   workers: Optional[int] = None, ray: Optional[str] = None, model: Optional[str] = None,
                   sprite_model: Optional[str] = None, progress: bool = True,
                   on_item: Optional[ItemListener] = None, allow_outside: bool = False,
                   compress: bool | str = False, cache: str | os.PathLike[str] | None = None, use_cache: bool = True,
                   check: Check = None) -> ExportSummary:
    """Export every item of ``library_path`` into ``out_dir`` (resuming), then the contact sheet and manifest.

    ``workers``: local processes (default: the cores); ``ray``: ``"auto"``, ``"local"`` or a cluster address.
    Failed items are reported in the summary (and left out of the manifest); the others are kept.
    ``allow_outside`` lets photos and the library's ``model``/``sprite_model`` lie outside the library file's
    folder; ``compress`` writes every ``.glb`` compressed: ``"webp"`` (or True) or ``"ktx2"``
    (:mod:`scenegen.scene.gltf_compress`; needs Node.js and the npm packages).
    ``cache``: the reuse service's folder (default ``$SCENEGEN_CACHE`` or ``./.cache``; ``use_cache=False``: none).
    ``on_item(done, total, item, ok)`` is told of every finished item (:data:`~scenegen.export.progress.ItemListener`).
    ``check()`` is called between items, while waiting for workers and, in this process, between decode tiles;
    whatever it raises (a cancel) stops the export at once: worker processes are killed, finished items stay.
    """
    started = time.perf_counter()
    library_file = Path(library_path)
    source = str(library_file)
    from ..scene.gltf_compress import compress_unavailable, compression_format

    fmt = compression_format(compress)
    target_spec = get_target(f"{target}+{fmt}" if fmt else target)
    if fmt and compress_unavailable():
        raise ScenegenError(compress_unavailable())
    library = load_library(library_file)
    items = expand_library(library, library_file.parent, source, allow_outside=allow_outside)
    if not items:
        raise ScenegenError(f"{source}: the library lists no materials and no sprites")
    refs = _resolve_models(items, library, library_file.parent, model, sprite_model, source, allow_outside)
    hashes = {"material": refs["texture"].model_hash if refs["texture"] else None,
              "sprites": refs["sprites"].model_hash if refs["sprites"] else None}
    identities = {"material": refs["texture"].identity if refs["texture"] else None,  # what item keys hold
                  "sprites": refs["sprites"].identity if refs["sprites"] else None}

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ScenegenError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _Lock(out)
    except OSError as exc:
        raise write_failure(out, exc) from None
    finished = False
    try:
        M.remove_stale_temporaries(out)
        known = M.load_records(out)
        records: dict[tuple[str, str], dict[str, Any]] = {}
        keys: dict[tuple[str, str], str] = {}
        todo: list[WorkItem] = []
        for item in items:
            key = M.item_key(item, identities[item.kind], target_spec.key_name)
            keys[(item.kind, item.name)] = key
            old = known.get(item)
            if old is not None and old.get("key") == key and M.files_verify(out, old.get("files") or {}):
                records[(item.kind, item.name)] = old
            else:
                todo.append(item)
        summary = ExportSummary(out=out, total=len(items), skipped=len(items) - len(todo))
        current = {(item.kind, item.name) for item in items}
        summary.stale = sorted(f"{M.SECTIONS[kind]}/{name}" for kind, name in known.items if (kind, name) not in current)
        if todo:
            reuse = ItemCache(str(Path(cache if cache is not None else cache_root()).resolve()) if use_cache else None,
                              identities, hashes)
            executor = make_executor(workers=workers, ray=ray, target=target_spec.key_name,
                                     texture_model=str(refs["texture"].path) if refs["texture"] else None,
                                     sprite_model=str(refs["sprites"].path) if refs["sprites"] else None, cache=reuse)
            summary.executor = executor.description
            try:
                _run_items(executor, todo, out, keys, hashes, target_spec.normal_convention, known, records, summary,
                           Progress(len(todo), enabled=progress, listener=on_item), check)
            except BaseException:
                executor.terminate()  # a cancel or Ctrl-C: stop the workers now, keep what is finished
                raise
            finally:
                executor.close()
        sheet = _contact_sheet(out, items, records)
        extra = {}
        if sheet is not None:
            M.write_output(out / CONTACT_SHEET, sheet)
            extra[CONTACT_SHEET] = sha256_bytes(sheet)
        M.write_manifest(out, target=target_spec.name, normal_convention=target_spec.normal_convention,
                         models={"texture": hashes["material"], "sprites": hashes["sprites"]},
                         records=records, files=extra, compressed=fmt)
        finished = True
    finally:
        lock.release(tidy=finished)
    summary.seconds = time.perf_counter() - started
    return summary


def _run_items(executor: Executor, todo: list[WorkItem], out: Path, keys: dict, hashes: dict, normal_convention: str,
               known: M.Records, records: dict, summary: ExportSummary, progress: Progress, check: Check) -> None:
    by_name = {(item.kind, item.name): item for item in todo}
    try:
        for result in executor.map(todo, check):
            item = by_name[(result.kind, result.name)]
            if result.error is None and result.model_hash != hashes[item.kind]:
                result.error = (f"the worker's model hash {str(result.model_hash)[:12]}… differs from "
                                f"{str(hashes[item.kind])[:12]}…")
            if result.error is not None:
                summary.failed.append((item.name, result.error))
                progress.update(item.name, ok=False)
                continue
            old = known.get(item)
            for rel in (old or {}).get("files", {}):
                if rel not in result.files and M.is_item_path(rel):  # no longer produced (e.g. another target)
                    (out / rel).unlink(missing_ok=True)
            digests = {}
            for rel, blob in sorted(result.files.items()):
                M.write_output(out / rel, blob)
                digests[rel] = sha256_bytes(blob)
                summary.bytes_written += len(blob)
            summary.files += len(digests)
            record = M.item_record(item, keys[(item.kind, item.name)], hashes[item.kind], normal_convention, digests)
            M.write_fragment(out, item.kind, item.name, record)
            records[(item.kind, item.name)] = record
            summary.built += 1
            summary.cached += result.cached
            progress.update(item.name)
    finally:
        progress.close()


def _thumbnail_material(path: Path) -> np.ndarray:
    from ..imaging import load_image, resize, tile_image

    half = resize(load_image(path), THUMBNAIL // 2, THUMBNAIL // 2)
    tiled = tile_image(half, 2, 2)
    return np.concatenate([tiled, np.ones(tiled.shape[:2] + (1,), np.float32)], axis=2)


def _thumbnail_sprite(path: Path) -> np.ndarray:
    from ..imaging import load_image, resize

    rgba = load_image(path, mode="RGBA")
    h, w = rgba.shape[:2]
    scale = THUMBNAIL / max(h, w)
    if scale < 1:
        premultiplied = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=2)
        small = resize(premultiplied, max(1, round(h * scale)), max(1, round(w * scale)))
        alpha = small[..., 3:]
        rgba = np.concatenate([small[..., :3] / np.maximum(alpha, 1e-6), alpha], axis=2).clip(0.0, 1.0)
    return rgba.astype(np.float32)


def _contact_sheet(out: Path, items: list[WorkItem], records: dict) -> Optional[bytes]:
    """PNG bytes of a labelled grid of every exported material and sprite (from the files on disk)."""
    from ..imaging import encode_png
    from ..sprites import contact_sheet

    cells, labels = [], []
    for item in sorted(items, key=lambda i: (i.kind != "material", i.name)):
        record = records.get((item.kind, item.name))
        if record is None:
            continue
        if item.kind == "material":
            cells.append(_thumbnail_material(out / f"materials/{item.name}/{item.name}_basecolor.png"))
            labels.append(item.name)
        else:
            pngs = sorted(rel for rel in record["files"] if rel.endswith(".png")
                          and not rel.endswith(("_atlas.png", "_normal.png", "_normal_dx.png")))
            for rel in pngs:
                cells.append(_thumbnail_sprite(out / rel))
                labels.append(Path(rel).stem)
        if len(cells) >= SHEET_MAX_CELLS:
            break
    if not cells:
        return None
    sheet = contact_sheet(cells[:SHEET_MAX_CELLS], columns=SHEET_COLUMNS, labels=labels[:SHEET_MAX_CELLS])
    return encode_png(sheet)
