"""``library.json``: the spec of a batch export (materials and sprite sets), and its expansion into work items.

A library lists **material entries** (one or more classes, or a photo, × seeds × sizes, with a physical tile
size and map options) and **sprite sets** (a class, a seed, a count, a size and a billboard kind). Every
entry expands into work items with unique names; an item's ``params`` hold everything that decides its
bytes apart from the model weights and the export target. Paths inside the file (photos, models) are
relative to the library file's folder and must lie inside it (symlinks followed) unless ``allow_outside``.

The file is read as strictly as a scene file (:mod:`scenegen.scene.locate`): duplicate keys, NaN, deep
nesting and numbers written as strings (``"512"``, ``512.0`` for an integer, ``true`` for a count) are
refused, and every message names ``FILE:LINE:COL: JSON.PATH``. Photos must be regular files inside the
library's folder (unless ``allow_outside``); their headers are checked against the pixel budget when the
library is expanded, before any work starts.
"""

from __future__ import annotations

import io
import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..errors import ScenegenError, quote
from ..fsutil import quote_path, read_input, resolve_input, sha256_bytes
from ..limits import MAX_SIZE, MAX_SPRITE_SIZE, MIN_SIZE, MIN_SPRITE_SIZE

MAX_ITEMS = 100_000
MAX_NAME = 100  # characters of an item or set name (file names add a suffix; most file systems stop at 255 bytes)
MAX_SEED = 2**31 - 1
MIN_PHOTO_SIDE = 64
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
PLACEHOLDERS = ("class", "seed", "size", "photo")
_NAME_RE = re.compile(NAME_PATTERN)
ClassName = Field(min_length=1, max_length=64)


def _power_of_two(value: int, what: str, low: int, high: int) -> int:
    if not low <= value <= high or value & (value - 1):
        raise ValueError(f"{what} must be a power of two between {low} and {high} (game engines expect it), got {value}")
    return value


class SeedRange(BaseModel):
    """Seeds ``start, start + 1, …, start + count − 1``."""

    model_config = ConfigDict(extra="forbid")
    start: int = Field(0, ge=0, le=MAX_SEED, description="first seed")
    count: int = Field(..., ge=1, le=MAX_ITEMS, description="number of consecutive seeds")

    @model_validator(mode="after")
    def _in_range(self) -> "SeedRange":
        if self.start + self.count - 1 > MAX_SEED:
            raise ValueError(f"seeds must stay within 0–{MAX_SEED} (start + count - 1)")
        return self

    def values(self) -> list[int]:
        return list(range(self.start, self.start + self.count))


Seeds = Union[list[int], SeedRange]


