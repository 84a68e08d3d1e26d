"""``library.json``: the spec of a batch export (materials and sprite sets), and its expansion into work items.

A library lists **material entries** (one or more classes, or a photo, × seeds × sizes, with a physical tile
size and map options) and **sprite sets** (a class, a seed, a count, a size and a billboard kind). Every
entry expands into work items with unique names; an item's ``params`` hold everything that decides its
bytes apart from the model weights and the export target. Paths inside the file (photos, models) are
relative to the library file's folder.
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ScenegenError
from ..fsutil import sha256_bytes
from ..limits import MAX_SIZE, MAX_SPRITE_SIZE, MIN_SIZE, MIN_SPRITE_SIZE

MAX_ITEMS = 100_000
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
PLACEHOLDERS = ("class", "seed", "size", "photo")
_NAME_RE = re.compile(NAME_PATTERN)


def _power_of_two(value: int, what: str, low: int, high: int) -> int:
    if not low <= value <= high or value & (value - 1):
        raise ValueError(f"{what} must be a power of two between {low} and {high} (game engines expect it), got {value}")
    return value


class SeedRange(BaseModel):
    """Seeds ``start, start + 1, …, start + count − 1``."""

    model_config = ConfigDict(extra="forbid")
    start: int = Field(0, ge=0, description="first seed")
    count: int = Field(..., ge=1, le=MAX_ITEMS, description="number of consecutive seeds")

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

    cls: Optional[Union[str, list[str]]] = Field(None, alias="class", description="texture class name(s) of the model")
    photo: Optional[str] = Field(None, description="a photo (path relative to library.json) to turn into a seamless material")
    seeds: Seeds = Field(default_factory=lambda: [0], description="a list of seeds or {start, count}")
    sizes: list[int] = Field(default_factory=lambda: [512], min_length=1, description="output sizes in pixels (powers of two)")
    tile_size_m: float = Field(2.0, gt=0.0, le=1000.0, description="physical width of one texture tile in metres")
    name: Optional[str] = Field(None, description="name template with {class}, {seed}, {size}, {photo}; "
                                "default '{class}_{seed}_{size}' (or '{photo}_{seed}_{size}')")

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"sizes must not repeat, got {value}")
        return [_power_of_two(v, "size", MIN_SIZE, MAX_SIZE) for v in value]

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: Seeds) -> Seeds:
        if isinstance(value, list):
            if not value:
                raise ValueError("seeds must list at least one seed")
            if any(v < 0 for v in value) or len(set(value)) != len(value):
                raise ValueError(f"seeds must be distinct non-negative integers, got {value}")
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
    name: str = Field(..., pattern=NAME_PATTERN, description="set name: folder sprites/NAME/ and file prefix")
    cls: str = Field(..., alias="class", description="sprite class name of the sprite model")
    seed: int = Field(0, ge=0)
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
    schema_ref: Optional[str] = Field(None, alias="$schema")
    version: Literal[1] = 1
    name: str = Field("library", pattern=NAME_PATTERN)
    description: str = Field("", description="free text (not used by the export)")
    model: Optional[str] = Field(None, description="texture model directory (relative to library.json); "
                                 "default: the shipped model")
    sprite_model: Optional[str] = Field(None, description="sprite model directory; default: the shipped sprite model")
    materials: list[MaterialEntry] = Field(default_factory=list)
    sprites: list[SpriteSetEntry] = Field(default_factory=list)


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


def parse_library(data: Any, source: str = "library.json") -> Library:
    """Validate parsed JSON; a ScenegenError names the file and the JSON path of the first problem.

    Where a value may take several forms (seeds: a list or {start, count}), the most specific complaint wins.
    """
    try:
        return Library.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        paths = list(dict.fromkeys(_json_path(tuple(e.get("loc", ()))) for e in errors))
        first_path = _json_path(tuple(errors[0].get("loc", ())))
        related = [e for e in errors if _json_path(tuple(e.get("loc", ()))).startswith(first_path)]
        chosen = max(related, key=lambda e: len(_json_path(tuple(e.get("loc", ())))))
        message = str(chosen.get("msg", "invalid")).removeprefix("Value error, ")
        others = len([p for p in paths if not p.startswith(first_path)])
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise ScenegenError(f"{source}: {_json_path(tuple(chosen.get('loc', ())))}: {message}{more}") from None


def load_library(path: str | os.PathLike[str]) -> Library:
    """Read and validate a ``library.json``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenegenError(f"{file}: library file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenegenError(f"{file}: cannot read the library ({exc.__class__.__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenegenError(f"{file}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return parse_library(data, str(file))


def _render_name(template: str, values: dict[str, Any], where: str, source: str) -> str:
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is not None and field_name not in PLACEHOLDERS:
            raise ScenegenError(f"{source}: {where}.name: unknown placeholder {{{field_name}}} "
                                f"(use {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    try:
        name = template.format(**values)
    except (ValueError, IndexError, KeyError) as exc:
        raise ScenegenError(f"{source}: {where}.name: bad template {template!r} ({exc})") from None
    if not _NAME_RE.match(name):
        raise ScenegenError(f"{source}: {where}.name: {name!r} is not a valid name "
                            "(letters, digits, '.', '_' or '-', no paths)")
    return name


def expand_library(library: Library, base_dir: str | os.PathLike[str] = ".", source: str = "library.json") -> list[WorkItem]:
    """All work items of ``library`` in library order; photos are read (relative to ``base_dir``) and hashed.

    Raises ScenegenError on duplicate names (naming both entries), missing photos or too many items.
    """
    base = Path(base_dir)
    items: list[WorkItem] = []
    seen: dict[tuple[str, str], str] = {}

    def add(item: WorkItem) -> None:
        key = (item.kind, item.name)
        if key in seen:
            raise ScenegenError(f"{source}: {item.where}: name {item.name!r} is already produced by {seen[key]}; "
                                "give the entry a 'name' template with {class}, {seed} and {size}")
        seen[key] = item.where
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise ScenegenError(f"{source}: more than {MAX_ITEMS} items; split the library")

    for index, entry in enumerate(library.materials):
        where = f"materials[{index}]"
        photo_bytes, photo_stem, photo_sha = None, "", None
        if entry.photo is not None:
            photo_path = base / entry.photo
            try:
                photo_bytes = photo_path.read_bytes()
            except OSError:
                raise ScenegenError(f"{source}: {where}.photo: {photo_path}: file not found or unreadable") from None
            photo_stem, photo_sha = Path(entry.photo).stem, sha256_bytes(photo_bytes)
        template = entry.name or ("{photo}_{seed}_{size}" if entry.photo is not None else "{class}_{seed}_{size}")
        for cls in entry.classes() or [None]:
            for seed in entry.seed_values():
                for size in entry.sizes:
                    values = {"class": cls or "photo", "seed": seed, "size": size, "photo": photo_stem or cls}
                    name = _render_name(template, values, where, source)
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
