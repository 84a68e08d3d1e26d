"""``scenegen build scene.json``: render the scene and export it as GLB (see scenegen.build)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import emit_json, say

INSTANCING_WARNING = ("the GLB requires EXT_mesh_gpu_instancing: Blender and Unity glTFast read it; Godot 3 shows one "
                      "instance per mesh, Godot 4 and Unreal do not read it (docs/ENGINES.md). Build without "
                      "--gpu-instancing for a GLB that every engine loads")


def add_scene_options(p: argparse.ArgumentParser) -> None:
    """Options shared by build and validate."""
    p.add_argument("scene", help="scene file (JSON); `scenegen schema` prints its JSON Schema")
    p.add_argument("--allow-outside", action="store_true",
                   help="allow files referenced by the scene to lie outside the scene file's folder")
    p.add_argument("--model", default=None, help="texture model directory (default: the scene's, else the shipped one)")
    p.add_argument("--sprite-model", default=None, help="sprite model directory (default: the scene's, else the shipped one)")


def options_from(args: argparse.Namespace):
    from ..build import BuildOptions

    return BuildOptions(
        out_dir=Path(args.out) if getattr(args, "out", None) else None,
        width=getattr(args, "width", None),
        height=getattr(args, "height", None),
        antialias=getattr(args, "antialias", None),
        preview=getattr(args, "preview", False),
        allow_outside=args.allow_outside,
        use_cache=not getattr(args, "no_cache", False),
        cache_root=Path(args.cache) if getattr(args, "cache", None) else None,
        texture_model=Path(args.model) if args.model else None,
        sprite_model=Path(args.sprite_model) if args.sprite_model else None,
        gpu_instancing=True if getattr(args, "gpu_instancing", False) else None,
        compress=getattr(args, "compress", False),
    )


def run(args: argparse.Namespace) -> int:
    from ..build import build_scene

    if args.compress:
        from ..errors import ScenegenError
        from ..scene.gltf_compress import compress_unavailable

        if compress_unavailable():
            raise ScenegenError(compress_unavailable())
    if not args.quiet:
        say(f"building {args.scene}")
    result = build_scene(args.scene, options_from(args), progress=(lambda _m: None) if args.quiet else say)
    warnings = list(result.warnings)
    if result.summary.get("gpu_instancing") and any(name.endswith(".glb") for name in result.files):
        warnings.append(INSTANCING_WARNING)
    for warning in warnings:
        say(f"warning: {warning}")
    if args.json:
        emit_json(_json_report(args, result, warnings))
        return 0
    total = sum(result.timings.values())
    c = result.counts
    print(f"scene      {result.summary['scene']}  ({args.scene})")
    print("time       " + "  ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()) + f"  total {total:.2f}s")
    print(f"counts     {c['meshes']} meshes, {c['instances']:,} instances ({c['billboards']:,} billboards), "
          f"{c['triangles']:,} triangles, {c['materials']} materials")
    if "drawn_instances" in c:
        print(f"render     {result.summary['render']['width']}×{result.summary['render']['height']}, "
              f"antialias {result.summary['render']['antialias']}×, {c['drawn_instances']:,} instances in view")
    print(f"cache      {c['cache_hits']} hits, {c['cache_misses']} generated")
    for name, path in result.files.items():
        print(f"wrote      {path}  ({path.stat().st_size:,} bytes)")
    return 0


def _json_report(args: argparse.Namespace, result, warnings: list[str]) -> dict:
    """``build --json``: what was built and written (README, "Machine-readable output")."""
    from ..fsutil import sha256_file

    return {
        "command": "build",
        "scene": result.summary["scene"],
        "scene_file": str(args.scene),
        "out": str(result.out_dir),
        "files": {name: {"path": str(path), "bytes": path.stat().st_size,
                         "sha256": result.summary["files"].get(name, {}).get("sha256") or sha256_file(path)}
                  for name, path in result.files.items()},
        "counts": result.counts,
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "gpu_instancing": bool(result.summary.get("gpu_instancing")),
        "compressed": result.summary.get("compressed") or False,
        "warnings": warnings,
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build a scene file: render it and export a GLB")
    add_scene_options(p)
    p.add_argument("--out", default=None, help="output folder (default: out/<scene name>)")
    p.add_argument("--width", type=int, default=None, help="render width in pixels (overrides the scene)")
    p.add_argument("--height", type=int, default=None, help="render height in pixels (overrides the scene)")
    p.add_argument("--antialias", type=int, default=None, metavar="N",
                   help="supersampling factor 1–4 (overrides the scene; 4× MSAA is always on)")
    p.add_argument("--preview", action="store_true",
                   help="quick look: at most 640 px wide, no supersampling, no GLB")
    p.add_argument("--gpu-instancing", action="store_true",
                   help="write EXT_mesh_gpu_instancing (one node per instanced mesh) as a REQUIRED extension: "
                        "smaller files for engines that read it (Blender, Unity glTFast), but Godot 3 shows one "
                        "instance per mesh and Godot 4 / Unreal do not read it (docs/ENGINES.md)")
    p.add_argument("--compress", nargs="?", const="webp", default=None, choices=("webp", "ktx2"),
                   help="compress scene.glb via glTF-Transform (needs Node.js and `npm install`): webp (the default: "
                        "WebP textures, geometry as is; Blender loads it) or ktx2 (KTX2 textures + meshopt geometry, "
                        "for runtime loaders; Blender refuses it); docs/ENGINES.md")
    p.add_argument("--cache", default=None, help="cache folder (default: $SCENEGEN_CACHE or ./.cache)")
    p.add_argument("--no-cache", action="store_true", help="generate everything afresh, store nothing")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (files, counts, timings, warnings) on stdout instead of the report")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr (warnings and errors stay)")
    p.set_defaults(handler=run)
