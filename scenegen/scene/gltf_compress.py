"""Optional GLB compression (``--compress``): KTX2 textures and meshopt geometry, through glTF-Transform (npm).

:func:`compress_glb` runs ``gltf_compress.mjs`` beside this file with Node.js and the npm packages of the
repository's ``package.json`` (``npm install`` in the checkout; ``make setup-test`` does it):

* textures → KTX2 with Basis Universal supercompression (``KHR_texture_basisu``, ``ktx2-encoder``, the
  Binomial encoder compiled to WebAssembly): **UASTC** (+ Zstandard, rate-distortion optimised) for normal maps
  and the ORM data map, linear; **ETC1S** for base colour (and a sprite's alpha), sRGB; mipmaps in the file;
* geometry → reordered, quantised (``KHR_mesh_quantization``) and ``EXT_meshopt_compression`` (meshoptimizer).

Both extensions are then *required*: the file is for loaders that read them (three.js, Babylon.js, Unity
glTFast, Godot 4 for KTX2 …); Blender and Godot 3 need the uncompressed GLB (docs/ENGINES.md says which engine
loads what). The Khronos validator (2.0.0-dev.3.10) implements neither extension: it reports each embedded
KTX2 image's ``image/ktx2`` MIME type as a warning (KhronosGroup/glTF-Validator#177) and cannot look inside
meshopt buffers, so the tests also decode the file and validate and inspect what it holds.

Deterministic: the same GLB gives the same compressed bytes. Node.js and the packages are needed only here.
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
            "meshoptimizer", "pngjs")
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


def compress_glb(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """(compressed GLB bytes, report) of a GLB: KTX2 textures, meshopt geometry (see the module notes).

    The report lists every texture with its slots, mode (``uastc``/``etc1s``) and PNG and KTX2 sizes.
    ScenegenError (one line) when Node or the packages are missing or the tool fails.
    """
    problem = compress_unavailable()
    if problem:
        raise ScenegenError(problem)
    with tempfile.TemporaryDirectory(prefix="scenegen-compress-") as work:
        source, target = Path(work) / "in.glb", Path(work) / "out.glb"
        source.write_bytes(data)
        try:
            done = subprocess.run([shutil.which("node") or "node", str(SCRIPT), str(source), str(target)],
                                  capture_output=True, text=True, timeout=TIMEOUT_S, cwd=SCRIPT.parent)
        except subprocess.TimeoutExpired:
            raise ScenegenError(f"--compress: glTF-Transform ran for over {TIMEOUT_S} s and was stopped") from None
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not target.is_file() or not lines:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise ScenegenError(f"--compress: glTF-Transform failed (exit {done.returncode}): {last}")
        return target.read_bytes(), json.loads(lines[-1])
