"""The one exception type users see: a clear, one-line message, never a traceback."""

from __future__ import annotations

import json

MAX_MESSAGE = 2000  # characters of one error line; longer messages are cut (user text is quoted shorter still)
QUOTE_LIMIT = 80  # characters of user text a message quotes


class ScenegenError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits with ``exit_code``.

    The message is made one line (newlines become spaces) and cut to :data:`MAX_MESSAGE` characters.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        message = " ".join(str(message).splitlines())
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.exit_code = exit_code


class OutputError(ScenegenError, OSError):
    """An output could not be written (read-only folder, full disk, file too large).

    Also an OSError, so code that falls back when a write fails (a cache that is not usable) still can.
    """


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """User text as a JSON string literal of at most about ``limit`` characters (cut with an ellipsis)."""
    shown = json.dumps(str(text), ensure_ascii=False)
    if len(shown) <= limit:
        return shown
    return shown[: max(8, limit - 2)] + '…"'


def cut(text: object, limit: int = QUOTE_LIMIT) -> str:
    """User text for a message, as is when short, else cut to ``limit`` characters with an ellipsis."""
    shown = " ".join(str(text).splitlines())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
