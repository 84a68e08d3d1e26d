"""The texture prior: a bank of latent sources per class, and a toroidal latent-quilting sampler.

After training, every class keeps a bank of latent *sources*: the encoder means of whole training images.
Periodic images (the built-in corpus is tileable) are encoded with circular padding, so their source is an
exact latent torus; other images (a user's photos) are encoded as they are and flagged non-periodic.

One canvas quilts from **one** source (one palette, one scale, no cells of another image): patches of the
source are stitched on the canvas torus with minimum-error boundary cuts (image quilting, Efros & Freeman
2001, in latent space). Each patch is chosen by an **exhaustive search** over every offset of the source
(the overlap error for all offsets at once is two FFT correlations), so regular structure (brick courses,
tile grids, plank rows) lines up across patch boundaries. Offsets that merely continue an already-placed
neighbour (the same place of the source) are excluded, so each patch really is a new arrangement of the
source, never the training image shifted; among the remaining offsets one is drawn from those within a
tolerance of the best.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data import fft as sfft  # scipy.fft's rfft2/irfft2, byte for byte, without importing scipy.fft (~0.3 s)

BANK_PREFIX = "bank."


@dataclass(frozen=True)
class QuiltSettings:
    """Patch size and overlap in latent cells, tolerance over the best error, exclusion radius (cells)."""

    patch: int = 12
    overlap: int = 4
    tolerance: float = 0.2
    exclusion: int = 4
    margin: int = 1  # cells at the edge of a non-periodic source that encoder padding touched


def bank_key(class_index: int) -> str:
    return f"{BANK_PREFIX}{class_index}"


def periodic_key(class_index: int) -> str:
    """Key of the per-source periodicity flags (1 = an exact latent torus)."""
    return f"{BANK_PREFIX}{class_index}.periodic"


def _axis_starts(length: int, patch: int) -> np.ndarray:
    count = max(2, int(round(length / patch)))
    return np.floor(np.arange(count + 1) * length / count).astype(int)


def _min_vertical_cut(cost: np.ndarray) -> np.ndarray:
    """Column index per row of the cheapest top-to-bottom 8-connected path through ``cost`` (rows×cols).

    The strips are a few cells wide: the running sums keep an inf column on each side (no per-row copies) and
    the trace-back runs on Python lists (the first minimum, as argmin takes it)."""
    rows, cols = cost.shape
    acc = np.full((rows, cols + 2), np.inf, dtype=cost.dtype)
    acc[:, 1:-1] = cost
    best = np.empty(cols, dtype=cost.dtype)
    for r in range(1, rows):
        prev = acc[r - 1]
        np.minimum(prev[:-2], prev[2:], out=best)
        np.minimum(best, prev[1:-1], out=best)
        acc[r, 1:-1] += best
    sums = acc[:, 1:-1].tolist()
    path = [0] * rows
    c = path[-1] = sums[-1].index(min(sums[-1]))
    for r in range(rows - 2, -1, -1):
        lo = max(0, c - 1)
        window = sums[r][lo : min(cols, c + 2)]
        c = path[r] = lo + window.index(min(window))
    return np.array(path, dtype=int)


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


class _Source:
    """One latent source with its spectra precomputed for the exhaustive overlap search."""

    def __init__(self, grid: np.ndarray, periodic: bool, margin: int) -> None:
        self.grid = np.asarray(grid, dtype=np.float32)
        self.periodic = periodic
        self.margin = 0 if periodic else margin
        _, self.h, self.w = self.grid.shape
        self.spectrum = sfft.rfft2(self.grid)  # float32 spectra: twice as fast, ample for ranking offsets
        self.energy_spectrum = sfft.rfft2((self.grid**2).sum(axis=0))

    def errors(self, region: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Overlap error Σ known·|source(o+u) − region(u)|² for every offset o (h×w; inf where invalid).

        Both terms that depend on o are circular cross-correlations: the channels' products are summed in
        the Fourier domain, so one inverse FFT serves them all.
        """
        ph, pw = known.shape
        pattern = np.zeros((region.shape[0] + 1, self.h, self.w), dtype=np.float32)
        pattern[:-1, :ph, :pw] = region * known[None]
        pattern[-1, :ph, :pw] = known
        spectra = np.conj(sfft.rfft2(pattern))
        product = spectra[-1] * self.energy_spectrum - 2.0 * (spectra[:-1] * self.spectrum).sum(axis=0)
        err = sfft.irfft2(product, s=(self.h, self.w)) + float((region**2 * known[None]).sum())
        return np.where(self.valid(ph, pw), np.maximum(err, 0.0), np.inf)

    def valid(self, ph: int, pw: int) -> np.ndarray:
        """Offsets at which a ph×pw patch may be read (all of them on a torus)."""
        ok = np.ones((self.h, self.w), dtype=bool)
        if not self.periodic:
            m = self.margin
            ok[:] = False
            ok[m : max(m + 1, self.h - m - ph + 1), m : max(m + 1, self.w - m - pw + 1)] = True
        return ok

    def read(self, oy: int, ox: int, ph: int, pw: int) -> np.ndarray:
        rows = np.arange(oy, oy + ph) % self.h
        cols = np.arange(ox, ox + pw) % self.w
        return self.grid[:, rows[:, None], cols[None, :]]


