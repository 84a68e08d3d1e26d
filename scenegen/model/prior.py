"""The latent prior: a bank of encoder means per class, and a toroidal latent-quilting sampler.

After training, every class keeps a bank of latent grids (the encoder means of its images). To sample,
patches of those grids are stitched on a torus with minimum-error boundary cuts (image quilting,
Efros & Freeman 2001, done in latent space). The result is a periodic latent grid of any size made of
real latent statistics, so the decoder sees what it was trained on: outputs stay sharp and varied,
and regular structure (brick courses, tile grids) carries across patch boundaries because each
patch is chosen to agree with its already-placed neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANK_PREFIX = "bank."


@dataclass(frozen=True)
class QuiltSettings:
    """Patch size and overlap in latent cells, candidates tried per patch, acceptance tolerance."""

    patch: int = 12
    overlap: int = 3
    candidates: int = 24
    tolerance: float = 0.15
    margin: int = 1  # latent cells at a source grid's edge that encoder padding touched


def bank_key(class_index: int) -> str:
    return f"{BANK_PREFIX}{class_index}"


def _axis_starts(length: int, patch: int) -> np.ndarray:
    count = max(2, int(round(length / patch)))
    return np.floor(np.arange(count + 1) * length / count).astype(int)


def _min_vertical_cut(cost: np.ndarray) -> np.ndarray:
    """Column index per row of the cheapest top-to-bottom 8-connected path through ``cost`` (rows×cols)."""
    rows, cols = cost.shape
    acc = cost.copy()
    for r in range(1, rows):
        prev = acc[r - 1]
        left = np.concatenate([[np.inf], prev[:-1]])
        right = np.concatenate([prev[1:], [np.inf]])
        acc[r] += np.minimum(prev, np.minimum(left, right))
    path = np.empty(rows, dtype=int)
    path[-1] = int(np.argmin(acc[-1]))
    for r in range(rows - 2, -1, -1):
        c = path[r + 1]
        lo, hi = max(0, c - 1), min(cols, c + 2)
        path[r] = lo + int(np.argmin(acc[r, lo:hi]))
    return path


def _cut_mask(error: np.ndarray, filled: np.ndarray, overlap: int) -> np.ndarray:
    """1 where the new patch wins, 0 where the existing canvas stays (min-error cuts on filled sides)."""
    ph, pw = error.shape
    take_new = np.ones((ph, pw), dtype=bool)
    cols = np.arange(overlap)
    if filled[ph // 2, 0]:  # left strip
        path = _min_vertical_cut(error[:, :overlap])
        take_new[:, :overlap] &= cols[None, :] >= path[:, None]
    if filled[ph // 2, pw - 1]:  # right strip (wrap-around closure)
        path = _min_vertical_cut(error[:, pw - overlap :])
        take_new[:, pw - overlap :] &= cols[None, :] <= path[:, None]
    if filled[0, pw // 2]:  # top strip
        path = _min_vertical_cut(error[:overlap, :].T)
        take_new[:overlap, :] &= cols[:, None] >= path[None, :]
    if filled[ph - 1, pw // 2]:  # bottom strip (wrap-around closure)
        path = _min_vertical_cut(error[ph - overlap :, :].T)
        take_new[ph - overlap :, :] &= cols[:, None] <= path[None, :]
    return take_new | ~filled


def quilt(bank: np.ndarray, height: int, width: int, rng: np.random.Generator, settings: QuiltSettings = QuiltSettings()) -> np.ndarray:
    """A periodic L×height×width latent grid stitched from patches of ``bank`` (K×L×gh×gw).

    Patches are laid from the origin, so the closing cuts (where the last patch of a row or column meets
    the first one again, constrained on both sides) would all sit at the wrap-around edge. The finished
    torus is therefore rolled by a random offset: the wrap-around edge becomes an ordinary place.
    """
    bank = np.asarray(bank, dtype=np.float32)
    _, channels, gh, gw = bank.shape
    overlap = settings.overlap
    usable = min(gh, gw) - 2 * settings.margin
    patch = max(2, min(settings.patch, usable - overlap - 1, max(height, width) // 2))
    margin = settings.margin if min(gh, gw) - 2 * settings.margin >= patch + overlap + 1 else 0
    canvas = np.zeros((channels, height, width), dtype=np.float32)
    filled = np.zeros((height, width), dtype=bool)
    ys, xs = _axis_starts(height, patch), _axis_starts(width, patch)
    for i in range(len(ys) - 1):
        for j in range(len(xs) - 1):
            rows = np.arange(ys[i] - overlap, ys[i + 1]) % height
            cols = np.arange(xs[j] - overlap, xs[j + 1]) % width
            ph, pw = len(rows), len(cols)
            region = canvas[:, rows[:, None], cols[None, :]]
            known = filled[rows[:, None], cols[None, :]]
            candidates = _draw_candidates(bank, ph, pw, margin, settings.candidates, rng)
            choice = _pick(candidates, region, known, settings.tolerance, rng)
            error = ((choice - region) ** 2).sum(axis=0)
            mask = _cut_mask(error, known, overlap)
            merged = np.where(mask[None], choice, region)
            canvas[:, rows[:, None], cols[None, :]] = merged
            filled[rows[:, None], cols[None, :]] = True
    return np.roll(canvas, (int(rng.integers(0, height)), int(rng.integers(0, width))), axis=(1, 2))


def _draw_candidates(bank: np.ndarray, ph: int, pw: int, margin: int, count: int, rng: np.random.Generator) -> np.ndarray:
    k, _, gh, gw = bank.shape
    ph_fit, pw_fit = min(ph, gh - 2 * margin), min(pw, gw - 2 * margin)
    out = []
    for _ in range(count):
        src = int(rng.integers(0, k))
        y = int(rng.integers(margin, gh - margin - ph_fit + 1))
        x = int(rng.integers(margin, gw - margin - pw_fit + 1))
        piece = bank[src, :, y : y + ph_fit, x : x + pw_fit]
        if (ph_fit, pw_fit) != (ph, pw):  # tiny source grids: wrap the piece to size
            piece = np.take(np.take(piece, np.arange(ph) % ph_fit, axis=1), np.arange(pw) % pw_fit, axis=2)
        out.append(piece)
    return np.stack(out)


def _pick(candidates: np.ndarray, region: np.ndarray, known: np.ndarray, tolerance: float, rng: np.random.Generator) -> np.ndarray:
    if not known.any():
        return candidates[int(rng.integers(0, len(candidates)))]
    diff = (candidates - region[None]) ** 2
    errors = (diff.sum(axis=1) * known[None]).sum(axis=(1, 2)) / known.sum()
    best = errors.min()
    good = np.flatnonzero(errors <= best * (1.0 + tolerance) + 1e-9)
    return candidates[int(good[rng.integers(0, len(good))])]
