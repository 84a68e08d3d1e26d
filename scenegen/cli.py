"""The ``scenegen`` command: parses arguments, reports progress, calls the API.

Every user-facing failure is a ScenegenError: printed as one ``error:`` line, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import ScenegenError

Handler = Callable[[argparse.Namespace], int]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- train / info / corpus ----------------------------------------------------------------------

def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .model.config import TrainConfig
    from .model.train import train

    tcfg = TrainConfig(
        steps=args.steps, batch=args.batch, seed=args.seed, lr=args.lr,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every,
        gram_weight=args.gram_weight,
    )
    if args.steps < 1 or args.batch < 1:
        raise ScenegenError("--steps and --batch must be positive")
    bar = tqdm(total=args.steps, desc="train", unit="step", dynamic_ncols=True, disable=args.quiet)

    def progress(done: int, total: int, parts: dict[str, float]) -> None:
        bar.n = done
        bar.set_postfix(loss=f"{parts['total']:.4f}", patches_s=f"{parts['patches_per_s']:.1f}", refresh=False)
        bar.refresh()

    command = "scenegen " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else "scenegen train"
    out = train(args.data, args.out, mode=args.mode, tcfg=tcfg, resume=args.resume, crop_size=args.crop,
                command=command, progress=progress)
    bar.close()
    _say(f"model written to {out} (samples in {out / 'samples'})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .api import model_info

    info = model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model       {info['path']}  ({info['mode']})")
    print(f"classes     {len(info['classes'])}: {', '.join(info['classes'])}")
    print(f"parameters  {info['parameters']:,}")
    print(f"latent      {info['latent']['channels']} channels, {info['latent']['pixels_per_cell']} px per cell")
    print(f"sizes       {info['sizes']['min']}–{info['sizes']['max']} px")
    print(f"model hash  {info['model_hash']}")
    for name, entry in info["files"].items():
        print(f"file        {name}  {entry['bytes']:,} bytes  sha256 {entry['sha256']}")
    if info["training"]:
        print("training    " + ", ".join(f"{k}={v}" for k, v in info["training"].items()))
    if info["metrics"]:
        print("metrics     " + ", ".join(f"{k}={v}" for k, v in info["metrics"].items()))
    if info["command"]:
        print(f"command     {info['command']}")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    if args.sprites:
        from .data.sprites_procedural import build_sprite_corpus, default_sprite_corpus_dir

        out = Path(args.out) if args.out else default_sprite_corpus_dir()
        counts = build_sprite_corpus(out, per_class=args.per_class or 220, size=args.size or 128)
    else:
        from .data.corpus import build_texture_corpus, default_corpus_dir

        out = Path(args.out) if args.out else default_corpus_dir()
        counts = build_texture_corpus(out, per_class=args.per_class or 120, size=args.size or 256, progress=True)
    print(f"corpus at {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


# --- generation ---------------------------------------------------------------------------------

def cmd_gallery(args: argparse.Namespace) -> int:
    import numpy as np

    from .api import generate_texture, load_model
    from .imaging import save_png

    model = load_model(args.model)
    rows = []
    started = time.perf_counter()
    for cls in model.classes:
        tiles = [generate_texture(cls, seed, args.size, model=model) for seed in range(args.seeds)]
        rows.append(np.concatenate(tiles, axis=1))
        _say(f"  {cls}")
    path = save_png(Path(args.out) / "gallery.png", np.concatenate(rows, axis=0))
    print(f"gallery of {len(model.classes)} classes × {args.seeds} seeds written to {path} in {time.perf_counter() - started:.1f}s")
    return 0


# --- parser -------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scenegen", description="Seamless PBR materials, billboard sprites and scenes from a small VAE.")
    parser.add_argument("--version", action="version", version=f"scenegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train a VAE on a folder with one sub-folder of images per class")
    p.add_argument("--data", required=True, help="folder with one sub-folder per class")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--mode", choices=["texture", "sprite"], default="texture", help="tileable RGB textures or RGBA sprites")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--crop", type=int, default=128, help="training crop size in pixels (multiple of 8)")
    p.add_argument("--gram-weight", type=float, default=0.05, help="weight of the random-feature Gram loss (0 = off)")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("info", help="describe a model: classes, parameters, sizes, hashes")
    p.add_argument("model", nargs="?", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("corpus", help="build the built-in procedural training corpus")
    p.add_argument("--out", default=None)
    p.add_argument("--sprites", action="store_true", help="the RGBA sprite corpus instead of textures")
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.set_defaults(handler=cmd_corpus)

    p = sub.add_parser("gallery", help="a grid of generated textures, every class × a few seeds")
    p.add_argument("--model", default=None)
    p.add_argument("--out", default="out")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seeds", type=int, default=4)
    p.set_defaults(handler=cmd_gallery)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scenegen`` console script."""
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except ScenegenError as exc:
        _say(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
