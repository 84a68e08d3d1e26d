"""Build ``dist/scenegen_blender.zip``: installable as a Blender 4.2+ extension and as a legacy add-on.

The archive holds one folder, ``scenegen_blender/``, with ``blender_manifest.toml`` (read by the extension
installer, which accepts a manifest inside a single top-level folder) and ``__init__.py`` with
``bl_info`` (read by the legacy add-on installer, which extracts the folder into ``addons/``).
Standard library only; the archive is byte-identical for identical sources.

    python blender_addon/build_zip.py [--out dist/scenegen_blender.zip]
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "scenegen_blender"
EXCLUDE_DIRS = {"__pycache__", ".pytest_cache"}
EXCLUDE_FILES = {"build_zip.py"}
EXCLUDE_SUFFIXES = {".pyc", ".zip"}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def addon_files(root: Path = HERE) -> list[Path]:
    """The files that go into the archive, sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or any(part in EXCLUDE_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.name in EXCLUDE_FILES or path.suffix in EXCLUDE_SUFFIXES:
            continue
        files.append(path)
    return files


def build(out: Path, root: Path = HERE) -> Path:
    """Write the archive atomically; returns its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in addon_files(root):
            info = zipfile.ZipInfo(f"{PACKAGE}/{path.relative_to(root).as_posix()}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "dist" / "scenegen_blender.zip")
    args = parser.parse_args(argv)
    path = build(args.out)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
