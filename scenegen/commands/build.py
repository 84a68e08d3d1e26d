"""``scenegen build scene.json``: render the scene and export it as GLB (see scenegen.build)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import say


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
    )


def run(args: argparse.Namespace) -> int:
    from ..build import build_scene

    say(f"building {args.scene}")
    result = build_scene(args.scene, options_from(args), progress=say)
    for warning in result.warnings:
        say(f"warning: {warning}")
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
                   help="write EXT_mesh_gpu_instancing (one node per instanced mesh) for engines that read it")
    p.add_argument("--cache", default=None, help="cache folder (default: $SCENEGEN_CACHE or ./.cache)")
    p.add_argument("--no-cache", action="store_true", help="generate everything afresh, store nothing")
    p.set_defaults(handler=run)
