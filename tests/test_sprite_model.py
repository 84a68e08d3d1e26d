"""The sprite model: prior fit/round trip, batched decode, generate_sprites' promises, and the sprite CLI.

Real parts throughout: a tiny sprite VAE trained for a few steps by `scenegen train --mode sprite` on a small
procedural corpus, the shipped model in assets/models/sprites, real PNG/GLB files, and the Khronos validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from conftest import REPO, run_cli
from scenegen import sprite_gen
from scenegen.api import load_model
from scenegen.data.sprites_procedural import SPRITE_CLASSES, build_sprite_corpus, generate_sprite
from scenegen.errors import ScenegenError
from scenegen.imaging import load_image
from scenegen.metrics import border_alpha
from scenegen.model.config import SPRITE_ARCHITECTURE, TEXTURE_ARCHITECTURE, ModelConfig
from scenegen.model.sample import condition_weights, decode, decode_sprites
from scenegen.model.sprite_prior import fit_class_prior, has_sprite_prior, load_class_prior, prior_tensors, sample_latent
from scenegen.glb import read_glb_json
from scenegen.sprites import dilate_colour
from test_sprites import gltf_validate  # noqa: F401  (the Khronos validator fixture)


@pytest.fixture(scope="session")
def tiny_sprite_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sprite model trained for 3 steps at crop 64 on 6 sprites per class (exercises every path)."""
    root = tmp_path_factory.mktemp("tiny_sprites")
    build_sprite_corpus(root / "corpus", per_class=6, size=64)
    out = root / "model"
    result = run_cli("train", "--mode", "sprite", "--data", str(root / "corpus"), "--out", str(out), "--steps", "3",
                     "--batch", "4", "--crop", "64", "--gram-weight", "0", "--checkpoint-every", "3",
                     "--sample-every", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def sprite_model_dir() -> Path:
    path = REPO / "assets" / "models" / "sprites"
    if not (path / "config.json").exists():
        pytest.fail("the shipped sprite model is missing from assets/models/sprites")
    return path


# --------------------------------------------------------------------------------------------------------- prior
def _two_cluster_latents(n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2, 4, 6, 6)) * 3.0
    which = np.arange(n) % 2
    return (centres[which] + 0.3 * rng.standard_normal((n, 4, 6, 6))).astype(np.float32)


def test_prior_fit_is_deterministic_and_keeps_exact_training_latents() -> None:
    latents = _two_cluster_latents()
    a = fit_class_prior(latents, anchors=20)
    b = fit_class_prior(latents, anchors=20)
    assert np.array_equal(a.anchors, b.anchors) and np.array_equal(a.neighbours, b.neighbours)
    assert a.grid == (4, 6, 6) and len(a.anchors) == 20
    # every anchor is a training latent (to float16), and its nearest neighbours sit in its own cluster
    flat = latents.reshape(len(latents), -1)
    for anchor, near in zip(a.anchors, a.neighbours):
        i = int(np.abs(flat - anchor.reshape(-1)).max(axis=1).argmin())
        assert np.abs(flat[i] - anchor.reshape(-1)).max() < 1e-2
        cluster = lambda z: int(np.abs(z - latents[0]).mean() > np.abs(z - latents[1]).mean())  # noqa: E731
        assert all(cluster(a.anchors[k]) == cluster(anchor) for k in near)


def test_prior_draws_stay_near_their_anchor_and_move_more_with_temperature() -> None:
    prior = fit_class_prior(_two_cluster_latents(30), anchors=30)
    flat = prior.anchors.reshape(30, -1)
    both = np.concatenate([flat, prior.anchors[:, :, :, ::-1].reshape(30, -1)])  # anchors and mirror images
    cold = [sample_latent(prior, np.random.default_rng(s), temperature=0.0).reshape(-1) for s in range(8)]
    assert all(np.abs(both - z).max(axis=1).min() < 1e-6 for z in cold)  # T = 0: exactly an anchor (or its mirror)
    spread = [np.abs(both - sample_latent(prior, np.random.default_rng(s), t).reshape(-1)).mean(1).min()
              for t in (0.3, 1.0) for s in range(16)]
    assert 0 < np.mean(spread[:16]) < np.mean(spread[16:])
    mirrored = sum(np.abs(prior.anchors[:, :, :, ::-1].reshape(30, -1) - z).max(axis=1).min() < 1e-6 for z in cold)
    assert 0 < mirrored < 8  # about half the draws are mirror images


