"""The ``scenegen`` command: builds the parser from scenegen.commands and runs one handler.

Every user-facing failure is a ScenegenError: printed as one ``error:`` line, exit code 2 by default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Sequence

from . import __version__
from .commands import say
from .errors import ScenegenError

#: Commands that end their process with :func:`_exit_now` when run from the command line (not when ``main`` is
#: given its arguments, as tests and scripts do); not train (torchrun), export (worker pools, Ray) or worker.
FAST_EXIT = ("build", "validate", "schema", "material", "sprite", "info", "gallery")
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
        code = args.handler(args)
    except ScenegenError as exc:
        say(f"error: {exc}")
        code = exc.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    if argv is None and args.command in FAST_EXIT:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process once stdout and stderr are flushed, skipping the interpreter's teardown of torch's
    modules and libraries (0.1–0.2 s on 2 cores): these commands have closed every file they write."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    sys.exit(main())
