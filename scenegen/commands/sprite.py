"""``scenegen sprite``: RGBA billboard sprites of a class from the sprite model.

Writes ``DIR/<class>_<seed>_<i>.png`` (8-bit RGBA, straight alpha, colour bled under transparent texels) and
``DIR/<class>_contact_sheet.png`` (the sprites over a checkerboard, or ``--background white|black`` for the
halo check); with ``--atlas`` also ``DIR/<class>_atlas.png`` + ``DIR/<class>_atlas.json`` (TexturePacker JSON
Hash); with ``--mesh quad|cross|cross3`` one cut-out billboard ``DIR/<class>_<seed>_<i>.glb`` per sprite.
Every input is checked before any work; every file is written atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ScenegenError, cut
from . import Progress, emit_json, say

BATCH = 64  # sprites generated (and decoded together: fastest on CPU) per step of the progress bar
DEFAULT_TEMPERATURE = 0.6  # scenegen.sprite_gen.DEFAULT_TEMPERATURE (not imported: keeps `scenegen --help` light)
SHEET_COLUMNS = 8


def _check_args(args: argparse.Namespace) -> None:
    """Everything that can be checked without the model."""
    from ..sprite_gen import check_sprite_size

    if args.cls is None:
        raise ScenegenError("name a sprite class (scenegen sprite --list shows them)")
    from ..limits import MAX_SPRITE_COUNT, SPRITE_MEMORY_BYTES

    check_sprite_size(args.size)
    most = max(1, min(MAX_SPRITE_COUNT, SPRITE_MEMORY_BYTES // (args.size * args.size * 16)))
    if not 1 <= args.count <= most:
        raise ScenegenError(f"--count must be from 1 to {most:,} at --size {args.size}, got {args.count}")
    if args.seed < 0:
        raise ScenegenError(f"--seed must be >= 0, got {args.seed}")
    if not 0 < args.height_m <= 1000:  # also refuses inf and nan
        raise ScenegenError(f"--height-m must be a number of metres above 0 and at most 1000, got {args.height_m}")
    if not 0.0 <= args.temperature <= 2.0:
        raise ScenegenError(f"--temperature must be within 0–2, got {args.temperature}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ScenegenError(f"{out}: --out exists and is not a folder")


def _thumbnail(sprite, size: int):
    import cv2

    return sprite if sprite.shape[0] <= size else cv2.resize(sprite, (size, size), interpolation=cv2.INTER_AREA)


def run(args: argparse.Namespace) -> int:
    from ..fsutil import atomic_write_bytes, atomic_write_text, write_failure
    from ..imaging import save_png
    from ..sprite_gen import generate_sprites, load_sprite_model
    from ..sprites import contact_sheet, pack_atlas

    if not args.list:
        _check_args(args)
    model = load_sprite_model(args.model)
    if args.list:
        if args.json:
            emit_json({"command": "sprite", "classes": list(model.classes)})
            return 0
        print("\n".join(model.classes))
        return 0
    if args.cls not in model.classes:
        raise ScenegenError(f"unknown class '{cut(args.cls)}'; this model knows: {', '.join(model.classes)}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failure(out, exc) from None
    cls, seed = args.cls, args.seed
    names = [f"{cls}_{seed}_{i}" for i in range(args.count)]
    sprites = []
    written: list[Path] = []
    bar = Progress(f"sprite {cls}", args.count, unit="sprites", quiet=args.quiet)
    for first in range(0, args.count, BATCH):
        batch = generate_sprites(cls, seed, min(BATCH, args.count - first), args.size, model=model, first=first,
                                 temperature=args.temperature)
        for offset, sprite in enumerate(batch):
            name = names[first + offset]
            written.append(save_png(out / f"{name}.png", sprite))
            if args.mesh:  # cut-out billboard with the sprite's normal map, alpha cut-off 0.5
                from ..export.sprite_files import billboard_glb  # only here: the export stack costs ~0.6 s to import

                glb = billboard_glb(sprite, name, height_m=args.height_m, kind=args.mesh, alpha_cutoff=0.5)
                atomic_write_bytes(out / f"{name}.glb", glb)
                written.append(out / f"{name}.glb")
        sprites += batch
        bar.to(len(sprites))
    bar.close()
    thumb = min(args.size, 256 if args.count <= 64 else 128)
    sheet = contact_sheet([_thumbnail(s, thumb) for s in sprites], columns=min(SHEET_COLUMNS, len(sprites)),
                          labels=[f"{seed}_{i}" for i in range(len(sprites))], background=args.background)
    written.append(save_png(out / f"{cls}_contact_sheet.png", sheet))
    if args.atlas:
        atlas, meta = pack_atlas(dict(zip(names, sprites)), image_name=f"{cls}_atlas.png")
        written.append(save_png(out / f"{cls}_atlas.png", atlas))
        atlas_json = out / f"{cls}_atlas.json"
        atomic_write_text(atlas_json, json.dumps(meta, indent=2) + "\n")
        written.append(atlas_json)
    if args.json:
        emit_json({"command": "sprite", "class": cls, "seed": seed, "count": args.count, "size": args.size,
                   "out": str(out), "sprites": names, "atlas": args.atlas, "mesh": args.mesh,
                   "files": [str(p) for p in written]})
        return 0
    extras = (" + atlas" if args.atlas else "") + (f" + {args.mesh} billboards" if args.mesh else "")
    if not args.quiet:
        say(f"{args.count} {cls} sprite(s) at {args.size}² (seed {seed}){extras} written to {out}")
    print("\n".join(str(p) for p in written))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sprite", help="RGBA billboard sprites of a class (PNGs, contact sheet, atlas, .glb)")
    p.add_argument("cls", nargs="?", metavar="CLASS", help="sprite class (see --list)")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed (default 0); the same seed gives the same sprites")
    p.add_argument("--count", type=int, default=8, help="number of sprites (default 8)")
    p.add_argument("--size", type=int, default=256, help="sprite size in pixels, 64–512 (default 256)")
    p.add_argument("--out", default="out/sprites", help="output folder (default out/sprites)")
    p.add_argument("--atlas", action="store_true", help="also pack an atlas PNG + TexturePacker JSON Hash")
    p.add_argument("--mesh", choices=["quad", "cross", "cross3"], default=None, help="also write one .glb billboard per sprite")
    p.add_argument("--height-m", type=float, default=1.5, help="billboard height in metres (default 1.5)")
    p.add_argument("--background", choices=["checker", "white", "black", "grey"], default="checker",
                   help="contact sheet backdrop (white/black show halos)")
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                   help=f"spread of the prior draw, 0–2 (default {DEFAULT_TEMPERATURE})")
    p.add_argument("--model", default=None, help="sprite model directory (default: $SCENEGEN_SPRITE_MODEL or assets/models/sprites)")
    p.add_argument("--list", action="store_true", help="print the model's sprite classes and exit")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (sprite names, files) on stdout instead of the list of paths")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (errors stay)")
    p.set_defaults(handler=run)
