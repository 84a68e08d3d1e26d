"""``scenegen validate scene.json``: check a scene file without building it."""

from __future__ import annotations

import argparse

from .build import add_scene_options, options_from


def run(args: argparse.Namespace) -> int:
    from ..build import used_names, validate_scene

    scene = validate_scene(args.scene, options_from(args))
    materials, sprites = used_names(scene)
    spec = scene.spec
    print(f"{args.scene}: ok — {len(spec.objects)} objects, {len(spec.scatter)} scatter layers, "
          f"{len(materials)} materials and {len(sprites)} sprite sets in use")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a scene file (syntax, types, names, files, model classes)")
    add_scene_options(p)
    p.set_defaults(handler=run)