class MapOptions(BaseModel):
    """How the PBR maps are derived from the generated base colour (see scenegen.materials.derive_maps)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    normal_strength: float = Field(1.0, ge=0.0, le=16.0, description="normal-map slope multiplier")
    roughness_range: tuple[float, float] = Field((0.45, 0.95), description="[low, high] roughness, both in [0, 1]")
    ao_strength: float = Field(1.0, ge=0.0, le=4.0, description="ambient-occlusion depth multiplier")
    metallic: float = Field(0.0, ge=0.0, le=1.0, description="constant metalness (ORM blue channel)")

    @field_validator("roughness_range")
    @classmethod
    def _roughness(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"roughness_range must satisfy 0 <= low <= high <= 1, got [{low}, {high}]")
        return value

    def options(self) -> dict[str, Any]:
        return {"normal_strength": float(self.normal_strength), "roughness_range": [float(v) for v in self.roughness_range],
                "ao_strength": float(self.ao_strength), "metallic": float(self.metallic)}


class MaterialEntry(MapOptions):
    """Materials of one or more classes (or from one photo) × seeds × sizes."""

    cls: Optional[Union[Annotated[str, ClassName], list[Annotated[str, ClassName]]]] = Field(
        None, alias="class", description="texture class name(s) of the model")
    photo: Optional[str] = Field(None, min_length=1, max_length=1024,
                                 description="a photo (path relative to library.json) to turn into a seamless material")
    seeds: Seeds = Field(default_factory=lambda: [0], description="a list of seeds or {start, count}")
    sizes: list[int] = Field(default_factory=lambda: [512], min_length=1, description="output sizes in pixels (powers of two)")
    tile_size_m: float = Field(2.0, ge=0.001, le=1000.0, description="physical width of one texture tile in metres")
    name: Optional[str] = Field(None, min_length=1, max_length=2 * MAX_NAME,
                                description="name template with {class}, {seed}, {size}, {photo}; "
                                "default '{class}_{seed}_{size}' (or '{photo}_{seed}_{size}')")

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"sizes must not repeat, got {_shown(value)}")
        return [_power_of_two(v, "size", MIN_SIZE, MAX_SIZE) for v in value]

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: Seeds) -> Seeds:
        if isinstance(value, list):
            if not value:
                raise ValueError("seeds must list at least one seed")
            if any(not 0 <= v <= MAX_SEED for v in value) or len(set(value)) != len(value):
                raise ValueError(f"seeds must be distinct integers from 0 to {MAX_SEED}, got {_shown(value)}")
        return value

    @model_validator(mode="after")
    def _source(self) -> "MaterialEntry":
        if (self.cls is None) == (self.photo is None):
            raise ValueError("give exactly one of 'class' (a class name or a list of them) and 'photo'")
        if isinstance(self.cls, list) and (not self.cls or len(set(self.cls)) != len(self.cls)):
            raise ValueError("'class' must list distinct class names")
        return self

    def classes(self) -> list[str]:
        return [] if self.cls is None else [self.cls] if isinstance(self.cls, str) else list(self.cls)

    def seed_values(self) -> list[int]:
        return self.seeds.values() if isinstance(self.seeds, SeedRange) else list(self.seeds)


class SpriteSetEntry(BaseModel):
    """``count`` RGBA sprites of one class from one seed, with billboards and an atlas."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(..., pattern=NAME_PATTERN, max_length=MAX_NAME, description="set name: folder sprites/NAME/ and file prefix")
    cls: str = Field(..., alias="class", min_length=1, max_length=64, description="sprite class name of the sprite model")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    count: int = Field(8, ge=1, le=256, description="sprites in the set")
    size: int = Field(128, description="sprite size in pixels (a power of two, 64–512)")
    height_m: float = Field(1.0, gt=0.0, le=1000.0, description="billboard height in metres (foot to top)")
    billboard: Literal["quad", "cross", "cross3"] = Field("cross", description="billboard mesh kind")
    alpha_cutoff: float = Field(0.5, gt=0.0, lt=1.0, description="alphaMode MASK cut-off")

    @field_validator("size")
    @classmethod
    def _size(cls, value: int) -> int:
        return _power_of_two(value, "size", MIN_SPRITE_SIZE, MAX_SPRITE_SIZE)


class Library(BaseModel):
    """The whole ``library.json``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="scenegen export library")
    schema_ref: Optional[str] = Field(None, alias="$schema", max_length=4096)
    version: int = Field(1, description="always 1")
    name: str = Field("library", pattern=NAME_PATTERN, max_length=MAX_NAME)
    description: str = Field("", max_length=100_000, description="free text (not used by the export)")
    model: Optional[str] = Field(None, min_length=1, max_length=1024,
                                 description="texture model directory (relative to library.json, inside its folder "
                                             "unless --allow-outside); default: the shipped model")
    sprite_model: Optional[str] = Field(None, min_length=1, max_length=1024,
                                        description="sprite model directory (as model); default: the shipped sprite model")
    materials: list[MaterialEntry] = Field(default_factory=list, max_length=10_000)
    sprites: list[SpriteSetEntry] = Field(default_factory=list, max_length=10_000)
    _locator: Any = PrivateAttr(None)  # set by load_library: positions of the file's values, for messages

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"Input should be 1 (the only library format), got {value}")
        return value

    def where(self, path: str, source: str) -> str:
        """``source:line:col: path`` for a JSON path string such as ``materials[2].name`` (no position when the
        library did not come from a file)."""
        if self._locator is None:
            return f"{source}: {path}"
        parts = tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path))
        return f"{self._locator.where(parts)}: {path}"


def library_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of ``library.json`` (for ``scenegen schema --library``)."""
    schema = Library.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# ------------------------------------------------------------------------------------------------ work items
