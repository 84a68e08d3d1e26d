"""One module per CLI command. Each exposes ``register(subparsers)`` adding its parser and handler.

Handlers take the parsed arguments and return an exit code; they raise ScenegenError for user errors.
"""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Progress and status lines go to stderr; results (paths, tables) go to stdout."""
    print(message, file=sys.stderr, flush=True)


def emit_json(payload: dict) -> None:
    """``--json``: the command's one JSON object, alone on stdout (progress and warnings stay on stderr)."""
    import json

    print(json.dumps(payload, sort_keys=True, default=str), flush=True)


class Progress:
    """Progress of long work on stderr: a tqdm bar on a terminal; elsewhere (a log, a pipe, CI) a plain line
    ``LABEL: 40% (4/10 UNIT)`` at most every ``interval`` seconds once the work has run ``delay`` seconds, and a
    last one at the end if any was printed. ``quiet``: nothing."""

    def __init__(self, label: str, total: int, *, unit: str = "", quiet: bool = False, interval: float = 10.0,
                 delay: float = 2.0) -> None:
        import time

        self.label, self.total, self.unit, self.done = label, max(int(total), 1), unit, 0
        self.quiet, self.interval, self.delay = quiet, interval, delay
        self.started = self._last = time.perf_counter()
        self._printed = False
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, unit=unit or "it", delay=1.0, leave=False,
                             dynamic_ncols=True)

    def _line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label}: {100 * self.done / self.total:3.0f}% ({self.done}/{self.total}{unit})"

    def to(self, done: int, postfix: str = "") -> None:
        """Set the amount done so far (never moves back)."""
        import time

        done = min(max(int(done), self.done), self.total)
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(done - self.done)
        self.done = done
        if self.quiet or self._bar is not None:
            return
        now = time.perf_counter()
        if now - self.started >= self.delay and (now - self._last >= self.interval or not self._printed):
            self._last, self._printed = now, True
            say(self._line() + (f"  {postfix}" if postfix else ""))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._printed and not self.quiet:
            say(self._line())
