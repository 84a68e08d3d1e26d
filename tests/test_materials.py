"""Derived PBR maps: periodic, size-consistent, correctly signed, correctly packed and saved."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from scenegen.errors import ScenegenError
from scenegen.imaging import resize
from scenegen.material_files import save_material
from scenegen.materials import Material, derive_maps, to_directx

MAPS = ("height", "normal", "roughness", "ao")


def periodic_texture(n: int, seed: int = 0, width: int | None = None) -> np.ndarray:
    """A tileable test colour: integer-frequency sinusoids + wrapped rectangles + fine periodic noise.

    Geometry is defined on the unit torus, so the same pattern can be sampled at any resolution.
    """
    w = width or n
    rng = np.random.default_rng(seed)
    yy = ((np.arange(n) + 0.5) / n)[:, None]
    xx = ((np.arange(w) + 0.5) / w)[None, :]
    img = np.full((n, w, 3), 0.45, np.float32)
    for c in range(3):
        for _ in range(4):
            fx, fy = rng.integers(1, 6, 2)
            img[..., c] += 0.06 * np.sin(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
    for _ in range(12):
        y0, x0 = rng.uniform(0, 1, 2)
        rh, rw = rng.uniform(1 / 16, 1 / 4, 2)
        inside = (((yy - y0) % 1) < rh) & (((xx - x0) % 1) < rw)
        img[inside] += rng.uniform(-0.15, 0.15, 3).astype(np.float32)
    return np.clip(img, 0, 1)


def noisy_periodic_texture(n: int, seed: int) -> np.ndarray:
    """periodic_texture plus per-pixel periodic noise (FFT-blurred white noise): many independent texels."""
    rng = np.random.default_rng(seed + 1000)
    spectrum = np.fft.fft2(rng.standard_normal((n, n, 3)), axes=(0, 1))
    f2 = np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2
    noise = np.fft.ifft2(spectrum * np.exp(-2 * (np.pi * 0.7) ** 2 * f2)[..., None], axes=(0, 1)).real
    return np.clip(periodic_texture(n, seed) + 0.08 * noise / noise.std(), 0, 1).astype(np.float32)


def seam_ratio(image: np.ndarray) -> float:
    """Mean |wrap-around edge differences| / mean |interior neighbour differences| (≈ 1 if tileable)."""
    m = image if image.ndim == 3 else image[..., None]
    edge = np.concatenate([np.abs(m[:, 0] - m[:, -1]).ravel(), np.abs(m[0] - m[-1]).ravel()]).mean()
    inner = np.concatenate([np.abs(np.diff(m, axis=1)).ravel(), np.abs(np.diff(m, axis=0)).ravel()]).mean()
    return float(edge / inner)


def all_maps(material: Material) -> dict[str, np.ndarray]:
    return {**{k: getattr(material, k) for k in MAPS}, "orm": material.orm()}


def test_shapes_dtypes_and_ranges_non_square() -> None:
    mat = derive_maps(periodic_texture(96, width=160), name="x")
    assert mat.basecolor.shape == (96, 160, 3) and mat.normal.shape == (96, 160, 3)
    for key in ("height", "roughness", "ao"):
        assert getattr(mat, key).shape == (96, 160)
    for key, image in all_maps(mat).items():
        assert image.dtype == np.float32, key
        assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0, key
    assert mat.height.min() == 0.0 and mat.height.max() == 1.0  # normalised to the full range
    assert mat.ao.max() == 1.0 and mat.ao.min() < 0.9  # exposed texels unoccluded, cavities darker
    lengths = np.linalg.norm(mat.normal * 2 - 1, axis=2)
    np.testing.assert_allclose(lengths, 1.0, atol=1e-5)
    assert mat.orm().shape == (96, 160, 3)


def test_ao_darkens_low_ground_and_saturates_at_high_strength() -> None:
    tex = periodic_texture(128)
    assert np.all(derive_maps(tex, ao_strength=0.0).ao == 1.0)
    means = [derive_maps(tex, ao_strength=s).ao.mean() for s in (0.5, 1.0, 2.0)]
    assert means[0] > means[1] > means[2]
    mat = derive_maps(tex)
    assert np.corrcoef(mat.ao.ravel(), mat.height.ravel())[0, 1] > 0.3  # low texels are more occluded
    strong = derive_maps(tex, ao_strength=10.0)
    assert np.all(strong.ao[strong.height < 0.5] == 0.0)  # saturated black, not a product of two negatives


def test_every_map_is_seamless_on_a_periodic_texture() -> None:
    ratios = {key: [] for key in ("basecolor", *MAPS, "orm")}
    for seed in range(4):  # average over textures: one edge is a small, noisy sample
        img = noisy_periodic_texture(512, seed)
        mat = derive_maps(img)
        ratios["basecolor"].append(seam_ratio(img))
        for key, image in all_maps(mat).items():
            ratios[key].append(seam_ratio(image))
    means = {key: float(np.mean(v)) for key, v in ratios.items()}
    assert all(0.9 <= r <= 1.05 for r in means.values()), means


def test_seam_ratio_detects_a_seam() -> None:
    """The metric used above fails for a non-tileable crop, in the input and in the derived maps."""
    crop = noisy_periodic_texture(512, 0)[:400, :400]
    assert seam_ratio(crop) > 1.2
    assert seam_ratio(derive_maps(crop).height) > 1.2


def test_maps_shift_with_the_input() -> None:
    """Only wrap-around operations: rolling the colour rolls every map identically."""
    img = periodic_texture(128, seed=3)
    shift = (37, 91)
    base = derive_maps(img)
    moved = derive_maps(np.roll(img, shift, axis=(0, 1)))
    for key, image in all_maps(base).items():
        np.testing.assert_allclose(all_maps(moved)[key], np.roll(image, shift, axis=(0, 1)), atol=2e-4, err_msg=key)


def test_height_ramp_gives_correctly_signed_normals() -> None:
    n = 64
    flat = np.full((n, n, 3), 0.5, np.float32)
    rows = np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]  # height rises towards the image top
    up_ramp = derive_maps(flat, height=np.repeat(rows, n, axis=1)).normal[2:-2, 2:-2]  # skip the wrap rows
    assert (up_ramp[..., 1] < 0.499).all()  # surface faces down: OpenGL green below 0.5
    np.testing.assert_allclose(up_ramp[..., 0], 0.5, atol=1e-6)
    assert (to_directx(up_ramp)[..., 1] > 0.501).all()  # DirectX flips green

    cols = np.linspace(0.0, 1.0, n, dtype=np.float32)[None, :]  # height rises to the right
    right_ramp = derive_maps(flat, height=np.repeat(cols, n, axis=0)).normal[2:-2, 2:-2]
    assert (right_ramp[..., 0] < 0.499).all()  # faces left: red below 0.5
    np.testing.assert_allclose(right_ramp[..., 1], 0.5, atol=1e-6)


def test_bump_upper_flank_faces_up() -> None:
    """A raised bump's upper flank (towards the image top) has green > 0.5, its lower flank < 0.5."""
    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    bump = np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / 60.0).astype(np.float32)
    normal = derive_maps(np.full((n, n, 3), 0.5, np.float32), height=bump, normal_strength=8.0).normal
    assert normal[26, 32, 1] > 0.6 and normal[38, 32, 1] < 0.4
    assert normal[32, 38, 0] > 0.6 and normal[32, 26, 0] < 0.4  # right flank faces right


