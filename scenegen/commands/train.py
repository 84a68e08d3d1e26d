"""``scenegen train``: train a VAE on a folder with one sub-folder of images per class."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import ScenegenError
from ..fsutil import probe_writable
from . import Progress, emit_json, say


def run(args: argparse.Namespace) -> int:
    from ..model.config import TrainConfig
    from ..model.train import train

    if args.steps < 1 or args.batch < 1:
        raise ScenegenError("--steps and --batch must be positive")
    if args.adv_start < 0:
        raise ScenegenError(f"--adv-start must be ≥ 0, got {args.adv_start}")
    for flag, value in (("--kl-weight", args.kl_weight), ("--gram-weight", args.gram_weight), ("--fft-weight", args.fft_weight),
                        ("--adv-weight", args.adv_weight)):
        if not 0.0 <= value < float("inf"):  # also refuses nan
            raise ScenegenError(f"{flag} must be a finite number ≥ 0, got {value:g}")
    if args.crop % 8 or args.crop < 64:
        raise ScenegenError("--crop must be a multiple of 8 and at least 64")
    _check_run_args(args)
    tcfg = TrainConfig(
        steps=args.steps, batch=args.batch, seed=args.seed, lr=args.lr,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every,
        gram_weight=args.gram_weight, fft_weight=args.fft_weight, kl_weight=args.kl_weight,
        adv_weight=args.adv_weight, adv_start=args.adv_start,
    )
    architecture = {k: v for k, v in (("latent_channels", args.latent_channels), ("encoder_widths", args.encoder_widths),
                                      ("decoder_widths", args.decoder_widths)) if v is not None}
    bar = Progress("train", args.steps, unit="steps", quiet=args.quiet, delay=0.0)

    def progress(done: int, total: int, parts: dict[str, float]) -> None:
        bar.to(done, f"loss {parts['total']:.4f}  {parts['patches_per_s']:.1f} patches/s")

    init_from = args.init_from
    if args.decoder_blocks is not None:
        if not 1 <= args.decoder_blocks <= 8:
            raise ScenegenError(f"--decoder-blocks must be from 1 to 8, got {args.decoder_blocks}")
        architecture["decoder_blocks"] = args.decoder_blocks
    if init_from is None and not args.from_scratch and not set(architecture) - {"decoder_blocks"}:
        init_from = _shipped_model(args.mode)
    probe_writable(args.out)  # a read-only or full --out is one line now, not after the first steps
    command = "scenegen " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "train" in sys.argv[1:2] else "scenegen train"
    out = train(args.data, args.out, mode=args.mode, tcfg=tcfg, resume=args.resume, crop_size=args.crop,
                upsample=args.upsample, init_from=init_from, architecture=architecture,
                command=command, progress=progress, device=args.device)
    bar.close()
    start = f"fine-tuned from {init_from}" if init_from is not None else "trained from scratch"
    if args.json:
        emit_json(_json_report(args, out, init_from))
        return 0
    if not args.quiet:
        say(f"model written to {out} ({start}; samples in {out / 'samples'})")
    return 0


def _json_report(args: argparse.Namespace, out, init_from: str | None) -> dict:
    """``train --json``: the model directory written, its files with SHA-256 and the training summary."""
    import json

    try:
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    return {"command": "train", "out": str(out), "mode": args.mode, "steps": args.steps, "init_from": init_from,
            "files": {name: {"path": str(out / name), "sha256": digest}
                      for name, digest in sorted((config.get("files") or {}).items())},
            "samples": str(out / "samples"), "training": config.get("training")}


def _check_run_args(args: argparse.Namespace) -> None:
    """Every other argument checked before any data is read (one error line each)."""
    from pathlib import Path

    if not 0.0 < args.lr <= 1.0:  # also refuses nan and inf
        raise ScenegenError(f"--lr must be a number above 0 and at most 1, got {args.lr:g}")
    for flag, value in (("--checkpoint-every", args.checkpoint_every), ("--sample-every", args.sample_every)):
        if value < 1:
            raise ScenegenError(f"{flag} must be at least 1 (a step count), got {value}")
    if args.seed < 0:
        raise ScenegenError(f"--seed must be >= 0, got {args.seed}")
    if args.crop > 1024:
        raise ScenegenError(f"--crop must be at most 1024, got {args.crop}")
    if args.batch > 1024:
        raise ScenegenError(f"--batch must be at most 1024, got {args.batch}")
    if args.latent_channels is not None and not 1 <= args.latent_channels <= 256:
        raise ScenegenError(f"--latent-channels must be from 1 to 256, got {args.latent_channels}")
    out = Path(args.out)
    if "\x00" in args.out or "\x00" in args.data:
        raise ScenegenError("--out and --data must not contain a NUL character")
    if out.exists() and not out.is_dir():
        raise ScenegenError(f"{out}: --out exists and is not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ScenegenError(f"{out}: --out lies inside {parent}, which is not a folder")
            break
    data = Path(args.data)
    if not data.is_dir():
        raise ScenegenError(f"{data}: --data is not a folder")


def _shipped_model(mode: str) -> str | None:
    """The shipped model a fine-tune starts from by default (None if this checkout has none)."""
    from ..api import default_model_dir
    from ..sprite_gen import default_sprite_model_dir

    root = default_sprite_model_dir() if mode == "sprite" else default_model_dir()
    return str(root) if (root / "config.json").is_file() else None


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text[:40]!r}") from None
    if not widths or any(not 1 <= w <= 1024 for w in widths):
        raise argparse.ArgumentTypeError("widths must be integers from 1 to 1024")
    return widths


def register(sub: argparse._SubParsersAction) -> None:
    from ..model.config import TrainConfig

    p = sub.add_parser("train", help="train a VAE on a folder with one sub-folder of images per class")
    p.add_argument("--data", required=True, help="folder with one sub-folder per class")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--mode", choices=["texture", "sprite"], default="texture", help="tileable RGB textures or RGBA sprites")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps in all (default 2000)")
    p.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed of initialisation and crops (default 0)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--crop", type=int, default=128, help="training crop size in pixels (multiple of 8)")
    p.add_argument("--gram-weight", type=float, default=TrainConfig.gram_weight, help="weight of the random-feature Gram loss (0 = off)")
    p.add_argument("--fft-weight", type=float, default=TrainConfig.fft_weight, help="weight of the focal-frequency loss")
    p.add_argument("--kl-weight", type=float, default=TrainConfig.kl_weight, help="weight of the KL term")
    p.add_argument("--adv-weight", type=float, default=TrainConfig.adv_weight,
                   help="weight of the patch-adversarial loss (0 = off; 0.1-0.5 sharpens detail)")
    p.add_argument("--adv-start", type=int, default=TrainConfig.adv_start, metavar="STEP",
                   help="step at which the patch critic starts (the decoder feels it 100 steps later)")
    p.add_argument("--latent-channels", type=int, default=None, help="latent channels (from scratch only)")
    p.add_argument("--encoder-widths", type=_widths, default=None, metavar="W,W,…",
                   help="encoder widths, one per ×2 downsampling (from scratch only)")
    p.add_argument("--decoder-widths", type=_widths, default=None, metavar="W,W,…",
                   help="decoder widths, one more than the encoder's (from scratch only)")
    p.add_argument("--decoder-blocks", type=int, default=None, metavar="N",
                   help="residual blocks per decoder level (default 1); more than the model fine-tuned from grows "
                        "its decoder, the new blocks starting as the identity")
    p.add_argument("--upsample", choices=["nearest", "bilinear"], default=None,
                   help="decoder upsampling (default: bilinear for textures, nearest for sprites)")
    p.add_argument("--init-from", metavar="MODEL_DIR", default=None,
                   help="fine-tune this model directory (default: the shipped model; its architecture is kept, "
                        "classes matched by name)")
    p.add_argument("--from-scratch", action="store_true",
                   help="train new weights instead of fine-tuning the shipped model of this --mode (the default)")
    p.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                   help="write an atomic checkpoint every N steps (default 100; --resume continues from it)")
    p.add_argument("--sample-every", type=int, default=100, metavar="N",
                   help="write a sample grid into OUT/samples every N steps (default 100)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--device", default="cpu",
                   help="where the training steps run: cpu (default), cuda, cuda:N (a GPU build of torch); the same "
                        "checkpoints and model directory either way")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (model files with SHA-256, training summary) on stdout when done")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (errors and warnings stay)")
    p.set_defaults(handler=run)
