"""The ``scenegen`` command: builds the parser from scenegen.commands and runs one handler.

Every user-facing failure is a ScenegenError: printed as one ``error:`` line, exit code 2 by default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Sequence

from . import __version__
from .commands import say
from .errors import ScenegenError

# Order here is the order in `scenegen --help`.
COMMANDS = ("build", "validate", "schema", "material", "sprite", "export", "train", "info", "corpus", "gallery", "worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scenegen", description="Seamless PBR materials, billboard sprites and scenes from a small VAE.")
    parser.add_argument("--version", action="version", version=f"scenegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"scenegen.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"scenegen.commands.{name}":
                raise
            continue
        module.register(sub)
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
        say(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