def test_normal_strength_scales_the_tilt() -> None:
    img = periodic_texture(128)
    weak = derive_maps(img, normal_strength=0.5).normal
    strong = derive_maps(img, normal_strength=2.0).normal
    flat = derive_maps(img, normal_strength=0.0).normal
    assert np.abs(strong[..., :2] - 0.5).mean() > 2 * np.abs(weak[..., :2] - 0.5).mean()
    np.testing.assert_allclose(flat, np.broadcast_to([0.5, 0.5, 1.0], flat.shape), atol=1e-6)


def test_orm_packing_and_roughness_range() -> None:
    mat = derive_maps(periodic_texture(96), roughness_range=(0.2, 0.6), metallic=0.7)
    orm = mat.orm()
    np.testing.assert_array_equal(orm[..., 0], mat.ao)
    np.testing.assert_array_equal(orm[..., 1], mat.roughness)
    np.testing.assert_allclose(orm[..., 2], 0.7)
    assert mat.roughness.min() >= 0.2 and mat.roughness.max() <= 0.6
    assert mat.roughness.std() > 0.02  # actually varies with the texture


def test_features_scale_with_resolution() -> None:
    """The same tile at 512² is a sharper version of the 256² maps, not a finer-grained one."""
    low = derive_maps(periodic_texture(256))
    high = derive_maps(periodic_texture(512))
    assert np.abs(resize(high.height, 256, 256) - low.height).mean() < 0.01
    assert np.abs(resize(high.normal, 256, 256) - low.normal).mean() < 0.002
    assert np.abs(resize(high.ao, 256, 256) - low.ao).mean() < 0.005


