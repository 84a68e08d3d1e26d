"""Procedural, tileable training textures for ten material classes.

Every generator works on the n×n torus, so each image tiles seamlessly by construction:
noise is FFT-filtered white noise (periodic), Voronoi cells measure distance across the wrap,
brick/plank/tile layouts use integer counts per tile, blurs wrap around and drawn strokes are
repeated across the edges. ``generate_texture(cls, seed, size)`` is deterministic.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import cv2
import numpy as np

from ..imaging import gaussian_blur_wrap

GENERATOR_VERSION = 1

TEXTURE_CLASSES: tuple[str, ...] = (
    "brick",
    "cobblestone",
    "wood_planks",
    "bark",
    "grass",
    "gravel",
    "sand",
    "rock",
    "marble",
    "floor_tiles",
)

Color = Sequence[float]

# ----------------------------------------------------------------------------------------------
# Periodic building blocks
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _freqs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer spatial frequencies (cycles per tile) of an n×n rfft2 grid."""
    fy = (np.fft.fftfreq(n) * n).astype(np.float32)[:, None]
    fx = (np.fft.rfftfreq(n) * n).astype(np.float32)[None, :]
    return fy, fx


@lru_cache(maxsize=8)
def _coords(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only pixel-centre coordinates (y, x) of an n×n canvas."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def _noise(
    rng: np.random.Generator,
    n: int,
    lo: float,
    beta: float = 1.0,
    hi: float | None = None,
    elong: tuple[float, float] = (1.0, 1.0),
    count: int = 1,
) -> np.ndarray:
    """Periodic fractal noise with zero mean and unit std (random-phase spectral synthesis).

    ``lo`` is the largest feature frequency in cycles per tile (lower ones are removed),
    amplitude falls as f**-beta above it, ``hi`` adds a Gaussian roll-off, and ``elong``
    (ey, ex) stretches features along y / x. ``count`` > 1 returns a stack of fields.
    """
    fy, fx = _freqs(n)
    f2 = (fy * elong[0]) ** 2 + (fx * elong[1]) ** 2
    f2[0, 0] = 1.0
    amp = f2 ** np.float32(-0.5 * beta)
    amp *= 1.0 - np.exp(f2 * np.float32(-1.0 / (lo * lo)))
    if hi is not None:
        amp *= np.exp(f2 * np.float32(-1.0 / (hi * hi)))
    amp[0, 0] = 0.0
    shape = (count, n, n // 2 + 1)
    # Uniform real/imaginary parts: cheaper than normals, and the sum over many
    # frequencies is Gaussian anyway.
    raw = rng.random((2,) + shape, dtype=np.float32)
    spec = np.empty(shape, np.complex64)
    spec.real = (raw[0] - 0.5) * amp
    spec.imag = (raw[1] - 0.5) * amp
    import scipy.fft as sfft  # deferred (~0.3 s): only corpus generation needs it

    out = sfft.irfft2(spec, s=(n, n), axes=(-2, -1), workers=1)
    out *= 1.0 / (np.sqrt(np.mean(np.square(out), axis=(-2, -1), keepdims=True)) + 1e-12)
    return out[0] if count == 1 else out


def _worley(
    rng: np.random.Generator,
    n: int,
    cells_y: int,
    cells_x: int,
    jitter: float = 0.9,
    warp: np.ndarray | None = None,
    points: np.ndarray | None = None,
    offsets: bool = False,
) -> tuple[np.ndarray, ...]:
    """Periodic jittered-grid Voronoi on the n×n torus.

    Returns (f1, f2, ids): pixel distances to the nearest and second-nearest site and the
    nearest site's index ``row * cells_x + col``; with ``offsets`` also the pixel's (dy, dx)
    from its site. ``warp`` (2×n×n, pixels) bends the cells; ``points`` (2×cells_y×cells_x,
    in cell units) overrides the random sites.
    """
    yy, xx = _coords(n)
    if warp is not None:
        yy, xx = yy + warp[0], xx + warp[1]
    sy, sx = n / cells_y, n / cells_x
    if points is None:
        points = 0.5 + (rng.random((2, cells_y, cells_x), dtype=np.float32) - 0.5) * jitter
        # Shift the grid by a random fraction of a cell: jittered sites are sparser near grid
        # lines, which would otherwise always run along the image seam.
        shift = rng.random(2)
        yy, xx = yy + np.float32(shift[0] * sy), xx + np.float32(shift[1] * sx)
    gy, gx = yy * np.float32(1.0 / sy), xx * np.float32(1.0 / sx)
    cy, cx = np.floor(gy), np.floor(gx)
    fy, fx = gy - cy, gx - cx
    # Sites padded by one cell on every side (wrapped), so neighbours need no modulo per pixel.
    wide = cells_x + 2
    py = np.pad(points[0], 1, mode="wrap").ravel().astype(np.float32)
    px = np.pad(points[1], 1, mode="wrap").ravel().astype(np.float32)
    table = np.pad(np.arange(cells_y * cells_x).reshape(cells_y, cells_x), 1, mode="wrap").ravel()
    centre = ((cy.astype(np.int32) % cells_y + 1) * wide + cx.astype(np.int32) % cells_x + 1).astype(np.int32)
    f1 = np.full((n, n), np.inf, np.float32)
    f2 = np.full((n, n), np.inf, np.float32)
    best = centre.copy()
    vy = np.zeros((n, n), np.float32) if offsets else None
    vx = np.zeros((n, n), np.float32) if offsets else None
    for oy in (-1, 0, 1):
        for ox in (-1, 0, 1):
            cid = centre + (oy * wide + ox)
            dy = (np.take(py, cid) + (oy - fy)) * np.float32(sy)
            dx = (np.take(px, cid) + (ox - fx)) * np.float32(sx)
            d = dy * dy + dx * dx
            closer = d < f1
            np.minimum(f2, np.maximum(f1, d), out=f2)
            np.minimum(f1, d, out=f1)
            np.copyto(best, cid, where=closer)
            if offsets:
                np.copyto(vy, dy, where=closer)
                np.copyto(vx, dx, where=closer)
    ids = np.take(table, best)
    if offsets:
        return np.sqrt(f1), np.sqrt(f2), ids, -vy, -vx
    return np.sqrt(f1), np.sqrt(f2), ids


def _bond(
    n: int,
    rows: int,
    cols: int,
    shift: float,
    corner: float = 0.0,
    warp: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Running-bond grid (bricks, setts, tiles); row r is shifted by ``r * shift`` elements.

    ``rows * shift`` must be an integer for the layout to tile. The grid is offset by half an
    element so no joint lies on the image seam. Returns (edge distance in px with corners
    rounded by ``corner``, element id, local y, local x).
    """
    yy, xx = _coords(n)
    if warp is not None:
        yy, xx = yy + warp[0], xx + warp[1]
    bh, bw = n / rows, n / cols
    gy = (yy - 0.5 * bh) / bh
    r = np.floor(gy)
    ly = (gy - r) * np.float32(bh)
    r = r.astype(np.int64) % rows
    gx = (xx - 0.25 * bw) / bw - r.astype(np.float32) * np.float32(shift)
    c = np.floor(gx)
    lx = (gx - c) * np.float32(bw)
    c = c.astype(np.int64) % cols
    dy = np.minimum(ly, bh - ly)
    dx = np.minimum(lx, bw - lx)
    dist = np.minimum(dx, dy)
    if corner > 0:
        qy, qx = np.maximum(corner - dy, 0.0), np.maximum(corner - dx, 0.0)
        dist = np.where((qy > 0) & (qx > 0), corner - np.sqrt(qy * qy + qx * qx), dist)
    return dist, r * cols + c, ly, lx


def _torus_dist(n: int, cy: float, cx: float, sy: float = 1.0, sx: float = 1.0) -> np.ndarray:
    """Distance from (cy, cx) on the n×n torus, with axes scaled by (sy, sx)."""
    yy, xx = _coords(n)
    dy = (yy - cy + 0.5 * n) % n - 0.5 * n
    dx = (xx - cx + 0.5 * n) % n - 0.5 * n
    return np.sqrt((dy * sy) ** 2 + (dx * sx) ** 2)


def _roll_grad(height: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient (d/dy, d/dx) with wrap-around."""
    gy = (np.roll(height, -1, 0) - np.roll(height, 1, 0)) * 0.5
    gx = (np.roll(height, -1, 1) - np.roll(height, 1, 1)) * 0.5
    return gy, gx


_LIGHT = np.array([-0.45, -0.55, 0.70], np.float32)  # (y, x, z): from the upper left
_LIGHT /= np.linalg.norm(_LIGHT)


def _shade(albedo: np.ndarray, height: np.ndarray, strength: float = 1.0, ambient: float = 0.45) -> np.ndarray:
    """Bake soft directional light from the upper left into ``albedo`` using a height map (px)."""
    gy, gx = _roll_grad(height * strength)
    ndl = (-gy * _LIGHT[0] - gx * _LIGHT[1] + _LIGHT[2]) / np.sqrt(1.0 + gy * gy + gx * gx)
    lam = np.clip(ndl / _LIGHT[2], 0.0, 1.5)
    return albedo * (ambient + (1.0 - ambient) * lam)[..., None]


def _cavity(height: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Ambient-occlusion-like factor: < 1 where the surface lies below its surroundings."""
    hollow = np.maximum(gaussian_blur_wrap(height, sigma) - height, 0.0)
    return (1.0 / (1.0 + amount * hollow)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Colour helpers
# ----------------------------------------------------------------------------------------------


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite smoothstep from e0 to e1 (e0 > e1 gives a falling edge)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rgb(color: Color | np.ndarray) -> np.ndarray:
    return np.asarray(color, np.float32)


def _mix(a: Color | np.ndarray, b: Color | np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel lerp between colours or images ``a`` and ``b`` by field ``t`` (H×W)."""
    a, b = _rgb(a), _rgb(b)
    return a + (b - a) * t[..., None]


def _pick(rng: np.random.Generator, palette: Sequence[Color], spread: float = 0.05) -> np.ndarray:
    """One palette colour with a small random brightness and hue shift."""
    base = _rgb(palette[int(rng.integers(len(palette)))])
    jitter = np.exp(rng.normal(0.0, spread) + rng.normal(0.0, 0.3 * spread, 3))
    return np.clip(base * jitter, 0.0, 1.0).astype(np.float32)


def _tints(rng: np.random.Generator, count: int, value: float = 0.1, hue: float = 0.03) -> np.ndarray:
    """Per-element colour multipliers (count×3): a brightness part and a small hue part."""
    return np.exp(rng.normal(0.0, value, (count, 1)) + rng.normal(0.0, hue, (count, 3))).astype(np.float32)


def _grey(color: np.ndarray, amount: float) -> np.ndarray:
    """Desaturate an image/colour towards its mean by ``amount``."""
    mean = color.mean(axis=-1, keepdims=True)
    return color + (mean - color) * amount


def _grime(rng: np.random.Generator, img: np.ndarray, amount: float, color: Color = (0.16, 0.14, 0.12)) -> np.ndarray:
    """Blotchy large-scale dirt/weathering."""
    if amount <= 0:
        return img
    blotch = _smooth(-0.3, 1.6, _noise(rng, img.shape[0], lo=2.0, beta=1.4))
    return _mix(img, color, blotch * amount)


def _moss(rng: np.random.Generator, img: np.ndarray, where: np.ndarray, amount: float) -> np.ndarray:
    """Green moss/lichen growing where ``where`` (0..1) is high."""
    n = img.shape[0]
    patch = _smooth(0.2, 1.2, _noise(rng, n, lo=3.0, beta=1.2) + 1.2 * where - 0.6)
    fine = _noise(rng, n, lo=40.0, beta=0.5)
    color = _mix((0.16, 0.24, 0.06), (0.36, 0.46, 0.14), _smooth(-1.5, 1.5, fine))
    return _mix(img, color, np.clip(patch * amount * (0.75 + 0.25 * fine), 0.0, 1.0))


def _speckle(rng: np.random.Generator, n: int, amount: float) -> np.ndarray:
    """Per-pixel multiplicative grain (crisp, uncorrelated), H×W×1."""
    return (1.0 + amount * rng.standard_normal((n, n, 1), dtype=np.float32)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Brick
# ----------------------------------------------------------------------------------------------

_BRICK = [
    (0.58, 0.24, 0.17),  # red
    (0.45, 0.17, 0.13),  # dark red
    (0.70, 0.40, 0.24),  # orange
    (0.46, 0.31, 0.22),  # brown
    (0.80, 0.68, 0.48),  # yellow / London stock
    (0.52, 0.51, 0.49),  # grey
    (0.84, 0.82, 0.77),  # whitewashed
    (0.26, 0.22, 0.20),  # blackened
    (0.64, 0.34, 0.26),  # salmon
]
_MORTAR = [(0.72, 0.70, 0.66), (0.55, 0.54, 0.52), (0.80, 0.76, 0.66), (0.30, 0.29, 0.28), (0.88, 0.87, 0.84)]


def _gen_brick(rng: np.random.Generator, n: int) -> np.ndarray:
    """Running-bond brick wall: random brick size, mortar, palette, per-brick shade, wear, moss."""
    rows = 2 * int(rng.integers(3, 9))
    cols = max(1, int(round(rows / rng.uniform(1.7, 3.3))))
    bh = n / rows
    mortar = bh * rng.uniform(0.06, 0.2)
    warp = _noise(rng, n, lo=4.0, beta=2.0, count=2) * rng.uniform(0.3, 1.5) * n / 256
    dist, ids, ly, lx = _bond(n, rows, cols, 0.5, corner=rng.uniform(0.5, 3.0) * n / 256, warp=warp)
    chip = _noise(rng, n, lo=16.0, beta=1.6)
    dist = dist + chip * min(rng.uniform(0.4, 1.2) * n / 256, 0.3 * mortar + 0.2)
    brick_mask = _smooth(0.5 * mortar - 0.5, 0.5 * mortar + 0.7, dist)

    base = _pick(rng, _BRICK)
    tints = _tints(rng, rows * cols, value=rng.uniform(0.05, 0.16), hue=0.02)
    if rng.random() < 0.4:  # a second brick colour mixed in
        other = _pick(rng, _BRICK) / np.maximum(base, 1e-3)
        tints = np.where(rng.random((rows * cols, 1)) < rng.uniform(0.1, 0.4), tints * other, tints)
    mid = _noise(rng, n, lo=6.0, beta=1.6)
    fine = _noise(rng, n, lo=40.0, beta=1.0)
    pits = _smooth(2.0, 2.8, _noise(rng, n, lo=50.0, beta=0.6)) * rng.uniform(0.3, 1.0)
    burn = _smooth(0.8, 2.2, _noise(rng, n, lo=10.0, beta=1.4))
    brick = base * tints[ids] * (1.0 + 0.1 * mid + 0.04 * fine - 0.4 * pits)[..., None]
    brick = brick * (1.0 - 0.35 * burn * rng.uniform(0.2, 1.0))[..., None]

    mortar_col = _pick(rng, _MORTAR, 0.04)
    mortar_img = mortar_col * (1.0 + 0.12 * _noise(rng, n, lo=40.0, beta=0.6))[..., None]
    img = _mix(mortar_img, brick, brick_mask)

    height = brick_mask * (1.5 + 0.6 * _smooth(0.0, 3.0, dist)) + 0.1 * fine + 0.5 * mid - pits
    img = _grime(rng, img, rng.uniform(0.0, 0.45))
    if rng.random() < 0.2:
        img = _moss(rng, img, 1.0 - brick_mask, rng.uniform(0.4, 0.9))
    img = img * _speckle(rng, n, 0.05)
    img = _shade(img, height, strength=rng.uniform(0.8, 1.4)) * _cavity(height, 1.5, 0.6)[..., None]
    return img


# ----------------------------------------------------------------------------------------------
# Cobblestone
# ----------------------------------------------------------------------------------------------

_STONE = [
    (0.50, 0.49, 0.47),  # grey granite
    (0.42, 0.38, 0.34),  # brown-grey
    (0.55, 0.43, 0.36),  # reddish
    (0.40, 0.43, 0.47),  # bluish basalt
    (0.66, 0.60, 0.50),  # sandstone
    (0.30, 0.29, 0.28),  # dark
]
_GAP = [(0.20, 0.17, 0.13), (0.42, 0.38, 0.30), (0.15, 0.15, 0.14), (0.55, 0.52, 0.46)]


def _gen_cobblestone(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cobbled road: rounded stones (or square setts in courses) with earthy joints, moss, wear."""
    s = n / 256
    if rng.random() < 0.35:  # square setts laid in courses
        rows = int(rng.integers(4, 8))
        cols = max(2, int(round(2 * rows / rng.uniform(1.0, 1.5))))
        size = n / (2 * rows)
        warp = _noise(rng, n, lo=4.0, beta=2.0, count=2) * size * rng.uniform(0.03, 0.08)
        edge, ids, _, _ = _bond(n, 2 * rows, cols, 0.5, corner=size * rng.uniform(0.3, 0.5), warp=warp)
        count = 2 * rows * cols
    else:  # rounded cobbles
        cells = int(rng.integers(5, 10))
        size = n / cells
        warp = _noise(rng, n, lo=3.0, beta=2.2, count=2) * size * rng.uniform(0.04, 0.1)
        f1, f2, ids = _worley(rng, n, cells, cells, jitter=rng.uniform(0.5, 0.85), warp=warp)
        edge = 0.5 * (f2 - f1)
        count = cells * cells
    edge = edge + _noise(rng, n, lo=10.0, beta=1.8) * 0.6 * s
    gap = size * rng.uniform(0.05, 0.12)
    e = np.clip((edge - 0.5 * gap) / (0.45 * size), 0.0, 1.0)
    dome = 1.0 - (1.0 - e) ** 2
    stone_mask = _smooth(0.5 * gap - 0.7, 0.5 * gap + 0.7, edge)

    base = _pick(rng, _STONE)
    tints = _tints(rng, count, value=rng.uniform(0.08, 0.18), hue=0.015)
    mid, grain = _noise(rng, n, lo=6.0, beta=1.8), _noise(rng, n, lo=30.0, beta=0.9)
    stone = base * tints[ids] * (1.0 + 0.1 * mid + 0.05 * grain)[..., None]
    stone = stone * (0.85 + 0.25 * dome)[..., None]  # worn, lighter tops
    gap_col = _pick(rng, _GAP)
    gap_img = gap_col * (1.0 + 0.3 * _noise(rng, n, lo=40.0, beta=0.8))[..., None]
    img = _mix(gap_img, stone, stone_mask)

    height = stone_mask * dome * size * 0.3 + 0.6 * mid * s + 0.1 * grain
    if rng.random() < 0.3:
        img = _moss(rng, img, 1.0 - stone_mask, rng.uniform(0.4, 0.9))
    img = _grime(rng, img, rng.uniform(0.0, 0.35))
    img = img * _speckle(rng, n, 0.05)
    img = _shade(img, height, strength=1.0, ambient=0.4) * _cavity(height, 2.5 * s, 0.3)[..., None]
    return img


# ----------------------------------------------------------------------------------------------
# Wood planks
# ----------------------------------------------------------------------------------------------

_WOOD = [
    ((0.78, 0.58, 0.36), 0.62),  # oak
    ((0.86, 0.70, 0.47), 0.70),  # pine / birch
    ((0.45, 0.27, 0.16), 0.55),  # walnut
    ((0.62, 0.33, 0.20), 0.62),  # cherry / mahogany
    ((0.58, 0.55, 0.50), 0.72),  # weathered grey
    ((0.30, 0.19, 0.12), 0.55),  # dark stained
    ((0.70, 0.48, 0.30), 0.60),  # teak
]


def _gen_wood_planks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Wooden floor: plank rows with staggered butt joints, ring grain, fibres, knots, gaps."""
    s = n / 256
    planks = int(rng.integers(4, 11))
    ph = n / planks
    yy, xx = _coords(n)
    gy = ((yy - 0.5 * ph) % n) / ph
    row = np.floor(gy)
    ly = (gy - row) * np.float32(ph)
    p = row.astype(np.int64)

    k = int(rng.integers(1, 4))
    joints = np.sort(rng.uniform(4.0, n - 4.0, (planks, k)), axis=1).astype(np.float32)
    jx = joints[p]  # n×n×k
    seg = (xx[..., None] >= jx).sum(-1) % k
    ids = p * k + seg
    dj = np.abs(xx[..., None] - jx)
    edge = np.minimum(np.minimum(ly, ph - ly), np.minimum(dj, n - dj).min(-1))

    (base, dark), finish = _WOOD[int(rng.integers(len(_WOOD)))], rng.random()
    base = _pick(rng, [base], 0.06)
    count = planks * k
    spacing = (rng.uniform(2.5, 8.0, count) * s).astype(np.float32)[ids]
    offset = rng.uniform(0.0, 50.0, count).astype(np.float32)[ids]
    warps = _noise(rng, n, lo=1.0, beta=2.0, hi=5.0, elong=(1.0, rng.uniform(3.0, 6.0)), count=3)
    warp = np.take_along_axis(warps, (ids % 3)[None], 0)[0]
    wiggle = _noise(rng, n, lo=6.0, beta=1.5, elong=(1.0, 3.0))
    yw = ly + warp * rng.uniform(3.0, 12.0) * s + wiggle * 0.6 * s

    core = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(0, 3))):  # knots: grain flows around a dark core
        r = rng.uniform(2.5, 6.0) * s
        d = _torus_dist(n, rng.uniform(0, n), rng.uniform(0, n), 1.0, rng.uniform(0.35, 0.6))
        yw = yw + 3.0 * r * np.exp(-((d / (3.0 * r)) ** 2)) + 0.8 * d * _smooth(1.5 * r, 0.0, d)
        core = np.maximum(core, _smooth(r, 0.4 * r, d))

    phase = yw / spacing + offset
    ring = phase - np.floor(phase)
    late = _smooth(0.45, 0.85, ring) * _smooth(1.0, 0.9, ring)
    fibre = _noise(rng, n, lo=40.0, beta=0.9, elong=(1.0, 12.0))
    pores = _smooth(1.8, 2.8, _noise(rng, n, lo=70.0, beta=0.5, elong=(1.0, 5.0)))
    figure = _noise(rng, n, lo=2.0, beta=1.8, elong=(1.0, 4.0))
    shade = rng.uniform(0.6, 1.0) * late + 0.12 * fibre + 0.3 * pores + 0.15 * figure + 0.8 * core
    tints = _tints(rng, count, value=rng.uniform(0.05, 0.13), hue=0.025)
    img = base * tints[ids] * (1.0 - (1.0 - dark) * np.clip(shade, -0.5, 1.3))[..., None]
    if finish < 0.2:  # weathered: grey, fibres stand out
        img = _grey(img, 0.6) * (1.0 + 0.1 * fibre)[..., None]

    gap = rng.uniform(0.3, 1.0) * s
    groove = _smooth(gap - 0.4, gap + 0.9 * s, edge)
    img = img * (0.2 + 0.8 * groove)[..., None]
    height = groove * 1.5 + 0.1 * fibre - 0.15 * late
    img = _grime(rng, img, rng.uniform(0.0, 0.3), (0.2, 0.15, 0.1))
    img = img * _speckle(rng, n, 0.025)
    img = _shade(img, height, strength=1.0, ambient=0.55)
    if rng.random() < 0.5:
        img = img.transpose(1, 0, 2)
    return img


# ----------------------------------------------------------------------------------------------
# Bark
# ----------------------------------------------------------------------------------------------

_BARK = [
    (0.36, 0.30, 0.24),  # grey-brown
    (0.26, 0.19, 0.14),  # dark brown
    (0.48, 0.30, 0.20),  # reddish pine
    (0.45, 0.44, 0.40),  # grey
    (0.38, 0.35, 0.25),  # olive
]


def _gen_bark(rng: np.random.Generator, n: int) -> np.ndarray:
    """Tree bark: long ridges split by fissures (oak), broken into plates (pine), or birch."""
    if rng.random() < 0.15:
        return _birch(rng, n)
    s = n / 256
    plated = rng.random() < 0.45
    fibres = _noise(rng, n, lo=30.0, beta=1.0, elong=(6.0, 1.0))
    mid = _noise(rng, n, lo=4.0, beta=1.8, elong=(3.0, 1.0))
    lo = rng.uniform(3.0, 5.0) if plated else rng.uniform(4.5, 8.0)
    ridges = _noise(rng, n, lo=lo, beta=2.0, elong=(rng.uniform(3.0, 7.0), 1.0))
    ridges = ridges + 0.15 * _noise(rng, n, lo=12.0, beta=1.5, elong=(2.0, 1.0))
    width = rng.uniform(0.25, 0.45) if plated else rng.uniform(0.35, 0.8)
    plate = _smooth(0.05, width, np.abs(ridges))
    breaks = _smooth(1.6, 2.4, _noise(rng, n, lo=4.0 if plated else 6.0, beta=1.8, elong=(1.0, 2.5)))
    plate = plate * (1.0 - (0.65 if plated else 0.45) * breaks)
    if plated:  # flaky layered plates
        flakes = _noise(rng, n, lo=6.0, beta=1.8, elong=(1.0, 2.0)) * 2.0
        plate = plate * (0.85 + 0.15 * (flakes - np.floor(flakes)))
    height = (6.0 * plate + 1.0 * mid + 0.5 * fibres) * s
    base = _pick(rng, _BARK, 0.07)
    img = base * (1.0 + 0.12 * mid + 0.12 * fibres)[..., None]
    img = _mix(img * 0.3, img * (1.0 + 0.15 * plate)[..., None], plate)
    if rng.random() < 0.3:
        img = _moss(rng, img, 1.0 - plate, rng.uniform(0.4, 1.0))
    if rng.random() < 0.3:  # grey-green lichen blotches on the ridges
        lichen = _smooth(1.0, 1.8, _noise(rng, n, lo=8.0, beta=1.5)) * plate
        img = _mix(img, (0.58, 0.62, 0.50), lichen * 0.7)
    img = img * _speckle(rng, n, 0.06)
    return _shade(img, height, strength=1.0, ambient=0.4) * _cavity(height, 2.5 * s, 0.4)[..., None]


def _birch(rng: np.random.Generator, n: int) -> np.ndarray:
    """White birch: pale papery bark with dark horizontal lenticels and black scars."""
    base = _pick(rng, [(0.88, 0.87, 0.82), (0.82, 0.80, 0.74), (0.92, 0.90, 0.86)], 0.04)
    mottle = _noise(rng, n, lo=3.0, beta=1.8)
    fine = _noise(rng, n, lo=30.0, beta=1.0, elong=(1.0, 4.0))
    img = base * (1.0 + 0.05 * mottle + 0.04 * fine)[..., None]
    dash = _noise(rng, n, lo=25.0, beta=1.3, elong=(1.0, 10.0))
    lenticel = _smooth(1.7, 2.4, dash)
    scars = _smooth(1.3, 1.9, _noise(rng, n, lo=4.0, beta=1.6, elong=(1.0, 3.0))
                    + 0.3 * _noise(rng, n, lo=20.0, beta=1.0))
    img = _mix(img, (0.10, 0.09, 0.08), np.clip(lenticel * 0.9 + scars, 0.0, 1.0))
    peel = _smooth(1.2, 1.6, _noise(rng, n, lo=6.0, beta=1.6, elong=(1.0, 4.0)))
    img = _mix(img, (0.78, 0.58, 0.44), peel * 0.5)
    height = -1.2 * lenticel - 2.0 * scars + 0.5 * fine + 0.8 * peel
    img = img * _speckle(rng, n, 0.03)
    return _shade(img, height, strength=1.0, ambient=0.6)


# ----------------------------------------------------------------------------------------------
# Grass
# ----------------------------------------------------------------------------------------------

_GRASS = [  # (deep colour, tip colour)
    ((0.06, 0.20, 0.03), (0.42, 0.68, 0.18)),  # lush
    ((0.04, 0.14, 0.05), (0.28, 0.52, 0.16)),  # deep green
    ((0.10, 0.18, 0.05), (0.58, 0.66, 0.24)),  # yellow-green
    ((0.20, 0.18, 0.07), (0.78, 0.72, 0.42)),  # dry
    ((0.05, 0.16, 0.10), (0.34, 0.58, 0.36)),  # blue-green
]
_DRY = (0.74, 0.66, 0.38)
_SOIL = [(0.16, 0.12, 0.08), (0.22, 0.18, 0.12), (0.10, 0.12, 0.06)]


def _blade_polys(rng: np.random.Generator, n: int, count: int, length: float, spread: float) -> np.ndarray:
    """count×3×2 (x, y) points of slightly bent blades in pixel units."""
    base = rng.uniform(0.0, n, (count, 2))
    angle = rng.uniform(0, 2 * np.pi) + rng.normal(0.0, spread, count)
    bend = rng.normal(0.0, 0.35, count)
    ln = length * np.exp(rng.normal(0.0, 0.35, count))
    d1 = np.stack([np.cos(angle), np.sin(angle)], -1) * (0.5 * ln)[:, None]
    d2 = np.stack([np.cos(angle + bend), np.sin(angle + bend)], -1) * (0.5 * ln)[:, None]
    return np.stack([base, base + d1, base + d1 + d2], 1)


_PAD = 4  # drawing margin, so anti-aliasing is never clipped at the tile edge


def _draw_wrapped(canvas: np.ndarray, polys: np.ndarray, color: tuple[float, ...], thickness: int) -> None:
    """Draw open polylines with anti-aliasing on a canvas padded by ``_PAD`` pixels per side,
    repeating every stroke across the tile edges so that the central n×n crop wraps exactly."""
    n = canvas.shape[0] - 2 * _PAD
    parts = []
    for oy in (-n, 0, n):
        for ox in (-n, 0, n):
            shifted = polys + np.array([ox + _PAD, oy + _PAD], np.float64)
            keep = (shifted.max(1) >= -2).all(1) & (shifted.min(1) <= n + 2 * _PAD + 2).all(1)
            parts.append(shifted[keep])
    pts = np.round(np.concatenate(parts) * 16).astype(np.int32)
    cv2.polylines(canvas, list(pts), False, color, thickness, cv2.LINE_AA, 4)


def _gen_grass(rng: np.random.Generator, n: int) -> np.ndarray:
    """Top-down lawn/meadow: thousands of anti-aliased blades in depth layers over soil."""
    s = n / 256
    deep, tip = _GRASS[int(rng.integers(len(_GRASS)))]
    deep, tip = _pick(rng, [deep], 0.08), _pick(rng, [tip], 0.06)
    density = rng.uniform(0.035, 0.065)
    length = rng.uniform(7.0, 16.0) * s
    spread = rng.uniform(0.5, 2.0)
    layers, hues = 8, 3
    polys = _blade_polys(rng, n, int(density * n * n * (1.3 if s < 0.8 else 1.0)), length, spread)
    groups = np.array_split(polys, layers * hues)
    canvas = np.zeros((n + 2 * _PAD, n + 2 * _PAD, 3), np.float32)
    for i, group in enumerate(groups):
        layer, hue = divmod(i, hues)
        value = (layer + 1) / layers
        _draw_wrapped(canvas, group, (value, hue / (hues - 1), 1.0), 2 if layer < 3 and s > 0.6 else 1)
    canvas = canvas[_PAD:-_PAD, _PAD:-_PAD]
    value, hue, cover = canvas[..., 0], canvas[..., 1], np.clip(canvas[..., 2], 0.0, 1.0)

    dry = _smooth(-0.4, 1.6, _noise(rng, n, lo=2.5, beta=1.3)) * rng.uniform(0.0, 0.8)
    blade = _mix(deep, tip, np.clip(value, 0.0, 1.0) ** 0.8)
    blade = _mix(blade, _DRY * (0.5 + 0.6 * value)[..., None], np.clip(dry + 0.25 * hue - 0.1, 0.0, 1.0))
    blade = blade * (1.0 + 0.12 * (hue - 0.5))[..., None]
    soil = _pick(rng, _SOIL) * (1.0 + 0.3 * _noise(rng, n, lo=30.0, beta=0.6))[..., None]
    img = _mix(soil, blade, cover)
    clumps = _noise(rng, n, lo=4.0, beta=1.2)
    img = img * (1.0 + 0.12 * clumps)[..., None]
    if rng.random() < 0.25:
        img = _flowers(rng, img)
    return img * _speckle(rng, n, 0.03)


def _flowers(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Sprinkle tiny white/yellow/violet flowers (2×2 px dots, wrapped)."""
    n = img.shape[0]
    color = _pick(rng, [(0.95, 0.95, 0.9), (0.95, 0.85, 0.2), (0.65, 0.5, 0.85)], 0.03)
    count = int(rng.integers(15, 80) * (n / 256) ** 2)
    ys, xs = rng.integers(0, n, count), rng.integers(0, n, count)
    out = img.copy()
    for dy in (0, 1):
        for dx in (0, 1):
            out[(ys + dy) % n, (xs + dx) % n] = color * (0.8 + 0.2 * (dy + dx))
    return out


# ----------------------------------------------------------------------------------------------
# Gravel
# ----------------------------------------------------------------------------------------------

_GRAVEL = [  # colour families pebbles are drawn from
    [(0.55, 0.54, 0.52), (0.40, 0.39, 0.38), (0.68, 0.67, 0.64), (0.30, 0.30, 0.30)],  # grey
    [(0.66, 0.58, 0.46), (0.52, 0.44, 0.34), (0.75, 0.70, 0.60), (0.45, 0.40, 0.36)],  # river
    [(0.62, 0.46, 0.36), (0.50, 0.50, 0.48), (0.76, 0.70, 0.58), (0.34, 0.30, 0.30)],  # mixed
    [(0.22, 0.22, 0.23), (0.30, 0.29, 0.28), (0.16, 0.16, 0.17)],  # basalt
    [(0.86, 0.85, 0.82), (0.78, 0.77, 0.74), (0.70, 0.68, 0.65)],  # white chips
]


def _gen_gravel(rng: np.random.Generator, n: int) -> np.ndarray:
    """Loose gravel: rounded pebbles of mixed colours and sizes with shadowed voids between."""
    s = n / 256
    family = _GRAVEL[int(rng.integers(len(_GRAVEL)))]
    colors = _grey(np.array([_pick(rng, family, 0.1) for _ in range(8)], np.float32), 0.5)
    height = np.zeros((n, n), np.float32)
    albedo = np.zeros((n, n, 3), np.float32)
    dome = np.zeros((n, n), np.float32)
    cells = int(rng.integers(12, 22))
    layers = [cells, max(3, int(cells * rng.uniform(0.35, 0.55)))] if rng.random() < 0.7 else [cells]
    for level, count in enumerate(layers):  # a bed of small pebbles, then larger ones on top
        size = n / count
        warp = _noise(rng, n, lo=5.0, beta=2.0, count=2) * size * 0.15
        f1, f2, ids = _worley(rng, n, count, count, jitter=1.0 if level == 0 else 0.6, warp=warp)
        k = count * count
        radius = (size * rng.uniform(0.45, 0.8, k)).astype(np.float32)
        if level:
            radius *= (rng.random(k) < 0.5) * 0.7
        edge = np.minimum(0.5 * (f2 - f1) - 0.04 * size, radius[ids] - f1)
        shape = np.sqrt(np.clip(edge / (0.4 * size), 0.0, 1.0))
        top = shape * size * 0.4 + level * 0.25 * cells / count * size
        on = _smooth(0.0, 0.15, shape) * (top > height)
        col = colors[rng.integers(0, 8, k)] * _tints(rng, k, 0.12, 0.01)
        albedo = _mix(albedo, col[ids], on)
        height = np.where(on > 0, np.maximum(height, top), height)
        dome = np.maximum(dome * (1.0 - on), shape * on)

    mid, grain = _noise(rng, n, lo=15.0, beta=1.5), _noise(rng, n, lo=40.0, beta=0.8)
    albedo = albedo * (1.0 + 0.08 * mid + 0.05 * grain)[..., None] * (0.85 + 0.25 * dome)[..., None]
    dirt = _pick(rng, [(0.20, 0.17, 0.14), (0.14, 0.14, 0.14), (0.26, 0.22, 0.17)])
    img = _mix(dirt * (1.0 + 0.4 * grain)[..., None], albedo, _smooth(0.0, 0.2, dome))
    img = img * _speckle(rng, n, 0.06)
    height = height + 0.4 * mid * s + 0.1 * grain
    return _shade(img, height, strength=1.2, ambient=0.35) * _cavity(height, 2.0 * s, 0.25)[..., None]


# ----------------------------------------------------------------------------------------------
# Sand
# ----------------------------------------------------------------------------------------------

_SAND = [
    (0.86, 0.76, 0.57),  # beach
    (0.82, 0.64, 0.38),  # golden
    (0.92, 0.90, 0.84),  # white
    (0.78, 0.47, 0.28),  # red desert
    (0.36, 0.35, 0.34),  # volcanic
    (0.60, 0.51, 0.38),  # wet
]


def _gen_sand(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sand: per-pixel grains of several minerals, wind ripples, colour patches, shell bits."""
    s = n / 256
    base = _pick(rng, _SAND, 0.05)
    patches = _noise(rng, n, lo=2.0, beta=2.5)
    mid = _noise(rng, n, lo=3.0, beta=2.2)
    fine = _noise(rng, n, lo=30.0, beta=1.0)
    height = 4.0 * patches * s + 0.25 * fine
    if rng.random() < 0.75:  # wind ripples; an integer wave vector keeps them periodic
        k = rng.uniform(7.0, 16.0)
        ang = rng.uniform(0, np.pi)
        ky, kx = int(round(k * np.sin(ang))), int(round(k * np.cos(ang)))
        yy, xx = _coords(n)
        phase = (ky * yy + kx * xx) / n + rng.uniform(0.1, 0.3) * mid + 0.02 * fine + rng.random()
        ripple = phase - np.floor(phase)
        crest = rng.uniform(0.65, 0.85)
        profile = np.where(ripple < crest, ripple / crest, (1.0 - ripple) / (1.0 - crest))
        height = height + profile * rng.uniform(3.0, 6.0) * s * _smooth(-2.0, 0.0, patches + 0.5)
    img = base * (1.0 + 0.07 * patches + 0.04 * fine)[..., None]
    grains = rng.random((n, n), dtype=np.float32)
    img = _mix(img, base * 0.6, (grains < 0.03).astype(np.float32))
    odd = _pick(rng, [(0.95, 0.93, 0.88), (0.55, 0.30, 0.20), (0.20, 0.20, 0.20)])
    img = _mix(img, odd, (grains > 0.98).astype(np.float32) * 0.7)
    if rng.random() < 0.3:  # shell and pebble bits
        bits = _smooth(2.4, 2.9, _noise(rng, n, lo=50.0, beta=0.6))
        img = _mix(img, (0.93, 0.90, 0.84), bits)
        height = height + 1.5 * bits
    img = img * _speckle(rng, n, 0.07)
    return _shade(img, height, strength=1.0, ambient=0.45)


# ----------------------------------------------------------------------------------------------
# Rock
# ----------------------------------------------------------------------------------------------

_ROCK = [
    ((0.52, 0.51, 0.50), (0.36, 0.35, 0.35)),  # grey granite
    ((0.72, 0.63, 0.50), (0.58, 0.47, 0.35)),  # sandstone
    ((0.24, 0.24, 0.25), (0.14, 0.14, 0.15)),  # basalt
    ((0.56, 0.36, 0.28), (0.42, 0.26, 0.20)),  # red rock
    ((0.40, 0.43, 0.46), (0.28, 0.30, 0.33)),  # slate
    ((0.66, 0.64, 0.58), (0.50, 0.48, 0.44)),  # limestone
]


def _facets(rng: np.random.Generator, n: int, cells: int, slope: float, warp_amount: float) -> np.ndarray:
    """Fractured relief: every Voronoi cell is a tilted plane, so cell borders become sharp edges."""
    warp = _noise(rng, n, lo=3.0, beta=2.0, count=2) * (n / cells) * warp_amount
    _, _, ids, vy, vx = _worley(rng, n, cells, cells, jitter=0.9, warp=warp, offsets=True)
    tilt = rng.normal(0.0, slope, (2, cells * cells)).astype(np.float32)
    lift = rng.normal(0.0, slope * n / cells * 0.3, cells * cells).astype(np.float32)
    return tilt[0][ids] * vy + tilt[1][ids] * vx + lift[ids]


def _gen_rock(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rock face: fractured facets at two scales, fractal relief, strata, cracks, speckle, lichen."""
    s = n / 256
    c1, c2 = _ROCK[int(rng.integers(len(_ROCK)))]
    c1, c2 = _pick(rng, [c1], 0.06), _pick(rng, [c2], 0.06)
    broad = _noise(rng, n, lo=1.5, beta=2.0)
    mid = _noise(rng, n, lo=10.0, beta=1.4)
    fine = _noise(rng, n, lo=40.0, beta=0.9)
    big = _facets(rng, n, int(rng.integers(3, 6)), rng.uniform(0.3, 0.6), 0.3)
    small = _facets(rng, n, int(rng.integers(8, 15)), rng.uniform(0.2, 0.45), 0.25)
    height = big + small + (8.0 * broad + 1.5 * mid) * s + 0.35 * fine
    tone = _smooth(-1.5, 1.5, 0.7 * mid + 0.5 * broad + 0.04 * (big + small) / s)
    if rng.random() < 0.35:  # sedimentary strata
        yy, xx = _coords(n)
        bands = int(rng.integers(4, 12))
        phase = (bands * yy + int(rng.integers(-1, 2)) * xx) / n + 0.35 * broad + 0.05 * mid + rng.random()
        strata = phase - np.floor(phase)
        height = height + rng.uniform(4.0, 8.0) * s * _smooth(0.0, 0.8, strata)
        tone = np.clip(tone + 0.25 * np.sin(4 * np.pi * phase), 0.0, 1.0)
    crack = np.zeros((n, n), np.float32)
    if rng.random() < 0.5:
        cells = int(rng.integers(2, 6))
        warp = _noise(rng, n, lo=3.0, beta=1.8, count=2) * (n / cells) * 0.3
        f1, f2, _ = _worley(rng, n, cells, cells, jitter=0.9, warp=warp)
        w = rng.uniform(0.6, 1.4) * s
        crack = np.exp(-(((f2 - f1) * 0.5 / w) ** 2)) * _smooth(-1.0, 0.0, _noise(rng, n, lo=2.0, beta=1.6))
        height = height - 4.0 * s * crack
    img = _mix(c2, c1, tone)
    grain = _noise(rng, n, lo=80.0, beta=0.2)
    img = _mix(img, c2 * 0.5, _smooth(1.5, 2.3, grain) * rng.uniform(0.3, 1.0))  # dark minerals
    img = _mix(img, np.minimum(c1 * 1.35, 1.0), _smooth(-1.7, -2.5, grain) * rng.uniform(0.2, 0.8))
    img = _mix(img, c2 * 0.3, crack)
    if rng.random() < 0.25:
        img = _moss(rng, img, _smooth(0.0, 1.0, -broad), rng.uniform(0.3, 0.8))
    img = _grime(rng, img, rng.uniform(0.0, 0.3))
    img = img * _speckle(rng, n, 0.05)
    return _shade(img, height, strength=1.0, ambient=0.35) * _cavity(height, 3.0 * s, 0.15)[..., None]


# ----------------------------------------------------------------------------------------------
# Marble
# ----------------------------------------------------------------------------------------------

_MARBLE = [  # (base, cloud, vein)
    ((0.93, 0.93, 0.91), (0.80, 0.80, 0.80), (0.40, 0.41, 0.44)),  # Carrara
    ((0.95, 0.94, 0.90), (0.87, 0.85, 0.80), (0.60, 0.50, 0.34)),  # Calacatta gold
    ((0.06, 0.06, 0.07), (0.15, 0.15, 0.16), (0.88, 0.88, 0.86)),  # Nero Marquina
    ((0.06, 0.22, 0.15), (0.12, 0.34, 0.24), (0.78, 0.88, 0.82)),  # Verde
    ((0.84, 0.68, 0.62), (0.72, 0.52, 0.46), (0.96, 0.93, 0.90)),  # Rosa
    ((0.36, 0.25, 0.18), (0.50, 0.36, 0.25), (0.86, 0.78, 0.66)),  # Emperador
    ((0.56, 0.61, 0.67), (0.42, 0.46, 0.53), (0.92, 0.93, 0.96)),  # blue-grey
]


def _marble_albedo(rng: np.random.Generator, n: int) -> np.ndarray:
    """Polished marble: cloudy base, meandering main veins and a fine branching vein network."""
    base, cloud, vein = (_pick(rng, [c], 0.04) for c in _MARBLE[int(rng.integers(len(_MARBLE)))])
    turb = _noise(rng, n, lo=1.0, beta=2.0, count=2)
    wiggle = _noise(rng, n, lo=8.0, beta=1.6)
    clouds = _noise(rng, n, lo=2.0, beta=1.7)
    fine = _noise(rng, n, lo=20.0, beta=1.0)
    yy, xx = _coords(n)
    ky, kx = int(rng.integers(0, 3)), int(rng.integers(1, 3))
    if rng.random() < 0.5:
        ky, kx = kx, ky
    phase = np.pi * ((ky * yy + kx * xx) / n + rng.random()) + rng.uniform(1.5, 3.0) * turb[0] + 0.15 * wiggle
    sharp = rng.uniform(8.0, 20.0)
    main = np.exp(-np.abs(np.sin(phase)) * sharp) * _smooth(-1.5, 0.5, turb[1] + 0.5 * clouds)
    halo = np.exp(-np.abs(np.sin(phase)) * 3.0)

    cells = int(rng.integers(3, 7))
    warp = np.stack([turb[1], turb[0]]) * (n / cells) * 0.3 + wiggle * 2.0 * n / 256
    f1, f2, _ = _worley(rng, n, cells, cells, jitter=0.9, warp=warp)
    width = rng.uniform(0.6, 1.4) * n / 256
    network = np.exp(-(((f2 - f1) * 0.5 / width) ** 2)) * _smooth(-0.8, 0.8, clouds + turb[1])
    hair = np.exp(-np.abs(_noise(rng, n, lo=4.0, beta=1.8)) * 40.0) * 0.5

    img = _mix(base, cloud, _smooth(-1.2, 1.8, clouds) * 0.85)
    img = img * (1.0 + 0.03 * fine)[..., None]
    img = _mix(img, cloud, halo * 0.4)
    amount = main * rng.uniform(0.7, 1.0) + network * rng.uniform(0.5, 0.9) + hair * rng.uniform(0.3, 1.0)
    img = _mix(img, vein, np.clip(amount, 0.0, 1.0))
    return img * _speckle(rng, n, 0.015)


def _gen_marble(rng: np.random.Generator, n: int) -> np.ndarray:
    """Marble slab (no joints): see ``_marble_albedo``."""
    return _marble_albedo(rng, n)


# ----------------------------------------------------------------------------------------------
# Floor tiles
# ----------------------------------------------------------------------------------------------

_CERAMIC = [
    (0.92, 0.91, 0.88),  # white
    (0.86, 0.80, 0.68),  # cream
    (0.70, 0.36, 0.22),  # terracotta
    (0.26, 0.42, 0.62),  # blue
    (0.30, 0.50, 0.40),  # green
    (0.10, 0.10, 0.11),  # black
    (0.55, 0.55, 0.54),  # grey
    (0.78, 0.64, 0.46),  # sand
]
_GROUT = [(0.85, 0.84, 0.80), (0.55, 0.54, 0.52), (0.25, 0.24, 0.23), (0.70, 0.66, 0.58)]


def _tile_layout(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, int, float, np.ndarray]:
    """Pick a layout: square grid, checkerboard, running bond, hexagons or mosaic.

    Returns (edge distance px, tile id, tile count, tile size px, checker parity per tile).
    """
    kind = rng.choice(["grid", "checker", "bond", "hex", "mosaic"], p=[0.3, 0.2, 0.2, 0.15, 0.15])
    if kind == "hex":
        cols = int(rng.integers(3, 8))
        rows = 2 * max(1, int(round(cols * 2 / np.sqrt(3) / 2)))
        pts = np.zeros((2, rows, cols), np.float32)
        pts[0] = 0.0  # row centres on the seam, so hexagon edges zigzag away from it
        pts[1] = 0.25 + 0.5 * (np.arange(rows)[:, None] % 2)
        f1, f2, ids = _worley(rng, n, rows, cols, points=pts)
        return 0.5 * (f2 - f1), ids, rows * cols, n / cols, np.zeros(rows * cols, np.float32)
    if kind == "mosaic":
        t = int(rng.integers(10, 17))
        rows, cols, shift = t, t, 0.0
    elif kind == "bond":
        t = int(rng.integers(3, 7))
        rows, cols, shift = 2 * t, t, 0.5
    else:
        t = 2 * int(rng.integers(1, 5))
        rows, cols, shift = t, t, 0.0
    edge, ids, _, _ = _bond(n, rows, cols, shift, corner=rng.uniform(0.5, 2.0) * n / 256)
    r, c = np.divmod(np.arange(rows * cols), cols)
    parity = ((r + c) % 2).astype(np.float32) if kind == "checker" else np.zeros(rows * cols, np.float32)
    if kind == "mosaic":
        parity = (rng.random(rows * cols) < 0.5).astype(np.float32)
    return edge, ids, rows * cols, min(n / rows, n / cols), parity


def _gen_floor_tiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Tiled floor: ceramic, terracotta, marble or stone tiles in several layouts, grout, chips."""
    s = n / 256
    edge, ids, count, size, parity = _tile_layout(rng, n)
    edge = edge + _noise(rng, n, lo=30.0, beta=0.8) * 0.35 * s
    surface = rng.random()
    if surface < 0.3:  # marble tiles cut from one slab
        face = _marble_albedo(rng, n)
    elif surface < 0.45:  # stone tiles
        face = _pick(rng, _STONE + [(0.7, 0.66, 0.58)]) * (
            1.0 + 0.12 * _noise(rng, n, lo=6.0, beta=1.0) + 0.08 * _noise(rng, n, lo=40.0, beta=0.6)
        )[..., None]
    else:  # glazed ceramic / terracotta
        face = _pick(rng, _CERAMIC) * (1.0 + 0.05 * _noise(rng, n, lo=5.0, beta=1.0)
                                       + 0.025 * _noise(rng, n, lo=60.0, beta=0.4))[..., None]
    second = _pick(rng, _CERAMIC)
    face = _mix(face, second * (face / np.maximum(face.mean((0, 1)), 1e-3)), parity[ids])
    face = face * _tints(rng, count, rng.uniform(0.02, 0.08), 0.015)[ids]

    grout_w = size * rng.uniform(0.03, 0.08) + 0.6 * s
    mask = _smooth(0.5 * grout_w - 0.5, 0.5 * grout_w + 0.6, edge)
    grout = _pick(rng, _GROUT) * (1.0 + 0.15 * _noise(rng, n, lo=60.0, beta=0.5))[..., None]
    img = _mix(grout, face, mask)
    bevel = _smooth(0.5 * grout_w, 0.5 * grout_w + rng.uniform(1.0, 3.0) * s, edge)
    height = 1.5 * bevel
    if rng.random() < 0.35:  # chipped / cracked tiles
        f1, f2, _ = _worley(rng, n, 3, 3, jitter=0.9, warp=_noise(rng, n, lo=5.0, count=2) * 10 * s)
        crack = np.exp(-(((f2 - f1) * 0.5 / (0.6 * s)) ** 2)) * _smooth(1.0, 1.6, _noise(rng, n, lo=3.0))
        img = _mix(img, grout * 0.6, crack * mask)
        height = height - crack
    img = _grime(rng, img, rng.uniform(0.0, 0.3))
    img = img * _speckle(rng, n, 0.02)
    return _shade(img, height, strength=1.0, ambient=0.6)


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

_GENERATORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "brick": _gen_brick,
    "cobblestone": _gen_cobblestone,
    "wood_planks": _gen_wood_planks,
    "bark": _gen_bark,
    "grass": _gen_grass,
    "gravel": _gen_gravel,
    "sand": _gen_sand,
    "rock": _gen_rock,
    "marble": _gen_marble,
    "floor_tiles": _gen_floor_tiles,
}

MIN_SIZE = 32


def texture_rng(cls: str, seed: int) -> np.random.Generator:
    """The generator used for (cls, seed): seeded by the seed and the class's index."""
    return np.random.default_rng([int(seed), 0x5CE9E + TEXTURE_CLASSES.index(cls)])


def generate_texture(cls: str, seed: int, size: int = 256) -> np.ndarray:
    """A seamless size×size×3 float32 texture in [0, 1] of material class ``cls``.

    Deterministic: the same (cls, seed, size) always gives the same array. Layout counts are
    per tile, so a smaller ``size`` shows the same kind of content at lower resolution.
    """
    if cls not in _GENERATORS:
        raise ValueError(f"unknown texture class {cls!r}; expected one of {', '.join(TEXTURE_CLASSES)}")
    if int(seed) < 0:
        raise ValueError("seed must be >= 0")
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}")
    img = _GENERATORS[cls](texture_rng(cls, seed), int(size))
    return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)