def quilt(source: np.ndarray, height: int, width: int, rng: np.random.Generator,
          settings: QuiltSettings = QuiltSettings(), periodic: bool = True,
          tick: Callable[[], None] | None = None) -> np.ndarray:
    """A periodic L×height×width latent grid stitched from patches of one ``source`` grid (L×gh×gw).

    ``periodic``: the source is a latent torus (patches may wrap around it); otherwise patches stay inside
    it, ``settings.margin`` cells from its edge. Patches are laid from the origin, so the closing cuts (where
    the last patch of a row or column meets the first one again) would all sit at the wrap-around edge; the
    finished torus is therefore rolled by a random offset, and the wrap-around edge becomes an ordinary place.
    ``tick()`` is called after each row of patches (a caller's progress report or cancel check).
    """
    src = _Source(source, periodic, settings.margin)
    overlap = settings.overlap
    room = min(src.h, src.w) - (0 if periodic else 2 * src.margin)
    patch = max(2, min(settings.patch, room - overlap, max(height, width) // 2))
    overlap = min(overlap, max(1, patch // 2))
    channels = src.grid.shape[0]
    canvas = np.zeros((channels, height, width), dtype=np.float32)
    filled = np.zeros((height, width), dtype=bool)
    where = np.zeros((2, height, width), dtype=np.int64)  # the source cell each canvas cell was read from
    ys, xs = _axis_starts(height, patch), _axis_starts(width, patch)
    for i in range(len(ys) - 1):
        for j in range(len(xs) - 1):
            rows = np.arange(ys[i] - overlap, ys[i + 1]) % height
            cols = np.arange(xs[j] - overlap, xs[j + 1]) % width
            ph, pw = len(rows), len(cols)
            region = canvas[:, rows[:, None], cols[None, :]]
            known = filled[rows[:, None], cols[None, :]]
            implied = where[:, rows[:, None], cols[None, :]] - np.stack(np.mgrid[0:ph, 0:pw])
            oy, ox = _choose_offset(src, region, known, implied, ph, pw, settings, rng)
            choice = src.read(oy, ox, ph, pw)
            error = ((choice - region) ** 2).sum(axis=0)
            mask = _cut_mask(error, known, overlap)
            canvas[:, rows[:, None], cols[None, :]] = np.where(mask[None], choice, region)
            filled[rows[:, None], cols[None, :]] = True
            read = np.stack(np.mgrid[oy : oy + ph, ox : ox + pw])
            where[:, rows[:, None], cols[None, :]] = np.where(mask[None], read, where[:, rows[:, None], cols[None, :]])
        if tick is not None:
            tick()
    return np.roll(canvas, (int(rng.integers(0, height)), int(rng.integers(0, width))), axis=(1, 2))


def _choose_offset(src: _Source, region: np.ndarray, known: np.ndarray, implied: np.ndarray, ph: int, pw: int,
                   settings: QuiltSettings, rng: np.random.Generator) -> tuple[int, int]:
    """The source offset of the next patch: random for the first one, else drawn from the offsets whose
    overlap error is within ``tolerance`` of the best, excluding continuations of placed neighbours."""
    valid = src.valid(ph, pw)
    if not known.any():
        choices = np.flatnonzero(valid)
        pick = int(choices[rng.integers(0, len(choices))])
        return divmod(pick, src.w)
    err = src.errors(region, known)
    blocked = np.zeros_like(valid)
    radius = settings.exclusion
    for oy, ox in {(int(a) % src.h, int(b) % src.w) for a, b in zip(implied[0][known], implied[1][known])}:
        rows = np.arange(oy - radius, oy + radius + 1) % src.h
        cols = np.arange(ox - radius, ox + radius + 1) % src.w
        blocked[rows[:, None], cols[None, :]] = True
    allowed = np.where(blocked, np.inf, err)
    if not np.isfinite(allowed).any():  # a source too small to offer anything new: allow continuations
        allowed = err
    best = float(allowed.min())
    good = np.flatnonzero(allowed.ravel() <= best * (1.0 + settings.tolerance) + 1e-9)
    pick = int(good[rng.integers(0, len(good))])
    return divmod(pick, src.w)