def test_prior_round_trips_through_safetensors() -> None:
    priors = [fit_class_prior(_two_cluster_latents(40 + 10 * k), anchors=16) for k in range(2)]
    loaded = load_safetensors_bytes(save_safetensors_bytes(prior_tensors(priors)))
    for index, prior in enumerate(priors):
        assert has_sprite_prior(loaded, index)
        back = load_class_prior(loaded, index)
        assert back.grid == prior.grid
        assert np.array_equal(back.anchors, prior.anchors) and np.array_equal(back.neighbours, prior.neighbours)
        z1 = sample_latent(prior, np.random.default_rng(3))
        z2 = sample_latent(back, np.random.default_rng(3))
        assert z1.shape == (4, 6, 6) and np.array_equal(z1, z2)
    assert not has_sprite_prior(loaded, 2)
    with pytest.raises(ScenegenError, match="no sprite prior"):
        load_class_prior(loaded, 2)


def test_trained_sprite_model_has_sprite_architecture_and_a_prior_per_class(tiny_sprite_model: Path) -> None:
    meta = json.loads((tiny_sprite_model / "config.json").read_text())
    cfg = ModelConfig.from_dict(meta["model"])
    assert cfg.mode == "sprite" and cfg.classes == tuple(sorted(SPRITE_CLASSES))
    assert cfg.decoder_widths == SPRITE_ARCHITECTURE["decoder_widths"] and cfg.loss_margin == SPRITE_ARCHITECTURE["loss_margin"]
    assert np.isfinite(meta["metrics"]["heldout_psnr_db"])
    model = sprite_gen.load_sprite_model(tiny_sprite_model)
    assert all(has_sprite_prior(model.prior, i) for i in range(len(cfg.classes)))
    assert load_class_prior(model.prior, 0).grid == (cfg.latent_channels, 8, 8)  # 64² crops, 8 px per cell


def test_texture_mode_architecture_is_untouched(tiny_model: Path) -> None:
    cfg = ModelConfig.from_dict(json.loads((tiny_model / "config.json").read_text())["model"])
    assert (cfg.encoder_widths, cfg.decoder_widths, cfg.latent_channels) == (
        TEXTURE_ARCHITECTURE["encoder_widths"], TEXTURE_ARCHITECTURE["decoder_widths"], TEXTURE_ARCHITECTURE["latent_channels"])
    with pytest.raises(ScenegenError, match="not a sprite model"):
        sprite_gen.load_sprite_model(tiny_model)


# ---------------------------------------------------------------------------------------------------- decoding
def test_batched_sprite_decode_matches_decode_and_ignores_batch_size(tiny_sprite_model: Path) -> None:
    model = load_model(tiny_sprite_model)
    z = np.random.default_rng(0).standard_normal((11, model.config.latent_channels, 8, 8)).astype(np.float32)
    batch = decode_sprites(model, z, 2)
    assert batch.shape == (11, 64, 64, 4) and batch.dtype == np.float32
    reference = decode(model, z[9], condition_weights(model.config, 2, 8, 8))
    assert np.abs(batch[9] - reference).max() < 1e-5
    alone = decode_sprites(model, z[9:10], 2)
    assert np.array_equal(alone[0], batch[9])


def test_generate_sprites_is_deterministic_per_index(tiny_sprite_model: Path) -> None:
    model = sprite_gen.load_sprite_model(tiny_sprite_model)
    three = sprite_gen.generate_sprites("rock", seed=5, count=3, size=96, model=model)
    assert len(three) == 3 and all(s.shape == (96, 96, 4) and s.dtype == np.float32 for s in three)
    assert all(0.0 <= s.min() and s.max() <= 1.0 for s in three)
    again = sprite_gen.generate_sprites("rock", seed=5, count=3, size=96, model=model)
    assert all(np.array_equal(a, b) for a, b in zip(three, again))
    third = sprite_gen.generate_sprites("rock", seed=5, count=1, size=96, model=model, first=2)[0]
    assert np.array_equal(third, three[2])
    other = sprite_gen.generate_sprites("rock", seed=6, count=1, size=96, model=model)[0]
    assert not np.array_equal(other, three[0])
    assert border_alpha(three) == 0.0


