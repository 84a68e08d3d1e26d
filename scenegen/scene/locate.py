"""Read scene.json and turn every problem into one clear line: ``FILE:LINE:COL: JSON.PATH: what is wrong``.

* Syntax errors give the line and column of the fault (from :mod:`json`).
* Duplicate keys and NaN/Infinity literals are refused (JSON allows neither in practice), and so is nesting
  deeper than :data:`MAX_DEPTH` (found by a scan before parsing, so nothing recurses that deep).
* User text in a message (keys, names) is quoted at most ~80 characters (:func:`scenegen.errors.quote`).
* Validation errors (pydantic) give the JSON path, e.g. ``objects[2].size_m[1]``, and the line and column
  where that value starts in the file, found by :func:`value_positions` (a small position-recording scan
  of the already-valid JSON text).
"""

from __future__ import annotations

import difflib
import json
import re
from json.decoder import scanstring
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ScenegenError, quote
from ..fsutil import open_input, quote_path

MAX_SCENE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # arrays and objects inside each other; a scene needs about 6
KEY_SHOWN = 40  # characters of a key shown in a JSON path
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WS = " \t\n\r"


def json_path(parts: Iterable[str | int]) -> str:
    """``("objects", 2, "size_m", 1)`` → ``objects[2].size_m[1]`` (``$`` for the root; long keys cut)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) and len(part) <= KEY_SHOWN:
            out += f".{part}" if out else part
        else:
            out += f"[{quote(part, KEY_SHOWN)}]"
    return out or "$"


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset``."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def value_positions(text: str) -> dict[tuple, int]:
    """Offset of the first character of every value in valid JSON ``text``, keyed by its path tuple.

    Object keys map to the value's offset; ``(path, "<key>")`` entries map to where the key itself starts
    (used for unknown-key errors).
    """
    positions: dict[tuple, int] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(i: int, path: tuple) -> int:
        i = skip(i)
        positions[path] = i
        ch = text[i]
        if ch == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                i = skip(i)
                key_start = i
                key, i = scanstring(text, i + 1)
                positions[path + (("<key>", key),)] = key_start
                i = skip(i)
                i = value(i + 1, path + (key,))  # past ':'
                i = skip(i)
                if text[i] == "}":
                    return i + 1
                i += 1  # ','
        if ch == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = value(i, path + (index,))
                i = skip(i)
                index += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        if ch == '"':
            return scanstring(text, i + 1)[1]
        for literal in ("true", "false", "null"):
            if text.startswith(literal, i):
                return i + len(literal)
        match = _NUMBER.match(text, i)
        if match is None:
            raise ValueError(f"unexpected character at offset {i}")
        return match.end()

    try:
        value(0, ())
    except (ValueError, IndexError):  # only for text that json.loads rejected; callers never pass that
        pass
    return positions


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, val in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = val
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_constant(name: str) -> Any:
    raise _BadConstant(name)


class _BadConstant(ValueError):
    pass


def read_scene_text(path: Path, what: str = "scene file") -> str:
    """The file's text; ScenegenError when missing, not a regular file, unreadable, too large or not UTF-8."""
    try:
        with open_input(path, MAX_SCENE_BYTES) as handle:
            data = handle.read(MAX_SCENE_BYTES + 1)
    except ScenegenError as exc:
        reason = str(exc).split(": ", 1)[-1]
        if reason == "file not found":
            reason = f"{what} not found"
        elif "bytes; the limit is" in reason:
            reason = f"{what} is {reason}"
        raise ScenegenError(f"{quote_path(path)}: {reason}") from None
    except OSError as exc:
        raise ScenegenError(f"{quote_path(path)}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_SCENE_BYTES:
        raise ScenegenError(f"{quote_path(path)}: {what} is over {MAX_SCENE_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenegenError(f"{quote_path(path)}:{line}:{col}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def check_depth(text: str, label: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (ScenegenError at the line:col of the bracket that is too deep).

    Scans only strings and brackets, and stops at the first bracket past the limit.
    """
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                line, col = line_col(text, match.start())
                raise ScenegenError(f"{label}:{line}:{col}: invalid JSON: nested more than {limit} levels deep")
        elif token in "]}":
            depth -= 1


def parse_json(text: str, label: str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity and deep nesting; errors carry ``label:line:col``."""
    check_depth(text, label)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ScenegenError(f"{label}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _DuplicateKey as exc:
        where = _find_key(text, exc.key)
        raise ScenegenError(f"{label}:{where}: duplicate key {quote(exc.key)}") from None
    except _BadConstant as exc:
        offset = text.find(str(exc))
        line, col = line_col(text, max(offset, 0))
        raise ScenegenError(f"{label}:{line}:{col}: invalid JSON: {exc} is not a JSON number") from None
    except RecursionError:  # pragma: no cover - check_depth refuses such text first
        raise ScenegenError(f"{label}: invalid JSON: nested too deeply") from None


def _find_key(text: str, key: str) -> str:
    """line:col of the second occurrence of ``"key":`` (the duplicate), or of the first as a fallback."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    hits = [m.start() for m in pattern.finditer(text)]
    offset = hits[1] if len(hits) > 1 else (hits[0] if hits else 0)
    line, col = line_col(text, offset)
    return f"{line}:{col}"


class Locator:
    """Formats problems found at a JSON path of a parsed scene file as one line with line:col."""

    def __init__(self, label: str, text: str, data: Any) -> None:
        self.label = label
        self.text = text
        self.data = data
        self._positions: dict[tuple, int] | None = None

    def real_path(self, loc: Iterable[Any], keep_last: bool = True) -> tuple:
        """The JSON path of a pydantic ``loc``: parts absent from the document (union tags such as 'box') are
        dropped, except a final key when ``keep_last`` (a missing or unknown key, which the message names)."""
        loc = tuple(loc)
        node, out = self.data, []
        for index, part in enumerate(loc):
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
                out.append(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                out.append(part)
            elif keep_last and index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
                out.append(part)
        return tuple(out)

    def where(self, path: tuple, key: str | None = None) -> str:
        """``label:line:col`` of the value at ``path`` (or of ``key`` inside it), or of its nearest parent."""
        if self._positions is None:
            self._positions = value_positions(self.text)
        if key is not None and path + (("<key>", key),) in self._positions:
            offset = self._positions[path + (("<key>", key),)]
            line, col = line_col(self.text, offset)
            return f"{self.label}:{line}:{col}"
        probe = path
        while probe not in self._positions and probe:
            probe = probe[:-1]
        offset = self._positions.get(probe, 0)
        line, col = line_col(self.text, offset)
        return f"{self.label}:{line}:{col}"

    def error(self, path: Iterable[Any], message: str) -> ScenegenError:
        """A ScenegenError ``label:line:col: json.path: message`` for a path into the document."""
        path = tuple(path)
        return ScenegenError(f"{self.where(path)}: {json_path(path)}: {message}")


def pydantic_error(locator: Locator, exc: Any, allowed: Callable[[tuple], list[str]] | None = None,
                   limit: int = 3) -> ScenegenError:
    """One ScenegenError for a pydantic ValidationError: its first problems, each with path and line:col.

    ``allowed(parent_path)`` lists the keys accepted at a path, for "did you mean" hints on unknown keys.
    """
    errors = exc.errors(include_url=False)
    lines = [_describe(locator, err, allowed) for err in errors[:limit]]
    more = len(errors) - limit
    if more > 0:
        lines.append(f"(and {more} more problem{'s' if more > 1 else ''})")
    return ScenegenError("; ".join(lines))


def _describe(locator: Locator, err: dict, allowed: Callable[[tuple], list[str]] | None) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    path = locator.real_path(loc, keep_last=kind in ("missing", "extra_forbidden"))
    if kind == "extra_forbidden" and path:
        key, parent = path[-1], path[:-1]
        close = difflib.get_close_matches(str(key), allowed(parent) if allowed else [], n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{locator.where(parent, key=str(key))}: {json_path(path)}: unknown key{hint}"
    if kind == "missing":
        return f"{locator.where(path[:-1])}: {json_path(path)}: required but missing"
    message = str(err.get("msg", "invalid value")).replace("Value error, ", "").replace("Assertion failed, ", "")
    if kind not in ("value_error", "assertion_error") and "input" in err and not isinstance(err["input"], (dict, list)):
        shown = json.dumps(err["input"]) if _jsonable(err["input"]) else repr(err["input"])
        if len(shown) > 40:
            shown = shown[:37] + "..."
        message += f" (got {shown})"
    return f"{locator.where(path)}: {json_path(path)}: {message}"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
