"""``DIR/manifest.json``: every exported file's SHA-256 with the parameters that made it; resume and verify.

While an export runs, each finished item is recorded in its own small JSON file under
``DIR/.scenegen-export/items/`` (written atomically after the item's files), so a killed export loses at most
the items in flight; the final ``manifest.json`` merges them (sorted, no timestamps: the same library, model
and target give a byte-identical manifest whichever executor ran it) and the folder is removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..errors import ScenegenError
from ..fsutil import atomic_path, atomic_write_text, sha256_bytes, sha256_file
from .library import WorkItem
from .targets import TARGETS

MANIFEST = "manifest.json"
STATE_DIR = ".scenegen-export"
FORMAT = "scenegen-export"
FORMAT_VERSION = 1
SPRITE_FILES_VERSION = 2  # bump when a sprite set's files change (2: normal maps, Godot .tres)
SECTIONS = {"material": "materials", "sprites": "sprites"}
_TEMP_RE = re.compile(r"^\..+\.tmp(\.[A-Za-z0-9]+)?$")  # scenegen.fsutil.atomic_path's temporary names

CONVENTIONS = {
    "texture_set": "NAME_basecolor (sRGB), _normal, _roughness, _ao, _orm (R AO, G roughness, B metallic): 8-bit PNG; "
                   "_height: 16-bit PNG (8-bit for godot); all tileable",
    "normal_map": "tangent space; opengl = +Y up (glTF, Godot, Unity, Blender), directx = green flipped (Unreal, "
                  "named NAME_normal_dx.png)",
    "preview_glb": "UV sphere of radius tile_size_m/pi, glTF conventions (OpenGL normals), REPEAT sampler",
    "unity_mask": "NAME_mask.png: R metallic, G AO, B detail mask (0), A smoothness = 1 - roughness: the HDRP Lit "
                  "mask map; in URP Lit the same PNG is the Metallic Map (R, smoothness from its alpha) and the "
                  "Occlusion Map (G)",
    "unity_meta": "NAME.png.meta per PNG: TextureImporter with sRGB on for colour only, texture type Normal map for "
                  "normals, wrap Repeat (materials) or Clamp (sprites), mipmaps, max size the image's own, a stable "
                  "GUID from the file's path",
    "unity_pipelines": "HDRP (Lit: mask map) and URP (Lit: metallic + occlusion maps from the mask map)",
    "godot_tres": "ORMMaterial3D with texture paths relative to the material folder, world-space triplanar "
                  "mapping with uv1_scale = 1 / tile_size_m",
    "sprites": "RGBA PNG (straight alpha), NAME_normal.png (tangent-space normal map of the sprite's shape, "
               "normal_convention; NAME_normal_dx.png for directx), billboard GLB (alphaMode MASK, pivot at the "
               "foot, normal map embedded, OpenGL), atlas PNG + _atlas_normal.png + TexturePacker JSON Hash",
    "godot_sprite_tres": "StandardMaterial3D per sprite: alpha scissor, no culling, Y-axis billboard for quad cards, "
                         "colour and normal PNG; NAME_region.tres: AtlasTexture of the sprite's atlas frame",
}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # exported files are ordinary user files (mkstemp alone would make them 0600)


def write_output(path: str | os.PathLike[str], blob: bytes) -> None:
    """Write ``blob`` atomically (temp file + rename) with ordinary file permissions."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)
        os.chmod(tmp, FILE_MODE)