@pytest.mark.parametrize("size", [63, 513, 256.0, True])
def test_bad_sizes_and_classes_are_user_errors(tiny_sprite_model: Path, size: object) -> None:
    with pytest.raises(ScenegenError, match="size"):
        sprite_gen.generate_sprites("rock", size=size, model=tiny_sprite_model)  # type: ignore[arg-type]
    with pytest.raises(ScenegenError, match="unknown class 'dragon'.*conifer"):
        sprite_gen.generate_sprites("dragon", model=tiny_sprite_model)


def test_finish_sprite_cleans_a_soft_dark_edged_decode() -> None:
    """A decode-like sprite (blurred alpha, dark colour under transparent texels, a speck, frame content)."""
    import cv2

    sprite = generate_sprite("broadleaf_tree", 4, 128)
    soft = sprite.copy()
    soft[..., 3] = cv2.GaussianBlur(sprite[..., 3], (0, 0), 1.2)
    soft[..., :3] *= (sprite[..., 3:] > 0.5)  # black wherever the true sprite is not solid
    soft[5:8, 10:13, 3] = 1.0  # a speck
    soft[0:2, :, 3] = 0.4  # frame content
    out = sprite_gen.finish_sprite(soft, 256)
    alpha = out[..., 3]
    assert out.shape == (256, 256, 4) and border_alpha(out) == 0.0
    assert alpha[8:18, 18:28].max() == 0.0  # speck gone (it sat at 5:8 × 10:13 at 128²)
    edge = (alpha > 0) & (alpha < 1)
    assert 0 < edge.sum() < 0.5 * (alpha > 0).sum()  # antialiased but crisp
    assert np.array_equal(dilate_colour(out), out)  # every transparent texel carries its nearest visible colour
    solid = out[..., :3][alpha > 0.99].mean()
    assert out[..., :3][alpha == 0].mean() > 0.5 * solid  # nothing black bleeds in from outside


# ------------------------------------------------------------------------------------------------ shipped model
def test_shipped_model_sprites_for_every_class(sprite_model_dir: Path) -> None:
    model = sprite_gen.load_sprite_model(sprite_model_dir)
    assert sprite_gen.sprite_classes(model) == tuple(sorted(SPRITE_CLASSES))
    for cls in model.classes:
        sprites = sprite_gen.generate_sprites(cls, seed=1, count=4, size=256, model=model)
        assert border_alpha(sprites) == 0.0, cls
        for sprite in sprites:
            alpha = sprite[..., 3]
            visible = alpha >= 0.5
            assert 0.01 < visible.mean() < 0.9, cls
            rows, cols = np.nonzero(visible)
            assert rows.max() > 0.75 * 256, f"{cls}: the sprite should stand near the bottom of its frame"
            assert abs(np.median(cols) - 128) < 0.2 * 256, f"{cls}: the sprite should be centred"
            assert np.array_equal(dilate_colour(sprite), sprite), cls
            # straight alpha: semi-transparent edge texels keep full colour (premultiplied ones would be dark)
            edge = (alpha > 0.05) & (alpha < 0.5)
            lum = sprite[..., :3].mean(axis=2)
            assert lum[edge].mean() > 0.6 * lum[alpha > 0.99].mean(), cls


def test_shipped_model_sizes(sprite_model_dir: Path) -> None:
    for size in (64, 512):
        sprite = sprite_gen.generate_sprites("bush", seed=2, size=size, model=sprite_model_dir)[0]
        assert sprite.shape == (size, size, 4) and border_alpha(sprite) == 0.0 and sprite[..., 3].max() > 0.99


