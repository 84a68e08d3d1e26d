"""``scenegen worker``: answer JSON requests on stdin/stdout (used by the Blender add-on)."""

from __future__ import annotations

import argparse
import os


def run(args: argparse.Namespace) -> int:
    from ..worker import serve_stdio

    if args.nice and hasattr(os, "nice"):  # POSIX: leave the CPU to the front end's UI thread first
        os.nice(args.nice)
    return serve_stdio(model=args.model, out_dir=args.out)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="serve JSON-lines requests on stdin/stdout (for the Blender add-on)",
                       description="One JSON request per line on stdin; progress, result and error events on stdout. "
                                   "See scenegen/worker.py for the protocol.")
    p.add_argument("--model", default=None, help="default model directory for requests without params.model")
    p.add_argument("--out", default=None, help="default output folder for requests without params.out_dir")
    p.add_argument("--nice", type=int, default=0, help="lower the worker's CPU priority by this much (POSIX)")
    p.set_defaults(handler=run)
