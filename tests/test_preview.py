"""Material preview: a sphere shaded in closed form (numpy) + tiled swatch; deterministic; normals oriented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from scenegen.imaging import encode_png, gaussian_blur_wrap, resize, tile_image
from scenegen.material_files import save_material
from scenegen.materials import Material, derive_maps
from scenegen.preview import BACKGROUND, render_material_preview, render_sphere, uv_sphere

SIZE = 96


def brick_texture(size: int = 128, seed: int = 0) -> np.ndarray:
    """Tileable red bricks (8 rows × 4, half-offset) with dark mortar and fine periodic grain."""
    rng = np.random.default_rng(seed)
    rows, cols, mortar = 8, 4, max(2, size // 64)
    bh, bw = size // rows, size // cols
    yy, xx = np.mgrid[0:size, 0:size]
    row = yy // bh
    shifted = (xx + (row % 2) * (bw // 2)) % size
    in_mortar = ((yy % bh) < mortar) | ((shifted % bw) < mortar)
    tint = rng.uniform(0.75, 1.15, size=(rows, cols)).astype(np.float32)[row, shifted // bw]
    brick = np.array([0.70, 0.33, 0.22], np.float32) * tint[..., None]
    img = np.where(in_mortar[..., None], np.array([0.24, 0.23, 0.22], np.float32), brick)
    grain = gaussian_blur_wrap(rng.standard_normal((size, size)).astype(np.float32), 1.0)
    return np.clip(img + 0.08 * grain[..., None] / grain.std(), 0, 1).astype(np.float32)


def flat_material(normal_xy: tuple[float, float] = (0.0, 0.0), color=(0.5, 0.5, 0.5)) -> Material:
    """A uniform material whose normal map tilts every texel by ``normal_xy`` (tangent space, OpenGL)."""
    n = np.array([*normal_xy, 1.0])
    n /= np.linalg.norm(n)
    s = 32
    grey = lambda v: np.full((s, s), v, np.float32)  # noqa: E731
    return Material(
        basecolor=np.broadcast_to(np.float32(color), (s, s, 3)).copy(),
        height=grey(0.5),
        normal=np.broadcast_to((n * 0.5 + 0.5).astype(np.float32), (s, s, 3)).copy(),
        roughness=grey(0.8),
        ao=grey(1.0),
    )


def sphere_mask(size: int, radius_fraction: float = 0.35) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (radius_fraction * size) ** 2


def test_preview_layout_content_and_hue() -> None:
    mat = derive_maps(brick_texture(), name="bricks")
    preview = render_material_preview(mat, SIZE)
    assert preview.shape == (SIZE, 2 * SIZE, 3) and preview.dtype == np.float32
    assert preview.min() >= 0.0 and preview.max() <= 1.0

    sphere = preview[:, :SIZE]
    inside = sphere[sphere_mask(SIZE)]
    corner = sphere[:6, :6].reshape(-1, 3)
    np.testing.assert_allclose(corner, np.broadcast_to(BACKGROUND, corner.shape), atol=2 / 255)
    assert np.abs(inside.mean(axis=0) - np.float32(BACKGROUND)).max() > 0.1  # the sphere is there, not black
    assert inside.std() > 0.03  # textured and shaded, not flat
    r, g, b = inside.mean(axis=0)
    assert r > g + 0.05 and r > b + 0.05  # the bricks' red hue survives (gamma handled)
    assert 0.15 < inside.mean() < 0.8  # neither black nor blown out

    swatch = resize(tile_image(mat.basecolor, 2, 2), SIZE, SIZE)
    np.testing.assert_allclose(preview[:, SIZE:], swatch, atol=1e-6)


def test_preview_is_deterministic() -> None:
    mat = derive_maps(brick_texture(64))
    assert encode_png(render_material_preview(mat, 64)) == encode_png(render_material_preview(mat, 64))


def test_sphere_uses_the_normal_map_with_opengl_orientation() -> None:
    """Key light is above-left: normals tilted up (+green) or left (-red) brighten the sphere."""
    brightness = {
        name: float(render_sphere(flat_material(xy), 64)[sphere_mask(64)].mean())
        for name, xy in {"flat": (0, 0), "up": (0, 0.7), "down": (0, -0.7), "left": (-0.7, 0), "right": (0.7, 0)}.items()
    }
    assert brightness["up"] > brightness["flat"] + 0.02 > brightness["down"] + 0.04, brightness
    assert brightness["left"] > brightness["flat"] + 0.01 > brightness["right"] + 0.02, brightness


def test_sphere_shows_the_image_upright_and_uses_occlusion() -> None:
    """Top of the texture (red) maps to the sphere's upper half, bottom (blue) to its lower half."""
    split = flat_material()
    split.basecolor[:16] = (0.8, 0.1, 0.1)
    split.basecolor[16:] = (0.1, 0.1, 0.8)
    image = render_sphere(split, 48)
    upper, lower = image[:24][sphere_mask(48)[:24]].mean(axis=0), image[24:][sphere_mask(48)[24:]].mean(axis=0)
    assert upper[0] > upper[2] + 0.2 and lower[2] > lower[0] + 0.2, (upper, lower)
    occluded = flat_material()
    occluded.ao[:] = 0.3
    assert render_sphere(occluded, 48)[sphere_mask(48)].mean() < render_sphere(flat_material(), 48)[sphere_mask(48)].mean() - 0.1


def test_uv_sphere_geometry() -> None:
    pos, normals, uvs, tangents, faces = uv_sphere(rings=16, segments=32)
    np.testing.assert_allclose(np.linalg.norm(pos, axis=1), 1.0, atol=1e-6)
    assert uvs[:, 0].min() == 0 and uvs[:, 0].max() == 2 and uvs[:, 1].min() == 0 and uvs[:, 1].max() == 1
    tri = pos[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (np.einsum("ij,ij->i", face_n, tri.mean(axis=1)) > 0).all()  # counter-clockwise from outside
    assert np.abs(np.einsum("ij,ij->i", tangents[:, :3], normals)).max() < 1e-6
    # tangent follows +u; bitangent (n × t · w) follows +v, i.e. north = top of the image
    eq = np.argmin(np.abs(pos[:, 1]) + np.abs(pos[:, 0]) + np.abs(pos[:, 2] - 1))  # the point facing +Z
    assert tangents[eq, 0] > 0.99 and np.cross(normals[eq], tangents[eq, :3])[1] * tangents[eq, 3] > 0.99
    north = uvs[np.argmax(pos[:, 1]), 1]
    assert north == 1.0


def test_save_material_with_preview_is_byte_identical(tmp_path: Path) -> None:
    mat = derive_maps(brick_texture(64), name="bricks")
    first = save_material(mat, tmp_path / "a")
    second = save_material(mat, tmp_path / "b")
    assert first["preview"].name == "bricks_preview.png"
    preview = cv2.imread(str(first["preview"]), cv2.IMREAD_UNCHANGED)
    assert preview.shape == (512, 1024, 3) and preview.dtype == np.uint8
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key


def test_preview_needs_no_opengl() -> None:
    """The sphere is shaded in numpy: no pyrender, no OpenGL, whatever PYOPENGL_PLATFORM says."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from scenegen.materials import derive_maps\n"
        "from scenegen.preview import render_material_preview\n"
        "image = render_material_preview(derive_maps(np.full((16, 16, 3), 0.5, np.float32)), 32)\n"
        "print(image.shape, 'pyrender' in sys.modules, 'OpenGL' in sys.modules)\n"
    )
    env = {**os.environ, "PYOPENGL_PLATFORM": "no-such-platform"}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(32, 64, 3) False False"