# ------------------------------------------------------------------------------------------------------- CLI
def test_cli_writes_sprites_sheet_atlas_and_valid_billboards(sprite_model_dir: Path, tmp_path: Path,
                                                              gltf_validate: Callable[[Path], dict]) -> None:  # noqa: F811
    out = tmp_path / "bush"
    result = run_cli("sprite", "bush", "--seed", "7", "--count", "3", "--size", "128", "--out", str(out), "--atlas",
                     "--mesh", "cross", "--model", str(sprite_model_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    names = [f"bush_7_{i}" for i in range(3)]
    for name in names:
        image = load_image(out / f"{name}.png", mode="RGBA")
        assert image.shape == (128, 128, 4) and border_alpha(image) == 0.0
        report = gltf_validate(out / f"{name}.glb")
        assert report["numErrors"] == 0 and report["numWarnings"] == 0, report["messages"]
        (material,) = read_glb_json((out / f"{name}.glb").read_bytes())["materials"]
        assert "normalTexture" in material and material["alphaMode"] == "MASK", "the billboard lights like an object"
    sheet = load_image(out / "bush_contact_sheet.png")
    assert sheet.shape[0] > 128 and sheet.shape[1] > 3 * 128
    meta = json.loads((out / "bush_atlas.json").read_text())
    assert sorted(meta["frames"]) == names and meta["meta"]["image"] == "bush_atlas.png"
    atlas = load_image(out / "bush_atlas.png", mode="RGBA")
    assert [meta["meta"]["size"]["w"], meta["meta"]["size"]["h"]] == [atlas.shape[1], atlas.shape[0]]
    frame = meta["frames"]["bush_7_1"]["frame"]
    crop = atlas[frame["y"]:frame["y"] + frame["h"], frame["x"]:frame["x"] + frame["w"]]
    assert np.array_equal(crop, load_image(out / "bush_7_1.png", mode="RGBA"))
    # same seed, fewer sprites, another folder: the same bytes for the sprites both runs made
    again = run_cli("sprite", "bush", "--seed", "7", "--count", "2", "--size", "128", "--out", str(tmp_path / "b2"),
                    "--model", str(sprite_model_dir), "--quiet")
    assert again.returncode == 0, again.stderr
    for name in names[:2]:
        assert (tmp_path / "b2" / f"{name}.png").read_bytes() == (out / f"{name}.png").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["dragon"], "unknown class 'dragon'; this model knows: "),
    (["bush", "--size", "1000"], "sprite size 1000 is outside the supported range 64–512"),
    (["bush", "--size", "32"], "sprite size 32 is outside"),
    (["bush", "--count", "0"], "--count must be from 1 to"),
    ([], "name a sprite class"),
])
def test_cli_user_errors_exit_2_with_one_line(sprite_model_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("sprite", *args, "--out", str(tmp_path / "o"), "--model", str(sprite_model_dir))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: ")
    assert not (tmp_path / "o").exists()


def test_cli_list_and_missing_model(sprite_model_dir: Path, tmp_path: Path) -> None:
    listed = run_cli("sprite", "--list", "--model", str(sprite_model_dir))
    assert listed.returncode == 0 and listed.stdout.split() == sorted(SPRITE_CLASSES)
    missing = run_cli("sprite", "rock", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "model directory not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_shipped_flowers_come_in_the_corpus_range_of_colours(sprite_model_dir: Path) -> None:
    """0.3.0 drew every flower pink: twelve draws must cover at least three hue families (red/orange, blue,
    purple, pink…), and every rock must be one connected shape (no floating fragments)."""
    import cv2

    from scenegen.metrics import silhouette_figures

    families = set()
    for sprite in sprite_gen.generate_sprites("flower", seed=0, count=12, size=256, model=sprite_model_dir):
        hsv = cv2.cvtColor((sprite[..., :3] * 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        petals = (sprite[..., 3] > 0.5) & (hsv[..., 1] > 100) & ((hsv[..., 0] < 30) | (hsv[..., 0] > 90))  # not stem green
        if petals.sum() > 20:
            families.add(int(np.bincount(hsv[..., 0][petals] // 30, minlength=6).argmax()))
    assert len(families) >= 3, families
    rocks = sprite_gen.generate_sprites("rock", seed=0, count=8, size=256, model=sprite_model_dir)
    assert all(silhouette_figures(rock[..., 3])["components"] == 1 for rock in rocks)