def test_fixed_pixel_scale_maps_of_a_repeated_tile_are_the_repeated_maps() -> None:
    """Generators' texels have a fixed size: with pixel_scale=1 a 2×2 repeat of a tile gets the tile's maps
    repeated (the filters are periodic and do not grow with the canvas); the default scale would blur it."""
    tile = noisy_periodic_texture(128, 3)
    one = derive_maps(tile, pixel_scale=1.0)
    four = derive_maps(np.tile(tile, (2, 2, 1)), pixel_scale=1.0)
    for key in ("height", "normal", "roughness", "ao"):
        repeated = np.tile(getattr(one, key), (2, 2, 1) if getattr(one, key).ndim == 3 else (2, 2))
        assert np.abs(getattr(four, key) - repeated).max() < 2e-3, key
    grown = derive_maps(np.tile(tile, (2, 2, 1)))
    assert np.abs(grown.normal - np.tile(one.normal, (2, 2, 1))).mean() > 0.01
    with pytest.raises(ScenegenError, match="pixel_scale"):
        derive_maps(tile, pixel_scale=0)


def test_given_height_is_used_and_recorded() -> None:
    img = periodic_texture(64)
    height = np.random.default_rng(0).uniform(0, 1, (64, 64)).astype(np.float32)
    mat = derive_maps(img, height=height, name="given", params={"seed": 5})
    np.testing.assert_array_equal(mat.height, height)
    assert mat.params["height_source"] == "given" and mat.params["seed"] == 5
    assert derive_maps(img).params["height_source"] == "luminance"
    with pytest.raises(ScenegenError):
        derive_maps(img, height=height[:32])


@pytest.mark.parametrize(
    "kwargs",
    [{"roughness_range": (0.8, 0.2)}, {"roughness_range": (0.0, 1.5)}, {"metallic": 2.0}, {"normal_strength": -1.0}],
)
def test_bad_parameters_raise(kwargs: dict) -> None:
    with pytest.raises(ScenegenError):
        derive_maps(periodic_texture(32), **kwargs)


def test_bad_basecolor_raises() -> None:
    with pytest.raises(ScenegenError):
        derive_maps(np.zeros((32, 32), np.float32))


def test_save_material_files_bit_depths_and_conventions(tmp_path) -> None:
    mat = derive_maps(periodic_texture(64, width=128), name="rock_01", metallic=0.25)
    gl = save_material(mat, tmp_path / "gl", preview=False)
    dx = save_material(mat, tmp_path / "dx", normal_convention="directx", preview=False)
    assert set(gl) == {"basecolor", "normal", "roughness", "height", "ao", "orm"}
    assert gl["height"].name == "rock_01_height.png" and gl["orm"].parent == tmp_path / "gl"

    read = {key: cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for key, path in gl.items()}
    assert read["height"].dtype == np.uint16 and read["height"].shape == (64, 128)
    assert read["height"].max() == 65535 and len(np.unique(read["height"])) > 256  # really 16-bit data
    for key in ("basecolor", "normal", "orm"):
        assert read[key].dtype == np.uint8 and read[key].shape == (64, 128, 3), key
    for key in ("roughness", "ao"):
        assert read[key].dtype == np.uint8 and read[key].shape == (64, 128), key
    orm_rgb = read["orm"][..., ::-1]
    np.testing.assert_array_equal(orm_rgb[..., 0], read["ao"])
    np.testing.assert_array_equal(orm_rgb[..., 1], read["roughness"])
    assert (orm_rgb[..., 2] == 64).all()  # round(0.25 * 255)

    gl_normal = read["normal"][..., ::-1].astype(int)
    dx_normal = cv2.imread(str(dx["normal"]), cv2.IMREAD_UNCHANGED)[..., ::-1].astype(int)
    assert np.abs(dx_normal[..., 1] - (255 - gl_normal[..., 1])).max() <= 1
    np.testing.assert_array_equal(dx_normal[..., [0, 2]], gl_normal[..., [0, 2]])


def test_save_is_byte_identical(tmp_path) -> None:
    first = save_material(derive_maps(periodic_texture(64), name="m"), tmp_path / "a", preview=False)
    second = save_material(derive_maps(periodic_texture(64), name="m"), tmp_path / "b", preview=False)
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    assert not list((tmp_path / "a").glob(".*"))  # no temp files left behind


def test_save_rejects_bad_convention_and_names(tmp_path) -> None:
    mat = derive_maps(periodic_texture(32))
    with pytest.raises(ScenegenError, match="opengl"):
        save_material(mat, tmp_path, normal_convention="dx", preview=False)
    mat.name = "../escape"
    with pytest.raises(ScenegenError):
        save_material(mat, tmp_path, preview=False)
