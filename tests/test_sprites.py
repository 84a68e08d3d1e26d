"""Sprite post-processing, billboard meshes, GLB export (checked by the Khronos glTF-Validator), atlases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import trimesh

from scenegen import sprites as S
from scenegen.data.sprites_procedural import generate_sprite
from scenegen.errors import ScenegenError

ROOT = Path(__file__).resolve().parents[1]
VALIDATE_JS = (
    "const fs=require('fs');const v=require('gltf-validator');"
    "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))"
    ".then(r=>console.log(JSON.stringify(r.issues))).catch(e=>{console.error(String(e));process.exit(1);});"
)


@pytest.fixture(scope="module")
def tree() -> np.ndarray:
    return generate_sprite("broadleaf_tree", 3)


@pytest.fixture(scope="module")
def gltf_validate() -> Callable[[Path], dict]:
    """Run the Khronos glTF-Validator (npm package, installed by `npm ci` at the repo root) on a file."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the glTF-Validator runs on Node.js")
    if not (ROOT / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("node_modules/gltf-validator missing: run `npm ci` in the repository root (make test does)")

    def validate(path: Path) -> dict:
        env = dict(os.environ, NODE_PATH=str(ROOT / "node_modules"))
        result = subprocess.run([node, "-e", VALIDATE_JS, str(path)], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return validate


# ------------------------------------------------------------------------------------------------ alpha clean-up
def soften(rgba: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    out = rgba.copy()
    out[..., 3] = cv2.GaussianBlur(rgba[..., 3], (0, 0), sigma)
    return out


def test_clean_alpha_removes_speck_clears_frame_keeps_antialiasing(tree: np.ndarray) -> None:
    soft = soften(tree)
    assert soft[20:25, 8:13, 3].max() == 0  # empty sky there
    soft[20:23, 9:12, 3] = 1.0  # a 3×3 speck
    soft[:, 0, 3] = 0.8  # junk on the frame
    soft[126:, 60:70, 3] = 1.0
    clean = S.clean_alpha(soft)
    alpha = clean[..., 3]
    assert alpha[18:25, 7:14].max() == 0, "speck removed"
    ring = np.ones_like(alpha, bool)
    ring[2:-2, 2:-2] = False
    assert alpha[ring].max() == 0, "outer 2-pixel frame cleared"
    partial = (alpha > 0) & (alpha < 1)
    assert partial.any(), "edges stay antialiased"
    assert partial.sum() < ((soft[..., 3] > 0.02) & (soft[..., 3] < 0.98)).sum() / 2, "edges are crisper"
    inside, before = alpha > 0.5, tree[..., 3] > 0.5
    iou = (inside & before).sum() / (inside | before).sum()
    assert iou > 0.9
    assert np.allclose(clean[..., :3][alpha > 0.99], tree[..., :3][alpha > 0.99], atol=0.02)


def test_clean_alpha_keeps_a_clean_sprite(tree: np.ndarray) -> None:
    clean = S.clean_alpha(tree)
    assert np.abs(clean[..., 3] - tree[..., 3]).mean() < 0.01
    assert np.abs(clean[..., 3] - tree[..., 3]).max() < 0.5


def test_remove_specks_keeps_large_parts() -> None:
    alpha = np.zeros((64, 64), np.float32)
    alpha[30:60, 10:30] = 1.0  # the object
    alpha[30:60, 40:50] = 1.0  # a second large part (kept)
    alpha[5:7, 5:7] = 1.0  # speck (removed)
    out = S.remove_specks(alpha)
    assert out[30:60, 40:50].min() == 1.0 and out[5:7, 5:7].max() == 0.0
    assert S.remove_specks(alpha, min_component_px=1000)[30:60, 40:50].max() == 0.0  # largest always stays


def black_under_transparent(rgba: np.ndarray) -> np.ndarray:
    out = rgba.copy()
    out[..., :3][rgba[..., 3] == 0] = 0.0
    return out


def mip_edge_error(rgba: np.ndarray) -> float:
    """Mean colour error at the edge of a straight-alpha 2×2-average mip (what a GPU does without premultiply)."""
    h, w = rgba.shape[:2]
    straight = rgba.reshape(h // 2, 2, w // 2, 2, 4).mean(axis=(1, 3))
    premul = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=2)
    premul = premul.reshape(h // 2, 2, w // 2, 2, 4).mean(axis=(1, 3))
    alpha = premul[..., 3]
    edge = (alpha > 0.05) & (alpha < 0.95)
    correct = premul[..., :3] / np.maximum(alpha, 1e-6)[..., None]
    return float(np.abs(straight[..., :3] - correct)[edge].mean())


def test_dilate_colour_prevents_dark_fringes(tree: np.ndarray) -> None:
    dark = black_under_transparent(tree)
    fixed = S.dilate_colour(dark)
    assert np.array_equal(fixed[..., 3], dark[..., 3])
    visible = dark[..., 3] > 0
    assert np.array_equal(fixed[..., :3][visible], dark[..., :3][visible])
    assert mip_edge_error(dark) > 3 * mip_edge_error(fixed)
    assert mip_edge_error(fixed) < 0.05
    # Composited over black, the bilinear-downsampled edge keeps the interior's brightness.
    small = cv2.resize(fixed, (64, 64), interpolation=cv2.INTER_LINEAR)
    a = small[..., 3]
    edge_lum = small[..., :3][(a > 0.1) & (a < 0.6)].mean()
    inner_lum = small[..., :3][a > 0.99].mean()
    assert edge_lum > 0.8 * inner_lum


def test_dilate_colour_iterations_and_edge_cases() -> None:
    rgba = np.zeros((32, 32, 4), np.float32)
    rgba[14:18, 14:18] = [0.2, 0.6, 0.1, 1.0]
    near = S.dilate_colour(rgba, iterations=3)
    assert np.allclose(near[12, 16, :3], [0.2, 0.6, 0.1])
    assert np.allclose(near[0, 0, :3], [0.2, 0.6, 0.1])  # beyond reach: the mean visible colour, not black
    empty = np.zeros((8, 8, 4), np.float32)
    assert np.array_equal(S.dilate_colour(empty), empty)


# ------------------------------------------------------------------------------------------------------ billboards
@pytest.mark.parametrize("kind,quads", [("quad", 1), ("cross", 2), ("cross3", 3)])
def test_billboard_pivot_uvs_material(tree: np.ndarray, kind: str, quads: int) -> None:
    mesh = S.billboard_mesh(tree, height_m=4.0, kind=kind, trim=False)
    lo, hi = mesh.bounds
    assert lo[1] == pytest.approx(0.0) and hi[1] == pytest.approx(4.0)
    assert lo[0] == pytest.approx(-hi[0]) and lo[2] == pytest.approx(-hi[2])
    assert len(mesh.faces) == 2 * quads and len(mesh.vertices) == 4 * quads
    uv = mesh.visual.uv
    assert uv.shape == (4 * quads, 2) and uv.min() >= 0 and uv.max() <= 1
    top, bottom = S.visible_rows(tree)
    assert uv[mesh.vertices[:, 1] == 0, 1] == pytest.approx(1 - bottom / tree.shape[0])
    material = mesh.visual.material
    assert material.alphaMode == "MASK" and material.alphaCutoff == 0.5 and material.doubleSided is True
    assert material.metallicFactor == 0.0 and material.roughnessFactor == pytest.approx(0.9)
    assert material.baseColorTexture.mode == "RGBA" and material.baseColorTexture.size == (128, 128)
    width = 4.0 * 128 / (bottom - top)
    assert mesh.metadata["card_half_width"] == pytest.approx(width / 2)
    assert np.array_equal(mesh.metadata["card_bounds"], mesh.bounds)
    if kind == "quad":
        assert hi[2] == lo[2] == 0.0
        assert (hi[0] - lo[0]) == pytest.approx(width)


@pytest.mark.parametrize("kind", ["quad", "cross", "cross3"])
def test_trimmed_billboard_keeps_pivot_height_and_texel_places(tree: np.ndarray, kind: str) -> None:
    """Trimmed cards: the same foot, height and rectangle metadata; every vertex shows the texel the plain card
    shows at that place (UV an unchanged affine function of the position); fewer square metres."""
    plain = S.billboard_mesh(tree, height_m=4.0, kind=kind, trim=False)
    mesh = S.billboard_mesh(tree, height_m=4.0, kind=kind)
    assert mesh.bounds[0][1] == 0.0 and mesh.bounds[1][1] == pytest.approx(4.0)
    assert np.all(mesh.bounds[0] >= plain.bounds[0] - 1e-9) and np.all(mesh.bounds[1] <= plain.bounds[1] + 1e-9)
    assert mesh.metadata["card_half_width"] == plain.metadata["card_half_width"]
    assert np.array_equal(mesh.metadata["card_bounds"], plain.metadata["card_bounds"])
    cards = S.BILLBOARD_KINDS[kind]
    per_card = len(mesh.vertices) // cards
    assert len(mesh.vertices) == per_card * cards and per_card <= S.TRIM_MAX_VERTICES
    assert len(mesh.faces) == (per_card - 2) * cards
    width, top, bottom = 2 * plain.metadata["card_half_width"], *S.visible_rows(tree)
    for q in range(cards):
        angle = np.pi * q / cards
        axis = np.array([np.cos(angle), 0.0, -np.sin(angle)])
        vertices = mesh.vertices[q * per_card:(q + 1) * per_card]
        assert np.allclose(vertices @ np.array([np.sin(angle), 0.0, np.cos(angle)]), 0.0)  # in the card's plane
        expected = np.stack([vertices @ axis / width + 0.5,
                             1 - bottom / 128 + vertices[:, 1] / 4.0 * (bottom - top) / 128], axis=1)
        assert np.allclose(mesh.visual.uv[q * per_card:(q + 1) * per_card], expected)
        assert np.allclose(mesh.vertex_normals[q * per_card:(q + 1) * per_card], np.cross(axis, [0.0, 1.0, 0.0]))
    assert mesh.area < 0.8 * plain.area
    assert np.all(np.einsum("ij,ij->i", mesh.face_normals, mesh.vertex_normals[mesh.faces[:, 0]]) > 0.99), \
        "every triangle counter-clockwise seen from its card's front"


def test_card_outline_known_answer() -> None:
    """One faint texel: the outline is the square of half side TRIM_MARGIN_PX around its centre, clipped to the card;
    a texel near the corner gives the clipped square; an empty sprite the whole rectangle."""
    m = S.TRIM_MARGIN_PX
    alpha = np.zeros((64, 48), np.float32)
    alpha[40, 20] = 0.01  # row 40, column 20: centre (20.5, 64 − 40.5) in card coordinates (y up from the foot)
    outline = S.card_outline(alpha)
    assert len(outline) == 4
    assert np.allclose(np.sort(outline, axis=0)[[0, -1]], [[20.5 - m, 23.5 - m], [20.5 + m, 23.5 + m]])
    alpha[:] = 0.0
    alpha[62, 1] = 1.0  # bottom-left corner texel, rows (10, 63): y = 63 − 62.5 = 0.5
    clipped = S.card_outline(alpha, (10, 63))
    assert np.allclose(np.sort(clipped, axis=0)[[0, -1]], [[0.0, 0.0], [1.5 + m, 0.5 + m]])
    assert np.array_equal(S.card_outline(np.zeros((8, 8), np.float32)), [[0, 0], [8, 0], [8, 8], [0, 8]])


def _inside(polygon: np.ndarray, points: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """Which points lie in the convex counter-clockwise polygon (on its edges counts)."""
    a, b = polygon, np.roll(polygon, -1, axis=0)
    edge, rel = b - a, points[:, None, :] - a[None]
    return np.all(edge[None, :, 0] * rel[..., 1] - edge[None, :, 1] * rel[..., 0] >= -eps, axis=1)


def test_card_outline_encloses_every_texel_that_can_show(tree: np.ndarray) -> None:
    """For the generated tree and a scatter of faint specks: the polygon holds every alpha > 0 texel centre with
    the margin (its square's corners, clipped to the card) and lies in the card; it is convex,
    counter-clockwise, at most TRIM_MAX_VERTICES and much smaller than the rectangle for the real sprite."""
    rng = np.random.default_rng(3)
    specks = np.zeros((96, 80), np.float32)
    specks[rng.integers(0, 96, 12), rng.integers(0, 80, 12)] = rng.uniform(0.001, 1.0, 12)
    for alpha, rows in ((tree[..., 3], S.visible_rows(tree)), (specks, (5, 90))):
        top, bottom = rows
        h, w = alpha.shape
        outline = S.card_outline(alpha, rows)
        assert 3 <= len(outline) <= S.TRIM_MAX_VERTICES
        assert outline[:, 0].min() >= 0 and outline[:, 0].max() <= w
        assert outline[:, 1].min() >= 0 and outline[:, 1].max() <= bottom - top
        e0, e1 = np.roll(outline, -1, 0) - outline, np.roll(outline, -2, 0) - np.roll(outline, -1, 0)
        turns = e0[:, 0] * e1[:, 1] - e0[:, 1] * e1[:, 0]
        assert np.all(turns > 0), "convex and counter-clockwise"
        ys, xs = np.nonzero(alpha > 0)
        centres = np.stack([xs + 0.5, bottom - (ys + 0.5)], axis=1)
        m = S.TRIM_MARGIN_PX
        for dx, dy in ((-m, -m), (m, -m), (m, m), (-m, m)):
            corners = np.clip(centres + [dx, dy], [0, 0], [w, bottom - top])
            assert _inside(outline, corners).all()
    area = S._area(S.card_outline(tree[..., 3], S.visible_rows(tree)))
    top, bottom = S.visible_rows(tree)
    assert area < 0.8 * tree.shape[1] * (bottom - top)


def test_billboard_frame_fit_and_errors(tree: np.ndarray) -> None:
    mesh = S.billboard_mesh(tree, height_m=2.0, fit="frame", trim=False)
    assert mesh.bounds[1][1] == pytest.approx(2.0) and mesh.visual.uv[:, 1].min() == 0.0
    trimmed = S.billboard_mesh(tree, height_m=2.0, fit="frame")  # the same image rectangle; transparent rows cut
    assert trimmed.metadata["card_bounds"][1][1] == pytest.approx(2.0) and trimmed.bounds[1][1] <= 2.0
    with pytest.raises(ScenegenError):
        S.billboard_mesh(tree, kind="sphere")
    with pytest.raises(ScenegenError):
        S.billboard_mesh(np.zeros((16, 16, 4), np.float32))


# ------------------------------------------------------------------------------------------------------ normal map
def disc_sprite(size: int = 64, radius: float = 20.0) -> np.ndarray:
    """A flat-coloured disc standing on the bottom of the frame (centred horizontally)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rgba = np.zeros((size, size, 4), np.float32)
    rgba[..., :3] = (0.3, 0.5, 0.2)
    rgba[..., 3] = ((xx + 0.5 - size / 2) ** 2 + (yy + 0.5 - (size - 4 - radius)) ** 2 <= radius**2)
    return rgba


def outline_normals(normal: np.ndarray, inside: np.ndarray) -> dict[str, np.ndarray]:
    """Decoded normals of the first / last inside texel of every row (left, right) and column (top)."""
    v = normal * 2.0 - 1.0
    rows = np.nonzero(inside.any(axis=1))[0]
    cols = np.nonzero(inside.any(axis=0))[0]
    return {
        "left": np.array([v[r, np.nonzero(inside[r])[0][0]] for r in rows]),
        "right": np.array([v[r, np.nonzero(inside[r])[0][-1]] for r in rows]),
        "top": np.array([v[np.nonzero(inside[:, c])[0][0], c] for c in cols]),
    }


@pytest.mark.parametrize("which,level,share,top", [("disc", 0.4, 0.9, 0.4), ("tree", 0.4, 0.9, 0.4),
                                                   ("grass_tuft", 0.2, 0.7, 0.05)])
def test_sprite_normal_map_faces_outwards(tree: np.ndarray, which: str, level: float, share: float,
                                          top: float) -> None:
    """OpenGL tangent space: the outline's left edge faces left (x < 0), its right edge right, its top up.

    (Thin grass blades lean: a row's first texel is sometimes a blade's top, a column's a blade's side.)
    """
    sprite = {"disc": disc_sprite(), "tree": tree, "grass_tuft": generate_sprite("grass_tuft", 2)}[which]
    normal = S.sprite_normal_map(sprite)
    assert normal.shape == sprite.shape[:2] + (3,) and normal.dtype == np.float32
    assert normal.min() >= 0.0 and normal.max() <= 1.0
    assert np.allclose(np.linalg.norm(normal * 2 - 1, axis=2), 1.0, atol=1e-4), "unit normals"
    inside = sprite[..., 3] >= 0.5
    edges = outline_normals(normal, inside)
    assert np.median(edges["left"][:, 0]) < -level, "left edge faces left"
    assert np.median(edges["right"][:, 0]) > level, "right edge faces right"
    assert (edges["left"][:, 0] < 0).mean() > share and (edges["right"][:, 0] > 0).mean() > share
    assert np.median(edges["top"][:, 1]) > top, "top faces up (+Y: OpenGL)"
    assert np.array_equal(S.sprite_normal_map(sprite), normal), "deterministic"


def test_sprite_normal_map_dome_and_transparent_texels() -> None:
    disc = disc_sprite()
    normal = S.sprite_normal_map(disc)
    v = normal * 2 - 1
    cy, cx = int(64 - 4 - 20), 32
    assert v[cy, cx, 2] > 0.95, "the crown faces the viewer"
    assert v[cy, cx - 10, 0] < -0.2 < 0.2 < v[cy, cx + 10, 0], "a dome: x grows from left to right inside"
    height = S.sprite_height_map(disc)
    assert height[disc[..., 3] == 0].max() < height.max() / 2, "low outside the outline"
    assert np.unravel_index(height.argmax(), height.shape)[1] in (31, 32), "highest on the centre line"
    # Transparent texels carry the nearest outline normal (no flat or foreign normal for filtering to mix in).
    assert v[cy, 2, 0] < -0.4 and v[cy, 61, 0] > 0.4 and v[1, cx, 1] > 0.4
    assert S.sprite_normal_map(disc, strength=0.0)[cy, 5:60].std(axis=0).max() < 0.02, "strength 0: nearly flat"
    flat = S.sprite_normal_map(np.zeros((8, 8, 4), np.float32))
    assert np.array_equal(flat, np.broadcast_to(np.float32([0.5, 0.5, 1.0]), (8, 8, 3)))


def test_sprite_normal_atlas_follows_the_colour_atlas() -> None:
    sprites = {"a": disc_sprite(), "b": generate_sprite("conifer", 1, 64), "c": disc_sprite(32, 10)}
    atlas, meta = S.pack_atlas(sprites, padding=3)
    frames = [[meta["frames"][n]["frame"][k] for k in ("x", "y", "w", "h")] for n in sorted(sprites)]
    normals = S.sprite_normal_atlas([sprites[n] for n in sorted(sprites)], frames, (atlas.shape[1], atlas.shape[0]),
                                    padding=3)
    assert normals.shape == atlas.shape[:2] + (3,)
    for name, (x, y, w, h) in zip(sorted(sprites), frames):
        assert np.array_equal(normals[y:y + h, x:x + w], S.sprite_normal_map(sprites[name]))
        assert np.array_equal(normals[y - 3, x:x + w], normals[y, x:x + w]), "edge extruded into the padding"
    used = np.zeros(atlas.shape[:2], bool)
    for x, y, w, h in frames:
        used[y - 3:y + h + 3, x - 3:x + w + 3] = True
    assert np.all(normals[~used] == np.float32([0.5, 0.5, 1.0])), "the unused area is flat"


@pytest.mark.parametrize("kind", ["quad", "cross", "cross3"])
def test_glb_round_trip_and_validator(tree: np.ndarray, kind: str, tmp_path: Path,
                                      gltf_validate: Callable[[Path], dict]) -> None:
    from scenegen.export.sprite_files import billboard_glb
    from scenegen.glb import CLAMP_TO_EDGE, read_glb_json

    path = tmp_path / f"oak_{kind}.glb"
    path.write_bytes(billboard_glb(tree, f"oak_{kind}", height_m=1.0, kind=kind, alpha_cutoff=0.4))
    gltf = read_glb_json(path.read_bytes())
    (material,) = gltf["materials"]
    assert material["alphaMode"] == "MASK" and material["alphaCutoff"] == pytest.approx(0.4)
    assert material["doubleSided"] is True and "normalTexture" in material
    assert material["pbrMetallicRoughness"]["metallicFactor"] == 0.0
    assert gltf["samplers"] == [{"magFilter": 9729, "minFilter": 9987, "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE}]
    assert len(gltf["meshes"]) == 1 and len(gltf["meshes"][0]["primitives"][0]["attributes"]) == 4  # + TANGENT
    loaded = trimesh.load(path, force="mesh")
    assert loaded.visual.uv is not None and loaded.visual.material.alphaMode == "MASK"
    assert loaded.bounds[0][1] == pytest.approx(0.0, abs=1e-6)
    assert len(loaded.faces) == len(S.billboard_mesh(tree, kind=kind, alpha_cutoff=0.4).faces)
    issues = gltf_validate(path)
    for message in issues["messages"]:
        print(f"glTF-Validator {kind}: severity {message['severity']} {message['code']}: {message['message']}")
    assert issues["numErrors"] == 0
    assert issues["numWarnings"] == 0


def test_instanced_billboards_share_one_mesh_and_validate(tree: np.ndarray, tmp_path: Path,
                                                          gltf_validate: Callable[[Path], dict]) -> None:
    from scenegen.glb import read_glb_json
    from scenegen.scene.compose import sprite_billboard
    from scenegen.scene.composed import InstanceGroup
    from scenegen.scene.gltf import asset_to_glb

    geometry, material = sprite_billboard(tree, "oak", height_m=2.0, kind="cross", alpha_cutoff=0.5)
    group = InstanceGroup("oak", geometry, translations=[[2.0 * i, 0, 0] for i in range(3)],
                          rotations=[[0, 0, 0, 1]] * 3, scales=np.ones((3, 3)), billboard=True)
    path = tmp_path / "scene.glb"
    path.write_bytes(asset_to_glb({"oak": material}, [group], "oak"))
    gltf = read_glb_json(path.read_bytes())
    assert len(gltf["meshes"]) == 1 and sum("mesh" in n for n in gltf["nodes"]) == 3
    report = gltf_validate(path)
    assert report["numErrors"] == 0 and report["numWarnings"] == 0, report["messages"]


def test_glb_json_rewrite_keeps_binary_chunk(tree: np.ndarray) -> None:
    from scenegen.export.sprite_files import billboard_glb
    from scenegen.glb import read_glb_binary, read_glb_json, write_glb_json

    data = billboard_glb(tree, "oak", height_m=1.0, kind="quad", alpha_cutoff=0.5)
    gltf = read_glb_json(data)
    gltf["materials"][0]["alphaMode"] = "OPAQUE"
    rewritten = write_glb_json(data, gltf)
    assert len(rewritten) % 4 == 0 and int.from_bytes(rewritten[8:12], "little") == len(rewritten)
    assert read_glb_json(rewritten)["materials"][0]["alphaMode"] == "OPAQUE"
    assert read_glb_binary(rewritten) == read_glb_binary(data) and rewritten.endswith(data[-64:])


def test_billboard_renders_as_cut_out(tree: np.ndarray) -> None:
    """pyrender draws the quad with the sprite upright and its transparent texels showing the background."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    pyrender = pytest.importorskip("pyrender")
    mesh = pyrender.Mesh.from_trimesh(S.billboard_mesh(tree, height_m=1.0, fit="frame"))
    scene = pyrender.Scene(bg_color=[1.0, 0.0, 1.0, 1.0], ambient_light=[1.0, 1.0, 1.0])
    scene.add(mesh)
    scene.add(pyrender.OrthographicCamera(xmag=0.5, ymag=0.5, znear=0.1, zfar=10.0),
              pose=trimesh.transformations.translation_matrix([0.0, 0.5, 2.0]))
    try:
        renderer = pyrender.OffscreenRenderer(128, 128)
    except Exception as exc:  # no EGL / OSMesa on this machine
        pytest.skip(f"no offscreen OpenGL: {exc}")
    try:
        colour, _ = renderer.render(scene, flags=pyrender.RenderFlags.FLAT)
    finally:
        renderer.delete()
    background = np.all(colour == [255, 0, 255], axis=2)
    covered, expected = ~background, tree[..., 3] > 0.5
    iou = (covered & expected).sum() / (covered | expected).sum()
    assert iou > 0.9, "rendered silhouette should match the sprite (not an opaque or flipped quad)"


# ---------------------------------------------------------------------------------------------------------- atlas
def sample_sprites() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    sprites = {f"tree_{i}": generate_sprite("conifer", i, 64) for i in range(5)}
    for i, (h, w) in enumerate([(40, 24), (17, 33), (64, 10), (9, 9)]):
        sprites[f"odd_{i}"] = rng.random((h, w, 4)).astype(np.float32)
    return sprites


def test_atlas_layout_and_metadata() -> None:
    sprites = sample_sprites()
    atlas, meta = S.pack_atlas(sprites, padding=2, image_name="sprites.png")
    h, w = atlas.shape[:2]
    assert atlas.shape[2] == 4 and atlas.dtype == np.float32
    assert h & (h - 1) == 0 and w & (w - 1) == 0 and w in (h, 2 * h)
    assert list(meta["frames"]) == sorted(sprites)
    assert meta["meta"]["size"] == {"w": w, "h": h} and meta["meta"]["image"] == "sprites.png"
    assert {"app", "version", "format", "scale"} <= set(meta["meta"]) and meta["meta"]["format"] == "RGBA8888"
    json.dumps(meta)
    padded = []
    for name, entry in meta["frames"].items():
        assert set(entry) >= {"frame", "rotated", "trimmed", "spriteSourceSize", "sourceSize"}
        assert entry["rotated"] is False and entry["trimmed"] is False
        f = entry["frame"]
        sh, sw = sprites[name].shape[:2]
        assert (f["w"], f["h"]) == (sw, sh) and entry["sourceSize"] == {"w": sw, "h": sh}
        assert entry["spriteSourceSize"] == {"x": 0, "y": 0, "w": sw, "h": sh}
        assert 2 <= f["x"] and f["x"] + sw + 2 <= w and 2 <= f["y"] and f["y"] + sh + 2 <= h
        assert np.array_equal(atlas[f["y"]:f["y"] + sh, f["x"]:f["x"] + sw], sprites[name])
        # Padding is the sprite's own edge extruded.
        assert np.array_equal(atlas[f["y"] - 2:f["y"], f["x"]:f["x"] + sw], np.repeat(sprites[name][:1], 2, 0))
        assert np.array_equal(atlas[f["y"]:f["y"] + sh, f["x"] + sw + 1], sprites[name][:, -1])
        padded.append((f["x"] - 2, f["y"] - 2, f["x"] + sw + 2, f["y"] + sh + 2))
    for i, a in enumerate(padded):
        for b in padded[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], "padded frames overlap"
    again, meta_again = S.pack_atlas(dict(reversed(list(sprites.items()))), padding=2, image_name="sprites.png")
    assert np.array_equal(atlas, again) and meta == meta_again


def test_atlas_too_big() -> None:
    with pytest.raises(ScenegenError, match="do not fit"):
        S.pack_atlas({f"s{i}": np.zeros((60, 60, 4), np.float32) for i in range(5)}, max_size=128)
    with pytest.raises(ScenegenError):
        S.pack_atlas({})


# -------------------------------------------------------------------------------------------------- contact sheet
def test_contact_sheet_backgrounds(tree: np.ndarray) -> None:
    sprites = [tree, generate_sprite("rock", 1), generate_sprite("flower", 2, 64)]
    sheet = S.contact_sheet(sprites, columns=2, labels=["oak", "rock", "flower"])
    assert sheet.ndim == 3 and sheet.shape[2] == 3 and sheet.dtype == np.float32
    assert sheet.shape[1] == 2 * 128 + 3 * 4
    on_white = S.contact_sheet([tree], background="white")
    on_black = S.contact_sheet([tree], background="black")
    gap = 4
    transparent = tree[..., 3] == 0
    assert np.all(on_white[gap:gap + 128, gap:gap + 128][transparent] == 1.0)
    assert np.all(on_black[gap:gap + 128, gap:gap + 128][transparent] == 0.0)
    with pytest.raises(ScenegenError):
        S.contact_sheet([tree], labels=["a", "b"])


def test_clean_alpha_keeps_thin_strokes() -> None:
    """Blurred grass blades fall below alpha 0.5; clean_alpha keeps their centre lines, not just the clump."""
    grass = generate_sprite("grass_tuft", 11)
    clean = S.clean_alpha(soften(grass))
    before, after = grass[..., 3] > 0.5, clean[..., 3] > 0.5
    assert (before & after).sum() / before.sum() > 0.75
    assert after.sum() < 2.0 * before.sum()
    hazy = np.full((64, 64, 4), 0.2, np.float32)  # faint haze everywhere: not an object
    assert S.clean_alpha(hazy)[..., 3].max() == 0.0


def test_remove_specks_drops_visible_islands_joined_only_by_faint_alpha() -> None:
    alpha = np.zeros((128, 128), np.float32)
    yy, xx = np.mgrid[0:128, 0:128]
    alpha[(yy - 70) ** 2 + (xx - 64) ** 2 < 30**2] = 1.0  # the object
    alpha[20:23, 60:63] = 1.0  # a visible 3×3 speck ...
    alpha[23:41, 61] = 0.1  # ... tied to the object by a faint, invisible bridge
    cleaned = S.remove_specks(alpha)
    assert cleaned[20:23, 60:63].max() == 0.0
    assert np.array_equal(cleaned[40:], alpha[40:]), "the object is untouched"
