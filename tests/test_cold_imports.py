"""A cold command imports only what it uses (issue 16): fresh interpreters running the real commands, then a look
at ``sys.modules``; and the FFT the material path uses instead of ``scipy.fft`` gives scipy.fft's bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scenegen.data import fft

REPO = Path(__file__).resolve().parents[1]

#: Runs one command in a fresh interpreter, then prints its exit code and every module it imported.
PROBE = (
    "import contextlib, io, json, sys\n"
    "from scenegen.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
    "    try:\n"
    "        code = main(json.loads(sys.argv[1]))\n"
    "    except SystemExit as exc:\n"
    "        code = exc.code\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
)

#: Not needed to make, encode or write a material (from a class or a photo): scipy (its FFT comes from
#: scenegen.data.fft), the scene/export/build stacks and what they bring (pydantic, trimesh, OpenGL, …).
NOT_FOR_MATERIAL = ("scipy", "pydantic", "jsonschema", "trimesh", "networkx", "pyrender", "OpenGL", "pyglet",
                    "skimage", "scenegen.scene", "scenegen.export", "scenegen.build", "scenegen.sprites",
                    "scenegen.sprite_gen", "scenegen.metrics", "scenegen.data.procedural")
#: `scenegen info` reads a model directory's files: no model, images or maps.
NOT_FOR_INFO = ("torch", "safetensors", "scipy", "cv2", "PIL", "scenegen.imaging", "scenegen.materials",
                "scenegen.model.weights")
#: `scenegen sprite` without --mesh writes PNGs: no meshes, no scene, export or build stack, no spec validation.
NOT_FOR_SPRITE = ("pydantic", "jsonschema", "trimesh", "networkx", "pyrender", "OpenGL", "pyglet", "scenegen.scene", "scenegen.export",
                  "scenegen.build", "scenegen.materials")


def cold_modules(args: list[str], tmp_path: Path) -> list[str]:
    """The modules a fresh ``scenegen ARGS`` imported (it must succeed)."""
    env = {**os.environ, "SCENEGEN_CACHE": str(tmp_path / "cache")}
    env.pop("SCENEGEN_MODEL", None)
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] in (0, None), report["code"]
    return report["modules"]


def found(modules: list[str], unwanted: tuple[str, ...]) -> list[str]:
    """The unwanted packages/modules present in ``modules`` (a name covers its submodules)."""
    return sorted({u for u in unwanted for m in modules if m == u or m.startswith(u + ".")})


@pytest.mark.parametrize("source", ["class", "photo"])
def test_material_imports_only_what_it_uses(source: str, tmp_path: Path) -> None:
    what = ["grass"]
    if source == "photo":
        from PIL import Image

        rng = np.random.default_rng(0)
        photo = (rng.random((96, 96, 1)) * 0.4 + np.linspace(0.2, 0.6, 96)[:, None, None] * [1.0, 0.8, 0.5])
        Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
        what = ["--from-image", str(tmp_path / "photo.png")]
    out = tmp_path / "out"
    modules = cold_modules(["material", *what, "--size", "64", "--out", str(out), "--no-cache", "--quiet"], tmp_path)
    assert len(list(out.glob("*.png"))) == 7  # the maps were derived (FFTs) and written
    assert "scenegen.data.fft" in modules and "torch" in modules
    assert found(modules, NOT_FOR_MATERIAL) == [], "scenegen material imported modules it does not use"


def test_info_imports_no_model_image_or_fft_stack(tmp_path: Path) -> None:
    assert found(cold_modules(["info"], tmp_path), NOT_FOR_INFO) == []


def test_sprite_imports_no_scene_export_or_spec_stack(tmp_path: Path) -> None:
    out = tmp_path / "sprites"
    modules = cold_modules(["sprite", "conifer", "--count", "1", "--size", "64", "--out", str(out), "--quiet"],
                           tmp_path)
    assert (out / "conifer_0_0.png").is_file()
    assert found(modules, NOT_FOR_SPRITE) == []


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("shape", [(64, 64), (13, 64, 64), (2, 3, 96, 130), (257, 300), (31, 33)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fft_gives_scipy_fft_bytes(shape: tuple[int, ...], dtype: type) -> None:
    import scipy.fft

    assert fft._extension() is not None, "scipy's pocketfft extension was not found: the fast path is off"
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    spectrum = fft.rfft2(x)
    assert _same(spectrum, scipy.fft.rfft2(x))
    assert _same(fft.rfft2(x[..., 1:, ::2]), scipy.fft.rfft2(x[..., 1:, ::2]))  # strided views
    for width in (shape[-1], shape[-1] + (1 if shape[-1] % 2 == 0 else -1)):  # both widths of a half-spectrum
        expected = scipy.fft.irfft2(spectrum.copy(), s=(shape[-2], width))
        assert _same(fft.irfft2(spectrum.copy(), s=(shape[-2], width), overwrite_x=True), expected)


def test_fft_hands_other_cases_to_scipy() -> None:
    import scipy.fft

    ints = np.arange(48).reshape(6, 8)
    assert _same(fft.rfft2(ints), scipy.fft.rfft2(ints))  # not float: converted as scipy converts it
    half = np.ones((4, 6), np.float16)
    assert _same(fft.rfft2(half), scipy.fft.rfft2(half))
    spectrum = scipy.fft.rfft2(np.random.default_rng(1).random((8, 8)))
    assert _same(fft.irfft2(spectrum, s=(12, 10)), scipy.fft.irfft2(spectrum, s=(12, 10)))  # padded to s


def test_fft_shares_one_extension_module_with_scipy() -> None:
    """Loaded first by scenegen.data.fft, then by scipy.fft: one module object, so nothing is initialised twice."""
    code = ("import sys, numpy as np\nfrom scenegen.data import fft\n"
            "fft.rfft2(np.ones((4, 4), np.float32))\nassert 'scipy' not in sys.modules\n"
            "import scipy.fft\nprint(scipy.fft._pocketfft.pypocketfft is fft._extension())\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]


def test_fft_refuses_an_extension_whose_arguments_changed() -> None:
    """The real extension passes the load-time check; one that normalises differently (as a scipy release that
    changed the private arguments would) is refused, so scipy.fft is used instead of giving wrong maps."""
    real = fft._extension()
    assert real is not None and fft._answers_right(real)

    class Renormalised:
        r2c = staticmethod(lambda a, axes, forward, inorm, out, workers: real.r2c(a, axes, forward, 2, out, workers))
        c2r = staticmethod(real.c2r)

    class Broken:
        r2c = c2r = staticmethod(lambda *args: (_ for _ in ()).throw(TypeError("signature changed")))

    assert not fft._answers_right(Renormalised()) and not fft._answers_right(Broken())
