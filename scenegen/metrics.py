"""The figures scenegen reports, implemented exactly as defined in docs/METRICS.md.

Conventions (from docs/METRICS.md): every image figure takes float arrays in [0, 1], shape H×W×C.
"Luminance" = 0.299 R + 0.587 G + 0.114 B.

Input forms accepted by the set figures (``hf_ratio``, ``spectrum_dist``, ``colour_w1``, ``gram_dist``,
``diversity_ratio``):

* a 4-D array N×H×W×C: a set of N images;
* a list/tuple of H×W×C (or H×W) images, which may differ in size where the figure allows it;
* a single 3-D array H×W×C or 2-D array H×W: a set of one image.

Channels: C = 1 is a grey image (its luminance is the channel itself); C ≥ 3 uses the first three channels
as RGB (a fourth, alpha channel is ignored by the luminance figures and ``colour_w1``). ``gram_dist`` is
stricter: it accepts C = 1 (repeated to RGB) or C = 3 only; sprite callers composite RGBA first.

Degenerate ratios (``seam_ratio``, ``hf_ratio``, ``diversity_ratio``): 0/0 returns 1.0 (numerator and
denominator are indistinguishable, which is what 1.0 means), x/0 with x > 0 returns ``inf``.
All arithmetic is float64 except the random-feature network, which runs in float32 on the CPU.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence, Union

import numpy as np
import torch

ImageSet = Union[np.ndarray, Sequence[np.ndarray]]

__all__ = [
    "luminance",
    "seam_ratio",
    "border_alpha",
    "hf_ratio",
    "high_frequency_fraction",
    "radial_power_spectrum",
    "spectrum_dist",
    "colour_w1",
    "gram_matrices",
    "gram_dist",
    "gram_dist_sets",
    "gram_references",
    "blur_images",
    "diversity_ratio",
    "mean_pairwise_l1",
    "reconstruction_psnr",
    "c2st_features",
    "group_folds",
    "c2st_from_features",
    "c2st",
    "tile_crops",
    "photo_c2st",
    "regularity",
    "nearest_crop_distances",
    "memorisation_ratio",
    "sprite_c2st",
    "silhouette_figures",
    "sprite_hues",
    "hue_w1",
]

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
#: radial frequency (cycles/pixel) above which spectral power counts as "high frequency" for hf_ratio.
HF_CUTOFF = 0.25
#: absolute epsilon added to the radial power before log10 in spectrum_dist (avoids log10(0)).
SPECTRUM_EPS = 1e-12
#: colour_w1 keeps at most this many pooled values per channel and set (fixed-stride subsampling).
COLOUR_W1_MAX_VALUES = 2_000_000
GRAM_KERNEL_SIZES = (3, 5, 7)
GRAM_FEATURES = 64


# --------------------------------------------------------------------------------------------- helpers


def _as_image(img: np.ndarray) -> np.ndarray:
    """One image as float64 H×W×C (a 2-D H×W image gets C = 1)."""
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected an image H×W or H×W×C, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"empty image, shape {arr.shape}")
    return arr


def _as_list(images: ImageSet, name: str = "images") -> list[np.ndarray]:
    """A set of images (N×H×W×C array, list of images, or one image) as a list of float64 H×W×C."""
    if isinstance(images, np.ndarray) or torch.is_tensor(images):
        arr = np.asarray(images)
        if arr.ndim == 4:
            out = [_as_image(a) for a in arr]
        elif arr.ndim in (2, 3):
            out = [_as_image(arr)]
        else:
            raise ValueError(f"{name}: expected N×H×W×C, H×W×C or H×W, got shape {arr.shape}")
    else:
        out = [_as_image(a) for a in images]
    if not out:
        raise ValueError(f"{name}: empty image set")
    return out


def _as_stack(images: ImageSet, name: str = "images") -> np.ndarray:
    """A set of same-sized images as one float64 N×H×W×C array."""
    imgs = _as_list(images, name)
    shape = imgs[0].shape
    if any(im.shape != shape for im in imgs):
        raise ValueError(f"{name}: all images must have the same shape, got {sorted({im.shape for im in imgs})}")
    return np.stack(imgs)


def _rgb_channels(img: np.ndarray) -> np.ndarray:
    """C = 1 stays as is; C ≥ 3 keeps the first three channels (alpha ignored); C = 2 is refused."""
    c = img.shape[-1]
    if c == 1:
        return img
    if c >= 3:
        return img[..., :3]
    raise ValueError(f"expected 1, 3 or 4 channels, got {c}")


def _safe_ratio(num: float, den: float) -> float:
    """num/den, with 0/0 → 1.0 and x/0 → inf (x > 0). NaN propagates."""
    if math.isnan(num) or math.isnan(den):
        return float("nan")
    if den == 0.0:
        return 1.0 if num == 0.0 else float("inf")
    return float(num / den)


def luminance(img: np.ndarray) -> np.ndarray:
    """Luminance = 0.299 R + 0.587 G + 0.114 B of an H×W×C image (C = 1: the channel itself); H×W float64."""
    arr = _rgb_channels(_as_image(img))
    if arr.shape[-1] == 1:
        return arr[..., 0]
    return arr @ np.asarray(LUMA_WEIGHTS, dtype=np.float64)


# --------------------------------------------------------------------------------------------- tileability


def seam_ratio(img: np.ndarray) -> float:
    """Tileability: wrap-around edge step over the typical interior pixel step.

    METRICS.md: seam_ratio(img) = mean(|I[:, 0] − I[:, W−1]| over all rows and channels, |I[0, :] − I[H−1, :]|
    over all columns and channels) / mean(|I[:, j+1] − I[:, j]|, |I[i+1, :] − I[i, :]| over all interior
    neighbours and channels). 1.0: the wrap-around edge looks like any other pixel step.

    Both means are taken over the *union* of the differences they list (H·C + W·C seam differences in the
    numerator; H·(W−1)·C + (H−1)·W·C interior differences in the denominator, the wrap pair excluded), not as
    the mean of two means. Accepts H×W (one channel) or H×W×C; needs H, W ≥ 2. A constant image (0/0) returns
    1.0: its seam is indistinguishable from its interior. (x/0 with x > 0 cannot happen: zero interior steps
    means a constant image.)
    """
    seam_sum, seam_n, inner_sum, inner_n = seam_steps(img)
    return _safe_ratio(seam_sum / seam_n, inner_sum / inner_n)


SEAM_ROWS = 256  # row block of seam_steps: bounded float64 temporaries, also at 8192²


def seam_steps(img: np.ndarray) -> tuple[float, int, float, int]:
    """(sum, count) of the |wrap-around steps| and (sum, count) of the |interior steps| that :func:`seam_ratio`
    divides, in float64, a block of SEAM_ROWS rows at a time (an 8192² map needs no full-size float64 copy)."""
    arr = np.asarray(img)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    if arr.ndim != 3:
        raise ValueError(f"expected an image H×W or H×W×C, got shape {arr.shape}")
    h, w, c = arr.shape
    if h < 2 or w < 2:
        raise ValueError(f"seam_ratio needs an image at least 2×2, got {h}×{w}")
    inner_sum = 0.0
    for y0 in range(0, h, SEAM_ROWS):
        block = arr[y0 : min(h, y0 + SEAM_ROWS + 1)].astype(np.float64)  # one row of overlap: the vertical steps
        inner_sum += float(np.abs(np.diff(block[: min(SEAM_ROWS, h - y0)], axis=1)).sum() + np.abs(np.diff(block, axis=0)).sum())
    first_col, last_col = arr[:, 0].astype(np.float64), arr[:, w - 1].astype(np.float64)
    seam_sum = float(np.abs(first_col - last_col).sum() + np.abs(arr[0].astype(np.float64) - arr[h - 1]).sum())
    return seam_sum, (h + w) * c, inner_sum, (h * (w - 1) + (h - 1) * w) * c


def _frame_mask(h: int, w: int, width: int = 2) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[:width, :] = True
    mask[-width:, :] = True
    mask[:, :width] = True
    mask[:, -width:] = True
    return mask


def border_alpha(rgba: ImageSet) -> float:
    """Sprites: mean alpha over the outer 2-pixel frame (0 = the sprite fits its frame).

    Takes one H×W×4 image, an N×H×W×4 array or a list of H×W×4 images; for several images, the mean of the
    per-image figures. Each frame pixel counts once (corners are not double-counted). Alpha = channel 3.
    """
    imgs = _as_list(rgba, "rgba")
    values = []
    for im in imgs:
        if im.shape[-1] != 4:
            raise ValueError(f"border_alpha needs RGBA images (4 channels), got shape {im.shape}")
        alpha = im[..., 3]
        values.append(float(alpha[_frame_mask(*alpha.shape)].mean()))
    return float(np.mean(values))


# --------------------------------------------------------------------------------------------- spectra


def _power_spectrum(img: np.ndarray) -> np.ndarray:
    """|FFT2(luminance − mean)|², not shifted."""
    lum = luminance(img)
    return np.abs(np.fft.fft2(lum - lum.mean())) ** 2


def high_frequency_fraction(img: np.ndarray) -> float:
    """Spectral power of the mean-removed luminance at radial frequency > 0.25 cycles/pixel / total power.

    The radial frequency is sqrt(fy² + fx²) with fy, fx from ``np.fft.fftfreq`` on each axis (cycles/pixel),
    so non-square images are handled. An image with zero total power (constant luminance) has no detail and
    scores 0.0.
    """
    power = _power_spectrum(img)
    fy = np.fft.fftfreq(power.shape[0])[:, None]
    fx = np.fft.fftfreq(power.shape[1])[None, :]
    radial = np.sqrt(fy * fy + fx * fx)
    total = float(power.sum())
    if total == 0.0:
        return 0.0
    return float(power[radial > HF_CUTOFF].sum() / total)


def hf_ratio(generated: ImageSet, real: ImageSet) -> float:
    """hf_ratio = HF(G) / HF(R) (METRICS.md). Blurry output scores well below 1.

    HF(set) = mean over images of (spectral power of the mean-removed luminance at radial frequency
    > 0.25 cycles/pixel) / (total spectral power); see ``high_frequency_fraction``. Images may differ in size.
    HF(R) = 0 (all real images constant): 1.0 if HF(G) = 0 too, else inf.
    """
    hf_g = float(np.mean([high_frequency_fraction(im) for im in _as_list(generated, "generated")]))
    hf_r = float(np.mean([high_frequency_fraction(im) for im in _as_list(real, "real")]))
    return _safe_ratio(hf_g, hf_r)


def radial_power_spectrum(img: np.ndarray) -> np.ndarray:
    """P(r) for r = 0, 1, …, r_max: mean of |FFT2(luminance − mean)|² over the pixels at integer radius r.

    The spectrum is ``np.fft.fftshift``-ed, so the zero frequency sits at (H//2, W//2); a pixel's integer
    radius is its Euclidean distance in pixels from that centre, rounded to the nearest integer. r_max is the
    largest radius any pixel has (the corners), so every entry has at least one pixel.
    """
    power = np.fft.fftshift(_power_spectrum(img))
    h, w = power.shape
    yy, xx = np.indices((h, w))
    radius = np.rint(np.hypot(yy - h // 2, xx - w // 2)).astype(np.int64).ravel()
    sums = np.bincount(radius, weights=power.ravel())
    counts = np.bincount(radius)
    return sums / counts


def spectrum_dist(generated: ImageSet, real: ImageSet) -> float:
    """spectrum_dist = mean over integer radii r ≥ 1 of |log10 P̄_G(r) − log10 P̄_R(r)| (METRICS.md).

    P(r) is the mean of |FFT2(luminance − mean)|² over pixels at integer radius r from the centre (after
    fftshift; see ``radial_power_spectrum``), P̄ the mean over the set. Every radius from 1 to the corner
    radius is used. An absolute epsilon of 1e-12 is added inside log10 (log10(P̄ + 1e-12)) to avoid log(0).
    All images of G and R must have the same H×W.
    """
    g = _as_list(generated, "generated")
    r = _as_list(real, "real")
    sizes = {im.shape[:2] for im in g + r}
    if len(sizes) != 1:
        raise ValueError(f"spectrum_dist needs all images the same size, got {sorted(sizes)}")
    p_g = np.mean([radial_power_spectrum(im) for im in g], axis=0)
    p_r = np.mean([radial_power_spectrum(im) for im in r], axis=0)
    diff = np.abs(np.log10(p_g[1:] + SPECTRUM_EPS) - np.log10(p_r[1:] + SPECTRUM_EPS))
    if diff.size == 0:
        raise ValueError("spectrum_dist needs images larger than 1×1")
    return float(diff.mean())


# --------------------------------------------------------------------------------------------- colour


def _pooled_channel(images: list[np.ndarray], channel: int) -> np.ndarray:
    values = np.concatenate([_rgb_channels(im)[..., channel].ravel() for im in images])
    if values.size > COLOUR_W1_MAX_VALUES:
        stride = -(-values.size // COLOUR_W1_MAX_VALUES)  # ceil
        values = values[::stride]
    return values


def colour_w1(generated: ImageSet, real: ImageSet) -> float:
    """colour_w1 = mean over the 3 channels of the 1-D Wasserstein distance between the pooled pixel values
    of G and R (METRICS.md), via ``scipy.stats.wasserstein_distance``.

    "Pooled" = all pixels of all images of the set, per channel. When a set has more than 2,000,000 values per
    channel, it is subsampled deterministically with a fixed stride ceil(n / 2,000,000) over the concatenated
    (image-major, row-major) values. Grey images (C = 1) use their single channel; a 4th channel is ignored.
    """
    g = _as_list(generated, "generated")
    r = _as_list(real, "real")
    channels = {_rgb_channels(im).shape[-1] for im in g + r}
    if len(channels) != 1:
        raise ValueError("colour_w1: G and R must both be grey or both be colour")
    n_ch = channels.pop()
    from scipy.stats import wasserstein_distance  # deferred: scipy.stats and scipy.ndimage cost ~0.5 s to import

    dists = [wasserstein_distance(_pooled_channel(g, c), _pooled_channel(r, c)) for c in range(n_ch)]
    return float(np.mean(dists))


# --------------------------------------------------------------------------------------------- gram_dist


@functools.lru_cache(maxsize=1)
def gram_weights() -> tuple[torch.Tensor, ...]:
    """The fixed random convs: seed 0, then randn(64, 3, k, k) · sqrt(2/(3k²)) for k = 3, 5, 7 in that order.

    Drawn from a private ``torch.Generator`` seeded with 0, which gives exactly the numbers
    ``torch.manual_seed(0)`` followed by the three ``torch.randn`` calls gives, without touching the caller's
    global RNG state. The seed is set once, before all three draws.
    """
    gen = torch.Generator(device="cpu").manual_seed(0)
    weights = []
    for k in GRAM_KERNEL_SIZES:
        w = torch.randn(GRAM_FEATURES, 3, k, k, generator=gen, dtype=torch.float32) * math.sqrt(2.0 / (3 * k * k))
        weights.append(w)
    return tuple(weights)


def _gram_input(img: np.ndarray) -> np.ndarray:
    if img.shape[-1] == 1:
        return np.repeat(img, 3, axis=-1)
    if img.shape[-1] == 3:
        return img
    raise ValueError(
        f"gram_dist takes RGB (3 channels) or grey (1 channel) images, got {img.shape[-1]} channels; "
        "composite RGBA sprites onto a background first"
    )


def gram_matrices(img: np.ndarray) -> np.ndarray:
    """The 6 covariance ("Gram") matrices of one image, shape 6×64×64 float64.

    Order: k = 3, 5, 7 on (image − 0.5), then k = 3, 5, 7 on its 2× average-pooled copy (the same convs;
    zero padding k//2, no bias, ReLU). Each feature map F_l (64 × positions) is centred over positions, then
    G_l = F_l F_lᵀ / (number of positions of that map). Images with odd H or W lose the last row/column in the
    pooled copy (``avg_pool2d`` floor). Needs H, W ≥ 2.
    """
    arr = _gram_input(_as_image(img))
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"gram_dist needs images at least 2×2, got {arr.shape[:2]}")
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32))[None] - 0.5
    out = []
    with torch.no_grad():
        for inp in (x, torch.nn.functional.avg_pool2d(x, 2)):
            for w in gram_weights():
                feats = torch.relu(torch.nn.functional.conv2d(inp, w, padding=w.shape[-1] // 2))
                feats = feats.reshape(GRAM_FEATURES, -1)
                feats = feats - feats.mean(dim=1, keepdim=True)
                out.append((feats @ feats.T / feats.shape[1]).double().numpy())
    return np.stack(out)


def _grams_of_set(images: list[np.ndarray]) -> np.ndarray:
    return np.stack([gram_matrices(im) for im in images])  # N×6×64×64


def _gram_dist_from_grams(grams_g: np.ndarray, grams_r: np.ndarray) -> float:
    """Mean over all (g, r) pairs of mean over l of ‖G_l(g) − G_l(r)‖_F / ‖G_l(r)‖_F."""
    norms_r = np.sqrt(np.einsum("nlij,nlij->nl", grams_r, grams_r))  # N_R×6
    if np.any(norms_r == 0.0):
        raise ValueError("gram_dist: a real image has an all-zero Gram matrix (no feature variance)")
    total = 0.0
    for g in grams_g:  # one generated image against all real images at a time: N_R×6×64×64 in memory
        diff = grams_r - g[None]
        d = np.sqrt(np.einsum("nlij,nlij->nl", diff, diff)) / norms_r  # N_R×6
        total += float(d.mean(axis=1).sum())
    return total / (len(grams_g) * len(grams_r))


def gram_dist(generated: ImageSet, real: ImageSet) -> float:
    """Random-feature texture distance (METRICS.md "gram_dist").

    A fixed network (torch.manual_seed(0)): three parallel Conv2d(3, 64, k, padding=k//2, bias=False),
    k = 3, 5, 7, weights drawn in that order as torch.randn(64, 3, k, k) · sqrt(2/(3k²)), ReLU; applied to
    (image − 0.5) and to its 2× average-pooled copy (6 feature maps F_l, 64 × HW). Centre each feature over
    positions, then G_l = F_l F_lᵀ / (H·W). gram_dist(a, b) = mean over l of ‖G_l(a) − G_l(b)‖_F / ‖G_l(b)‖_F;
    for sets, the mean over all pairs (g in G, r in R). Not symmetric: the real image normalises.

    Images: RGB (C = 3) or grey (C = 1, repeated to RGB); anything else raises ValueError. Each image's Gram
    matrices are computed once (float32 network on CPU, no autograd) and then every pair is compared in
    float64. Single images work as sets of one: gram_dist(a, b). Always report ``gram_references`` beside it.
    """
    grams_g = _grams_of_set(_as_list(generated, "generated"))
    grams_r = _grams_of_set(_as_list(real, "real"))
    return _gram_dist_from_grams(grams_g, grams_r)


#: The set-vs-set form under the name used in the design notes; identical to ``gram_dist``.
gram_dist_sets = gram_dist


def blur_images(images: ImageSet, sigma: float = 1.5) -> list[np.ndarray]:
    """Gaussian blur of each image, σ px in both spatial axes, none across channels, reflect borders
    (``scipy.ndimage.gaussian_filter(img, (σ, σ, 0), mode="reflect")``)."""
    from scipy import ndimage

    return [ndimage.gaussian_filter(im, sigma=(sigma, sigma, 0.0), mode="reflect") for im in _as_list(images)]


def gram_references(real: ImageSet, blur_sigma: float = 1.5) -> dict[str, float]:
    """The two reference rows printed beside gram_dist (METRICS.md).

    * ``real_vs_real`` (the floor) = gram_dist(first half of R, second half of R): R[:N//2] against R[N//2:],
      in the order given (for odd N the second half has one image more). Needs N ≥ 2.
    * ``blurred_vs_real`` (what a blurry model scores) = gram_dist(blur(R), R) over *all* pairs between the
      blurred set and the full real set, including each image against its own blurred copy (nothing is
      excluded). Blur: Gaussian σ = blur_sigma px, reflect borders, see ``blur_images``.

    METRICS.md quotes, on 128² crops of scikit-image's brick/grass/gravel, real-vs-real 0.19–0.31 and blurred
    0.39–0.42. With this implementation and 16 random 128² crops (seed 0) we measure brick 0.295 / 0.401,
    grass 0.221 / 0.407, gravel 0.138 / 0.319: brick and grass fall in the quoted ranges, gravel sits below
    both (it does with every variant of the definition we tried, see tests/test_metrics.py).
    """
    imgs = _as_list(real, "real")
    if len(imgs) < 2:
        raise ValueError("gram_references needs at least 2 real images")
    half = len(imgs) // 2
    grams_r = _grams_of_set(imgs)
    grams_b = _grams_of_set(blur_images(imgs, blur_sigma))
    return {
        "real_vs_real": _gram_dist_from_grams(grams_r[:half], grams_r[half:]),
        "blurred_vs_real": _gram_dist_from_grams(grams_b, grams_r),
    }


# --------------------------------------------------------------------------------------------- diversity


def _avg_pool2(stack: np.ndarray) -> np.ndarray:
    """2× average pooling of N×H×W×C (an odd last row/column is dropped)."""
    n, h, w, c = stack.shape
    h2, w2 = h // 2, w // 2
    if h2 == 0 or w2 == 0:
        raise ValueError(f"images too small to 2× pool: {h}×{w}")
    s = stack[:, : 2 * h2, : 2 * w2]
    return s.reshape(n, h2, 2, w2, 2, c).mean(axis=(2, 4))


def mean_pairwise_l1(samples: ImageSet) -> float:
    """Mean over pairs i < j of mean(|a_i − a_j|), each sample 2× average-pooled first. Needs N ≥ 2."""
    stack = _as_stack(samples, "samples")
    if stack.shape[0] < 2:
        raise ValueError("mean_pairwise_l1 needs at least 2 samples")
    pooled = _avg_pool2(stack).reshape(stack.shape[0], -1)
    total, pairs = 0.0, 0
    for i in range(len(pooled) - 1):
        total += float(np.abs(pooled[i + 1 :] - pooled[i]).mean(axis=1).sum())
        pairs += len(pooled) - 1 - i
    return total / pairs


def diversity_ratio(generated: ImageSet, real: ImageSet) -> float:
    """diversity_ratio = mean pairwise L1 distance between 16 generated samples (each 2× average-pooled) /
    the same for 16 real patches (METRICS.md). About 1: as varied as the data; near 0: mode collapse.

    Inputs N×H×W×C (METRICS.md fixes N = 16; the caller chooses, N ≥ 2, and G and R may differ in N).
    Mean pairwise L1 = mean over pairs i < j of mean(|a_i − a_j|). Real set with no variety (0): 1.0 if the
    generated set has none either, else inf.
    """
    return _safe_ratio(mean_pairwise_l1(generated), mean_pairwise_l1(real))


# --------------------------------------------------------------------------------------------- reconstruction


def reconstruction_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two [0, 1] images (or stacks) of the same shape: 10·log10(1 / MSE); inf when identical."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"reconstruction_psnr: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        raise ValueError("reconstruction_psnr: empty images")
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * math.log10(1.0 / mse))


# --------------------------------------------------------------------------------------------- c2st

C2ST_KERNEL_SIZES = (3, 5, 7)
C2ST_FEATURES = 32
C2ST_SCALES = (1, 2, 4, 8)
#: length of one c2st feature vector: 4 scales × 3 convs × 32 channels × (mean, std) + 3 × (mean, std).
C2ST_DIM = len(C2ST_SCALES) * len(C2ST_KERNEL_SIZES) * C2ST_FEATURES * 2 + 6
C2ST_FOLDS = 5
#: the L2 weight of the c2st logistic regression (loss = mean BCE + C2ST_L2 · ‖w‖², bias unpenalised).
C2ST_L2 = 0.01
_C2ST_BATCH = 16


@functools.lru_cache(maxsize=1)
def _c2st_weights() -> tuple[torch.Tensor, ...]:
    """torch.manual_seed(1), then randn(32, 3, k, k) · sqrt(2/(3k²)) for k = 3, 5, 7 in that order.

    Drawn from a private generator seeded with 1 (the same numbers as the global seed gives), so the caller's
    global RNG state is untouched.
    """
    gen = torch.Generator(device="cpu").manual_seed(1)
    return tuple(
        torch.randn(C2ST_FEATURES, 3, k, k, generator=gen, dtype=torch.float32) * math.sqrt(2.0 / (3 * k * k))
        for k in C2ST_KERNEL_SIZES
    )


def _c2st_batch(x: torch.Tensor) -> torch.Tensor:
    """Features of an N×3×H×W float32 batch in [0, 1]: N×774."""
    f = torch.nn.functional
    out = []
    centred = x - 0.5
    for s in C2ST_SCALES:
        xs = centred if s == 1 else f.avg_pool2d(centred, s)
        for w in _c2st_weights():
            p = w.shape[-1] // 2
            r = torch.relu(f.conv2d(f.pad(xs, (p, p, p, p), mode="circular"), w)).flatten(2)
            out += [r.mean(dim=2), r.std(dim=2, unbiased=False)]
    flat = x.flatten(2)
    out += [flat.mean(dim=2), flat.std(dim=2, unbiased=False)]
    return torch.cat(out, dim=1)


def c2st_features(images: ImageSet) -> np.ndarray:
    """c2st features (METRICS.md), N×774 float64, of a set of 3-channel patches in [0, 1].

    Per scale s = 1, 2, 4, 8 (x_s = avg_pool(x − 0.5, s), floor for sizes not divisible by s) and per fixed
    random conv W_k, k = 3, 5, 7 (seed 1, see ``_c2st_weights``): r = ReLU(conv2d(circular pad k//2 of x_s,
    W_k)), then the 32 channel means followed by the 32 channel standard deviations over positions; after the
    4 × 192 numbers, the 3 image channels' means then their standard deviations (of x itself, in [0, 1]).
    Standard deviations are population ones (divide by the number of positions). Order: scale-major, then k,
    then (means, stds). Images may differ in size; each needs ≥ 32 px per side (a 4×4 copy at s = 8).
    C = 1 is repeated to RGB; alpha (C = 4) is refused: composite sprites first (see ``sprite_c2st``).
    Float32 network on the CPU, no autograd; the global torch RNG is not touched.
    """
    imgs = [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in _as_list(images)]
    if any(im.shape[-1] != 3 for im in imgs):
        raise ValueError("c2st_features takes RGB (or grey) patches; composite RGBA sprites first")
    out = np.empty((len(imgs), C2ST_DIM), dtype=np.float64)
    by_shape: dict[tuple, list[int]] = {}
    for i, im in enumerate(imgs):
        if min(im.shape[:2]) // max(C2ST_SCALES) < 4:
            raise ValueError(f"c2st_features needs images of at least {4 * max(C2ST_SCALES)} px per side, got {im.shape[:2]}")
        by_shape.setdefault(im.shape, []).append(i)
    with torch.no_grad():
        for indices in by_shape.values():
            for start in range(0, len(indices), _C2ST_BATCH):
                chunk = indices[start : start + _C2ST_BATCH]
                arr = np.stack([imgs[i] for i in chunk]).transpose(0, 3, 1, 2)
                x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
                out[chunk] = _c2st_batch(x).double().numpy()
    return out


def group_folds(groups: Sequence, n_folds: int = C2ST_FOLDS) -> np.ndarray:
    """Fold index (0 … n_folds − 1) of every sample, splitting by group: all samples of a group share a fold.

    Deterministic: the distinct group labels are sorted and dealt round-robin (the i-th smallest label goes to
    fold i mod n_folds). Needs at least ``n_folds`` distinct groups.
    """
    labels = np.asarray(list(groups))
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("group_folds needs a non-empty 1-D sequence of group labels")
    unique, inverse = np.unique(labels, return_inverse=True)
    if len(unique) < n_folds:
        raise ValueError(f"c2st needs at least {n_folds} distinct source groups per set, got {len(unique)}")
    return (np.arange(len(unique)) % n_folds)[inverse.ravel()]


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = C2ST_L2) -> tuple[np.ndarray, float]:
    """Minimise mean BCE(sigmoid(x·w + b), y) + l2·‖w‖² (bias unpenalised) from zero with scipy L-BFGS-B
    (analytic gradient, float64, deterministic), run to convergence: projected gradient ≤ 1e-7 or relative
    loss change ≤ 1e-12 (the problem is strongly convex, so the optimum is unique)."""
    from scipy.optimize import minimize

    n, d = x.shape
    sign = 2.0 * y - 1.0  # BCE = log(1 + exp(−sign·z))

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        loss = float(np.logaddexp(0.0, -sign * z).mean() + l2 * (w @ w))
        resid = (1.0 / (1.0 + np.exp(-z)) - y) / n  # d(mean BCE)/dz
        grad = np.empty(d + 1)
        grad[:d] = x.T @ resid + 2.0 * l2 * w
        grad[d] = resid.sum()
        return loss, grad

    res = minimize(loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "maxfun": 10000, "gtol": 1e-7, "ftol": 1e-12})
    return res.x[:d], float(res.x[d])


def c2st_from_features(real: np.ndarray, generated: np.ndarray, real_groups: Sequence | None = None,
                       generated_groups: Sequence | None = None, n_folds: int = C2ST_FOLDS) -> float:
    """c2st on precomputed feature rows (N_R×D, N_G×D): mean held-out accuracy of a linear classifier.

    Folds: ``group_folds`` on each set separately (so every fold holds real and generated samples; group labels
    of the two sets are separate namespaces); None = every sample its own group. For each fold: standardise
    with the training rows' mean and std (std 0 → 1), fit ``_fit_logistic`` (L2 0.01, bias unpenalised), predict
    generated where x·w + b > 0. Returns the mean over the folds of each fold's accuracy.
    """
    fr, fg = np.asarray(real, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if fr.ndim != 2 or fg.ndim != 2 or fr.shape[1] != fg.shape[1]:
        raise ValueError(f"c2st needs two N×D feature arrays with the same D, got {fr.shape} and {fg.shape}")
    folds_r = group_folds(range(len(fr)) if real_groups is None else real_groups, n_folds)
    folds_g = group_folds(range(len(fg)) if generated_groups is None else generated_groups, n_folds)
    if len(folds_r) != len(fr) or len(folds_g) != len(fg):
        raise ValueError("c2st: one group label per sample")
    x = np.concatenate([fr, fg])
    y = np.concatenate([np.zeros(len(fr)), np.ones(len(fg))])
    folds = np.concatenate([folds_r, folds_g])
    accuracies = []
    for k in range(n_folds):
        test = folds == k
        train = ~test
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
        std[std == 0.0] = 1.0
        w, b = _fit_logistic((x[train] - mean) / std, y[train])
        pred = ((x[test] - mean) / std @ w + b) > 0.0
        accuracies.append(float((pred == (y[test] == 1.0)).mean()))
    return float(np.mean(accuracies))


def c2st(real: ImageSet, generated: ImageSet, real_groups: Sequence | None = None,
         generated_groups: Sequence | None = None, *, extra_real: np.ndarray | None = None,
         extra_generated: np.ndarray | None = None) -> float:
    """Classifier two-sample test (METRICS.md): 0.5 = indistinguishable, 1.0 = every patch gives itself away.

    Features from ``c2st_features``; ``extra_real`` / ``extra_generated`` (N×E) are appended to them (e.g. the
    alpha statistics of ``sprite_c2st``). Groups: the source image of each patch (crops of one image never sit
    in both train and test); None = each patch its own group. See ``c2st_from_features`` for the protocol.
    """
    fr, fg = c2st_features(real), c2st_features(generated)
    if (extra_real is None) != (extra_generated is None):
        raise ValueError("c2st: give extra features for both sets or for neither")
    if extra_real is not None:
        fr = np.concatenate([fr, np.asarray(extra_real, dtype=np.float64).reshape(len(fr), -1)], axis=1)
        fg = np.concatenate([fg, np.asarray(extra_generated, dtype=np.float64).reshape(len(fg), -1)], axis=1)
    return c2st_from_features(fr, fg, real_groups, generated_groups)


def tile_crops(img: np.ndarray, crop: int) -> np.ndarray:
    """All non-overlapping crop×crop tiles of an H×W×C image, row-major (the remainder is dropped)."""
    arr = _as_image(img)
    ny, nx = arr.shape[0] // crop, arr.shape[1] // crop
    if ny == 0 or nx == 0:
        raise ValueError(f"image {arr.shape[:2]} smaller than the crop {crop}")
    tiles = arr[: ny * crop, : nx * crop].reshape(ny, crop, nx, crop, arr.shape[2]).swapaxes(1, 2)
    return tiles.reshape(ny * nx, crop, crop, arr.shape[2])


def photo_c2st(photo: np.ndarray, material: np.ndarray, crop: int = 64) -> float:
    """c2st between the non-overlapping crop² tiles of a photo and of the material (base colour) made from it,
    each tile its own fold group (METRICS.md photo_c2st). Both at their own pixel scale; a grey photo (H×W or
    C = 1) is repeated to RGB; ``material`` may also be a Material (its base colour is used)."""
    basecolor = getattr(material, "basecolor", material)
    return c2st(tile_crops(photo, crop), tile_crops(basecolor, crop))


# --------------------------------------------------------------------------------------------- structure


def _radius_grid(h: int, w: int) -> np.ndarray:
    yy, xx = np.indices((h, w))
    return np.hypot(yy - h // 2, xx - w // 2)


def regularity(img: np.ndarray) -> float:
    """Strength of the secondary peaks of the periodic autocorrelation (METRICS.md regularity).

    Luminance, mean removed; autocorrelation = IFFT2(|FFT2|²) (periodic), divided by its zero-lag value,
    fftshifted (zero lag at (H//2, W//2)). Radial mean at integer radius r = mean over lags whose Euclidean
    distance from zero lag rounds to r (as ``radial_power_spectrum``); r0 = the first r ≥ 1 with radial mean
    < 0.1. regularity = max of the autocorrelation over lags with Euclidean distance r > max(2·r0, 4) and
    r < min(H, W)/2. Returns 0.0 for a constant image (no variance) and when no lag qualifies (the radial
    mean never drops below 0.1 in range, or the range is empty).
    """
    lum = luminance(img)
    lum = lum - lum.mean()
    spectrum = np.fft.fft2(lum)
    ac = np.fft.ifft2(np.abs(spectrum) ** 2).real
    if ac[0, 0] <= 0.0:
        return 0.0
    ac = np.fft.fftshift(ac / ac[0, 0])
    h, w = ac.shape
    dist = _radius_grid(h, w)
    rint = np.rint(dist).astype(np.int64).ravel()
    radial = np.bincount(rint, weights=ac.ravel()) / np.maximum(np.bincount(rint), 1)
    below = np.nonzero(radial[1:] < 0.1)[0]
    if below.size == 0:
        return 0.0
    r0 = int(below[0]) + 1
    mask = (dist > max(2 * r0, 4)) & (dist < min(h, w) / 2)
    if not mask.any():
        return 0.0
    return float(ac[mask].max())


def _pool_stack(stack: np.ndarray, factor: int) -> np.ndarray:
    n, h, w, c = stack.shape
    if h % factor or w % factor:
        raise ValueError(f"image size {h}×{w} is not divisible by the pooling factor {factor}")
    return stack.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def nearest_crop_distances(queries: ImageSet, training_images: ImageSet, pool: int = 4, step: int = 16) -> np.ndarray:
    """For each query crop (all the same size), the mean L1 distance between its pool×-average-pooled copy and
    the nearest equally sized crop of any training image (offsets on a ``step``-px grid, wrapping), pooled alike.

    Pooling first is exact here: with ``step`` a multiple of ``pool`` and training sizes divisible by ``pool``,
    the pooled crop at offset (y, x) is the pooled image's crop at (y/pool, x/pool). Distances in float32 via
    ``torch.cdist(p=1)``, a few training images at a time. Returns float64, one value per query.
    """
    if step % pool:
        raise ValueError("step must be a multiple of pool")
    q = _pool_stack(_as_stack(queries, "queries"), pool)
    nq, ch, cw, c = q.shape
    qt = torch.from_numpy(np.ascontiguousarray(q.reshape(nq, -1), dtype=np.float32))
    best = torch.full((nq,), float("inf"), dtype=torch.float32)
    s = step // pool
    yy, xx = np.arange(ch), np.arange(cw)
    with torch.no_grad():
        for image in _as_list(training_images, "training_images"):
            if image.shape[-1] != c:
                raise ValueError(f"training image has {image.shape[-1]} channels, queries {c}")
            p = _pool_stack(image[None], pool)[0]
            ph, pw = p.shape[:2]
            oy, ox = np.arange(0, ph, s), np.arange(0, pw, s)
            rows = (oy[:, None] + yy[None]) % ph  # offsets × crop rows
            cols = (ox[:, None] + xx[None]) % pw
            crops = p[rows[:, None, :, None], cols[None, :, None, :]]  # oy × ox × ch × cw × c
            ct = torch.from_numpy(np.ascontiguousarray(crops.reshape(-1, ch * cw * c), dtype=np.float32))
            best = torch.minimum(best, torch.cdist(qt[None], ct[None], p=1.0)[0].min(dim=1).values)
    return best.double().numpy() / (ch * cw * c)


def memorisation_ratio(generated_crops: ImageSet, heldout_crops: ImageSet, training_images: ImageSet,
                       pool: int = 4, step: int = 16) -> float:
    """memorisation_ratio (METRICS.md) = median nearest-training-crop distance of the generated crops / the
    same median for held-out real crops (see ``nearest_crop_distances``: 4× pooled, 16-px offset grid, wrapping).

    1 = as new as fresh data; near 0 = copies (or shifted copies) of training images. Real median 0: 1.0 if the
    generated median is 0 too, else inf.
    """
    dg = nearest_crop_distances(generated_crops, training_images, pool, step)
    dr = nearest_crop_distances(heldout_crops, training_images, pool, step)
    return _safe_ratio(float(np.median(dg)), float(np.median(dr)))


# --------------------------------------------------------------------------------------------- billboards

SPRITE_C2ST_SIZE = 128
SPRITE_GREY = 0.5
#: minimum size in pixels of a silhouette component or hole that counts.
SILHOUETTE_MIN_PX = 16
HUE_MIN_SATURATION = 0.2


def _sprite_stack(sprites: ImageSet, size: int) -> np.ndarray:
    out = []
    for sprite in _as_list(sprites, "sprites"):
        if sprite.shape[-1] != 4:
            raise ValueError(f"expected RGBA sprites, got shape {sprite.shape}")
        if sprite.shape[:2] != (size, size):
            sprite = _resize_area(sprite, size)
        out.append(np.clip(sprite, 0.0, 1.0))
    return np.stack(out)


def _resize_area(img: np.ndarray, size: int) -> np.ndarray:
    """Area-resample (cv2.INTER_AREA) an H×W×C image to size×size, float64."""
    import cv2

    return cv2.resize(np.ascontiguousarray(img, dtype=np.float32), (size, size), interpolation=cv2.INTER_AREA).astype(np.float64)


def sprite_c2st(real_sprites: ImageSet, generated_sprites: ImageSet, size: int = SPRITE_C2ST_SIZE) -> float:
    """sprite_c2st (METRICS.md): c2st of RGBA sprites, area-downsampled to 128² (cv2.INTER_AREA; straight
    alpha resampled as a channel), premultiplied over 50 % grey (rgb·a + 0.5·(1 − a)), with the alpha channel's
    mean and (population) std appended to the 774 features; each sprite its own fold group."""
    def parts(sprites: ImageSet) -> tuple[np.ndarray, np.ndarray]:
        s = _sprite_stack(sprites, size)
        a = s[..., 3:4]
        composite = s[..., :3] * a + SPRITE_GREY * (1.0 - a)
        extra = np.stack([a.mean(axis=(1, 2, 3)), a.std(axis=(1, 2, 3))], axis=1)
        return composite, extra

    real, extra_r = parts(real_sprites)
    gen, extra_g = parts(generated_sprites)
    return c2st(real, gen, extra_real=extra_r, extra_generated=extra_g)


def silhouette_figures(alpha: np.ndarray) -> dict[str, float]:
    """Silhouette figures of one sprite's alpha (H×W, or H×W×4 whose channel 3 is used), mask = alpha > 0.5.

    * ``components``: 8-connected foreground parts of ≥ 16 px;
    * ``holes``: 4-connected background regions of ≥ 16 px that do not touch the image border;
    * ``edge_complexity`` = perimeter / sqrt(area) over the kept components (specks < 16 px removed), where area
      = their pixel count and perimeter = the summed ``cv2.arcLength`` (closed) of all their contours, outer and
      hole, from ``cv2.findContours(RETR_CCOMP, CHAIN_APPROX_NONE)`` (8-connected pixel-centre chains: steps of
      1 or √2). A disc scores ≈ 2√π ≈ 3.54; ragged or thin silhouettes more. No foreground: 0.0.
    """
    import cv2

    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 3:
        if a.shape[-1] != 4:
            raise ValueError(f"silhouette_figures takes H×W alpha or H×W×4 RGBA, got shape {a.shape}")
        a = a[..., 3]
    if a.ndim != 2:
        raise ValueError(f"silhouette_figures takes H×W alpha or H×W×4 RGBA, got shape {a.shape}")
    from scipy import ndimage

    mask = a > 0.5
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep_ids = np.nonzero(sizes >= SILHOUETTE_MIN_PX)[0]
    keep_ids = keep_ids[keep_ids > 0]
    kept = np.isin(labels, keep_ids)
    back, nb = ndimage.label(~mask)  # default structure: 4-connected
    border = set(np.concatenate([back[0], back[-1], back[:, 0], back[:, -1]]).tolist())
    back_sizes = np.bincount(back.ravel(), minlength=nb + 1)
    holes = sum(1 for i in range(1, nb + 1) if back_sizes[i] >= SILHOUETTE_MIN_PX and i not in border)
    area = int(kept.sum())
    if area == 0:
        return {"components": 0, "holes": holes, "edge_complexity": 0.0}
    contours, _ = cv2.findContours(kept.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    perimeter = float(sum(cv2.arcLength(c, True) for c in contours))
    return {"components": int(len(keep_ids)), "holes": int(holes), "edge_complexity": perimeter / math.sqrt(area)}


def _hue_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV hue in [0, 1) and saturation (max − min)/max of an …×3 array (hue 0 where max = min)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    hue = np.where(mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    hue = np.where(d > 0, hue / 6.0, 0.0) % 1.0
    sat = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return hue, sat


def sprite_hues(sprites: ImageSet) -> np.ndarray:
    """Pooled HSV hues in [0, 1) of the pixels with alpha > 0.5 and saturation > 0.2 of a set of RGBA sprites
    (straight alpha: the colour channels as stored)."""
    values = []
    for sprite in _as_list(sprites, "sprites"):
        if sprite.shape[-1] != 4:
            raise ValueError(f"expected RGBA sprites, got shape {sprite.shape}")
        hue, sat = _hue_saturation(np.clip(sprite[..., :3], 0.0, 1.0))
        values.append(hue[(sprite[..., 3] > 0.5) & (sat > HUE_MIN_SATURATION)])
    return np.concatenate(values)


def hue_w1(sprites_a: ImageSet, sprites_b: ImageSet) -> float:
    """hue_w1 (METRICS.md): 1-D Wasserstein distance between the hue distributions of two RGBA sprite sets,
    over the pixels with alpha > 0.5 and HSV saturation > 0.2 (``sprite_hues``).

    Taken literally as a plain 1-D W1 on hue in [0, 1) (``scipy.stats.wasserstein_distance`` on the pooled
    values): hue is NOT treated as circular, so red at 0.01 and red at 0.99 are 0.98 apart; red (0) vs blue
    (2/3) is 2/3. Both sets without any qualifying pixel: 0.0; only one: nan.
    """
    ha, hb = sprite_hues(sprites_a), sprite_hues(sprites_b)
    if ha.size == 0 or hb.size == 0:
        return 0.0 if ha.size == hb.size else float("nan")
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(ha, hb))
