"""One module per CLI command. Each exposes ``register(subparsers)`` adding its parser and handler.

Handlers take the parsed arguments and return an exit code; they raise ScenegenError for user errors.
"""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Progress and status lines go to stderr; results (paths, tables) go to stdout."""
    print(message, file=sys.stderr, flush=True)
