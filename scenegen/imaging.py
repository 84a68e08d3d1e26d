"""Small image helpers shared by the corpus, materials and sprites.

Convention everywhere in scenegen: images are ``numpy.float32`` arrays, H×W×C, values in [0, 1].
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ScenegenError
from .fsutil import atomic_write_bytes, input_stat, open_input, quote_path
from .limits import MAX_IMAGE_PIXELS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".tga")

# Every image scenegen decodes goes through load_image / image_header, which check the size the header declares
# against MAX_IMAGE_PIXELS before decoding and name the file; PIL's own guard would raise (or warn) first, in
# its own words, so it is off.
Image.MAX_IMAGE_PIXELS = None
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
                  KeyError, ZeroDivisionError, MemoryError, Image.DecompressionBombError)


def _label(source: object) -> str:
    return quote_path(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "name", "image"))


def _check_header(img: Image.Image, path: object, max_pixels: int) -> tuple[int, int]:
    path = _label(path)
    width, height = img.size
    if width < 1 or height < 1:
        raise ScenegenError(f"{path}: the image declares a size of {width}×{height} px")
    if width * height > max_pixels:
        raise ScenegenError(f"{path}: the image declares {width}×{height} px "
                            f"({width * height:,} pixels); the limit is {max_pixels:,}")
    frames = getattr(img, "n_frames", 1)
    if isinstance(frames, int) and frames > 1 and width * height * frames > 4 * max_pixels:
        raise ScenegenError(f"{path}: {frames} frames of {width}×{height} px; too large")
    return width, height


def image_header(path: str | os.PathLike[str] | BinaryIO, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(width, height) an image file declares, read from its header only, checked against ``max_pixels``.

    Only a regular file is opened (never a FIFO, a device or a symlink loop). Raises ScenegenError naming the
    file when it is not an image or declares more pixels than the budget (a decompression bomb).
    """
    with _opened(path) as handle:
        try:
            with Image.open(handle) as img:
                return _check_header(img, path, max_pixels)
        except ScenegenError:
            raise
        except _DECODE_ERRORS as exc:
            raise ScenegenError(f"{_label(path)}: not a readable image ({_why(exc)})") from None


def _opened(source):  # a path (opened safely) or a binary file object (used as is, not closed)
    if hasattr(source, "read"):
        return contextlib.nullcontext(source)
    return open_input(source)


def _why(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not an image format PIL knows, or damaged"
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text[:100]}" if text else exc.__class__.__name__