def item_key(item: WorkItem, model_hash: str, target: str) -> str:
    """Identity of an item's output: changes whenever anything that decides its bytes changes."""
    payload = {"format_version": FORMAT_VERSION, "kind": item.kind, "name": item.name, "params": item.params,
               "model_hash": model_hash, "target": target}
    if item.kind == "sprites":  # a sprite set recorded before its files changed is built again
        payload["sprite_files"] = SPRITE_FILES_VERSION
    spec = TARGETS.get(target.partition("+")[0])  # godot+webp: godot's
    if spec is not None and spec.files_version is not None:  # so are the items of a target whose files changed
        payload["target_files"] = spec.files_version
    return sha256_bytes(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def item_record(item: WorkItem, key: str, model_hash: str, normal_convention: str,
                files: dict[str, str]) -> dict[str, Any]:
    """The manifest entry of a finished item; ``files`` maps relative paths to SHA-256."""
    record: dict[str, Any] = {"key": key, "seed": item.seed, "model_hash": model_hash,
                              "params": item.params, "files": dict(sorted(files.items()))}
    if item.kind == "material":
        record["tile_size_m"] = item.params["tile_size_m"]
    record["normal_convention"] = normal_convention  # materials' and sprites' normal PNGs alike
    return record


@dataclass
class Records:
    """Finished items known in an output folder, by (kind, name)."""

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def get(self, item: WorkItem) -> dict[str, Any] | None:
        return self.items.get((item.kind, item.name))

    def put(self, kind: str, name: str, record: dict[str, Any]) -> None:
        self.items[(kind, name)] = record


def is_item_path(rel: str) -> bool:
    """True for a relative path inside ``materials/`` or ``sprites/`` (never absolute, never ``..``)."""
    parts = Path(rel).parts
    return len(parts) >= 2 and parts[0] in SECTIONS.values() and ".." not in parts and not Path(rel).is_absolute()


def _state(out: Path) -> Path:
    return out / STATE_DIR / "items"


def _fragment_path(out: Path, kind: str, name: str) -> Path:
    return _state(out) / f"{kind}--{name}.json"


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse ``DIR/manifest.json``; ScenegenError when it is missing or not a scenegen export manifest."""
    path = Path(out) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenegenError(f"{path}: no export manifest here (is {out} an export folder?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenegenError(f"{path}: unreadable manifest ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ScenegenError(f"{path}: not a scenegen export manifest (format must be '{FORMAT}')")
    if data.get("format_version") != FORMAT_VERSION:
        raise ScenegenError(f"{path}: unsupported format_version {data.get('format_version')!r}")
    return data


def load_records(out: str | os.PathLike[str]) -> Records:
    """Items recorded by a previous export (manifest.json) and by an interrupted one (fragments)."""
    root = Path(out)
    records = Records()
    if (root / MANIFEST).exists():
        try:
            manifest = read_manifest(root)
        except ScenegenError:
            manifest = {}  # a broken manifest only means everything is rebuilt
        for kind, section in SECTIONS.items():
            for name, record in (manifest.get(section) or {}).items():
                if isinstance(record, dict):
                    records.put(kind, name, record)
    if _state(root).is_dir():
        for path in sorted(_state(root).glob("*.json")):
            if path.name.startswith("."):  # a fragment still being written (temporary name)
                continue
            kind, _, name = path.stem.partition("--")
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if kind in SECTIONS and isinstance(record, dict):
                records.put(kind, name, record)
    return records


def files_verify(out: str | os.PathLike[str], files: dict[str, str]) -> bool:
    """True when every listed file exists with the recorded SHA-256."""
    root = Path(out)
    for rel, digest in files.items():
        path = root / rel
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def write_fragment(out: str | os.PathLike[str], kind: str, name: str, record: dict[str, Any]) -> None:
    """Record one finished item (atomically) so a re-run after a crash can skip it."""
    atomic_write_text(_fragment_path(Path(out), kind, name), json.dumps(record, sort_keys=True) + "\n")


def write_manifest(out: str | os.PathLike[str], *, target: str, normal_convention: str,
                   models: dict[str, str | None], records: dict[tuple[str, str], dict[str, Any]],
                   files: dict[str, str], compressed: bool | str | None = False) -> Path:
    """Write ``DIR/manifest.json`` (sorted keys, no timestamps) and drop the per-item fragments.

    ``compressed``: the ``--compress`` format (``webp``/``ktx2``; True: the default), described under ``compressed``."""
    root = Path(out)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": f"scenegen {__version__}",
        "target": target,
        "normal_convention": normal_convention,
        "models": {kind: digest for kind, digest in models.items() if digest},
        "conventions": CONVENTIONS,
        "files": dict(sorted(files.items())),
    }
    if compressed:
        from ..scene.gltf_compress import DESCRIPTIONS, compression_format

        manifest["compressed"] = DESCRIPTIONS[compression_format(compressed)]
    for kind, section in SECTIONS.items():
        manifest[section] = {name: record for (k, name), record in sorted(records.items()) if k == kind}
    path = root / MANIFEST
    write_output(path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    shutil.rmtree(root / STATE_DIR / "items", ignore_errors=True)
    return path


def manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    """Every ``{relative path: SHA-256}`` a manifest lists."""
    files = dict(manifest.get("files") or {})
    for section in SECTIONS.values():
        for record in (manifest.get(section) or {}).values():
            files.update(record.get("files") or {})
    return files


@dataclass
class VerifyReport:
    """Result of :func:`verify_export`."""

    checked: int
    problems: list[str]  # "relative/path: what is wrong", sorted
    untracked: list[str]  # files in the export folders the manifest does not list

    @property
    def ok(self) -> bool:
        return not self.problems


def _walk(root: Path) -> Iterator[Path]:
    for folder in ("materials", "sprites"):
        if (root / folder).is_dir():
            yield from (p for p in (root / folder).rglob("*") if p.is_file())
    yield from (p for p in root.iterdir() if p.is_file() and p.name != MANIFEST)


def verify_export(out: str | os.PathLike[str]) -> VerifyReport:
    """Check every file the manifest lists against its SHA-256 (missing, changed) and list untracked files."""
    root = Path(out)
    manifest = read_manifest(root)
    files = manifest_files(manifest)
    problems = []
    for rel, digest in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        actual = sha256_file(path)
        if actual != digest:
            problems.append(f"{rel}: SHA-256 mismatch (manifest {digest[:12]}…, file {actual[:12]}…)")
    untracked = sorted(p.relative_to(root).as_posix() for p in _walk(root) if p.relative_to(root).as_posix() not in files)
    return VerifyReport(len(files), problems, untracked)


def remove_stale_temporaries(out: str | os.PathLike[str]) -> int:
    """Delete half-written temporary files an interrupted export left (only scenegen's own temp names)."""
    root = Path(out)
    removed = 0
    folders = [root] + [p for folder in ("materials", "sprites") if (root / folder).is_dir()
                        for p in (root / folder).iterdir() if p.is_dir()]
    folders += [root / STATE_DIR / "items"]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _TEMP_RE.match(path.name):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
