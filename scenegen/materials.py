"""From a tileable base colour to a full, tileable PBR set (height, normal, roughness, AO, ORM) in memory.

Files: :mod:`scenegen.material_files` writes a set (names, bit depths, engine conventions, previews).

Conventions:

* Every map is ``float32`` in [0, 1]; grey maps are H×W, colour maps H×W×3.
* **Periodic by construction**: every spatial operation wraps around (``np.roll`` or an FFT), so a
  tileable base colour gives tileable maps, and shifting the input shifts every map the same way.
* **Scale-aware**: every filter radius (σ) in pixels and every normal slope is multiplied by a pixel
  scale. For an arbitrary image it is ``sqrt(H·W) / 512`` (the image is one tile of surface, so a 1024²
  photo gives a sharper 512² set); generated textures have fixed-size texels, so the generators pass 1.
* **Normals**: tangent space, encoded ``n * 0.5 + 0.5``; OpenGL/glTF convention: +X (red) points to
  the right of the image, +Y (green) to the **top** of the image, +Z (blue) out of the surface.
  With ``h`` the height and ``y`` measured upwards, ``n ∝ (-k ∂h/∂x, -k ∂h/∂y, 1)``: a slope whose
  height *decreases* towards the image top (the upper flank of a bump, facing up) has green > 0.5;
  a ramp whose height *increases* towards the top faces down and has green < 0.5.
  DirectX (Unreal) flips green: :func:`to_directx`.
* **ORM**: R = ambient occlusion (1 = unoccluded), G = roughness, B = metallic (glTF packing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import fft as sfft  # scipy.fft's transforms, byte for byte, without importing scipy.fft (~0.3 s)
from .errors import ScenegenError
from .imaging import luminance

NORMAL_CONVENTIONS = ("opengl", "directx")

BLOCK_PIXELS = 1 << 21  # row blocks of about this many pixels bound the temporaries of per-pixel maps
REFERENCE_SIZE = 512.0
# Height = weighted sum of band-passes of luminance between consecutive blur scales (px at 512²).
HEIGHT_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
HEIGHT_WEIGHTS = (0.15, 0.3, 0.5, 0.75, 1.0, 1.0)  # fine → coarse: larger structures dominate
AO_SIGMAS = (2.0, 6.0, 16.0)  # cavity radii (px at 512²)
AO_DETAIL_SIGMA = 1.0  # the height is pre-smoothed by this much so texel noise does not read as pits
AO_GAIN = 2.0  # cavity depth (height units) that reads as fully occluded = 1 / AO_GAIN
AO_HEIGHT = 0.3  # extra occlusion of the lowest texels (height 0): low ground is shadowed by what surrounds it
CONTRAST_SIGMA = 3.0  # local-contrast window (px at 512²)
NORMAL_GAIN = 4.0  # slope multiplier at 512² and normal_strength=1


@dataclass
class Material:
    """A tileable PBR texture set; every map float32 in [0, 1] with the same H×W."""

    basecolor: np.ndarray  # H×W×3, sRGB-encoded
    height: np.ndarray  # H×W
    normal: np.ndarray  # H×W×3, encoded [0, 1], tangent space, OpenGL (+Y up)
    roughness: np.ndarray  # H×W
    ao: np.ndarray  # H×W, 1 = unoccluded
    metallic: float = 0.0
    name: str = "material"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of every map."""
        return self.height.shape[0], self.height.shape[1]

    def orm(self) -> np.ndarray:
        """glTF-packed occlusion/roughness/metallic, H×W×3: R = AO, G = roughness, B = metallic."""
        return orm(self)


def orm(material: Material) -> np.ndarray:
    """Pack AO, roughness and metallic into one H×W×3 float32 image (R, G, B)."""
    metal = np.full(material.shape, np.float32(material.metallic), dtype=np.float32)
    return np.stack([material.ao, material.roughness, metal], axis=2).astype(np.float32)


def to_directx(normal: np.ndarray) -> np.ndarray:
    """Convert an encoded OpenGL normal map to DirectX (and back): flip the green channel."""
    out = np.array(normal, dtype=np.float32, copy=True)
    out[..., 1] = 1.0 - out[..., 1]
    return out


def check_normal_convention(convention: str) -> str:
    """Return ``convention`` if it is ``"opengl"`` or ``"directx"``; raise ScenegenError otherwise."""
    if convention not in NORMAL_CONVENTIONS:
        raise ScenegenError(f"normal convention must be 'opengl' or 'directx', not {convention!r}")
    return convention


