"""``scenegen train``: train a VAE on a folder with one sub-folder of images per class."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import ScenegenError
from . import say


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..model.config import TrainConfig
    from ..model.train import train

    if args.steps < 1 or args.batch < 1:
        raise ScenegenError("--steps and --batch must be positive")
    if args.crop % 8 or args.crop < 64:
        raise ScenegenError("--crop must be a multiple of 8 and at least 64")
    tcfg = TrainConfig(
        steps=args.steps, batch=args.batch, seed=args.seed, lr=args.lr,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every,
        gram_weight=args.gram_weight, fft_weight=args.fft_weight,
    )
    bar = tqdm(total=args.steps, desc="train", unit="step", dynamic_ncols=True, disable=args.quiet)

    def progress(done: int, total: int, parts: dict[str, float]) -> None:
        bar.n = done
        bar.set_postfix(loss=f"{parts['total']:.4f}", patches_s=f"{parts['patches_per_s']:.1f}", refresh=False)
        bar.refresh()

    command = "scenegen " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "train" in sys.argv[1:2] else "scenegen train"
    out = train(args.data, args.out, mode=args.mode, tcfg=tcfg, resume=args.resume, crop_size=args.crop,
                upsample=args.upsample, init_from=args.init_from,
                command=command, progress=progress)
    bar.close()
    say(f"model written to {out} (samples in {out / 'samples'})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..model.config import TrainConfig

    p = sub.add_parser("train", help="train a VAE on a folder with one sub-folder of images per class")
    p.add_argument("--data", required=True, help="folder with one sub-folder per class")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--mode", choices=["texture", "sprite"], default="texture", help="tileable RGB textures or RGBA sprites")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--crop", type=int, default=128, help="training crop size in pixels (multiple of 8)")
    p.add_argument("--gram-weight", type=float, default=TrainConfig.gram_weight, help="weight of the random-feature Gram loss (0 = off)")
    p.add_argument("--fft-weight", type=float, default=TrainConfig.fft_weight, help="weight of the focal-frequency loss")
    p.add_argument("--upsample", choices=["nearest", "bilinear"], default=None,
                   help="decoder upsampling (default: bilinear for textures, nearest for sprites)")
    p.add_argument("--init-from", metavar="MODEL_DIR", default=None,
                   help="start from the weights of this model directory (same classes and widths): fine-tuning")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)
