"""Procedural texture corpus: determinism, ranges, tileability, variety and the on-disk build."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from scenegen.data import corpus
from scenegen.data.corpus import (
    build_texture_corpus,
    corpus_seeds,
    default_corpus_dir,
    held_out_seeds,
    held_out_textures,
)
from scenegen.data.procedural import TEXTURE_CLASSES, generate_texture
from scenegen.errors import ScenegenError
from scenegen.imaging import load_image

SEAM_SEEDS = tuple(range(8))


@lru_cache(maxsize=None)
def _texture(cls: str, seed: int, size: int) -> np.ndarray:
    img = generate_texture(cls, seed, size)
    img.setflags(write=False)
    return img


def seam_ratio(img: np.ndarray) -> float:
    """Mean difference across the wrap-around seams / mean difference between interior neighbours."""
    seam = 0.5 * (np.abs(img[:, 0] - img[:, -1]).mean() + np.abs(img[0, :] - img[-1, :]).mean())
    inner = 0.5 * (np.abs(np.diff(img, axis=1)).mean() + np.abs(np.diff(img, axis=0)).mean())
    return float(seam / inner)


def test_ten_classes() -> None:
    assert len(TEXTURE_CLASSES) == 10 == len(set(TEXTURE_CLASSES))
    assert {"brick", "grass", "gravel", "marble", "floor_tiles"} <= set(TEXTURE_CLASSES)


@pytest.mark.parametrize("cls", TEXTURE_CLASSES)
def test_shape_dtype_range(cls: str) -> None:
    for size in (256, 192):
        img = _texture(cls, 0, size)
        assert img.shape == (size, size, 3)
        assert img.dtype == np.float32
        assert np.isfinite(img).all()
        assert img.min() >= 0.0 and img.max() <= 1.0
        assert img.std() > 0.02, "texture is nearly flat"


@pytest.mark.parametrize("cls", TEXTURE_CLASSES)
def test_deterministic(cls: str) -> None:
    a = generate_texture(cls, 7, 96)
    b = generate_texture(cls, 7, 96)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, generate_texture(cls, 8, 96))


def test_classes_do_not_share_random_streams() -> None:
    # The same seed in two classes must not reuse one random stream (sizes equal, content differs).
    assert not np.allclose(generate_texture("sand", 3, 64), generate_texture("rock", 3, 64))


@pytest.mark.parametrize("size", [256, 192])
@pytest.mark.parametrize("cls", TEXTURE_CLASSES)
def test_tileable(cls: str, size: int) -> None:
    ratios = [seam_ratio(_texture(cls, s, size)) for s in SEAM_SEEDS]
    assert np.mean(ratios) <= 1.15, f"{cls}@{size}: seam ratios {np.round(ratios, 3)}"


@pytest.mark.parametrize("cls", ["brick", "marble", "gravel", "grass"])
def test_seam_ratio_detects_non_tileable_images(cls: str) -> None:
    # Cutting an odd window out of a texture breaks the wrap-around; the metric must notice.
    ratios = [seam_ratio(_texture(cls, s, 256)[5:-17, 9:-30]) for s in SEAM_SEEDS]
    assert np.mean(ratios) > 1.15


@pytest.mark.parametrize("cls", TEXTURE_CLASSES)
def test_variety_within_class(cls: str) -> None:
    a, b, c = (_texture(cls, s, 256) for s in (0, 1, 2))
    for x, y in ((a, b), (a, c), (b, c)):
        assert np.abs(x - y).mean() > 0.05
    # Palettes vary too: mean colours of a few seeds are not all alike.
    means = np.array([_texture(cls, s, 256).mean(axis=(0, 1)) for s in SEAM_SEEDS])
    assert np.abs(means - means.mean(axis=0)).max() > 0.02


@pytest.mark.parametrize("cls", ["brick", "grass", "rock", "wood_planks"])
def test_has_fine_detail(cls: str) -> None:
    # Crisp detail: a good share of the energy is in pixel-scale gradients, not only in big shapes.
    img = _texture(cls, 0, 256).mean(axis=2)
    step = np.abs(np.diff(img, axis=1)).mean()
    assert step > 0.015


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_texture("lava", 0)
    with pytest.raises(ValueError):
        generate_texture("brick", -1)


def _files(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.png"))}


def test_build_layout_and_noop(tmp_path) -> None:
    counts = build_texture_corpus(tmp_path, per_class=2, size=64, seed=0)
    photos = corpus._photo_loader() is not None
    for cls in TEXTURE_CLASSES:
        extra = corpus.PHOTOS_PER_CLASS if photos and cls in corpus.PHOTO_SOURCES else 0
        assert counts[cls] == 2 + extra
        names = sorted(p.name for p in (tmp_path / cls).iterdir())
        assert names[:2] == [f"{cls}_0000.png", f"{cls}_0001.png"]
        assert len(names) == counts[cls]
    img = load_image(tmp_path / "brick" / "brick_0001.png")
    assert img.shape == (64, 64, 3)
    assert np.abs(img - generate_texture("brick", 1, 64)).max() <= 1 / 255 + 1e-6
    manifest = json.loads((tmp_path / "corpus.json").read_text())
    assert manifest["per_class"] == 2 and manifest["size"] == 64 and manifest["seed"] == 0

    before = _files(tmp_path)
    assert build_texture_corpus(tmp_path, per_class=2, size=64, seed=0) == counts
    assert _files(tmp_path) == before, "second build rewrote files"

    (tmp_path / "sand" / "sand_0001.png").unlink()  # a missing file is rebuilt, others kept
    build_texture_corpus(tmp_path, per_class=2, size=64, seed=0)
    assert (tmp_path / "sand" / "sand_0001.png").exists()
    assert _files(tmp_path)["rock/rock_0000.png"] == before["rock/rock_0000.png"]


def test_build_follows_new_settings(tmp_path) -> None:
    build_texture_corpus(tmp_path, per_class=3, size=48, include_photos=False)
    build_texture_corpus(tmp_path, per_class=2, size=48, include_photos=False)
    assert not (tmp_path / "marble" / "marble_0002.png").exists()
    build_texture_corpus(tmp_path, per_class=2, size=64, include_photos=False)
    assert load_image(tmp_path / "marble" / "marble_0000.png").shape == (64, 64, 3)
    keep = tmp_path / "marble" / "my_notes.png"  # files the corpus did not write are left alone
    keep.write_bytes(b"x")
    build_texture_corpus(tmp_path, per_class=2, size=48, include_photos=False)
    assert keep.exists()


def test_build_in_foreign_folder_rewrites_but_never_deletes(tmp_path) -> None:
    (tmp_path / "brick").mkdir()
    (tmp_path / "brick" / "brick_0000.png").write_bytes(b"not a png")  # no manifest: not trusted
    (tmp_path / "brick" / "brick_0042.png").write_bytes(b"user file")
    build_texture_corpus(tmp_path, per_class=1, size=48, include_photos=False)
    assert load_image(tmp_path / "brick" / "brick_0000.png").shape == (48, 48, 3)
    assert (tmp_path / "brick" / "brick_0042.png").read_bytes() == b"user file"


def test_interrupted_build_resumes(tmp_path) -> None:
    build_texture_corpus(tmp_path, per_class=2, size=48, include_photos=False)
    manifest = tmp_path / "corpus.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "complete": False}))  # as if killed mid-build
    (tmp_path / "bark" / "bark_0001.png").unlink()
    before = _files(tmp_path)
    build_texture_corpus(tmp_path, per_class=2, size=48, include_photos=False)
    after = _files(tmp_path)
    assert "bark/bark_0001.png" in after
    assert all(after[k] == v for k, v in before.items())
    assert "complete" not in json.loads(manifest.read_text())


def test_build_without_scikit_image(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(corpus, "_photo_loader", lambda: None)
    counts = build_texture_corpus(tmp_path, per_class=1, size=48)
    assert counts == {cls: 1 for cls in TEXTURE_CLASSES}
    assert not list(tmp_path.rglob("*_photo_*.png"))


def test_photo_crops(tmp_path) -> None:
    pytest.importorskip("skimage")
    counts = build_texture_corpus(tmp_path, per_class=1, size=64)
    for cls in corpus.PHOTO_SOURCES:
        crops = sorted((tmp_path / cls).glob(f"{cls}_photo_*.png"))
        assert len(crops) == corpus.PHOTOS_PER_CLASS == counts[cls] - 1
        a, b = load_image(crops[0]), load_image(crops[1])
        assert a.shape == (64, 64, 3) and a.std() > 0.02
        assert not np.array_equal(a, b)


def test_corpus_seed_range_is_checked(tmp_path) -> None:
    with pytest.raises(ScenegenError):
        build_texture_corpus(tmp_path, per_class=10, seed=corpus.HELD_OUT_SEED - 5)


def test_held_out_patches() -> None:
    patches = held_out_textures("gravel", count=3, size=64)
    assert patches.shape == (3, 64, 64, 3) and patches.dtype == np.float32
    assert not set(held_out_seeds()) & set(corpus_seeds(120, 0))
    assert min(held_out_seeds()) >= corpus.HELD_OUT_SEED > max(corpus_seeds(120, 0))
    training = [generate_texture("gravel", s, 64) for s in corpus_seeds(4, 0)]
    for patch in patches:
        assert all(np.abs(patch - t).mean() > 0.02 for t in training)
    with pytest.raises(ValueError):
        held_out_textures("lava")


def test_default_corpus_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SCENEGEN_CACHE", str(tmp_path / "cache"))
    assert default_corpus_dir() == tmp_path / "cache" / "corpus" / "textures"
    monkeypatch.delenv("SCENEGEN_CACHE")
    monkeypatch.chdir(tmp_path)
    assert default_corpus_dir() == tmp_path / ".cache" / "corpus" / "textures"
