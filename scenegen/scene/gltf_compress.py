"""Optional GLB compression (``--compress [webp|ktx2]``), through glTF-Transform (npm).

:func:`compress_glb` runs ``gltf_compress.mjs`` beside this file with Node.js and the npm packages of the
repository's ``package.json`` (``npm install`` in the checkout; ``make setup-test`` does it). Two formats:

* ``webp`` (the default): textures → WebP (``EXT_texture_webp``, libwebp through ``sharp``): colour lossy
  (quality 90, alpha lossless, colour under transparent texels kept), normal and ORM maps near-lossless (quality
  60: the lossless codec, no chroma subsampling across their independent channels). Geometry is left as it is,
  so the only required extension is ``EXT_texture_webp``: Blender and Godot 4 load the file, and the Khronos
  validator (2.0.0-dev.3.10) implements the extension and checks every image and accessor: 0 errors, 0 warnings.
* ``ktx2``: textures → KTX2 with Basis Universal supercompression (``KHR_texture_basisu``, ``ktx2-encoder``):
  **UASTC** (+ Zstandard, RDO) for normal and ORM maps, linear; **ETC1S** for colour, sRGB; mipmaps in the file.
  Geometry reordered, quantised (``KHR_mesh_quantization``) and ``EXT_meshopt_compression``. Textures stay
  block-compressed in GPU memory, for runtime loaders (three.js, Babylon.js, Unity glTFast, Godot 4 for KTX2);
  Blender and Godot 3 refuse it. The validator implements neither extension (KhronosGroup/glTF-Validator#177):
  each KTX2 image gets two warnings (``VALUE_NOT_IN_LIST`` for ``image/ktx2``, ``IMAGE_UNRECOGNIZED_FORMAT``).

docs/ENGINES.md gives the sizes and which engine loads what. Deterministic: the same GLB gives the same
compressed bytes. Node.js and the packages are needed only here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ScenegenError

SCRIPT = Path(__file__).with_name("gltf_compress.mjs")
PACKAGES = ("@gltf-transform/core", "@gltf-transform/extensions", "@gltf-transform/functions", "ktx2-encoder",
            "meshoptimizer", "pngjs", "sharp")
FORMATS = ("webp", "ktx2")
DEFAULT_FORMAT = "webp"
#: What each format writes, for export manifests (``compressed``) and reports.
DESCRIPTIONS = {
    "webp": "every .glb: textures WebP (EXT_texture_webp, required; colour lossy q90 with lossless alpha, normal and "
            "ORM maps near-lossless), geometry unchanged",
    "ktx2": "every .glb: textures KTX2 (KHR_texture_basisu; UASTC for normal and ORM maps, ETC1S for colour), "
            "geometry meshopt (EXT_meshopt_compression, KHR_mesh_quantization); both extensions required",
}
TIMEOUT_S = 3600


def node_modules() -> Path | None:
    """The ``node_modules`` folder Node resolves the script's imports from (the nearest one above it)."""
    for folder in SCRIPT.parents:
        if (folder / "node_modules").is_dir():
            return folder / "node_modules"
    return None


def compress_unavailable() -> str | None:
    """None when :func:`compress_glb` can run, else one line saying what is missing and how to get it."""
    if shutil.which("node") is None:
        return "--compress needs Node.js (node on PATH) and the npm packages of scenegen's package.json"
    modules = node_modules()
    missing = [p for p in PACKAGES if modules is None or not (modules / p / "package.json").is_file()]
    if missing:
        return (f"--compress needs the npm packages {', '.join(missing)}: run `npm install` in the scenegen "
                "checkout (package.json lists them)")
    return None


def compression_format(value: bool | str | None) -> str | None:
    """The format a ``compress`` argument asks for: None for False/None/"", :data:`DEFAULT_FORMAT` for True,
    else the name itself (ScenegenError when it is not one of :data:`FORMATS`)."""
    if value is None or value is False or value == "":
        return None
    if value is True:
        return DEFAULT_FORMAT
    if value not in FORMATS:
        raise ScenegenError(f"--compress: unknown format {str(value)[:40]!r}; choose one of: {', '.join(FORMATS)}")
    return str(value)


def compress_glb(data: bytes, format: bool | str = DEFAULT_FORMAT) -> tuple[bytes, dict[str, Any]]:
    """(compressed GLB bytes, report) of a GLB in ``format`` (``webp`` or ``ktx2``; see the module notes).

    The report has the ``format`` and lists every texture with its slots, mode (``lossy``/``near_lossless`` or
    ``etc1s``/``uastc``), ``png_bytes`` and compressed ``bytes``.
    ScenegenError (one line) for an unknown format, when Node or the packages are missing or the tool fails.
    """
    fmt = compression_format(format)
    if fmt is None:
        raise ScenegenError("--compress: no format given")
    problem = compress_unavailable()
    if problem:
        raise ScenegenError(problem)
    with tempfile.TemporaryDirectory(prefix="scenegen-compress-") as work:
        source, target = Path(work) / "in.glb", Path(work) / "out.glb"
        source.write_bytes(data)
        try:
            done = subprocess.run([shutil.which("node") or "node", str(SCRIPT), str(source), str(target), fmt],
                                  capture_output=True, text=True, timeout=TIMEOUT_S, cwd=SCRIPT.parent)
        except subprocess.TimeoutExpired:
            raise ScenegenError(f"--compress: glTF-Transform ran for over {TIMEOUT_S} s and was stopped") from None
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not target.is_file() or not lines:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise ScenegenError(f"--compress: glTF-Transform failed (exit {done.returncode}): {last}")
        return target.read_bytes(), json.loads(lines[-1])
