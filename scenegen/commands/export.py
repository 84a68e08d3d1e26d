"""``scenegen export``: batch-export a library of materials and sprite sets for a game engine (or verify one)."""

from __future__ import annotations

import argparse

from . import emit_json, say

TARGETS = ("gltf", "godot", "unity", "unreal", "blender")


def run(args: argparse.Namespace) -> int:
    from ..errors import ScenegenError

    if args.verify:
        if args.library:
            raise ScenegenError("--verify takes the export folder only: scenegen export --verify DIR")
        return _verify(args.verify, args.json)
    if not args.library or not args.out:
        raise ScenegenError("usage: scenegen export LIBRARY.json --out DIR [--target ...] (or --verify DIR)")
    from ..export.run import export_library
    from ..limits import max_workers

    if args.workers is not None and args.workers < 1:
        raise ScenegenError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.ray is None and args.workers > max_workers():  # local processes
        raise ScenegenError(f"--workers must be from 1 to {max_workers()} on this machine (twice its cores, and what "
                            f"its free memory holds at ~1 GB a worker), got {args.workers}")
    summary = export_library(args.library, args.out, target=args.target, workers=args.workers, ray=args.ray,
                             model=args.model, sprite_model=args.sprite_model, progress=not args.quiet,
                             allow_outside=args.allow_outside, compress=args.compress, cache=args.cache,
                             use_cache=not args.no_cache)
    if args.json:
        emit_json({"command": "export", "target": args.target, "compressed": args.compress or False,
                   "out": str(summary.out), "manifest": str(summary.out / "manifest.json"), "total": summary.total,
                   "built": summary.built, "cached": summary.cached, "skipped": summary.skipped,
                   "failed": [{"name": name, "error": error} for name, error in summary.failed],
                   "files": summary.files, "bytes_written": summary.bytes_written,
                   "seconds": round(summary.seconds, 3), "executor": summary.executor, "stale": summary.stale})
        return 1 if summary.failed else 0
    text = summary.text().splitlines()
    for line in text[:2]:
        print(line)
    for line in text[2:]:
        say(line)
    return 1 if summary.failed else 0


def _verify(folder: str, as_json: bool = False) -> int:
    from ..export.manifest import verify_export

    report = verify_export(folder)
    if as_json:
        emit_json({"command": "export --verify", "folder": folder, "ok": report.ok, "checked": report.checked,
                   "problems": report.problems, "untracked": report.untracked})
        return 0 if report.ok else 1
    for problem in report.problems:
        print(f"{folder}/{problem}")
    if report.untracked:
        say(f"note: {len(report.untracked)} file(s) not in the manifest, e.g. {report.untracked[0]}")
    if report.ok:
        print(f"ok: all {report.checked} files in {folder} match manifest.json")
        return 0
    say(f"error: {len(report.problems)} of {report.checked} files do not match manifest.json")
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="batch-export materials and sprites for a game engine (resumable, verifiable)",
        description="Export every material and sprite set of LIBRARY.json into DIR, in the target engine's "
                    "conventions, with a SHA-256 manifest. Re-running skips what is already exported and "
                    "verified and redoes what is missing or broken. `scenegen export --verify DIR` checks a folder.")
    p.add_argument("library", nargs="?",
                   help="library.json: the materials and sprite sets to export (an example: examples/library/library.json; "
                        "every field: scenegen/export/library.py)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--target", choices=TARGETS, default="gltf", help="engine conventions (default: gltf)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per CPU core)")
    p.add_argument("--ray", metavar="auto|local|ADDRESS", default=None,
                   help="run on Ray: 'auto' joins this machine's cluster or starts a local one, 'local' always "
                        "starts a private one, or a cluster address (ray://host:10001)")
    p.add_argument("--model", default=None, help="texture model directory (default: library's, else the shipped one)")
    p.add_argument("--sprite-model", default=None, help="sprite model directory (default: library's, else shipped)")
    p.add_argument("--verify", metavar="DIR", default=None, help="check DIR's files against its manifest and exit")
    p.add_argument("--allow-outside", action="store_true",
                   help="allow the photos and the model / sprite_model directories that the library names to lie "
                        "outside the library file's folder (--model / --sprite-model may lie anywhere)")
    p.add_argument("--compress", nargs="?", const="webp", default=None, choices=("webp", "ktx2"),
                   help="compress every .glb via glTF-Transform (needs Node.js and `npm install`; the PNG sets are "
                        "unchanged): webp (the default: WebP textures; Blender loads it) or ktx2 (KTX2 textures + "
                        "meshopt geometry, for runtime loaders); docs/ENGINES.md")
    p.add_argument("--cache", default=None,
                   help="cache folder shared with material and build (default: $SCENEGEN_CACHE or ./.cache)")
    p.add_argument("--no-cache", action="store_true", help="generate every item afresh, store nothing")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (counts, failures, manifest path) on stdout instead of the summary")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    p.set_defaults(handler=run)
