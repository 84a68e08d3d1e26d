"""The procedural sprite corpus: shape, placement, clean edges, variety, determinism and the on-disk corpus."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from scenegen.data.sprites_procedural import (
    BASE_FRACTION,
    HELD_OUT_SEED,
    SPRITE_CLASSES,
    build_sprite_corpus,
    default_sprite_corpus_dir,
    generate_sprite,
    held_out_sprites,
)
from scenegen.errors import ScenegenError
from scenegen.imaging import load_image

SIZE = 128
SEEDS = range(8)


@pytest.fixture(scope="module")
def sprites() -> dict[str, list[np.ndarray]]:
    return {cls: [generate_sprite(cls, seed, SIZE) for seed in SEEDS] for cls in SPRITE_CLASSES}


def visible_rows(alpha: np.ndarray, level: float = 0.5) -> np.ndarray:
    return np.nonzero((alpha > level).any(axis=1))[0]


def test_classes() -> None:
    assert SPRITE_CLASSES == ("conifer", "broadleaf_tree", "bush", "grass_tuft", "flower", "rock")


@pytest.mark.parametrize("cls", SPRITE_CLASSES)
def test_shape_range_and_straight_alpha(cls: str, sprites: dict) -> None:
    for sprite in sprites[cls]:
        assert sprite.shape == (SIZE, SIZE, 4) and sprite.dtype == np.float32
        assert sprite.min() >= 0.0 and sprite.max() <= 1.0
        alpha = sprite[..., 3]
        assert 0.03 < alpha.mean() < 0.6
        edge = (alpha > 0.05) & (alpha < 0.95)
        assert edge.sum() > 20, "edges should be antialiased"
        # Straight alpha: faint edge pixels are as bright as solid ones, not scaled down towards black.
        solid_lum = sprite[..., :3][alpha > 0.99].mean()
        faint_lum = sprite[..., :3][(alpha > 0.02) & (alpha < 0.3)].mean()
        assert faint_lum > 0.6 * solid_lum


@pytest.mark.parametrize("cls", SPRITE_CLASSES)
def test_fits_frame_and_stands_bottom_centre(cls: str, sprites: dict) -> None:
    for sprite in sprites[cls]:
        alpha = sprite[..., 3]
        frame = np.ones_like(alpha, bool)
        frame[3:-3, 3:-3] = False
        assert alpha[frame].max() == 0.0, "outer 3-pixel frame must be transparent"
        ring2 = np.ones_like(alpha, bool)
        ring2[2:-2, 2:-2] = False
        assert alpha[ring2].mean() == 0.0  # docs/METRICS.md border_alpha
        rows = visible_rows(alpha)
        foot_gap = (SIZE - 1 - rows[-1]) / SIZE
        assert abs(foot_gap - BASE_FRACTION) <= 0.01, f"foot at {foot_gap:.3f} of the frame above the bottom"
        height = (np.ptp(np.nonzero((alpha > 0).any(axis=1))[0]) + 1) / SIZE
        assert 0.55 <= height <= 0.95
        # The foot (pivot) is at the horizontal centre: the centre columns are covered near the base.
        base = alpha[rows[-1] - 3:rows[-1] + 1, SIZE // 2 - 2:SIZE // 2 + 2]
        assert base.max() > 0.5


@pytest.mark.parametrize("cls", SPRITE_CLASSES)
def test_one_piece_no_specks(cls: str, sprites: dict) -> None:
    for sprite in sprites[cls]:
        count, _ = cv2.connectedComponents((sprite[..., 3] > 0).astype(np.uint8), connectivity=8)
        assert count - 1 == 1


@pytest.mark.parametrize("cls", SPRITE_CLASSES)
def test_colour_is_bled_under_transparent_pixels(cls: str, sprites: dict) -> None:
    sprite = sprites[cls][0]
    empty = sprite[..., 3] == 0
    _, (iy, ix) = ndimage.distance_transform_edt(empty, return_indices=True)
    nearest = sprite[iy, ix, :3]
    error = np.abs(sprite[..., :3] - nearest)[empty].mean()
    assert error < 0.03, "transparent pixels should carry the nearest visible colour"
    assert sprite[..., :3][empty].mean() > 0.05  # not black


def test_deterministic_and_seed_dependent() -> None:
    for cls in SPRITE_CLASSES:
        a, b = generate_sprite(cls, 5), generate_sprite(cls, 5)
        assert np.array_equal(a, b)
        assert not np.array_equal(a, generate_sprite(cls, 6))
    assert not np.array_equal(generate_sprite("bush", 3)[..., 3], generate_sprite("rock", 3)[..., 3])


@pytest.mark.parametrize("cls", SPRITE_CLASSES)
def test_variety(cls: str, sprites: dict) -> None:
    group = sprites[cls]
    alphas = np.stack([s[..., 3] for s in group])
    pairwise = [np.abs(alphas[i] - alphas[j]).mean() for i in range(len(group)) for j in range(i + 1, len(group))]
    assert min(pairwise) > 0.01, "two seeds gave nearly the same silhouette"
    heights = [np.ptp(visible_rows(a, 0)) for a in alphas]
    widths = [np.ptp(np.nonzero((a > 0).any(axis=0))[0]) for a in alphas]
    assert np.std(heights) > 3 or np.std(widths) > 3
    colours = np.stack([s[..., :3][s[..., 3] > 0.5].mean(axis=0) for s in group])
    assert colours.std(axis=0).max() > 0.03, "palettes should vary with the seed"


def test_palette_families() -> None:
    def mean_colour(cls: str, seed: int) -> np.ndarray:
        sprite = generate_sprite(cls, seed, 64)
        return sprite[..., :3][sprite[..., 3] > 0.5].mean(axis=0)

    broadleaf = np.stack([mean_colour("broadleaf_tree", s) for s in range(24)])
    assert (broadleaf[:, 1] > broadleaf[:, 0]).any() and (broadleaf[:, 0] > broadleaf[:, 1] + 0.1).any(), \
        "broadleaf trees come green and in autumn colours"
    conifers = np.stack([mean_colour("conifer", s) for s in range(12)])
    assert (conifers[:, 1] >= conifers[:, 0]).all()


def test_speed() -> None:
    for cls in SPRITE_CLASSES:
        generate_sprite(cls, 0)
    start = time.perf_counter()
    for cls in SPRITE_CLASSES:
        for seed in range(3):
            generate_sprite(cls, seed)
    per_sprite = (time.perf_counter() - start) / (3 * len(SPRITE_CLASSES))
    assert per_sprite < 0.1, f"{per_sprite * 1000:.1f} ms per 128² sprite (target ≲ 30 ms)"


def test_other_sizes() -> None:
    for size in (32, 256):
        sprite = generate_sprite("flower", 1, size)
        assert sprite.shape == (size, size, 4)
        assert sprite[:3, :, 3].max() == 0 and sprite[..., 3].max() == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ScenegenError, match="unknown sprite class"):
        generate_sprite("cactus", 0)
    with pytest.raises(ScenegenError):
        generate_sprite("rock", -1)


def test_build_corpus_and_stamp(tmp_path) -> None:
    out = tmp_path / "sprites"
    counts = build_sprite_corpus(out, per_class=2, size=64, seed=3)
    assert counts == {cls: 2 for cls in SPRITE_CLASSES}
    for cls in SPRITE_CLASSES:
        files = sorted(p.name for p in (out / cls).iterdir())
        assert files == [f"{cls}_0000.png", f"{cls}_0001.png"]
        with Image.open(out / cls / f"{cls}_0001.png") as img:
            assert img.mode == "RGBA" and img.size == (64, 64)
        loaded = load_image(out / cls / f"{cls}_0001.png", "RGBA")
        assert np.abs(loaded - generate_sprite(cls, 4, 64)).max() <= 0.5 / 255 + 1e-6
    stamp = json.loads((out / "corpus.json").read_text())
    assert stamp["params"]["per_class"] == 2 and stamp["params"]["seed"] == 3

    first = out / "rock" / "rock_0000.png"
    mtime = first.stat().st_mtime_ns
    assert build_sprite_corpus(out, per_class=2, size=64, seed=3) == counts
    assert first.stat().st_mtime_ns == mtime, "a re-run with the same parameters must not rewrite"

    assert build_sprite_corpus(out, per_class=1, size=64, seed=3) == {cls: 1 for cls in SPRITE_CLASSES}
    assert not (out / "rock" / "rock_0001.png").exists(), "sprites beyond per_class are removed"

    (out / "bush" / "bush_0000.png").unlink()
    build_sprite_corpus(out, per_class=1, size=64, seed=3)
    assert (out / "bush" / "bush_0000.png").exists(), "a missing file triggers a rebuild"


def test_held_out_is_disjoint(tmp_path) -> None:
    held = held_out_sprites("grass_tuft", count=3, size=64)
    assert held.shape == (3, 64, 64, 4) and held.dtype == np.float32
    assert np.array_equal(held[0], generate_sprite("grass_tuft", HELD_OUT_SEED, 64))
    with pytest.raises(ScenegenError, match="held-out"):
        build_sprite_corpus(tmp_path, per_class=2, size=64, seed=HELD_OUT_SEED - 1)


def test_default_corpus_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SCENEGEN_CACHE", str(tmp_path))
    assert default_sprite_corpus_dir() == tmp_path / "corpus" / "sprites"
    monkeypatch.delenv("SCENEGEN_CACHE")
    monkeypatch.chdir(tmp_path)
    assert default_sprite_corpus_dir() == tmp_path / ".cache" / "corpus" / "sprites"
