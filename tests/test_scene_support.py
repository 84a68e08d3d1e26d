"""Helpers shared by the scene tests (no tests here): a tiny sprite model, small scene files, CLI capture."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def tiny_sprite_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sprite model trained for a few steps on the built-in sprite corpus (once per test session)."""
    root = tmp_path_factory.getbasetemp() / "scene-tiny-sprites"
    model = root / "model"
    if (model / "config.json").is_file():
        return model
    corpus = root / "corpus"
    code = ("import sys; from pathlib import Path; from scenegen.data.sprites_procedural import SPRITE_CLASSES, "
            "generate_sprite; from scenegen.imaging import save_png\n"
            "for c in SPRITE_CLASSES:\n"
            "    for s in range(6):\n"
            "        save_png(Path(sys.argv[1]) / c / f'{c}_{s}.png', generate_sprite(c, s, 64))\n")
    done = subprocess.run([sys.executable, "-c", code, str(corpus)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "scenegen", "train", "--mode", "sprite", "--data", str(corpus),
                           "--out", str(model), "--steps", "2", "--batch", "4", "--crop", "64",
                           "--checkpoint-every", "2", "--sample-every", "2", "--quiet"],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    return model


def small_scene(**overrides: Any) -> dict:
    """A small but complete scene for the tiny models (texture classes brick, grass, gravel)."""
    scene = {
        "name": "small",
        "materials": {
            "ground": {"blend": {"a": "grass", "b": "gravel", "mask": {"path": "trail"}}, "seed": 1, "size": 128,
                       "tile_size_m": 16},
            "wall": {"class": "brick", "seed": 2, "size": 64, "tile_size_m": 2.0},
        },
        "sprites": {"tufts": {"class": "grass_tuft", "seed": 1, "variants": 2, "size": 64, "height_m": 0.6}},
        "paths": {"trail": {"points": [[-8, 6], [0, 0], [8, -6]], "width_m": 2.0}},
        "objects": [
            {"type": "terrain", "name": "ground", "material": "ground", "size_m": [16, 16], "resolution": 24,
             "height": {"amplitude_m": 0.5, "scale_m": 10, "seed": 1}},
            {"type": "box", "name": "hut", "material": "wall", "size_m": [2, 2, 2], "position": [-3, -0.2, -3],
             "place_on": "ground"},
        ],
        "scatter": [
            {"name": "tufts", "sprite": "tufts", "count": 150, "min_distance_m": 0.4, "avoid_paths": ["trail"], "seed": 3},
            {"name": "stones", "object": {"type": "rock", "material": "wall", "radius_m": 0.3}, "count": 5, "seed": 4},
        ],
        "camera": {"position": [0, 3, 10], "target": [0, 0, 0]},
        "render": {"width": 160, "height": 96, "antialias": 1},
    }
    scene.update(overrides)
    return scene


def write_scene(folder: Path, scene: dict | str, name: str = "scene.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(scene if isinstance(scene, str) else json.dumps(scene, indent=2), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    """Run ``scenegen ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from scenegen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------------- a hand-made composed scene
def tiled_material(name: str):
    from scenegen.imaging import encode_png
    from scenegen.scene.composed import SceneMaterial

    rng = np.random.default_rng(0)
    colour = rng.random((32, 32, 3)).astype(np.float32)
    normal = np.full((32, 32, 3), [0.5, 0.5, 1.0], np.float32)
    orm = np.stack([np.ones((32, 32)), np.full((32, 32), 0.8), np.zeros((32, 32))], axis=2).astype(np.float32)
    return SceneMaterial(name=name, basecolor_png=encode_png(colour), normal_png=encode_png(normal),
                         orm_png=encode_png(orm), metallic_factor=1.0, roughness_factor=1.0,
                         extras={"tile_size_m": 2.0})


def cutout_material(name: str):
    from scenegen.imaging import encode_png
    from scenegen.scene.composed import SceneMaterial

    rgba = np.zeros((32, 32, 4), np.float32)
    rgba[8:, 12:20] = [0.2, 0.6, 0.1, 1.0]
    return SceneMaterial(name=name, basecolor_png=encode_png(rgba), roughness_factor=0.9, alpha_mode="MASK",
                         alpha_cutoff=0.4, double_sided=True, wrap="clamp")


def composed(instances: int = 50):
    """A box (tiled material with normal and ORM maps) and ``instances`` cut-out cards, a camera, two lights."""
    from scenegen.scene import shapes
    from scenegen.scene.composed import Camera, ComposedScene, Geometry, InstanceGroup, Light, look_at, quat_yaw
    from scenegen.scene.uv import box_project, tangents

    p, n, uv, f = box_project(*shapes.box(2.0, 1.0, 2.0), tile_m=2.0)
    box = Geometry("box", p, n, uv, f, "stone", tangents(p, n, uv, f))
    quad = Geometry("tuft", [[-0.5, 0, 0], [0.5, 0, 0], [0.5, 1, 0], [-0.5, 1, 0]], [[0, 0, 1]] * 4,
                    [[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 1, 2], [0, 2, 3]], "tufts")
    rng = np.random.default_rng(1)
    t = np.stack([rng.uniform(-5, 5, instances), np.zeros(instances), rng.uniform(-5, 5, instances)], axis=1)
    groups = [
        InstanceGroup("house", box, [[1.0, 0.0, -2.0]], [[0, 0.3826834, 0, 0.9238795]], [[1.0, 2.0, 1.0]]),
        InstanceGroup("tufts", quad, t, quat_yaw(rng.uniform(0, 6.3, instances)),
                      np.repeat(rng.uniform(0.5, 1.5, instances)[:, None], 3, axis=1), billboard=True),
    ]
    camera = Camera(look_at(np.array([0.0, 2.0, 8.0]), np.zeros(3)), 0.8, 0.1, 200.0)
    lights = [Light("sun", look_at(np.array([3.0, 5.0, 2.0]), np.zeros(3)), (1.0, 0.95, 0.9), 3.0, shadows=True),
              Light("spot", look_at(np.array([0.0, 3.0, 0.0]), np.zeros(3)), (1.0, 1.0, 1.0), 20.0,
                    inner_cone=0.3, outer_cone=0.5, range=10.0)]
    return ComposedScene({"stone": tiled_material("stone"), "tufts": cutout_material("tufts")}, groups, camera, lights)