def load_image(path: str | os.PathLike[str] | BinaryIO, mode: str = "RGB", max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read any common image (8/16-bit, grey, RGBA, palette, CMYK JPEG) as float32 in [0, 1].

    ``mode`` is ``"RGB"`` (alpha dropped) or ``"RGBA"`` (opaque alpha added where missing). Only a regular
    file is opened, and its declared size is checked against ``max_pixels`` before any pixel is decoded.
    Raises ScenegenError naming the file when it cannot be read.
    """
    if mode not in ("RGB", "RGBA"):
        raise ValueError(f"mode must be RGB or RGBA, not {mode!r}")
    with _opened(path) as handle:
        try:
            with Image.open(handle) as img:
                _check_header(img, path, max_pixels)
                img = ImageOps.exif_transpose(img)
                array = _pil_to_float(img, mode)
        except ScenegenError:
            raise
        except _DECODE_ERRORS as exc:
            raise ScenegenError(f"{_label(path)}: not a readable image ({_why(exc)})") from None
    return array


def _pil_to_float(img: Image.Image, mode: str) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        raw = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if raw.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        grey = np.clip(raw / scale, 0.0, 1.0).astype(np.float32)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        return rgb if mode == "RGB" else np.concatenate([rgb, np.ones_like(grey)[..., None]], axis=2)
    if img.mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        return rgb if mode == "RGB" else np.concatenate([rgb, np.ones_like(grey)[..., None]], axis=2)
    if mode == "RGBA":
        converted = img.convert("RGBA")
    elif img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        converted = img.convert("RGBA").convert("RGB")
    else:
        converted = img.convert("RGB")  # CMYK, YCbCr, L, 1, P
    return np.asarray(converted, dtype=np.float32) / 255.0


_BLOCK_VALUES = 1 << 22  # quantise in row blocks of about this many values (bounded temporaries)


def to_uint(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise a [0, 1] float image to uint8 or uint16 with rounding (in row blocks: no full-size float copies)."""
    peak = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    array = np.asarray(image)
    if array.ndim == 0:
        return np.round(np.clip(array, 0.0, 1.0) * peak).astype(dtype)
    out = np.empty(array.shape, dtype=dtype)
    step = max(1, _BLOCK_VALUES // max(1, array[0].size))
    for y0 in range(0, array.shape[0], step):
        block = np.clip(array[y0 : y0 + step], 0.0, 1.0) * peak
        out[y0 : y0 + step] = np.round(block, out=block)
    return out


def _png_buffer(image: np.ndarray, bits: int, compression: int) -> np.ndarray:
    """The encoded PNG as cv2 returns it (a uint8 array; no extra copy of the encoded bytes)."""
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    ready = np.uint8 if bits == 8 else np.uint16
    if array.ndim == 3 and array.shape[2] == 3:  # quantise straight into cv2's BGR order: no full-size swap copy
        quantised = np.ascontiguousarray(array[..., ::-1]) if array.dtype == ready else to_uint(array[..., ::-1], bits)
    else:
        quantised = array if array.dtype == ready else to_uint(array, bits)
        if quantised.ndim == 3:
            quantised = cv2.cvtColor(quantised, cv2.COLOR_RGBA2BGRA)
    ok, buffer = cv2.imencode(".png", quantised, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise ScenegenError("could not encode PNG")
    return buffer


def encode_png(image: np.ndarray, bits: int = 8, compression: int = 6) -> bytes:
    """PNG bytes of an H×W, H×W×1, ×3 or ×4 float image. Deterministic: no timestamps.

    An image already quantised to the target depth (uint8 for 8 bits, uint16 for 16) is written as is.
    """
    return _png_buffer(image, bits, compression).tobytes()


def save_png(path: str | os.PathLike[str], image: np.ndarray, bits: int = 8) -> Path:
    """Write ``image`` as an 8- or 16-bit PNG atomically; returns the path (same bytes as ``encode_png``)."""
    atomic_write_bytes(path, _png_buffer(image, bits, 6))
    return Path(path)


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luminance (0.299 R + 0.587 G + 0.114 B) of an RGB(A) image, H×W."""
    return (0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]).astype(np.float32, copy=False)


def gaussian_blur_wrap(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with wrap-around borders (via FFT), so a periodic image stays periodic."""
    if sigma <= 0:
        return image.astype(np.float32, copy=True)
    h, w = image.shape[:2]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx * fx + fy * fy))
    if image.ndim == 3:
        kernel = kernel[..., None]
    spectrum = np.fft.rfft2(image, axes=(0, 1)) * kernel
    return np.fft.irfft2(spectrum, s=(h, w), axes=(0, 1)).astype(np.float32)


def tile_image(image: np.ndarray, reps_y: int = 2, reps_x: int = 2) -> np.ndarray:
    """Repeat an image in a grid (a swatch that shows whether it tiles)."""
    reps = (reps_y, reps_x) + (1,) * (image.ndim - 2)
    return np.tile(image, reps)


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """A light/dark grey checkerboard, H×W×3, for previewing cut-outs."""
    yy, xx = np.mgrid[0:height, 0:width]
    board = ((yy // cell + xx // cell) % 2).astype(np.float32)
    grey = 0.62 + 0.2 * board
    return np.repeat(grey[..., None], 3, axis=2)


def over(rgba: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Composite straight-alpha RGBA over an RGB background."""
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + background * (1.0 - alpha)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-resample (down) or cubic (up) resize of a float image."""
    interp = cv2.INTER_AREA if height <= image.shape[0] else cv2.INTER_CUBIC
    out = cv2.resize(image, (width, height), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def list_images(folder: str | os.PathLike[str], skipped: list[str] | None = None) -> list[Path]:
    """Image files (regular files with an image suffix) directly inside ``folder``, sorted by name.

    Entries with an image suffix that are not regular files (a symlink loop, a dangling link, a FIFO, a
    device, a directory) are left out; with ``skipped`` given, each is appended to it as ``"PATH (why)"``.
    """
    images: list[Path] = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            input_stat(entry)
        except ScenegenError as exc:
            if skipped is not None:
                skipped.append(f"{entry} ({str(exc).rsplit(': ', 1)[-1]})")
            continue
        images.append(entry)
    return images