@dataclass(frozen=True)
class WorkItem:
    """One unit of export work: a material or a sprite set.

    ``params`` is JSON-able and, with the model hash and the target, decides the item's bytes.
    ``where`` is the JSON path of the library entry it came from (for messages); ``photo`` the photo's bytes.
    """

    kind: Literal["material", "sprites"]
    name: str
    params: dict[str, Any]
    where: str
    photo: Optional[bytes] = field(default=None, repr=False, compare=False)

    @property
    def seed(self) -> int:
        return int(self.params["seed"])


def _json_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("list[int]", "SeedRange", "str", "list[str]") or "[" in str(part):
            continue  # pydantic's union-branch labels
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _choose(errors: list[dict]) -> tuple[dict, int]:
    """The most specific of the first problem's complaints (where a value may take several forms, e.g. seeds:
    a list or {start, count}), and how many other places have problems."""
    paths = list(dict.fromkeys(_json_path(tuple(e.get("loc", ()))) for e in errors))
    first_path = _json_path(tuple(errors[0].get("loc", ())))
    related = [e for e in errors if _json_path(tuple(e.get("loc", ()))).startswith(first_path)]
    chosen = max(related, key=lambda e: len(_json_path(tuple(e.get("loc", ())))))
    return chosen, len([p for p in paths if not p.startswith(first_path)])


def _message(error: dict) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    kind = error.get("type", "")
    if kind not in ("value_error", "assertion_error", "missing", "extra_forbidden") and "input" in error \
            and not isinstance(error["input"], (dict, list)):
        message += f" (got {_shown(json.dumps(error['input']) if _plain(error['input']) else repr(error['input']), 40)})"
    if kind == "extra_forbidden":
        message = "unknown key"
    if kind == "missing":
        message = "required but missing"
    return message


def parse_library(data: Any, source: str = "library.json") -> Library:
    """Validate already parsed JSON (a dict); a ScenegenError names the source and the JSON path of the first
    problem. Files are read by :func:`load_library`, which is stricter (and gives line:col)."""
    try:
        return Library.model_validate(data)
    except ValidationError as exc:
        chosen, others = _choose(exc.errors())
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise ScenegenError(f"{source}: {_json_path(tuple(chosen.get('loc', ())))}: {_message(chosen)}{more}") from None


def load_library(path: str | os.PathLike[str]) -> Library:
    """Read and validate a ``library.json`` strictly: only a regular file, duplicate keys, NaN and deep nesting
    refused, JSON types exact (``"512"`` or ``512.0`` is not an integer); messages give ``FILE:LINE:COL``."""
    from ..scene.locate import Locator, parse_json, read_scene_text

    file = Path(path)
    source = str(file)
    text = read_scene_text(file, "library file")
    data = parse_json(text, source)
    locator = Locator(source, text, data)
    if not isinstance(data, dict):
        raise ScenegenError(f"{locator.where(())}: $: the library must be a JSON object")
    try:
        library = Library.model_validate_json(text, strict=True)
    except ValidationError as exc:
        chosen, others = _choose(exc.errors())
        where = locator.real_path(chosen.get("loc", ()), keep_last=chosen.get("type") in ("missing", "extra_forbidden"))
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        if chosen.get("type") == "extra_forbidden" and where:
            position = locator.where(where[:-1], key=str(where[-1]))
        elif chosen.get("type") == "missing":
            position = locator.where(where[:-1])
        else:
            position = locator.where(where)
        from ..scene.locate import json_path

        raise ScenegenError(f"{position}: {json_path(where)}: {_message(chosen)}{more}") from None
    library._locator = locator
    return library


