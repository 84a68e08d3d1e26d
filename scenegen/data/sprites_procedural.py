"""Procedural RGBA billboard sprites: the built-in training corpus for the sprite VAE.

Six classes (:data:`SPRITE_CLASSES`). Every sprite is float32 H×W×4 in [0, 1] with *straight* (not
premultiplied) alpha, the object standing on a base line 5% above the bottom edge with its foot at the
horizontal centre (the billboard pivot), nothing in the outer 3-pixel frame, one connected shape (no specks),
and the colour of the nearest opaque pixel bled under every transparent pixel so filtering never darkens edges.

How a sprite is drawn: a class function builds a small display list of polygons in object units (foot at the
origin, y up, height about 1); :func:`_fit` places it in the frame, :func:`_rasterise` fills it on a 4×
supersampled canvas with binary coverage and area-averages down, which gives exact antialiasing and an exact
straight colour at every edge pixel (the canvas colour is premultiplied by its 0/1 coverage); :func:`_finish`
adds the top-left light and grain and bleeds the colour.
Each sprite is a pure function of (class, seed, size).
"""

from __future__ import annotations

import colorsys
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import ScenegenError
from ..fsutil import atomic_write_text
from ..imaging import save_png

SPRITE_CLASSES: tuple[str, ...] = ("conifer", "broadleaf_tree", "bush", "grass_tuft", "flower", "rock")

#: Bump when the drawings change: a corpus stamped with another version is rebuilt.
GENERATOR_VERSION = 1
#: First seed of the held-out sprites; training corpora must use seeds below it.
HELD_OUT_SEED = 10_000
HELD_OUT_SPAN = 1_000

BASE_FRACTION = 0.05  # the foot stands this fraction of the frame above the bottom edge
FRAME_PX = 3  # outer frame that is always fully transparent
_MARGIN_PX = 4.0  # fitting margin: the frame plus one pixel for antialiasing
_SUPERSAMPLE = 4
_CLASS_SALT = {name: 7_919 * (index + 1) for index, name in enumerate(SPRITE_CLASSES)}

Colour = np.ndarray  # RGB float64 triple in [0, 1]


# ----------------------------------------------------------------------------------------------- colour helpers
def _hsv(hue_deg: float, sat: float, val: float) -> Colour:
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, np.clip(sat, 0, 1), np.clip(val, 0, 1)))


def _shade(colour: Colour, factor: float, warm: float = 0.0) -> Colour:
    """Scale brightness; ``warm`` > 0 pushes towards yellow (lit), < 0 towards blue (shadow)."""
    shifted = colour * factor + warm * np.array([0.06, 0.04, -0.05])
    return np.clip(shifted, 0.0, 1.0)


def _foliage_green(rng: np.random.Generator) -> Colour:
    """A leaf green anywhere from dark blue-green to light yellow-green."""
    hue = rng.uniform(72.0, 135.0)
    sat = rng.uniform(0.45, 0.8)
    val = rng.uniform(0.3, 0.62)
    if hue < 90:  # yellowish greens read better a little brighter
        val += 0.08
    return _hsv(hue, sat, val)


# ------------------------------------------------------------------------------------------------ display list
_UNIT_CIRCLE = {n: (t, np.cos(t), np.sin(t)) for n in (20, 32) for t in [np.linspace(0, 2 * np.pi, n, endpoint=False)]}


@dataclass
class _Drawing:
    """Polygons in object units (foot at the origin, y up) with their colours, drawn in order."""

    polys: list[np.ndarray] = field(default_factory=list)
    colours: list[Colour] = field(default_factory=list)

    def poly(self, points: np.ndarray, colour: Colour) -> None:
        self.polys.append(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        self.colours.append(np.asarray(colour, dtype=np.float64))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: Colour,
                angle: float = 0.0, lumps: int = 0, lumpiness: float = 0.0, phase: float = 0.0) -> None:
        """An ellipse (``angle`` in radians); ``lumps`` > 0 makes a leafy, scalloped outline."""
        theta, cos_t, sin_t = _UNIT_CIRCLE[20 if max(rx, ry) < 0.08 else 32]
        radius = 1.0 + lumpiness * np.sin(lumps * theta + phase) if lumps else 1.0
        x, y = rx * radius * cos_t, ry * radius * sin_t
        points = np.empty((len(theta), 2))
        if angle:
            c, s = np.cos(angle), np.sin(angle)
            x, y = c * x - s * y, s * x + c * y
        points[:, 0], points[:, 1] = cx + x, cy + y
        self.polys.append(points)
        self.colours.append(np.asarray(colour, dtype=np.float64))

    def ribbon(self, path: np.ndarray, width0: float, width1: float, colour: Colour) -> None:
        """A stroke along polyline ``path`` whose width tapers linearly from ``width0`` to ``width1``."""
        path = np.asarray(path, dtype=np.float64)
        tangent = np.gradient(path, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        half = np.linspace(width0, width1, len(path))[:, None] / 2.0
        self.poly(np.concatenate([path + normal * half, (path - normal * half)[::-1]]), colour)

    def rest_on_ground(self) -> None:
        """Flatten everything below y = 0 onto it (drooping branch tips, bent blades): the foot is y = 0."""
        for points in self.polys:
            np.maximum(points[:, 1], 0.0, out=points[:, 1])

    def shear(self, lean: float, power: float = 1.3) -> None:
        """Lean the drawing sideways, more towards the top; the foot (y = 0) stays put."""
        for points in self.polys:
            points[:, 0] += lean * np.clip(points[:, 1], 0.0, None) ** power


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, count: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 1.0, count)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t * t * p2