# ----------------------------------------------------------------------------------------------
# Periodic filtering in the frequency domain
# ----------------------------------------------------------------------------------------------


class _Spectral:
    """rfft2 helpers for one H×W grid: Gaussian transfer functions and periodic filtering."""

    def __init__(self, height: int, width: int) -> None:
        self.shape = (height, width)
        fy = np.fft.fftfreq(height).astype(np.float32)[:, None]
        fx = np.fft.rfftfreq(width).astype(np.float32)[None, :]
        self._r2 = (fy * fy + fx * fx).astype(np.float32)

    def gaussian(self, sigma: float) -> np.ndarray:
        """Transfer function of a Gaussian blur with standard deviation ``sigma`` px."""
        if sigma <= 0:
            return np.ones_like(self._r2)
        return np.exp(np.float32(-2.0 * (np.pi * sigma) ** 2) * self._r2)

    @staticmethod
    def forward(image: np.ndarray) -> np.ndarray:
        return sfft.rfft2(np.asarray(image, dtype=np.float32))

    def inverse(self, spectrum: np.ndarray) -> np.ndarray:
        """Real image of a half-spectrum; **consumes** ``spectrum`` (overwritten: no internal copy)."""
        return sfft.irfft2(spectrum, s=self.shape, overwrite_x=True).astype(np.float32, copy=False)


def _normalise(values: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5, *, inplace: bool = False) -> np.ndarray:
    """Map the [low_pct, high_pct] percentile range to [0, 1] and clip (shift-invariant).

    ``inplace=True`` reuses ``values`` (float32) for the result: one full-size buffer less.
    """
    lo, hi = np.percentile(values, [low_pct, high_pct])
    span = float(hi - lo)
    if span < 1e-6:
        return np.full(values.shape, 0.5, dtype=np.float32)
    if inplace and values.dtype == np.float32:
        out = np.subtract(values, np.float32(lo), out=values)
        out *= np.float32(1.0 / span)
    else:
        out = (values - np.float32(lo)) * np.float32(1.0 / span)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# Individual maps
# ----------------------------------------------------------------------------------------------


def feature_scale(height: int, width: int) -> float:
    """Pixels per reference pixel: filter radii and slopes scale with ``sqrt(H·W) / 512``."""
    return float(np.sqrt(height * width) / REFERENCE_SIZE)


def height_from_luminance(lum_spectrum: np.ndarray, spec: _Spectral, scale: float) -> np.ndarray:
    """Height in [0, 1] from a weighted multi-scale band-pass stack of the luminance.

    Band k is ``blur(L, σ_{k-1}) - blur(L, σ_k)`` (σ_0 = 0); coarse bands weigh most, so large dark
    regions (mortar, cracks, gaps) read as low. The content below the coarsest scale (lighting
    gradients) is dropped. One inverse FFT for the whole stack.
    """
    transfer = np.zeros_like(lum_spectrum.real)
    previous = spec.gaussian(0.0)
    for sigma, weight in zip(HEIGHT_SIGMAS, HEIGHT_WEIGHTS):
        current = spec.gaussian(sigma * scale)
        transfer += np.float32(weight) * (previous - current)
        previous = current
    del previous, current
    return _normalise(spec.inverse(lum_spectrum * transfer), inplace=True)


