"""``scenegen corpus``: build the built-in procedural training corpus (textures or sprites)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    if args.sprites:
        from ..data.sprites_procedural import build_sprite_corpus, default_sprite_corpus_dir

        out = Path(args.out) if args.out else default_sprite_corpus_dir()
        counts = build_sprite_corpus(out, per_class=args.per_class or 220, size=args.size or 256)
    else:
        from ..data.corpus import build_texture_corpus, default_corpus_dir

        out = Path(args.out) if args.out else default_corpus_dir()
        counts = build_texture_corpus(out, per_class=args.per_class or 120, size=args.size or 256, progress=True)
    print(f"corpus at {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="build the built-in procedural training corpus")
    p.add_argument("--out", default=None, help="folder to write (default .cache/corpus/textures or …/sprites)")
    p.add_argument("--sprites", action="store_true", help="the RGBA sprite corpus instead of textures")
    p.add_argument("--per-class", type=int, default=None, help="images per class (default 120 textures, 220 sprites)")
    p.add_argument("--size", type=int, default=None, help="image side in pixels (default 256)")
    p.set_defaults(handler=run)