@dataclass
class _Style:
    """How a class is fitted and finished."""

    height: float  # object height as a fraction of the frame
    light: float = 0.25  # strength of the top-left light gradient
    grain: float = 0.04  # per-pixel brightness noise
    grain_blur: float = 0.0


# ------------------------------------------------------------------------------------------------------ classes
def _conifer(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    bark = _hsv(rng.uniform(15, 35), rng.uniform(0.35, 0.6), rng.uniform(0.2, 0.38))
    hue = rng.uniform(95.0, 165.0)
    base = _hsv(hue, rng.uniform(0.35, 0.75), rng.uniform(0.2, 0.42))
    if rng.random() < 0.25:
        _pine(d, rng, bark, base)
        return d, _Style(height=rng.uniform(0.7, 0.95), light=0.3)
    trunk_h = rng.uniform(0.04, 0.14)
    half_w = rng.uniform(0.15, 0.3)
    tiers = int(rng.integers(5, 11))
    taper = rng.uniform(0.8, 1.3)
    droop = rng.uniform(0.05, 0.3)
    jag = int(rng.integers(4, 9))
    d.ribbon(np.array([[0.0, 0.0], [0.0, 0.5]]), rng.uniform(0.045, 0.07), 0.02, bark)
    d.ribbon(np.array([[0.0, 0.0], [0.0, 0.5]]), 0.018, 0.008, _shade(bark, 1.4, 0.5))
    tier_h = (1.0 - trunk_h) / (tiers + 0.8)
    for i in range(tiers):
        t = i / tiers
        y_base = trunk_h + i * tier_h * 0.97
        apex = y_base + tier_h * rng.uniform(1.7, 2.3)
        hw = half_w * (1.0 - t) ** taper + 0.03
        tier = _conifer_tier(rng, hw, y_base, apex, droop, jag)
        shadow = tier.copy()
        shadow[:, 1] -= tier_h * 0.22
        d.poly(shadow, _shade(base, 0.55, -0.5))
        d.poly(tier, _shade(base, rng.uniform(0.9, 1.05)))
        d.poly(_lit_side(tier), _shade(base, rng.uniform(1.2, 1.4), 0.6))
        for _ in range(int(rng.integers(1, 4))):  # needle highlights on the lit side
            x0 = -hw * rng.uniform(0.2, 0.8)
            y0 = y_base + (apex - y_base) * rng.uniform(0.1, 0.4)
            d.ribbon(np.array([[x0, y0], [x0 + hw * 0.25, y0 + tier_h * 0.5]]), 0.012, 0.004,
                     _shade(base, 1.6, 1.0))
    top = trunk_h + tiers * tier_h * 0.97
    d.poly(np.array([[-0.03, top - tier_h * 0.3], [0.03, top - tier_h * 0.3], [0.0, 1.0]]), _shade(base, 1.1))
    d.shear(rng.uniform(-0.1, 0.1))
    return d, _Style(height=rng.uniform(0.62, 0.95), light=0.3)


def _conifer_tier(rng: np.random.Generator, hw: float, y_base: float, apex: float, droop: float,
                  jag: int) -> np.ndarray:
    """A drooping skirt of branches: apex, right flank, jagged lower edge (right to left), left flank."""
    height = apex - y_base
    xs = np.linspace(hw, -hw, 2 * jag + 1) + rng.uniform(-0.2, 0.2, 2 * jag + 1) * hw / jag
    ys = y_base - droop * height * np.clip(np.abs(xs) / hw, 0, 1) ** 2
    ys[1::2] += height * rng.uniform(0.12, 0.3, size=jag)  # notches between branch tips
    s = np.array([0.3, 0.65])
    flank_y = y_base + height * (1.0 - s) ** 1.3
    right = np.stack([hw * s + rng.normal(0, 0.01, 2), flank_y], axis=1)
    left = np.stack([-hw * s - rng.normal(0, 0.01, 2), flank_y], axis=1)[::-1]
    return np.concatenate([[[0.0, apex]], right, np.stack([xs, ys], axis=1), left])


def _lit_side(tier: np.ndarray) -> np.ndarray:
    """The left part of a tier polygon, pulled a little towards the apex: the side facing the light."""
    apex = tier[0]
    width = np.ptp(tier[:, 0])
    lit = np.concatenate([tier[:1], tier[1:][tier[1:, 0] <= -0.05 * width]])
    return apex + (lit - apex) * 0.9


def _pine(d: _Drawing, rng: np.random.Generator, bark: Colour, base: Colour) -> None:
    """A tall pine: bare trunk, flat clouds of needles at the top."""
    crown_y = rng.uniform(0.45, 0.65)
    bend = rng.normal(0.0, 0.06)
    trunk = _bezier(np.array([0.0, 0.0]), np.array([bend, 0.5]), np.array([bend * 0.5, 0.92]))
    d.ribbon(trunk, rng.uniform(0.05, 0.08), 0.02, bark)
    d.ribbon(trunk[:9] + [-0.008, 0.0], 0.014, 0.006, _shade(bark, 1.5, 0.5))
    clumps = int(rng.integers(4, 9))
    for i in range(clumps):
        y = crown_y + (0.93 - crown_y) * (i + rng.uniform(0.0, 0.6)) / clumps
        x_trunk = np.interp(y, trunk[:, 1], trunk[:, 0])
        side = -1 if i % 2 else 1
        reach = rng.uniform(0.06, 0.2) * (1.2 - 0.6 * (y - crown_y) / (1 - crown_y))
        x = x_trunk + side * reach
        d.ribbon(np.array([[x_trunk, y - 0.04], [x, y]]), 0.025, 0.012, bark)
        rx, ry = rng.uniform(0.12, 0.2), rng.uniform(0.05, 0.08)
        d.ellipse(x, y - ry * 0.25, rx, ry, _shade(base, 0.6, -0.5), lumps=7, lumpiness=0.12, phase=rng.uniform(0, 6))
        d.ellipse(x - rx * 0.06, y, rx * 0.92, ry * 0.85, base, lumps=9, lumpiness=0.1, phase=rng.uniform(0, 6))
        d.ellipse(x - rx * 0.25, y + ry * 0.3, rx * 0.5, ry * 0.45, _shade(base, 1.4, 0.7), lumps=5,
                  lumpiness=0.12)
    d.ellipse(bend * 0.5, 0.95, 0.1, 0.05, base, lumps=7, lumpiness=0.12)
    d.shear(rng.uniform(-0.08, 0.08))


def _leaf_cluster(d: _Drawing, rng: np.random.Generator, x: float, y: float, r: float, colour: Colour,
                  highlight: float = 1.0) -> None:
    """A lump of leaves: a shadowed body, a lit upper-left part and a bright highlight."""
    lumps = int(rng.integers(5, 9))
    d.ellipse(x, y, r, r * rng.uniform(0.8, 1.0), _shade(colour, 0.62, -0.4), lumps=lumps, lumpiness=0.13,
              phase=rng.uniform(0, 6.3))
    d.ellipse(x - 0.16 * r, y + 0.16 * r, 0.78 * r, 0.72 * r, colour, lumps=lumps, lumpiness=0.12,
              phase=rng.uniform(0, 6.3))
    if highlight > 0:
        d.ellipse(x - 0.36 * r, y + 0.36 * r, 0.38 * r, 0.32 * r, _shade(colour, 1.0 + 0.4 * highlight, highlight),
                  lumps=4, lumpiness=0.15, phase=rng.uniform(0, 6.3))


def _points_in_ellipse(rng: np.random.Generator, count: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    radius = np.sqrt(rng.random(count))
    theta = rng.uniform(0.0, 2.0 * np.pi, count)
    return np.stack([cx + rx * radius * np.cos(theta), cy + ry * radius * np.sin(theta)], axis=1)


def _crown(d: _Drawing, rng: np.random.Generator, centres: np.ndarray, radius: float, palette: list[Colour],
           light_dir: np.ndarray, between: Callable[[], None] | None = None) -> None:
    """Draw leaf clusters back to front; clusters facing the light get brighter, ``between`` runs mid-way."""
    order = np.argsort(centres @ light_dir + rng.normal(0, 0.05, len(centres)))
    facing = (centres @ light_dir - (centres @ light_dir).min()) / max(np.ptp(centres @ light_dir), 1e-6)
    half = len(order) // 2
    for rank, index in enumerate(order):
        if rank == half and between is not None:
            between()
        colour = palette[int(rng.integers(len(palette)))]
        colour = _shade(colour, 0.8 + 0.35 * facing[index], facing[index] - 0.5)
        _leaf_cluster(d, rng, *centres[index], radius * rng.uniform(0.8, 1.2), colour, highlight=facing[index])


def _broadleaf_palette(rng: np.random.Generator) -> list[Colour]:
    if rng.random() < 0.3:  # autumn: oranges, reds, golds, sometimes a touch of green left
        hues = rng.uniform(2.0, 50.0) + rng.normal(0, 8, 3)
        palette = [_hsv(h, rng.uniform(0.6, 0.9), rng.uniform(0.5, 0.8)) for h in hues]
        if rng.random() < 0.4:
            palette.append(_foliage_green(rng))
        return palette
    main = _foliage_green(rng)
    return [np.clip(main * rng.uniform(0.85, 1.15, 3), 0, 1) for _ in range(3)]


def _broadleaf_tree(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    bark = _hsv(rng.uniform(15, 40), rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.42))
    shape = rng.choice(["round", "tall", "wide", "lobed"])
    crown_bottom = rng.uniform(0.3, 0.5)
    ry = (1.0 - crown_bottom) / 2.0
    rx = ry * {"round": rng.uniform(0.9, 1.2), "tall": rng.uniform(0.55, 0.75),
               "wide": rng.uniform(1.25, 1.6), "lobed": rng.uniform(1.0, 1.3)}[shape]
    cy = crown_bottom + ry
    cx = rng.normal(0.0, 0.04)
    trunk_w = rng.uniform(0.05, 0.09)
    trunk = _bezier(np.array([0.0, 0.0]), np.array([rng.normal(0, 0.04), cy * 0.5]), np.array([cx, cy]))
    d.poly(np.array([[-trunk_w * 1.3, 0.0], [trunk_w * 1.3, 0.0], [trunk_w * 0.3, 0.05], [-trunk_w * 0.3, 0.05]]),
           bark)  # root flare
    d.ribbon(trunk, trunk_w, trunk_w * 0.45, bark)
    d.ribbon(trunk[:8] + [-trunk_w * 0.2, 0.0], trunk_w * 0.3, trunk_w * 0.12, _shade(bark, 1.45, 0.5))
    branches = []
    for _ in range(int(rng.integers(3, 7))):
        y0 = rng.uniform(crown_bottom * 0.85, cy)
        x0 = np.interp(y0, trunk[:, 1], trunk[:, 0])
        tip = _points_in_ellipse(rng, 1, cx, cy + ry * 0.2, rx * 0.8, ry * 0.7)[0]
        branches.append((np.array([[x0, y0], (np.array([x0, y0]) + tip) / 2 + [0, 0.05], tip]), trunk_w * 0.5))
    if shape == "lobed":
        lobes = _points_in_ellipse(rng, int(rng.integers(2, 4)), cx, cy, rx * 0.55, ry * 0.45)
    else:
        lobes = np.array([[cx, cy]])
    radius = rng.uniform(0.07, 0.11) * (0.8 + 0.4 * rx)
    count = int(np.clip(2.2 * rx * ry / radius ** 2, 18, 70))
    centres = []
    for lx, ly in lobes:
        scale = 1.0 if len(lobes) == 1 else 0.6
        centres.append(_points_in_ellipse(rng, count // len(lobes) + 4, lx, ly, (rx - radius) * scale,
                                          (ry - radius) * scale))
    centres = np.concatenate(centres)
    centres[:, 1] = np.maximum(centres[:, 1], crown_bottom + radius)
    palette = _broadleaf_palette(rng)

    def draw_branches() -> None:
        for path, width in branches:
            d.ribbon(_bezier(*path, count=6), width, width * 0.35, _shade(bark, 0.8))

    for path, width in branches:  # the inner ends of the branches, visible in crown gaps
        d.ribbon(_bezier(*path, count=6), width, width * 0.35, _shade(bark, 0.7))
    _crown(d, rng, centres, radius, palette, np.array([-0.6, 0.8]), between=draw_branches)
    d.shear(rng.uniform(-0.12, 0.12))
    return d, _Style(height=rng.uniform(0.62, 0.95), light=0.3)


def _bush(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    half_w = rng.uniform(0.6, 0.85)
    radius = rng.uniform(0.14, 0.22)
    stem = _hsv(rng.uniform(15, 40), 0.4, 0.25)
    for _ in range(int(rng.integers(2, 5))):
        tip = [np.clip(rng.normal(0, 0.3), -0.5 * half_w, 0.5 * half_w), 0.4]
        d.ribbon(np.array([[rng.normal(0, 0.05), 0.0], tip]), 0.04, 0.02, stem)
    count = int(np.clip(2.4 * half_w / radius ** 2 * 0.5, 14, 48))
    centres = _points_in_ellipse(rng, count, 0.0, 0.0, half_w - radius, 1.0 - radius)
    centres[:, 1] = np.abs(centres[:, 1])
    skirt = np.stack([np.linspace(-half_w + radius, half_w - radius, 5), np.full(5, radius * 0.75)], axis=1)
    centres = np.concatenate([skirt, centres])
    centres[:, 1] = np.maximum(centres[:, 1], radius * 0.75)
    green = _foliage_green(rng)
    palette = [np.clip(green * rng.uniform(0.85, 1.15, 3), 0, 1) for _ in range(3)]
    d.ellipse(0.0, radius * 0.5, half_w * 0.75, radius * 0.55, _shade(green, 0.45, -0.5))  # shaded underside
    _crown(d, rng, centres, radius, palette, np.array([-0.5, 0.85]))
    if rng.random() < 0.35:  # berries or blossoms
        berry = [_hsv(rng.uniform(350, 365), 0.85, 0.75), _hsv(0, 0.0, 0.95), _hsv(rng.uniform(300, 335), 0.5, 0.9),
                 _hsv(rng.uniform(40, 55), 0.85, 0.95), _hsv(rng.uniform(230, 250), 0.6, 0.5)][int(rng.integers(5))]
        for x, y in _points_in_ellipse(rng, int(rng.integers(8, 25)), 0.0, 0.45, half_w * 0.8, 0.45):
            r = rng.uniform(0.025, 0.04)
            d.ellipse(x, y, r, r, _shade(berry, 0.7, -0.3))
            d.ellipse(x - r * 0.25, y + r * 0.25, r * 0.55, r * 0.55, _shade(berry, 1.15, 0.3))
    return d, _Style(height=rng.uniform(0.55, 0.75), light=0.3)


def _grass_tuft(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    dry = rng.random() < 0.25
    hue = rng.uniform(38.0, 55.0) if dry else rng.uniform(62.0, 125.0)
    base = _hsv(hue, rng.uniform(0.35, 0.6) if dry else rng.uniform(0.5, 0.85), rng.uniform(0.45, 0.7))
    blades = int(rng.integers(16, 42))
    spread = rng.uniform(0.2, 0.55)
    width = rng.uniform(0.03, 0.055)
    wind = rng.normal(0.0, 0.15)
    heads = rng.random() < 0.3
    angles = np.sort(rng.normal(wind, spread, blades))
    for i in rng.permutation(blades):
        angle = angles[i]
        length = rng.uniform(0.45, 1.0) * np.cos(angle * 0.5)
        bend = np.sign(angle + 1e-6) * rng.uniform(0.1, 0.8) + wind
        p0 = np.array([rng.normal(0, 0.03), 0.0])
        p1 = p0 + length * 0.55 * np.array([np.sin(angle), np.cos(angle)])
        p2 = p1 + length * 0.5 * np.array([np.sin(angle + bend), np.cos(angle + bend)])
        path = _bezier(p0, p1, p2, 10)
        shade = rng.uniform(0.55, 1.2)
        colour = _shade(np.clip(base * rng.uniform(0.9, 1.1, 3), 0, 1), shade, shade - 0.9)
        if heads and rng.random() < 0.25:
            d.ribbon(path, 0.014, 0.008, _shade(colour, 0.9))
            tip = path[-1]
            head = _shade(_hsv(rng.uniform(30, 45), 0.45, 0.75), shade)
            d.ellipse(tip[0], tip[1], 0.022, 0.07, head, angle=-angle - bend * 0.5)
            continue
        d.ribbon(path, width * rng.uniform(0.7, 1.2), 0.0, colour)
        d.ribbon(path[:8] + [-0.004, 0.004], width * 0.3, 0.0, _shade(colour, 1.25, 0.6))
    d.ellipse(0.0, 0.02, 0.09, 0.025, _shade(base, 0.45, -0.5))
    return d, _Style(height=rng.uniform(0.55, 0.9), light=0.2)


_FLOWER_COLOURS = {
    "red": lambda r: _hsv(r.uniform(-8, 8), r.uniform(0.75, 0.95), r.uniform(0.7, 0.9)),
    "yellow": lambda r: _hsv(r.uniform(42, 56), r.uniform(0.75, 0.95), r.uniform(0.85, 1.0)),
    "white": lambda r: _hsv(r.uniform(40, 60), r.uniform(0.02, 0.1), r.uniform(0.9, 1.0)),
    "purple": lambda r: _hsv(r.uniform(270, 300), r.uniform(0.45, 0.75), r.uniform(0.6, 0.85)),
    "blue": lambda r: _hsv(r.uniform(210, 235), r.uniform(0.5, 0.8), r.uniform(0.7, 0.95)),
    "pink": lambda r: _hsv(r.uniform(320, 345), r.uniform(0.35, 0.6), r.uniform(0.85, 1.0)),
    "orange": lambda r: _hsv(r.uniform(20, 32), r.uniform(0.8, 0.95), r.uniform(0.85, 1.0)),
}


def _flower(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    kind = rng.choice(["daisy", "tulip", "spike", "poppy"])
    name = rng.choice(list(_FLOWER_COLOURS))
    if kind == "spike" and name in ("red", "orange"):
        name = "purple"
    petal = _FLOWER_COLOURS[name](rng)
    leaf = _foliage_green(rng)
    stems = int(rng.integers(1, 7))
    tops = []
    for i in range(stems):
        height = rng.uniform(0.62, 1.0) if i else 1.0
        top = np.array([rng.normal(0.0, 0.12 + 0.04 * stems), height])
        tops.append((top, _bezier(np.array([rng.normal(0, 0.02), 0.0]),
                                  np.array([top[0] * 0.2 + rng.normal(0, 0.05), height * 0.5]), top, 10)))
    for _ in range(int(rng.integers(3, 7))):  # basal leaves
        angle = rng.uniform(-1.2, 1.2)
        length = rng.uniform(0.15, 0.35)
        tip = np.array([np.sin(angle), np.cos(angle)]) * length
        path = _bezier(np.zeros(2), tip * 0.5 + [0, 0.04], tip, 8)
        d.poly(_leaf_shape(path, rng.uniform(0.05, 0.09)), _shade(leaf, rng.uniform(0.7, 1.1)))
    for top, path in sorted(tops, key=lambda item: item[0][1]):
        d.ribbon(path, 0.028, 0.018, _shade(leaf, 0.8))
        if rng.random() < 0.6:
            at = path[int(rng.integers(3, 6))]
            side = rng.choice([-1.0, 1.0])
            leaf_path = _bezier(at, at + [side * 0.06, 0.05], at + [side * 0.12, 0.04], 6)
            d.poly(_leaf_shape(leaf_path, 0.05), leaf)
        colour = np.clip(petal * rng.uniform(0.92, 1.08, 3), 0, 1)
        _flower_head(d, rng, kind, top, path, colour)
    return d, _Style(height=rng.uniform(0.55, 0.9), light=0.2, grain=0.03)


def _leaf_shape(path: np.ndarray, width: float) -> np.ndarray:
    tangent = np.gradient(path, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    half = width / 2 * np.sin(np.linspace(0, np.pi, len(path)))[:, None] + 0.004
    return np.concatenate([path + normal * half, (path - normal * half)[::-1]])


def _flower_head(d: _Drawing, rng: np.random.Generator, kind: str, top: np.ndarray, stem: np.ndarray,
                 colour: Colour) -> None:
    x, y = top
    if kind == "spike":
        n = int(rng.integers(7, 13))
        for j in range(n):
            t = j / n
            r = 0.05 * (1.0 - 0.6 * t) * rng.uniform(0.85, 1.15)
            py = y - 0.28 + 0.3 * t
            px = x + rng.normal(0, 0.008)
            for side in (-1, 1):
                d.ellipse(px + side * r * 0.7, py, r, r * 0.8, _shade(colour, 0.75 if side > 0 else 1.0, -0.2 * side))
            d.ellipse(px - r * 0.5, py + r * 0.3, r * 0.45, r * 0.35, _shade(colour, 1.3, 0.5))
        return
    r = rng.uniform(0.09, 0.14)
    if kind == "tulip":
        r *= 1.3
        cup = np.array([[-1.0, 0.2], [-0.9, -0.5], [-0.4, -0.95], [0.4, -0.95], [0.9, -0.5], [1.0, 0.2],
                        [0.55, 0.95], [0.3, 0.3], [0.0, 1.05], [-0.3, 0.3], [-0.55, 0.95]])
        d.poly(top + cup * [r * 0.8, r * 1.1], colour)
        d.poly(top + cup[[0, 1, 2, 8, 9, 10]] * [r * 0.8, r * 1.1] + [-0.004, 0.002], _shade(colour, 1.25, 0.5))
        d.poly(top + np.array([[0.1, -0.8], [0.8, -0.4], [0.9, 0.2], [0.3, 0.0]]) * [r * 0.8, r * 1.1],
               _shade(colour, 0.7, -0.5))
        return
    petals = int(rng.integers(10, 17)) if kind == "daisy" else 5
    centre = _hsv(rng.uniform(40, 52), 0.9, 0.9) if kind == "daisy" else _hsv(30, 0.6, 0.15)
    tilt = rng.uniform(0.55, 1.0)  # heads seen a little from the side
    for j in range(petals):
        angle = 2 * np.pi * j / petals + rng.uniform(0, 0.2)
        length = r * (0.55 if kind == "daisy" else 0.6)
        px, py = x + np.cos(angle) * length, y + np.sin(angle) * length * tilt
        lit = 1.1 - 0.25 * np.cos(angle - 2.4)  # petals on the upper left catch the light
        rx, ry = (r * 0.5, r * 0.16) if kind == "daisy" else (r * 0.55, r * 0.5)
        d.ellipse(px, py, rx, ry * (0.6 + 0.4 * tilt), _shade(colour, lit, lit - 1.0),
                  angle=np.arctan2(np.sin(angle) * tilt, np.cos(angle)))
    cr = r * (0.3 if kind == "daisy" else 0.25)
    d.ellipse(x, y, cr, cr * tilt, _shade(centre, 0.75))
    d.ellipse(x - cr * 0.3, y + cr * 0.3 * tilt, cr * 0.5, cr * 0.5 * tilt, _shade(centre, 1.2, 0.5))


def _rock_palette(rng: np.random.Generator) -> Colour:
    kind = int(rng.integers(5))
    if kind == 0:
        return _hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.06), rng.uniform(0.45, 0.7))  # grey
    if kind == 1:
        return _hsv(rng.uniform(20, 35), rng.uniform(0.2, 0.4), rng.uniform(0.35, 0.6))  # brown
    if kind == 2:
        return _hsv(rng.uniform(28, 42), rng.uniform(0.25, 0.45), rng.uniform(0.6, 0.78))  # sandstone
    if kind == 3:
        return _hsv(rng.uniform(200, 230), rng.uniform(0.03, 0.1), rng.uniform(0.28, 0.4))  # dark basalt
    return _hsv(rng.uniform(5, 18), rng.uniform(0.3, 0.5), rng.uniform(0.4, 0.6))  # reddish


_LIGHT = np.array([-0.5, 0.65, 0.57]) / np.linalg.norm([-0.5, 0.65, 0.57])


def _rock_body(d: _Drawing, rng: np.random.Generator, cx: float, half_w: float, height: float,
               colour: Colour) -> np.ndarray:
    """One faceted stone: outer silhouette (z = 0), an inner ring and a peak, shaded per facet (Lambert)."""
    n = int(rng.integers(8, 14))
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(-0.25, 0.25, n) * (2 * np.pi / n)
    radius = rng.uniform(0.82, 1.1, n)
    outer = np.stack([cx + half_w * radius * np.cos(theta), height * 0.5 * (1 + radius * np.sin(theta))], axis=1)
    outer[:, 1] = np.where(outer[:, 1] < height * 0.18, rng.uniform(0.0, 0.02, n) * height, outer[:, 1])
    peak = np.array([cx + rng.uniform(-0.35, 0.15) * half_w, height * rng.uniform(0.5, 0.72)])
    inner = peak + (outer - peak) * rng.uniform(0.45, 0.65, (n, 1))
    depth = rng.uniform(0.35, 0.7) * half_w
    o3, i3, p3 = _lift(outer, 0.0), _lift(inner, depth * 0.75), np.append(peak, depth)
    ambient = rng.uniform(0.3, 0.42)

    def facet(points3: np.ndarray) -> None:
        normal = np.cross(points3[1] - points3[0], points3[2] - points3[0])
        normal = normal / max(np.linalg.norm(normal), 1e-9) * np.sign(normal[2] or 1.0)
        lit = ambient + (1 - ambient) * 1.15 * max(0.0, float(normal @ _LIGHT))
        d.poly(points3[:, :2], _shade(colour * rng.uniform(0.95, 1.05), lit, (lit - 0.8) * 0.6))

    d.poly(outer, _shade(colour, ambient))
    for j in range(n):
        k = (j + 1) % n
        facet(np.array([o3[j], o3[k], i3[k], i3[j]]))
    for j in range(n):
        facet(np.array([i3[j], i3[(j + 1) % n], p3]))
    return outer


def _lift(points: np.ndarray, z: float) -> np.ndarray:
    return np.concatenate([points, np.full((len(points), 1), z)], axis=1)


def _rock(rng: np.random.Generator) -> tuple[_Drawing, _Style]:
    d = _Drawing()
    colour = _rock_palette(rng)
    aspect = rng.uniform(1.0, 1.6)
    extra = int(rng.choice([0, 0, 1, 2]))
    small = []
    for _ in range(extra):  # smaller stones leaning on the main one
        side = rng.choice([-1.0, 1.0])
        small.append((side * aspect * rng.uniform(0.45, 0.6), aspect * rng.uniform(0.2, 0.3), rng.uniform(0.3, 0.5)))
    for cx, hw, h in small:
        if cx > 0:
            _rock_body(d, rng, cx, hw, h, np.clip(colour * rng.uniform(0.9, 1.1, 3), 0, 1))
    outer = _rock_body(d, rng, 0.0, aspect / 2, 1.0, colour)
    for _ in range(int(rng.integers(0, 3))):  # a crack running in from the outline
        start = outer[int(rng.integers(len(outer)))]
        end = start + (np.array([0.0, 0.55]) - start) * rng.uniform(0.25, 0.45)
        path = np.linspace(start, end, 5) + np.concatenate([[[0, 0]], rng.normal(0, 0.02, (4, 2))])
        path[0] = start + (end - start) * 0.06
        d.ribbon(path, 0.02, 0.006, _shade(colour, 0.35, -0.5))
    if rng.random() < 0.3:
        _moss(d, rng, outer)
    for cx, hw, h in small:
        if cx <= 0:
            _rock_body(d, rng, cx, hw, h, np.clip(colour * rng.uniform(0.9, 1.1, 3), 0, 1))
    return d, _Style(height=rng.uniform(0.55, 0.75), light=0.2, grain=0.07, grain_blur=0.8)


def _moss(d: _Drawing, rng: np.random.Generator, outer: np.ndarray) -> None:
    """A cap of moss hugging the upper outline of a stone."""
    moss = _hsv(rng.uniform(65, 100), rng.uniform(0.5, 0.7), rng.uniform(0.35, 0.55))
    top = outer[outer[:, 1] > np.quantile(outer[:, 1], 0.45)]
    top = top[np.argsort(top[:, 0])]
    if len(top) < 2:
        return
    path = np.concatenate([np.linspace(top[j], top[j + 1], 4, endpoint=False) for j in range(len(top) - 1)]
                          + [top[-1:]])
    path = path * 0.97 + [0.0, 0.02]
    thickness = rng.uniform(0.05, 0.12) * (0.6 + 0.8 * rng.random(len(path)))
    lower = path - np.stack([np.zeros(len(path)), cv2.GaussianBlur(thickness[None], (1, 5), 0)[0]], axis=1)
    d.poly(np.concatenate([path + [0.0, 0.015], lower[::-1]]), _shade(moss, 0.75, -0.3))
    d.poly(np.concatenate([path + [-0.01, 0.018], (path * 0.5 + lower * 0.5)[::-1]]), _shade(moss, 1.2, 0.5))


_GENERATORS: dict[str, Callable[[np.random.Generator], tuple[_Drawing, _Style]]] = {
    "conifer": _conifer, "broadleaf_tree": _broadleaf_tree, "bush": _bush,
    "grass_tuft": _grass_tuft, "flower": _flower, "rock": _rock,
}


# ----------------------------------------------------------------------------------------------------- rendering
def _fit(drawing: _Drawing, size: int, height_frac: float) -> tuple[Callable[[np.ndarray], np.ndarray], tuple]:
    """Map object units to pixels: foot at (size/2, base line), the requested height, inside the margin.

    Objects too wide for the frame are narrowed (never shrunk in height). Returns the mapping and the
    object's pixel box (left, top, right, bottom).
    """
    points = np.concatenate(drawing.polys)
    y_min, y_max = points[:, 1].min(), points[:, 1].max()
    half_extent = max(-points[:, 0].min(), points[:, 0].max(), 1e-6)
    base_px = size * (1.0 - BASE_FRACTION)
    target_h = min(height_frac * size, base_px - _MARGIN_PX)
    sy = target_h / max(y_max - y_min, 1e-6)
    sx = min(sy, (size / 2.0 - _MARGIN_PX) / half_extent)

    def to_pixels(p: np.ndarray) -> np.ndarray:
        return np.stack([size / 2.0 + sx * p[:, 0], base_px - sy * (p[:, 1] - y_min)], axis=1)

    box = (size / 2 + sx * points[:, 0].min(), base_px - target_h, size / 2 + sx * points[:, 0].max(), base_px)
    return to_pixels, box


def _rasterise(drawing: _Drawing, size: int, to_pixels: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Fill every polygon with 0/1 coverage at 4× and area-average: premultiplied RGBA float32 at ``size``."""
    ss = _SUPERSAMPLE
    canvas = np.zeros((size * ss, size * ss, 4), np.uint8)
    every = to_pixels(np.concatenate(drawing.polys))
    fixed = np.round((every * ss - 0.5) * 16.0).astype(np.int32)  # 4 fractional bits
    splits = np.cumsum([len(p) for p in drawing.polys])[:-1]
    colours = np.round(np.clip(np.array(drawing.colours), 0, 1) * 255.0).tolist()
    for points, (r, g, b) in zip(np.split(fixed, splits), colours):
        cv2.fillPoly(canvas, [points], (r, g, b, 255.0), cv2.LINE_8, 4)
    small = cv2.resize(canvas.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)  # exact box mean
    return small * np.float32(1.0 / 255.0)


def _finish(premul: np.ndarray, box: tuple, style: _Style, rng: np.random.Generator) -> np.ndarray:
    """Straight alpha, top-left light, grain, one connected shape, clear frame, bled colour."""
    size = premul.shape[0]
    alpha = premul[..., 3]
    rgb = premul[..., :3] / np.maximum(alpha, 1e-6)[..., None]
    left, top, right, bottom = box
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    u = (xx - (left + right) / 2) / max((right - left) / 2, 1.0)
    v = (yy - (top + bottom) / 2) / max((bottom - top) / 2, 1.0)
    gain = 1.0 + style.light * np.clip(-0.45 * u - 0.55 * v, -1.2, 1.2)
    noise = rng.standard_normal((size, size)).astype(np.float32)
    if style.grain_blur > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), style.grain_blur) * 1.6
    gain = gain * (1.0 + style.grain * noise)
    rgb = np.clip(rgb * gain[..., None], 0.0, 1.0)
    alpha = _largest_component(alpha)
    alpha[:FRAME_PX], alpha[-FRAME_PX:], alpha[:, :FRAME_PX], alpha[:, -FRAME_PX:] = 0, 0, 0, 0
    alpha[alpha < 0.5 / 255.0] = 0.0
    return np.concatenate([bleed_colour(rgb, alpha), alpha[..., None]], axis=2).astype(np.float32)


def _largest_component(alpha: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats((alpha > 0).astype(np.uint8), connectivity=8)
    if count <= 2:
        return alpha.copy()
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == keep, alpha, 0.0).astype(np.float32)


def bleed_colour(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB with every pixel of ``alpha`` == 0 given the colour of the nearest pixel with alpha > 0."""
    empty = alpha <= 0
    if not empty.any() or empty.all():
        return rgb.astype(np.float32, copy=True)
    _, labels = cv2.distanceTransformWithLabels(empty.astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(~empty)
    lookup = np.zeros(labels.max() + 1, np.int64)
    lookup[labels[ys, xs]] = ys * rgb.shape[1] + xs
    flat = rgb.reshape(-1, rgb.shape[2])
    out = flat[lookup[labels]].reshape(rgb.shape)
    out[~empty] = rgb[~empty]
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------------- public API
def _check_class(cls: str) -> None:
    if cls not in _GENERATORS:
        raise ScenegenError(f"unknown sprite class {cls!r}; choose one of: {', '.join(SPRITE_CLASSES)}")


def generate_sprite(cls: str, seed: int, size: int = 128) -> np.ndarray:
    """One procedural sprite of class ``cls``: float32 size×size×4, straight alpha, foot at the bottom centre."""
    _check_class(cls)
    if int(seed) < 0:
        raise ScenegenError(f"sprite seed must be >= 0, not {seed}")
    if int(size) < 16:
        raise ScenegenError(f"sprite size must be at least 16 pixels, not {size}")
    rng = np.random.default_rng([_CLASS_SALT[cls], int(seed)])
    drawing, style = _GENERATORS[cls](rng)
    drawing.rest_on_ground()
    to_pixels, box = _fit(drawing, int(size), style.height)
    return _finish(_rasterise(drawing, int(size), to_pixels), box, style, rng)


def held_out_sprites(cls: str, count: int = 16, size: int = 128, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """``count`` sprites (N×size×size×4) from seeds ``seed …``: by default disjoint from any training corpus."""
    return np.stack([generate_sprite(cls, seed + i, size) for i in range(count)])


def default_sprite_corpus_dir() -> Path:
    """``$SCENEGEN_CACHE/corpus/sprites`` when that variable is set, else ``./.cache/corpus/sprites``."""
    cache = os.environ.get("SCENEGEN_CACHE")
    return (Path(cache) if cache else Path.cwd() / ".cache") / "corpus" / "sprites"


def build_sprite_corpus(out_dir: str | os.PathLike[str], per_class: int = 220, size: int = 128,
                        seed: int = 0) -> dict[str, int]:
    """Write ``out_dir/<class>/<class>_<NNNN>.png`` (8-bit RGBA) for every class; returns counts per class.

    Training seeds are ``seed … seed + per_class - 1``. A ``corpus.json`` stamp makes a re-run with the same
    parameters (and generator version) return at once; the stamp is removed before a rebuild starts, so an
    interrupted build is never mistaken for a finished one.
    """
    if per_class < 1:
        raise ScenegenError(f"per_class must be at least 1, not {per_class}")
    if seed < 0 or (seed < HELD_OUT_SEED + HELD_OUT_SPAN and seed + per_class > HELD_OUT_SEED):
        raise ScenegenError(f"corpus seeds {seed}..{seed + per_class - 1} overlap the held-out seeds "
                            f"{HELD_OUT_SEED}..{HELD_OUT_SEED + HELD_OUT_SPAN - 1}; choose another seed")
    out = Path(out_dir)
    params = {"generator_version": GENERATOR_VERSION, "classes": list(SPRITE_CLASSES), "per_class": int(per_class),
              "size": int(size), "seed": int(seed)}
    stamp = out / "corpus.json"
    cached = _read_stamp(stamp)
    if cached is not None and cached.get("params") == params and _complete(out, per_class):
        return {cls: int(n) for cls, n in cached["counts"].items()}
    stamp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    for cls in SPRITE_CLASSES:
        folder = out / cls
        for i in range(per_class):
            save_png(folder / _sprite_name(cls, i), generate_sprite(cls, seed + i, size))
        _remove_stale(folder, cls, per_class)
        counts[cls] = per_class
    atomic_write_text(stamp, json.dumps({"params": params, "counts": counts}, indent=2, sort_keys=True) + "\n")
    return counts


def _sprite_name(cls: str, index: int) -> str:
    return f"{cls}_{index:04d}.png"


def _read_stamp(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("counts"), dict) else None


def _complete(out: Path, per_class: int) -> bool:
    return all((out / cls / _sprite_name(cls, i)).is_file() for cls in SPRITE_CLASSES for i in range(per_class))


def _remove_stale(folder: Path, cls: str, per_class: int) -> None:
    """Delete sprites left over from an earlier, larger corpus (the training reader globs the folder)."""
    pattern = re.compile(rf"^{re.escape(cls)}_(\d+)\.png$")
    for path in folder.glob(f"{cls}_*.png"):
        match = pattern.match(path.name)
        if match and int(match.group(1)) >= per_class:
            path.unlink()
