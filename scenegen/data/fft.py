"""``rfft2`` / ``irfft2`` with scipy.fft's exact bytes, without the 0.3 s of importing ``scipy.fft``.

``import scipy.fft`` runs scipy's array-API layer (which touches every lazy numpy submodule: numpy.f2py,
numpy.testing, …) and scipy.special: ~0.3 s, a tenth of a cold ``scenegen material``, for two transforms.
Those transforms are scipy's compiled pocketfft, ``scipy/fft/_pocketfft/pypocketfft``: this module loads that
one extension from scipy's folder and calls it with the arguments scipy.fft's own wrappers
(``scipy/fft/_pocketfft/basic.py``: ``r2cn``, ``c2rn``) pass for these calls (last two axes, default norm, one
worker), so the results are scipy.fft's, byte for byte; numpy.fft's differ in the last bits and are not used.
Anything outside that case (other dtypes or shapes, or an extension that cannot be found or loaded) goes to
scipy.fft itself. When scipy.fft is imported later in the process it gets the same extension module object
(CPython keeps one per file). tests/test_cold_imports.py compares both paths byte for byte.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

_EXTENSION = "scipy.fft._pocketfft.pypocketfft"
_pocketfft: Any = None  # the loaded extension, False once loading failed


def _extension() -> Any:
    """scipy's pypocketfft extension module, loaded without its packages' __init__ (None if unavailable)."""
    global _pocketfft
    if _pocketfft is None:
        _pocketfft = False
        try:
            scipy_spec = importlib.util.find_spec("scipy")  # finds the package; does not import it
            folder = Path(scipy_spec.origin).parent / "fft" / "_pocketfft"
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                if (folder / f"pypocketfft{suffix}").is_file():
                    spec = importlib.util.spec_from_file_location(_EXTENSION, folder / f"pypocketfft{suffix}")
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    if callable(getattr(module, "r2c", None)) and callable(getattr(module, "c2r", None)) \
                            and _answers_right(module):
                        _pocketfft = module
                    break
        except (ImportError, OSError, AttributeError, TypeError):
            _pocketfft = False
    return _pocketfft or None


def _answers_right(module: Any) -> bool:
    """Whether the private extension still takes the arguments used here: a 3×4 transform each way against
    numpy.fft (a scipy release that changed them falls back to scipy.fft instead of giving wrong maps)."""
    probe = (np.arange(12, dtype=np.float64).reshape(3, 4) + 1.0) ** 1.5
    try:
        spectrum = module.r2c(probe, [0, 1], True, 0, None, 1)
        back = module.c2r(spectrum, [0, 1], 4, False, 2, None, 1)
    except Exception:  # noqa: BLE001 - any failure means: do not use it
        return False
    return bool(np.allclose(spectrum, np.fft.rfft2(probe)) and np.allclose(back, probe))


def _plain(x: Any, kind: str) -> bool:
    """``x`` is an ndarray of ≥ 2 dims that scipy.fft would pass to pocketfft unchanged (no conversion copy)."""
    return (isinstance(x, np.ndarray) and x.ndim >= 2 and x.dtype.kind == kind and x.dtype != np.float16
            and x.dtype.isnative and x.flags.aligned)


def rfft2(x: np.ndarray) -> np.ndarray:
    """``scipy.fft.rfft2(x)``: the half-spectrum over the last two axes (complex64 for float32 input)."""
    pocketfft = _extension()
    if pocketfft is None or not _plain(x, "f"):
        import scipy.fft

        return scipy.fft.rfft2(x)
    return pocketfft.r2c(x, [x.ndim - 2, x.ndim - 1], True, 0, None, 1)  # forward, norm "backward", 1 worker


def irfft2(x: np.ndarray, s: tuple[int, int], overwrite_x: bool = False) -> np.ndarray:
    """``scipy.fft.irfft2(x, s=s)``: the real s[0]×s[1] image(s) of a half-spectrum (``overwrite_x`` is
    accepted for scipy's signature; scipy does not use it for this transform either)."""
    pocketfft = _extension()
    height, width = int(s[0]), int(s[1])
    if pocketfft is None or not _plain(x, "c") or x.shape[-2:] != (height, width // 2 + 1):
        import scipy.fft

        return scipy.fft.irfft2(x, s=s, overwrite_x=overwrite_x)
    return pocketfft.c2r(x, [x.ndim - 2, x.ndim - 1], width, False, 2, None, 1)  # inverse, 1/(h·w), 1 worker
