"""RGBA sprites: alpha clean-up, colour bleeding, shape normal maps, billboard meshes, atlases, contact sheets.

Pure numpy / OpenCV / trimesh (no torch); a billboard's GLB is written by :mod:`scenegen.scene.gltf`
(:func:`scenegen.export.sprite_files.billboard_glb`). Sprites are float32 H×W×4 in [0, 1] with straight
(non-premultiplied) alpha, standing on their foot at the bottom centre of the frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import cv2
import numpy as np
from PIL import Image

from . import __version__
from .errors import ScenegenError
from .imaging import checkerboard, over, to_uint

if TYPE_CHECKING:
    import trimesh

BILLBOARD_KINDS = {"quad": 1, "cross": 2, "cross3": 3}  # number of vertical quads, evenly rotated about +Y


SPECK_LEVELS = (0.25, 0.5)  # alpha levels at which islands are looked for again (engines cut out at 0.5)


def _as_rgba(rgba: np.ndarray) -> np.ndarray:
    array = np.asarray(rgba, dtype=np.float32)
    if array.ndim != 3 or array.shape[2] != 4:
        raise ScenegenError(f"expected an H×W×4 RGBA sprite, got shape {array.shape}")
    return array


# ------------------------------------------------------------------------------------------------- alpha / colour
def dilate_colour(rgba: np.ndarray, iterations: int | None = None, *, min_alpha: float = 1.0 / 255.0) -> np.ndarray:
    """Give every pixel with alpha < ``min_alpha`` the colour of the nearest pixel with alpha ≥ ``min_alpha``.

    Alpha is unchanged. With ``iterations`` = k only pixels within k pixels of a source are bled and
    those further away get the mean source colour, so nothing stays black. Filtering and mip-mapping of
    the result never pull a dark (or any foreign) colour into the cut-out's edge.
    """
    rgba = _as_rgba(rgba)
    source = rgba[..., 3] >= min_alpha
    out = rgba.copy()
    if source.all() or not source.any():
        return out
    index, distance = _nearest_source(source)
    flat = rgba[..., :3].reshape(-1, 3)
    bled = np.take(flat, index.ravel(), axis=0).reshape(rgba.shape[0], rgba.shape[1], 3)
    if iterations is not None:
        far = distance > float(iterations)
        bled[far] = flat[source.ravel()].mean(axis=0)
    np.copyto(out[..., :3], bled, where=~source[..., None])  # a masked copy: no gather/scatter of the targets
    return out


def _nearest_source(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat index of the nearest True pixel of ``source`` for every pixel, and its (L2) distance."""
    distance, labels = cv2.distanceTransformWithLabels((~source).astype(np.uint8), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(source)
    lookup = np.zeros(int(labels.max()) + 1, np.int64)
    lookup[labels[ys, xs]] = ys * source.shape[1] + xs
    return lookup[labels], distance


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sharpen_alpha(alpha: np.ndarray, threshold: float = 0.5, width_px: float = 1.5,
                  ridge_floor: float = 0.3) -> np.ndarray:
    """Re-profile a soft alpha edge to a ``width_px``-wide smoothstep around its ``threshold`` iso-line.

    The signed distance to the iso-line is estimated as (alpha − threshold) / |∇alpha|, so a blurry edge of
    any width becomes a crisp, still antialiased one; a crisp edge stays as it is. Thin features (grass
    blades, stems) that blur leaves below ``threshold`` are kept: alpha is first divided by its local
    maximum (radius 2 px) wherever that maximum lies between ``ridge_floor`` and 1, so a faint but distinct
    stroke keeps its centre line; fainter haze (peak < ``ridge_floor``) still vanishes.
    """
    alpha = lift_thin_strokes(alpha, ridge_floor)
    smooth = cv2.GaussianBlur(alpha, (0, 0), 0.7)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    gradient = np.maximum(np.hypot(gx, gy), 0.02)
    distance = (alpha - threshold) / gradient
    return _smoothstep(-width_px / 2.0, width_px / 2.0, distance).astype(np.float32)


def lift_thin_strokes(alpha: np.ndarray, ridge_floor: float = 0.3) -> np.ndarray:
    """Alpha divided by its local maximum (radius 2 px) where that maximum is ≥ ``ridge_floor``."""
    alpha = np.asarray(alpha, dtype=np.float32)
    local_max = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    scale = np.where(local_max >= ridge_floor, local_max, 1.0)
    return np.clip(alpha / np.maximum(scale, 1e-6), 0.0, 1.0).astype(np.float32)


def remove_specks(alpha: np.ndarray, min_component_px: int | None = None) -> np.ndarray:
    """Zero every 8-connected blob smaller than ``min_component_px`` (the largest always stays).

    Blobs are found at alpha > 0 and again at each of ``SPECK_LEVELS``: a visible island that only faint
    alpha joins to the object is a speck too, and goes with a 1-px margin of its faint surroundings (kept
    parts are never touched). The default size is 0.2% of the frame (33 pixels at 128²), at least 4 pixels.
    """
    out = np.array(alpha, dtype=np.float32, copy=True)
    if min_component_px is None:
        min_component_px = max(4, round(0.002 * out.size))
    for level in (0.0, *SPECK_LEVELS):
        mask = out > level
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if count <= 2:
            continue
        areas = stats[:, cv2.CC_STAT_AREA].copy()
        keep = areas >= min_component_px
        keep[0] = False
        keep[1 + int(np.argmax(areas[1:]))] = True
        drop = ~keep[labels] & mask
        if level > 0:
            drop = (cv2.dilate(drop.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~(keep[labels] & mask)
        out[drop] = 0.0
    return out


def clear_frame(alpha: np.ndarray, frame_px: int = 2) -> np.ndarray:
    """Alpha with the outer ``frame_px`` rows and columns set to 0 (border_alpha = 0)."""
    out = np.array(alpha, dtype=np.float32, copy=True)
    if frame_px > 0:
        out[:frame_px], out[-frame_px:], out[:, :frame_px], out[:, -frame_px:] = 0, 0, 0, 0
    return out


def clean_alpha(rgba: np.ndarray, *, threshold: float = 0.5, min_component_px: int | None = None,
                frame_px: int = 2) -> np.ndarray:
    """Make a soft (e.g. generated) sprite game-ready.

    Alpha becomes crisp but antialiased (a 1.5-pixel smoothstep around ``threshold``), blobs smaller than
    ``min_component_px`` are removed (see :func:`remove_specks`), the outer ``frame_px`` frame is cleared, and
    colour is bled: pixels whose (stroke-lifted) alpha was below ``threshold`` take the nearest reliable
    colour, fully transparent ones the nearest visible colour. Thin strokes survive (see :func:`sharpen_alpha`).
    """
    rgba = _as_rgba(rgba)
    alpha = sharpen_alpha(rgba[..., 3], threshold)
    alpha = clear_frame(remove_specks(alpha, min_component_px), frame_px)
    alpha[alpha < 0.5 / 255.0] = 0.0
    lifted = np.concatenate([rgba[..., :3], lift_thin_strokes(rgba[..., 3])[..., None]], axis=2)
    reliable = dilate_colour(lifted, min_alpha=threshold)
    return dilate_colour(np.concatenate([reliable[..., :3], alpha[..., None]], axis=2))


# ------------------------------------------------------------------------------------------------- normal map
SPRITE_NORMAL_STRENGTH = 1.0  # 1: the bulge is a hemisphere over the silhouette's widest part
SPRITE_NORMAL_DETAIL = 1.0  # weight of the luminance detail inside the silhouette
_DOME_SMOOTH = 0.02  # blur of the bulge, in fractions of the sprite's larger side (rounds the medial-axis crease)
_DETAIL_SIGMA_PX = 1.5  # luminance high-pass scale
_DETAIL_PX = 3.0  # height (in pixels) of a unit luminance step of the detail
_FLAT = (0.5, 0.5, 1.0)


def sprite_height_map(rgba: np.ndarray, *, alpha_cutoff: float = 0.5, detail: float = SPRITE_NORMAL_DETAIL,
                      ) -> np.ndarray:
    """Pseudo-depth of a sprite in pixels (H×W float32, 0 outside): a rounded bulge over its silhouette.

    With ``d`` the distance (px) from a texel to the outside of the silhouette (alpha ≥ ``alpha_cutoff``) and
    ``D`` its maximum, the height is ``D·sqrt(t·(2 − t))``, ``t = d/D``: a circular profile, vertical at the
    outline and level where the shape is widest, lightly blurred so thin parts and the medial axis have no
    crease. ``detail`` adds the luminance's fine structure (bright = raised) inside the silhouette.
    Deterministic (numpy and OpenCV only).
    """
    rgba = _as_rgba(rgba)
    inside = rgba[..., 3] >= alpha_cutoff
    height = np.zeros(inside.shape, np.float32)
    if not inside.any():
        return height
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
    reach = float(distance.max())
    t = distance / np.float32(reach)
    height = (np.float32(reach) * np.sqrt(t * (2.0 - t))).astype(np.float32)
    sigma = max(1.0, _DOME_SMOOTH * max(inside.shape))
    height = cv2.GaussianBlur(height, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    if detail > 0:
        lum = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
        fine = lum - cv2.GaussianBlur(lum, (0, 0), _DETAIL_SIGMA_PX, borderType=cv2.BORDER_REPLICATE)
        weight = _smoothstep(0.0, 3.0, distance)  # none at the outline: it stays the bulge's
        height += np.float32(detail * _DETAIL_PX) * fine * weight
    return height.astype(np.float32)


def sprite_normal_map(rgba: np.ndarray, strength: float = SPRITE_NORMAL_STRENGTH, *, alpha_cutoff: float = 0.5,
                      detail: float = SPRITE_NORMAL_DETAIL) -> np.ndarray:
    """Tangent-space normal map (H×W×3, encoded [0, 1], OpenGL +Y up) of a sprite's shape.

    The normals of :func:`sprite_height_map` with its slopes scaled by ``strength``: the silhouette's left
    edge faces left (x < 0), its right edge right, its top up (y > 0), its widest part the viewer. Texels
    below ``alpha_cutoff`` take the normal of the nearest texel inside (like :func:`dilate_colour`), so
    bilinear and mip filtering at the cut-out edge never mix in a foreign normal; a fully transparent
    sprite gets the flat normal (0.5, 0.5, 1).
    """
    rgba = _as_rgba(rgba)
    if strength < 0:
        raise ScenegenError(f"normal strength must be >= 0, not {strength}")
    h, w = rgba.shape[:2]
    inside = rgba[..., 3] >= alpha_cutoff
    if not inside.any():
        return np.broadcast_to(np.asarray(_FLAT, np.float32), (h, w, 3)).copy()
    height = sprite_height_map(rgba, alpha_cutoff=alpha_cutoff, detail=detail)
    padded = np.pad(height, 1, mode="edge")
    k = np.float32(0.5 * strength)  # central differences span 2 px
    nx = (padded[1:-1, :-2] - padded[1:-1, 2:]) * k  # -dh/dx (x to the image right)
    ny = (padded[2:, 1:-1] - padded[:-2, 1:-1]) * k  # -dh/dy (y to the image top; rows grow down)
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)
    normal = np.stack([nx * inv, ny * inv, inv], axis=2) * 0.5 + 0.5
    bled = dilate_colour(np.concatenate([normal, inside[..., None].astype(np.float32)], axis=2), min_alpha=0.5)
    return np.ascontiguousarray(bled[..., :3], dtype=np.float32)


def sprite_normal_atlas(sprites: Sequence[np.ndarray], frames: Sequence[Sequence[int]], size: Sequence[int], *,
                        padding: int = 2, alpha_cutoff: float = 0.5) -> np.ndarray:
    """The normal maps of ``sprites`` laid out like their colour atlas: H×W×3 encoded OpenGL normals.

    ``frames`` are each sprite's (x, y, w, h) in the atlas and ``size`` its (width, height), as
    :func:`pack_atlas` made them; like there, every frame gets ``padding`` pixels of its own edge around it.
    The rest of the atlas is the flat normal.
    """
    width, height = int(size[0]), int(size[1])
    atlas = np.empty((height, width, 3), np.float32)
    atlas[:] = _FLAT
    for rgba, (x, y, w, h) in zip(sprites, frames):
        normal = sprite_normal_map(rgba, alpha_cutoff=alpha_cutoff)
        if normal.shape[:2] != (h, w):
            raise ScenegenError(f"internal: a {normal.shape[1]}×{normal.shape[0]} sprite in a {w}×{h} atlas frame")
        cell = cv2.copyMakeBorder(normal, padding, padding, padding, padding, cv2.BORDER_REPLICATE)
        y0, x0 = y - padding, x - padding
        top, left = max(0, -y0), max(0, -x0)
        bottom, right = min(cell.shape[0], height - y0), min(cell.shape[1], width - x0)
        atlas[y0 + top:y0 + bottom, x0 + left:x0 + right] = cell[top:bottom, left:right]
    return atlas


# ------------------------------------------------------------------------------------------------- billboard mesh
def visible_rows(rgba: np.ndarray, alpha_cutoff: float = 0.5) -> tuple[int, int]:
    """First and one-past-last row holding a pixel with alpha ≥ ``alpha_cutoff`` (the visible object)."""
    rows = np.nonzero((_as_rgba(rgba)[..., 3] >= alpha_cutoff).any(axis=1))[0]
    if rows.size == 0:
        raise ScenegenError("the sprite is fully transparent: nothing to put on a billboard")
    return int(rows[0]), int(rows[-1]) + 1


#: Billboard trimming (see :func:`card_outline`): the most vertices a card polygon keeps, and its margin in texels.
#: Four (two triangles, as many as the rectangle): on Mesa llvmpipe each further triangle per card cost more
#: (triangle setup of 100k instances, in the colour and the shadow pass) than its smaller area saved.
TRIM_MAX_VERTICES = 4
TRIM_MARGIN_PX = 8.0


def card_outline(alpha: np.ndarray, rows: tuple[int, int] | None = None, *, margin_px: float = TRIM_MARGIN_PX,
                 max_vertices: int = TRIM_MAX_VERTICES) -> np.ndarray:
    """The convex polygon (K×2 float64, counter-clockwise, K ≤ ``max_vertices`` ≥ 4) a trimmed billboard card keeps.

    Coordinates are image pixels with x to the right and y up from the card's foot: texel (row i, column j)
    covers x ∈ [j, j + 1), y ∈ [bottom − i − 1, bottom − i) for ``rows`` = (top, bottom), the rows the card
    spans (default: the whole image). The polygon is the convex hull of the centres of every texel with
    alpha > 0, grown by ``margin_px`` texels in x and y (a Minkowski sum with a square), clipped to the card's
    rectangle [0, W] × [0, bottom − top], then reduced to ``max_vertices`` by dropping the edges whose removal
    adds the least area (the neighbouring edges are extended to meet; the new corner stays in the rectangle),
    so it always encloses the grown hull (the rectangle itself if it cannot be reduced that far).

    Why it changes no pixel: a fragment is drawn only where its alpha sample is above 0 or, through the
    alpha-to-coverage sharpening (``fwidth``), where a pixel of its 2×2 quad samples alpha above the cutoff;
    with ρ texels per pixel (mip level λ = log2 ρ) a bilinear sample at level k reads texels within
    1.5·2^k − 0.5 texel centres of its position, the quad reaches 2ρ further and a multisample 0.75ρ.
    The default margin of 8 texels covers all three up to ρ = 2 (level 1, 2.5 + 4 + 1.5): billboards drawn at
    least half their texture's resolution render exactly as the full rectangle. Smaller (more distant) ones
    are covered by the same hull up to their screen pixels' worth of margin (8 texels = 8/ρ pixels); the
    alpha of a mip level that far from any visible texel is an average of mostly transparent texels, below
    the cutoff in practice (the benchmark counts the pixels that differ: docs in README "Scenes").
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    h, w = alpha.shape
    top, bottom = (0, h) if rows is None else rows
    box = (0.0, 0.0, float(w), float(bottom - top))
    rect = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
    ys, xs = np.nonzero(alpha > 0.0)
    if xs.size == 0:
        return rect
    hull = cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.int32)).reshape(-1, 2)  # exact, on the grid
    centres = np.stack([hull[:, 0] + 0.5, bottom - (hull[:, 1] + 0.5)], axis=1).astype(np.float64)
    m = float(margin_px)
    grown = np.concatenate([centres + [dx, dy] for dx in (-m, m) for dy in (-m, m)])
    polygon = _clip_to_box(_convex_hull(grown), box)
    if len(polygon) < 3:
        return rect
    limit = max(4, int(max_vertices))
    candidates = [_trapezoid(polygon, box)]
    reduced = _reduce_polygon(polygon, limit, box)
    if len(reduced) <= limit:
        candidates.append(reduced)
    return min(candidates, key=_area)  # the first of equal areas


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _trapezoid(polygon: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The smallest trapezoid with horizontal top and bottom (the polygon's) inside ``box`` that encloses the convex
    ``polygon``: its area is its height × its width at mid-height, so each side is the supporting line of the
    polygon that lies furthest inwards there (see :func:`_inner_side`)."""
    x0, _, x1, _ = box
    y_lo, y_hi = float(polygon[:, 1].min()), float(polygon[:, 1].max())
    left = _inner_side(polygon, y_lo, y_hi, x0)
    mirrored = np.stack([x0 + x1 - polygon[:, 0], polygon[:, 1]], axis=1)
    right = [x0 + x1 - x for x in _inner_side(mirrored, y_lo, y_hi, x0)]
    corners = [(left[0], y_lo), (right[0], y_lo), (right[1], y_hi), (left[1], y_hi)]
    return _drop_collinear(np.clip(np.array(corners, dtype=np.float64), [x0, y_lo], [x1, y_hi]))


def _inner_side(polygon: np.ndarray, y_lo: float, y_hi: float, x_min: float) -> tuple[float, float]:
    """(x at ``y_lo``, x at ``y_hi``) of the line with the whole polygon on its right (x ≥ line), both ends at
    x ≥ ``x_min``, and the largest x at mid-height. The best slope is a polygon edge's (where the supporting
    vertex changes) or, where an end would leave the box, that of the line through a vertex and a box corner."""
    mid, half = 0.5 * (y_lo + y_hi), 0.5 * (y_hi - y_lo)
    xs, ys = polygon[:, 0], polygon[:, 1]
    dx, dy = np.roll(xs, -1) - xs, np.roll(ys, -1) - ys
    slopes = [0.0] + [float(a / b) for a, b in zip(dx, dy) if abs(b) > 1e-12]  # x per unit y
    for corner in (y_lo, y_hi):
        slopes += [float((x - x_min) / (y - corner)) for x, y in zip(xs, ys) if abs(y - corner) > 1e-12]
    best = (x_min, 0.0)  # the box side: always feasible
    for s in slopes:
        at_mid = float(np.min(xs - s * (ys - mid)))  # the line through the polygon's supporting vertex
        if at_mid - abs(s) * half >= x_min - 1e-9 and at_mid > best[0] + 1e-12:
            best = (at_mid, s)
    at_mid, s = best
    return at_mid - s * half, at_mid + s * half


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (Andrew's monotone chain, float64), without collinear points."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)  # sorted by x, then y
    if len(pts) < 3:
        return pts

    def half(sequence) -> list:
        chain: list = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-1] - chain[-2], p - chain[-2]) <= 0.0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _clip_to_box(polygon: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Sutherland–Hodgman clip of a convex polygon to the axis-aligned box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    out = [np.asarray(p, dtype=np.float64) for p in polygon]
    for axis, limit, keep_below in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        inside = (lambda p: p[axis] <= limit) if keep_below else (lambda p: p[axis] >= limit)
        clipped = []
        for k, current in enumerate(out):
            previous = out[k - 1]
            if inside(current):
                if not inside(previous):
                    clipped.append(_on_line(previous, current, axis, limit))
                clipped.append(current)
            elif inside(previous):
                clipped.append(_on_line(previous, current, axis, limit))
        out = clipped
        if not out:
            return np.zeros((0, 2))
    return _drop_collinear(np.array(out))


def _on_line(a: np.ndarray, b: np.ndarray, axis: int, limit: float) -> np.ndarray:
    t = (limit - a[axis]) / (b[axis] - a[axis])
    point = a + t * (b - a)
    point[axis] = limit  # exactly on the box
    return point


def _drop_collinear(polygon: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """The polygon without repeated vertices and vertices on a straight line between their neighbours."""
    points = [p for k, p in enumerate(polygon) if np.abs(p - polygon[k - 1]).max() > eps]
    changed = True
    while changed and len(points) > 3:
        changed = False
        for k in range(len(points)):
            a, b, c = points[k - 1], points[k], points[(k + 1) % len(points)]
            if abs(_cross(b - a, c - a)) <= eps * max(1.0, float(np.abs(c - a).max())):
                del points[k]
                changed = True
                break
    return np.array(points)


def _reduce_polygon(polygon: np.ndarray, max_vertices: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Fewer vertices, enclosing ``polygon`` (convex, CCW): repeatedly drop the edge whose neighbouring edges,
    extended to meet, add the least area, with the new corner inside ``box``."""
    x0, y0, x1, y1 = box
    eps = 1e-9 * max(1.0, x1 - x0, y1 - y0)
    points = [np.asarray(p, dtype=np.float64) for p in polygon]
    while len(points) > max_vertices:
        best = None
        n = len(points)
        for i in range(n):
            a, b, c, d = points[i - 1], points[i], points[(i + 1) % n], points[(i + 2) % n]
            d0, d1, edge = b - a, d - c, c - b
            turn = _cross(d0, d1)
            if turn <= eps:  # the extended edges do not meet beyond this one
                continue
            corner = b + d0 * (_cross(edge, d1) / turn)
            if not (x0 - eps <= corner[0] <= x1 + eps and y0 - eps <= corner[1] <= y1 + eps):
                continue
            added = 0.5 * abs(_cross(corner - b, edge))
            if best is None or added < best[0]:
                best = (added, i, np.clip(corner, [x0, y0], [x1, y1]))
        if best is None:
            break
        _, i, corner = best
        j = (i + 1) % n
        points[i] = corner
        del points[j]
    return _drop_collinear(np.array(points))


def billboard_mesh(rgba: np.ndarray, *, height_m: float = 1.0, kind: str = "quad", alpha_cutoff: float = 0.5,
                   name: str = "billboard", fit: str = "alpha", trim: bool = True) -> trimesh.Trimesh:
    """A cut-out billboard: ``kind`` "quad", "cross" (2 cards at 90°) or "cross3" (3 cards at 60°).

    Y is up and the origin (pivot) is the bottom centre. With ``fit="alpha"`` (default) the cards span the
    sprite's visible rows (alpha ≥ ``alpha_cutoff``), so the object's foot sits exactly at y = 0 and its
    top at ``height_m``; with ``fit="frame"`` they span the whole image (the foot then floats by the
    image's bottom margin). Horizontally a card's rectangle always spans the full image width, centred on the
    pivot: scenegen sprites have their foot at the horizontal centre. Those rectangles map the image onto the
    card (which texel shows where); with ``trim`` (default) each card is
    only the part of that rectangle that can show the sprite: the convex polygon of :func:`card_outline`
    (at most :data:`TRIM_MAX_VERTICES`, a fan of triangles), the same texels at the same places, so it renders
    the same pixels with far fewer discarded fragments; ``trim=False`` gives the plain rectangle (4 vertices). The
    material is glTF metallic-roughness with the (colour-bled) sprite as base colour, alphaMode MASK,
    ``alpha_cutoff``, double sided, metallic 0, roughness 0.9; the sprite's normal map
    (:func:`sprite_normal_map`) is added where scenegen writes or renders the billboard (each card has its own
    vertices, so its tangent frame follows its own UVs). ``metadata["card_half_width"]`` is half the
    rectangle's width in metres and ``metadata["card_bounds"]`` the rectangles' 2×3 bounds (the renderer's
    crossed-card shading and shadow-map fit use them, so trimmed cards render like the rectangles).
    """
    rgba = _as_rgba(rgba)
    if kind not in BILLBOARD_KINDS:
        raise ScenegenError(f"unknown billboard kind {kind!r}; choose one of: {', '.join(BILLBOARD_KINDS)}")
    if fit not in ("alpha", "frame"):
        raise ScenegenError(f"unknown billboard fit {fit!r}; choose 'alpha' or 'frame'")
    if not height_m > 0:
        raise ScenegenError(f"billboard height must be positive, not {height_m}")
    h, w = rgba.shape[:2]
    top, bottom = visible_rows(rgba, alpha_cutoff) if fit == "alpha" else (0, h)
    width_m = height_m * w / (bottom - top)
    v0, v1 = 1.0 - bottom / h, 1.0 - top / h  # trimesh UVs: v = 0 at the image bottom (flipped on export)
    if trim:
        outline = card_outline(rgba[..., 3], (top, bottom))
        corners = [(x / w - 0.5, y / (bottom - top)) for x, y in outline]
    else:
        corners = [(-0.5, 0.0), (0.5, 0.0), (0.5, 1.0), (-0.5, 1.0)]
    vertices, faces, uvs, normals, rectangles = [], [], [], [], []
    for q in range(BILLBOARD_KINDS[kind]):
        angle = np.pi * q / BILLBOARD_KINDS[kind]
        axis = np.array([np.cos(angle), 0.0, -np.sin(angle)])  # the card's horizontal direction
        normal = np.array([np.sin(angle), 0.0, np.cos(angle)])
        base = len(vertices)
        rectangles += [axis * sx * width_m + np.array([0.0, sy * height_m, 0.0]) for sx in (-0.5, 0.5) for sy in (0.0, 1.0)]
        for sx, sy in corners:
            vertices.append(axis * sx * width_m + np.array([0.0, sy * height_m, 0.0]))
            uvs.append([sx + 0.5, v0 + sy * (v1 - v0)])
            normals.append(normal)
        faces += [[base, base + k, base + k + 1] for k in range(1, len(corners) - 1)]  # a fan (convex, CCW)
    import trimesh  # here, not at the top: `scenegen sprite` without --mesh never builds a mesh (~0.4 s of imports)
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    material = PBRMaterial(name=name, baseColorTexture=_to_pil(dilate_colour(rgba)), baseColorFactor=[1.0] * 4,
                           metallicFactor=0.0, roughnessFactor=0.9, alphaMode="MASK",
                           alphaCutoff=float(alpha_cutoff), doubleSided=True)
    mesh = trimesh.Trimesh(vertices=np.array(vertices), faces=np.array(faces), vertex_normals=np.array(normals),
                           visual=TextureVisuals(uv=np.array(uvs), material=material), process=False)
    mesh.metadata["name"] = name
    mesh.metadata["card_half_width"] = float(width_m / 2.0)
    mesh.metadata["card_bounds"] = np.stack([np.min(rectangles, axis=0), np.max(rectangles, axis=0)])
    return mesh


def _to_pil(rgba: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint(rgba, 8), "RGBA")


# ---------------------------------------------------------------------------------------------------------- atlas
def pack_atlas(sprites: dict[str, np.ndarray], *, padding: int = 2, max_size: int = 8192,
               image_name: str = "atlas.png") -> tuple[np.ndarray, dict]:
    """Pack sprites into a power-of-two atlas (square, or twice as wide as high) by shelf packing.

    Every sprite gets ``padding`` pixels of its own edge extruded around it, so bilinear and mip filtering
    never pull in a neighbour. Returns the RGBA atlas and TexturePacker "JSON Hash" metadata (frames in
    sorted-name order; a bottom-centre ``pivot`` per frame). Raises ScenegenError when it cannot fit in
    ``max_size``.
    """
    if not sprites:
        raise ScenegenError("pack_atlas needs at least one sprite")
    names = sorted(sprites)
    arrays = {name: _as_rgba(sprites[name]) for name in names}
    cells = {name: (arrays[name].shape[1] + 2 * padding, arrays[name].shape[0] + 2 * padding) for name in names}
    for width, height in _atlas_sizes(cells.values(), max_size):
        placement = _shelf_pack(cells, width, height)
        if placement is not None:
            return _compose_atlas(arrays, placement, padding, width, height, image_name)
    raise ScenegenError(f"{len(names)} sprites do not fit in a {max_size}×{max_size} atlas; "
                        f"raise max_size or use smaller sprites")


def _atlas_sizes(cells: Iterable[tuple[int, int]], max_size: int) -> list[tuple[int, int]]:
    """Candidate (width, height): powers of two, square or 2:1, smallest area first, within ``max_size``."""
    cells = list(cells)
    area = sum(w * h for w, h in cells)
    widest, tallest = max(w for w, _ in cells), max(h for _, h in cells)
    sizes = []
    side = 1
    while side <= max_size:
        for width, height in ((side, side), (2 * side, side)):
            if width <= max_size and width * height >= area and width >= widest and height >= tallest:
                sizes.append((width, height))
        side *= 2
    return sorted(set(sizes), key=lambda s: (s[0] * s[1], s[0]))


def _shelf_pack(cells: dict[str, tuple[int, int]], width: int, height: int) -> dict[str, tuple[int, int]] | None:
    """Tallest first, left to right on shelves; the top-left corner of each cell, or None if it overflows."""
    order = sorted(cells, key=lambda name: (-cells[name][1], -cells[name][0], name))
    placement, x, y, shelf = {}, 0, 0, 0
    for name in order:
        w, h = cells[name]
        if x + w > width:
            x, y, shelf = 0, y + shelf, 0
        if y + h > height or w > width:
            return None
        placement[name] = (x, y)
        x, shelf = x + w, max(shelf, h)
    return placement


def _compose_atlas(arrays: dict[str, np.ndarray], placement: dict[str, tuple[int, int]], padding: int,
                   width: int, height: int, image_name: str) -> tuple[np.ndarray, dict]:
    atlas = np.zeros((height, width, 4), np.float32)
    frames = {}
    for name in sorted(arrays):
        sprite = arrays[name]
        h, w = sprite.shape[:2]
        x, y = placement[name]
        cell = cv2.copyMakeBorder(sprite, padding, padding, padding, padding, cv2.BORDER_REPLICATE)
        atlas[y:y + h + 2 * padding, x:x + w + 2 * padding] = cell
        frames[name] = {
            "frame": {"x": x + padding, "y": y + padding, "w": w, "h": h},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
            "sourceSize": {"w": w, "h": h},
            "pivot": {"x": 0.5, "y": 1.0},
        }
    meta = {"app": "scenegen", "version": __version__, "image": image_name, "format": "RGBA8888",
            "size": {"w": width, "h": height}, "scale": "1"}
    return atlas, {"frames": frames, "meta": meta}


# -------------------------------------------------------------------------------------------------- contact sheet
def background_image(height: int, width: int, background: str | Sequence[float] = "checker",
                     cell: int = 8) -> np.ndarray:
    """An RGB backdrop: "checker", "white", "black", "grey", or an RGB triple in [0, 1]."""
    if isinstance(background, str):
        if background == "checker":
            return checkerboard(height, width, cell)
        named = {"white": 1.0, "black": 0.0, "grey": 0.5}
        if background not in named:
            raise ScenegenError(f"unknown background {background!r}; use checker, white, black, grey or an RGB triple")
        return np.full((height, width, 3), named[background], np.float32)
    colour = np.asarray(background, np.float32).reshape(1, 1, 3)
    return np.broadcast_to(colour, (height, width, 3)).astype(np.float32)


def contact_sheet(sprites: list[np.ndarray], *, columns: int = 8, labels: list[str] | None = None,
                  background: str | Sequence[float] = "checker", gap: int = 4) -> np.ndarray:
    """RGB grid of sprites composited over ``background`` (see :func:`background_image`); labels go below.

    White and black backgrounds are the halo check: a bright fringe shows on black, a dark one on white.
    """
    if not sprites:
        raise ScenegenError("contact_sheet needs at least one sprite")
    if labels is not None and len(labels) != len(sprites):
        raise ScenegenError(f"{len(labels)} labels for {len(sprites)} sprites")
    cell_h = max(s.shape[0] for s in sprites)
    cell_w = max(s.shape[1] for s in sprites)
    label_h = 14 if labels else 0
    columns = max(1, min(columns, len(sprites)))
    rows = -(-len(sprites) // columns)
    sheet = np.full((rows * (cell_h + label_h + gap) + gap, columns * (cell_w + gap) + gap, 3), 0.18, np.float32)
    for i, sprite in enumerate(sprites):
        sprite = _as_rgba(sprite)
        h, w = sprite.shape[:2]
        top = gap + (i // columns) * (cell_h + label_h + gap) + (cell_h - h)
        left = gap + (i % columns) * (cell_w + gap) + (cell_w - w) // 2
        sheet[top:top + h, left:left + w] = over(sprite, background_image(h, w, background))
        if labels:
            cell_left = gap + (i % columns) * (cell_w + gap)
            strip = sheet[top + h:top + h + label_h, cell_left:cell_left + cell_w]
            strip[:] = _label_over(strip, labels[i])
    return sheet


def _label_over(strip: np.ndarray, text: str) -> np.ndarray:
    """Light antialiased text drawn over an RGB strip (OpenCV draws text on 8-bit images only)."""
    height, width = strip.shape[:2]
    scale = 0.35
    while scale > 0.2 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width - 2:
        scale -= 0.05
    mask = np.zeros((height, width), np.uint8)
    cv2.putText(mask, text, (1, height - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 1, cv2.LINE_AA)
    coverage = (mask.astype(np.float32) / 255.0)[..., None]
    return strip * (1.0 - coverage) + 0.95 * coverage
