"""The one exception type users see: a clear, one-line message, never a traceback."""

from __future__ import annotations


class ScenegenError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