def _render_name(template: str, values: dict[str, Any], where: str, source: str, library: Library | None = None) -> str:
    at = library.where(f"{where}.name", source) if library is not None else f"{source}: {where}.name"
    try:
        fields = [field_name for _, field_name, _, _ in string.Formatter().parse(template)]
    except ValueError as exc:  # a stray '{' or '}'
        raise ScenegenError(f"{at}: bad template {quote(template)} ({exc}; write {{{{ or }}}} for a brace)") from None
    for field_name in fields:
        if field_name is not None and field_name not in PLACEHOLDERS:
            raise ScenegenError(f"{at}: unknown placeholder {{{_shown(field_name, 40)}}} "
                                f"(use {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    try:
        name = template.format(**values)
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        raise ScenegenError(f"{at}: bad template {quote(template)} ({_shown(str(exc), 60)})") from None
    if len(name) > MAX_NAME:
        raise ScenegenError(f"{at}: the name {quote(name)} has {len(name)} characters; the limit is {MAX_NAME}")
    if not _NAME_RE.match(name):
        raise ScenegenError(f"{at}: {quote(name)} is not a valid name (letters, digits, '.', '_' or '-', no paths)")
    return name


def _photo(library: Library, entry: MaterialEntry, where: str, base: Path, source: str, allow_outside: bool) -> bytes:
    """The photo's bytes: a regular file inside the library's folder (unless allowed), an image whose declared
    size fits the pixel budget (checked before decoding), that decodes, and whose shorter side has ≥ 64 px."""
    from ..imaging import image_header, load_image

    at = library.where(f"{where}.photo", source)
    try:
        path = resolve_input(base, entry.photo, "file", allow_outside=allow_outside, folder_name="library's folder")
        data = read_input(path)
        blob = io.BytesIO(data)
        blob.name = quote_path(entry.photo)  # what messages call it
        width, height = image_header(blob)
        blob.seek(0)
        load_image(blob)  # decodes (what every item of the entry will do): a damaged photo is refused now
    except ScenegenError as exc:
        raise ScenegenError(f"{at}: {exc}") from None
    if min(width, height) < MIN_PHOTO_SIDE:
        raise ScenegenError(f"{at}: photo is {width}×{height} px; need at least {MIN_PHOTO_SIDE} px on the shorter side")
    return data


def expand_library(library: Library, base_dir: str | os.PathLike[str] = ".", source: str = "library.json", *,
                   allow_outside: bool = False) -> list[WorkItem]:
    """All work items of ``library`` in library order; photos are read (relative to ``base_dir``) and hashed.

    Raises ScenegenError on duplicate names (naming both entries), bad name templates, photos that are missing,
    not regular files, outside ``base_dir`` (unless ``allow_outside``) or not images of a usable size, and on
    too many items.
    """
    base = Path(base_dir)
    items: list[WorkItem] = []
    seen: dict[tuple[str, str], str] = {}

    def add(item: WorkItem) -> None:
        key = (item.kind, item.name)
        if key in seen:
            raise ScenegenError(f"{library.where(item.where, source)}: name {item.name!r} is already produced by "
                                f"{seen[key]}; give the entry a 'name' template with {{class}}, {{seed}} and {{size}}")
        seen[key] = item.where
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise ScenegenError(f"{source}: more than {MAX_ITEMS} items; split the library")

    for index, entry in enumerate(library.materials):
        where = f"materials[{index}]"
        photo_bytes, photo_stem, photo_sha = None, "", None
        if entry.photo is not None:
            photo_bytes = _photo(library, entry, where, base, source, allow_outside)
            photo_stem, photo_sha = Path(entry.photo).stem, sha256_bytes(photo_bytes)
        template = entry.name or ("{photo}_{seed}_{size}" if entry.photo is not None else "{class}_{seed}_{size}")
        for cls in entry.classes() or [None]:
            for seed in entry.seed_values():
                for size in entry.sizes:
                    values = {"class": cls or "photo", "seed": seed, "size": size, "photo": photo_stem or cls}
                    name = _render_name(template, values, where, source, library)
                    params: dict[str, Any] = {"seed": int(seed), "size": int(size),
                                              "tile_size_m": float(entry.tile_size_m), **entry.options()}
                    if cls is not None:
                        params["class"] = cls
                    else:
                        params["photo"] = entry.photo
                        params["photo_sha256"] = photo_sha
                    add(WorkItem("material", name, params, where, photo_bytes))
    for index, sprite_set in enumerate(library.sprites):
        params = {"class": sprite_set.cls, "seed": int(sprite_set.seed), "count": int(sprite_set.count),
                  "size": int(sprite_set.size), "height_m": float(sprite_set.height_m),
                  "billboard": sprite_set.billboard, "alpha_cutoff": float(sprite_set.alpha_cutoff)}
        add(WorkItem("sprites", sprite_set.name, params, f"sprites[{index}]"))
    return items
