"""Progress of an export: items done, rate and time left (a tqdm bar on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

#: Told of an export's progress as ``(done, total, item, ok)``: once with ``(0, total, None, True)`` before the
#: first item, then after every finished item (``ok`` False for a failed one).
ItemListener = Callable[[int, int, Optional[str], bool], None]


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts finished items. On a terminal it draws a tqdm bar; elsewhere it prints a line at most every
    ``interval`` seconds (and at the end): ``[12/40] 30%  14.2 items/min  ~2m00s left``. ``listener`` (the
    worker's progress events) is told of every item, drawn or not."""

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None, interval: float = 5.0,
                 listener: ItemListener | None = None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.listener = listener
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stderr
        self.interval = interval
        self.started = time.perf_counter()
        self._last_line = self.started
        self._bar = None
        if self.enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="item", file=self.stream, dynamic_ncols=True, smoothing=0.1)
        if listener is not None:
            listener(0, total, None, True)

    @property
    def rate_per_min(self) -> float:
        elapsed = time.perf_counter() - self.started
        return 60.0 * self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The plain-text status line."""
        percent = 100.0 * self.done / self.total if self.total else 100.0
        rate = self.rate_per_min
        left = (self.total - self.done) / rate * 60.0 if rate > 0 else float("nan")
        eta = f"~{format_duration(left)} left" if self.done < self.total and rate > 0 else "done" if self.done >= self.total else ""
        failed = f"  {self.failed} failed" if self.failed else ""
        return f"[{self.done}/{self.total}] {percent:3.0f}%  {rate:.1f} items/min  {eta}{failed}".rstrip()

    def update(self, name: str, ok: bool = True) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        if self.listener is not None:
            self.listener(self.done, self.total, name, ok)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(name[:24], refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval or self.done >= self.total:
            self._last_line = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
