"""Session state shared by operators and panels: the model's classes and the running jobs."""

from __future__ import annotations

from collections import deque
from typing import Any

CLASSES: dict[str, Any] = {"classes": [], "sprite_classes": [], "sprite_error": "", "model_hash": "", "error": "",
                           "loading": False}
RUNNING: dict[str, Any] = {}  # job id -> worker_client.Job, for the panel's progress bars and Cancel
FINISHED: deque = deque(maxlen=8)  # the last jobs that ended (worker_client.Job: result or error, progress history)
INSTALL: dict[str, Any] = {"installer": None}  # the last core.Installer (running or finished), for the preferences


def reset() -> None:
    """Forget the classes (a new Python or model folder was chosen)."""
    CLASSES.update(classes=[], sprite_classes=[], sprite_error="", model_hash="", error="", loading=False)


def cancel_all() -> int:
    """Ask every running job to stop; returns how many were asked."""
    jobs = list(RUNNING.values())
    for job in jobs:
        job.cancel()
    return len(jobs)


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters (at spaces) for a panel's labels."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def progress_row(row, fraction: float, message: str) -> None:
    """Draw ``message (NN%)`` on a UI row: a progress bar where this Blender has one (4.0+), else a label."""
    text = f"{message} ({int(fraction * 100)}%)"
    if hasattr(row, "progress"):
        row.progress(factor=fraction, type="BAR", text=text)
    else:
        row.label(text=text, icon="TIME")