def normal_from_height(height: np.ndarray, strength: float, scale: float) -> np.ndarray:
    """Encoded OpenGL tangent-space normal map from wrap-around central differences of ``height``.

    ``dh/dx`` is towards the image right, ``dh/dy`` towards the image top; ``n ∝ (-k dh/dx, -k dh/dy, 1)``
    with ``k = NORMAL_GAIN · strength · scale``. Computed in row blocks (bounded temporaries).
    """
    k = np.float32(0.5 * NORMAL_GAIN * strength * scale)  # 0.5: central difference spans 2 px
    rows_total = height.shape[0]
    normal = np.empty(height.shape + (3,), dtype=np.float32)
    step = max(1, BLOCK_PIXELS // max(1, height.shape[1]))
    for y0 in range(0, rows_total, step):
        y1 = min(rows_total, y0 + step)
        rows = height[y0:y1]
        nx = (np.roll(rows, 1, axis=1) - np.roll(rows, -1, axis=1)) * k  # -k dh/dx
        below = height[np.arange(y0 + 1, y1 + 1) % rows_total]
        above = height[np.arange(y0 - 1, y1 - 1) % rows_total]
        ny = (below - above) * k  # -k dh/dy (rows grow down)
        inv_len = 1.0 / np.sqrt(nx * nx + ny * ny + np.float32(1.0))
        block = normal[y0:y1]
        block[..., 0] = nx * inv_len
        block[..., 1] = ny * inv_len
        block[..., 2] = inv_len
        block *= np.float32(0.5)
        block += np.float32(0.5)
    return normal


def cavity_occlusion(height_spectrum: np.ndarray, spec: _Spectral, scale: float, consume: bool = False) -> np.ndarray:
    """How occluded each texel is by lying below its surroundings, in [0, 1] (0 = exposed).

    ``min(AO_GAIN · cavity, 1)`` with the cavity depth ``max(mean_r blur(h, r) - blur(h, AO_DETAIL_SIGMA), 0)``
    over the radii ``AO_SIGMAS`` (scaled); the whole difference of blurs is one transfer function, so one
    inverse FFT. Both the AO and the roughness use it. ``consume=True`` lets it overwrite ``height_spectrum``
    (one full-size complex buffer less at 8192²).
    """
    transfer = spec.gaussian(AO_SIGMAS[0] * scale)
    for sigma in AO_SIGMAS[1:]:
        transfer += spec.gaussian(sigma * scale)
    transfer /= np.float32(len(AO_SIGMAS))
    transfer -= spec.gaussian(AO_DETAIL_SIGMA * scale)
    cavity = spec.inverse(np.multiply(height_spectrum, transfer, out=height_spectrum) if consume else height_spectrum * transfer)
    np.maximum(cavity, 0.0, out=cavity)
    cavity *= np.float32(AO_GAIN)
    return np.minimum(cavity, 1.0, out=cavity)


def ambient_occlusion(occlusion: np.ndarray, height: np.ndarray, strength: float) -> np.ndarray:
    """Ambient occlusion in [0, 1] (1 = unoccluded): cavity occlusion times height occlusion.

    ``(1 - s·occlusion) · (1 - s·AO_HEIGHT·(1 - height))`` with ``s = strength`` and ``occlusion`` from
    :func:`cavity_occlusion`: pits and
    crevices darken, and so, more gently, does everything low (mortar beds, the floor between stones).
    Without the height term AO is white except in crevices, and a map that is mostly a flat 1 carries
    little shape. Evaluated in place (one full-size temporary).
    """
    s = np.float32(strength)
    ao = np.multiply(occlusion, -s)
    ao += np.float32(1.0)
    np.maximum(ao, 0.0, out=ao)  # strengths above 1 saturate at black rather than wrapping sign
    low = np.subtract(1.0, height, dtype=np.float32)
    low *= -s * np.float32(AO_HEIGHT)
    low += np.float32(1.0)
    np.maximum(low, 0.0, out=low)
    ao *= low
    del low
    return np.clip(ao, 0.0, 1.0, out=ao)


def local_contrast(lum: np.ndarray, lum_spectrum: np.ndarray, spec: _Spectral, scale: float) -> np.ndarray:
    """Normalised local standard deviation of the luminance in a σ = CONTRAST_SIGMA·scale window."""
    window = spec.gaussian(CONTRAST_SIGMA * scale)
    detail = lum - spec.inverse(lum_spectrum * window)
    squared = spec.forward(detail * detail)
    del detail
    squared *= window
    variance = spec.inverse(squared)
    np.maximum(variance, 0.0, out=variance)
    return _normalise(np.sqrt(variance, out=variance), inplace=True)


def roughness_map(
    lum_norm: np.ndarray, contrast: np.ndarray, occlusion: np.ndarray, roughness_range: tuple[float, float]
) -> np.ndarray:
    """Roughness in ``roughness_range``: the inverse of a "smoothness" mix.

    Smoothness = 0.5 · brightness + 0.3 · (1 - local contrast) + 0.2 · (1 - cavity occlusion): bright, flat,
    exposed texels read glossier; dark, detailed, recessed ones (dust, grime, mortar) rougher.
    Evaluated in place (two full-size temporaries).
    """
    lo, hi = roughness_range
    smooth = np.float32(0.5) * lum_norm
    term = np.subtract(1.0, contrast, dtype=np.float32)
    term *= np.float32(0.3)
    smooth += term
    np.subtract(1.0, occlusion, out=term)
    term *= np.float32(0.2)
    smooth += term
    del term
    rough = np.subtract(1.0, smooth, out=smooth)
    rough *= np.float32(hi - lo)
    rough += np.float32(lo)
    return np.clip(rough, lo, hi, out=rough)


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------


def _as_basecolor(basecolor: np.ndarray, copy: bool = True) -> np.ndarray:
    array = np.asarray(basecolor)
    if not copy and array.dtype == np.float32 and array.ndim == 3 and array.shape[2] == 3 and array.flags.c_contiguous:
        return np.clip(array, 0.0, 1.0, out=array)  # take ownership: no full-size copy
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 4:
        raise ScenegenError(f"base colour must be an H×W×3 (or ×4) image of at least 4×4, got shape {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / np.float32(255.0)
    elif array.dtype == np.uint16:
        array = array.astype(np.float32) / np.float32(65535.0)
    return np.ascontiguousarray(np.clip(array[..., :3], 0.0, 1.0), dtype=np.float32)


def _check_params(
    normal_strength: float, roughness_range: tuple[float, float], ao_strength: float, metallic: float
) -> tuple[float, float]:
    lo, hi = (float(v) for v in roughness_range)
    if not 0.0 <= lo <= hi <= 1.0:
        raise ScenegenError(f"roughness_range must satisfy 0 <= low <= high <= 1, got {roughness_range!r}")
    if not 0.0 <= metallic <= 1.0:
        raise ScenegenError(f"metallic must be in [0, 1], got {metallic!r}")
    if normal_strength < 0 or ao_strength < 0:
        raise ScenegenError("normal_strength and ao_strength must be >= 0")
    return lo, hi


def derive_maps(
    basecolor: np.ndarray,
    *,
    height: np.ndarray | None = None,
    normal_strength: float = 1.0,
    roughness_range: tuple[float, float] = (0.45, 0.95),
    ao_strength: float = 1.0,
    metallic: float = 0.0,
    name: str = "material",
    params: dict[str, Any] | None = None,
    copy: bool = True,
    pixel_scale: float | None = None,
) -> Material:
    """Derive height, normal, roughness and AO from a tileable base colour (periodic, size-consistent).

    ``height`` (H×W in [0, 1]) is used as given when supplied; otherwise it is derived from the
    colour's luminance. All filters wrap around, so a tileable input gives tileable maps.
    ``copy=False`` lets the material take ownership of a float32 C-contiguous H×W×3 ``basecolor``
    (clipped in place, not copied): what the generators do to keep 8192² sets within memory.
    ``pixel_scale`` multiplies every filter radius and slope; by default ``sqrt(H·W) / 512`` (an image of
    any size shows one tile of surface). Generators pass 1.0: their texels have a fixed size (8 px per
    latent cell), so a larger canvas shows more surface, and its maps must match the 512² ones texel for texel.
    """
    color = _as_basecolor(basecolor, copy)
    lo, hi = _check_params(normal_strength, roughness_range, ao_strength, metallic)
    h, w = color.shape[:2]
    scale = feature_scale(h, w) if pixel_scale is None else float(pixel_scale)
    if not scale > 0:
        raise ScenegenError(f"pixel_scale must be positive, got {pixel_scale!r}")
    spec = _Spectral(h, w)

    # Order chosen for peak memory at 8192²: every full-size temporary is freed as soon as it is used.
    lum = luminance(color)
    lum_spectrum = spec.forward(lum)
    contrast = local_contrast(lum, lum_spectrum, spec, scale)
    if height is None:
        height_map = height_from_luminance(lum_spectrum, spec, scale)
        height_source = "luminance"
    else:
        height_map = np.asarray(height, dtype=np.float32)
        if height_map.ndim == 3 and height_map.shape[2] == 1:
            height_map = height_map[..., 0]
        if height_map.shape != (h, w):
            raise ScenegenError(f"height must be {h}×{w} like the base colour, got shape {height_map.shape}")
        height_map = np.ascontiguousarray(np.clip(height_map, 0.0, 1.0), dtype=np.float32)
        height_source = "given"
    del lum_spectrum
    lum_norm = _normalise(lum, inplace=True)
    del lum
    occlusion = cavity_occlusion(spec.forward(height_map), spec, scale, consume=True)
    roughness = roughness_map(lum_norm, contrast, occlusion, (lo, hi))
    del lum_norm, contrast
    ao = ambient_occlusion(occlusion, height_map, ao_strength)
    del occlusion
    record = {
        "height_source": height_source,
        "normal_strength": float(normal_strength),
        "roughness_range": [lo, hi],
        "ao_strength": float(ao_strength),
        "metallic": float(metallic),
        "feature_scale": scale,
        "normal_convention": "opengl",
    }
    record.update(params or {})
    return Material(
        basecolor=color,
        height=height_map,
        normal=normal_from_height(height_map, normal_strength, scale),
        roughness=roughness,
        ao=ao,
        metallic=float(metallic),
        name=name,
        params=record,
    )
