"""A cold command pays only for what it uses: no torch where no model runs, no compiler stack for determinism,
no OpenGL for a material preview (fresh processes, real commands)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torch._dynamo", "torch._inductor", "pyrender", "OpenGL")

#: Runs one command in a fresh interpreter, then reports which heavy modules it imported.
PROBE = (
    "import contextlib, io, json, sys\n"
    "from scenegen.cli import main\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):\n"
    "    try:\n"
    "        code = main(json.loads(sys.argv[1]))\n"
    "    except SystemExit as exc:\n"
    "        code = exc.code\n"
    "report = {'code': code, 'modules': [m for m in json.loads(sys.argv[2]) if m in sys.modules]}\n"
    "if 'torch' in sys.modules:\n"
    "    import torch\n"
    "    report['deterministic'] = torch.are_deterministic_algorithms_enabled()\n"
    "print(json.dumps(report))\n"
)


def probe(args: list[str], cwd: Path, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)], cwd=cwd, text=True,
                          capture_output=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["info"], ["info", "assets/models/sprites", "--json"], ["schema"],
                                  ["validate", "examples/meadow/scene.json"], ["material", "--list"]],
                         ids=lambda a: " ".join(a))
def test_commands_that_run_no_model_import_no_torch(args: list[str], tmp_path: Path) -> None:
    report = probe(args, REPO, {"SCENEGEN_CACHE": str(tmp_path / "cache")})
    assert report["code"] == 0, report
    assert report["modules"] == [], f"scenegen {' '.join(args)} imported {report['modules']}"


def test_material_is_deterministic_without_the_compiler_stack_or_opengl(tmp_path: Path) -> None:
    env = {"SCENEGEN_CACHE": str(tmp_path / "cache"), "PYOPENGL_PLATFORM": "no-such-platform"}
    report = probe(["material", "grass", "--size", "64", "--out", str(tmp_path / "a"), "--no-cache"], tmp_path, env)
    assert report["code"] == 0 and report["modules"] == ["torch"] and report["deterministic"] is True, report
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        f"grass_0_{m}.png" for m in ("basecolor", "normal", "roughness", "height", "ao", "orm", "preview"))
    report = probe(["material", "grass", "--size", "64", "--out", str(tmp_path / "b"), "--no-cache", "--no-preview"],
                   tmp_path, env)
    assert report["code"] == 0
    assert not (tmp_path / "b" / "grass_0_preview.png").exists() and len(list((tmp_path / "b").iterdir())) == 6
    for path in (tmp_path / "b").iterdir():  # the same maps, whether or not the preview is written beside them
        assert path.read_bytes() == (tmp_path / "a" / path.name).read_bytes(), path.name


def test_commands_that_skip_the_interpreter_teardown_flush_everything(tmp_path: Path) -> None:
    """`scenegen material|info|…` end with os._exit once stdout and stderr are flushed: nothing is lost."""
    env = {**os.environ, "SCENEGEN_CACHE": str(tmp_path / "cache")}
    run = lambda *args: subprocess.run([sys.executable, "-m", "scenegen", *args], cwd=tmp_path, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=300)
    info = run("info", str(REPO / "assets/models/default"), "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["classes"][0] == "bark", info.stderr
    done = run("material", "grass", "--size", "64", "--out", "m", "--no-cache")
    assert done.returncode == 0 and done.stdout.startswith("grass_0: 7 files in m"), done.stderr
    assert sorted(p.name for p in (tmp_path / "m").iterdir())[0] == "grass_0_ao.png"
    refused = run("material", "basalt", "--size", "64", "--out", "m")
    assert refused.returncode == 2 and refused.stderr.startswith("error: unknown class 'basalt'"), refused.stderr
