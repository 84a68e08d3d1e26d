"""``scenegen gallery``: a grid of generated textures, every class of a model × a few seeds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import ScenegenError
from . import say


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..api import check_size, generate_texture, load_model
    from ..imaging import save_png
    from ..limits import MAX_GALLERY_SEEDS

    if not 1 <= args.seeds <= MAX_GALLERY_SEEDS:
        raise ScenegenError(f"--seeds must be from 1 to {MAX_GALLERY_SEEDS}, got {args.seeds}")
    check_size(args.size, "--size")
    if args.size * args.seeds > 65536:
        raise ScenegenError(f"--size {args.size} × --seeds {args.seeds} makes a gallery {args.size * args.seeds:,} px "
                            "wide; the limit is 65,536")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ScenegenError(f"{out}: --out exists and is not a folder")
    model = load_model(args.model)
    started = time.perf_counter()
    rows = []
    for cls in model.classes:
        rows.append(np.concatenate([generate_texture(cls, seed, args.size, model=model) for seed in range(args.seeds)], axis=1))
        say(f"  {cls}")
    path = save_png(out / "gallery.png", np.concatenate(rows, axis=0))
    print(f"gallery of {len(model.classes)} classes × {args.seeds} seeds written to {path} in {time.perf_counter() - started:.1f}s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gallery", help="a grid of generated textures, every class × a few seeds")
    p.add_argument("--model", default=None, help="texture model directory (default: the shipped model)")
    p.add_argument("--out", default="out", help="folder for gallery.png (default: out)")
    p.add_argument("--size", type=int, default=256, help="side of each texture tile in pixels (default 256)")
    p.add_argument("--seeds", type=int, default=4, help="seeds per class, 0…N-1: the gallery's columns (default 4)")
    p.set_defaults(handler=run)
