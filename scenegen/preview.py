"""Material preview: a lit, UV-mapped sphere (pyrender, offscreen EGL) beside a 2×2 tiled swatch.

Notes on pyrender 0.1.45's shader (``pyrender/shaders/mesh.frag``), which this module relies on:

* the base colour texture is decoded sRGB → linear in the shader and the output is re-encoded with
  gamma 1/2.2, so the sRGB base colour is passed as is (no manual linearisation);
* the metallic-roughness texture is read from the ORM image's G (roughness) and B (metallic)
  channels and the occlusion texture from its R channel, i.e. glTF packing works unchanged;
* **vertex tangents are ignored**: ``HAS_TANGENTS`` is never defined, so the tangent frame is
  rebuilt per pixel from screen-space derivatives of position and UV (t = ∂P/∂u, b = n × t).
  With UVs whose v grows towards the *top* of the image (pyrender uploads textures bottom-up) that
  frame is the glTF/OpenGL one, so an OpenGL (+Y up) normal map shades correctly. We still supply
  glTF tangents (w = +1) so the mesh is correct for renderers that use them;
* the occlusion texture darkens direct light as well as ambient (a pyrender simplification).
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from .errors import ScenegenError
from .imaging import resize, tile_image, to_uint

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

if not hasattr(np, "infty"):  # pyrender 0.1.45 uses np.infty (removed in numpy 2.0) in Mesh.bounds
    np.infty = np.inf  # type: ignore[attr-defined]


class MaterialMaps(Protocol):
    """What a preview reads of a material: :class:`scenegen.materials.Material` is one.

    A structural type, so that this module need not import :mod:`scenegen.materials` (whose
    ``save_material`` calls :func:`render_material_preview`): the dependency runs one way.
    """

    name: str
    basecolor: np.ndarray  # H×W×3, sRGB-encoded
    normal: np.ndarray  # H×W×3, encoded [0, 1], OpenGL
    roughness: np.ndarray  # H×W
    ao: np.ndarray  # H×W
    metallic: float

    @property
    def shape(self) -> tuple[int, int]: ...

    def orm(self) -> np.ndarray: ...


SPHERE_TILES = (2, 1)  # material repeats around the equator × from pole to pole (square texels at the equator)
MAX_TEXTURE = 1024  # maps are area-downsampled to at most this for upload
SUPERSAMPLE = 2  # render at 2× and area-downsample (on top of pyrender's 4× MSAA)
BACKGROUND = (0.16, 0.16, 0.17)  # display-encoded grey behind the sphere
_CAMERA_DISTANCE = 4.3
_YFOV = np.pi / 6.0


def uv_sphere(
    rings: int = 96, segments: int = 192, tiles: tuple[int, int] = SPHERE_TILES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A unit UV sphere: ``(positions, normals, uvs, tangents, faces)``.

    u runs eastwards (to the right when seen from +Z) over ``tiles[0]`` repeats; v runs from 0 at the
    south pole to ``tiles[1]`` at the north pole, so the top of the image points north. The seam
    column is duplicated so UVs do not wrap inside a triangle. Tangents are glTF XYZW (w = +1:
    bitangent = normal × tangent = direction of increasing v). Faces are counter-clockwise seen
    from outside; the degenerate triangles at the poles are dropped.
    """
    theta = np.linspace(0.0, np.pi, rings + 1)[:, None]  # polar angle from the north pole
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)[None, :]
    sin_t, cos_t, sin_p, cos_p = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    pos = np.stack(np.broadcast_arrays(sin_t * sin_p, cos_t, sin_t * cos_p), axis=-1).reshape(-1, 3)
    u = np.broadcast_to(phi / (2.0 * np.pi) * tiles[0], (rings + 1, segments + 1))
    v = np.broadcast_to((1.0 - theta / np.pi) * tiles[1], (rings + 1, segments + 1))
    uvs = np.stack([u, v], axis=-1).reshape(-1, 2)
    tangent = np.stack(np.broadcast_arrays(cos_p, np.zeros_like(cos_p), -sin_p), axis=-1)
    tangent = np.broadcast_to(tangent, (rings + 1, segments + 1, 3)).reshape(-1, 3)
    tangents = np.concatenate([tangent, np.ones((len(tangent), 1))], axis=1)

    idx = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()  # upper row (towards north)
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()  # lower row
    faces = np.concatenate([np.stack([a, c, d], 1), np.stack([a, d, b], 1)])
    tri = pos[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    faces = faces[area > 1e-12]
    return (
        pos.astype(np.float32),
        pos.astype(np.float32),
        uvs.astype(np.float32),
        tangents.astype(np.float32),
        faces.astype(np.int64),
    )


def _downsampled(image: np.ndarray) -> np.ndarray:
    """``image`` area-downsampled so its longer side is at most MAX_TEXTURE (as is when it already fits)."""
    h, w = image.shape[:2]
    factor = max(h, w) / MAX_TEXTURE
    if factor > 1:
        image = resize(image, max(1, round(h / factor)), max(1, round(w / factor)))
    return image


def _texture(image: np.ndarray) -> np.ndarray:
    """uint8 copy of a map, area-downsampled so its longer side is at most MAX_TEXTURE."""
    return np.ascontiguousarray(to_uint(_downsampled(image), 8))


def _orm_texture(material: MaterialMaps) -> np.ndarray:
    """uint8 ORM texture; large maps are downsampled channel by channel (no full-size ORM in memory)."""
    if max(material.shape) <= MAX_TEXTURE:
        return _texture(material.orm())
    ao, rough = _downsampled(material.ao), _downsampled(material.roughness)
    metal = np.full(ao.shape, np.float32(material.metallic), dtype=np.float32)
    return np.ascontiguousarray(to_uint(np.stack([ao, rough, metal], axis=2), 8))


def _sphere_mesh(material: MaterialMaps):  # -> pyrender.Mesh
    import pyrender

    normal = material.normal
    if max(normal.shape[:2]) > MAX_TEXTURE:  # renormalise after averaging encoded vectors
        normal = _texture(normal).astype(np.float32) / 255.0 * 2.0 - 1.0
        normal /= np.linalg.norm(normal, axis=2, keepdims=True) + 1e-8
        normal = normal * 0.5 + 0.5
    orm_tex = _orm_texture(material)
    pbr = pyrender.MetallicRoughnessMaterial(
        baseColorTexture=_texture(material.basecolor),
        normalTexture=_texture(normal),
        metallicRoughnessTexture=orm_tex,  # pyrender keeps channels G (roughness) and B (metallic)
        occlusionTexture=orm_tex,  # and R (AO) here
        metallicFactor=1.0,
        roughnessFactor=1.0,
        name=material.name,
    )
    positions, normals, uvs, tangents, faces = uv_sphere()
    primitive = pyrender.Primitive(
        positions=positions,
        normals=normals,
        texcoord_0=uvs,
        tangents=tangents,
        indices=faces,
        material=pbr,
        mode=pyrender.constants.GLTF.TRIANGLES,
    )
    return pyrender.Mesh(primitives=[primitive], name=material.name)


def _look_from(eye: np.ndarray) -> np.ndarray:
    """Camera/light pose at ``eye`` looking at the origin, +Y up (OpenGL: the pose's -Z looks forward)."""
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, -forward, eye
    return pose


def _scene(material: MaterialMaps):  # -> pyrender.Scene
    import pyrender

    scene = pyrender.Scene(bg_color=[*BACKGROUND, 1.0], ambient_light=[0.12, 0.12, 0.13])
    scene.add(_sphere_mesh(material))
    scene.add(pyrender.PerspectiveCamera(yfov=_YFOV, aspectRatio=1.0), pose=_look_from(np.array([0.0, 0.0, _CAMERA_DISTANCE])))
    key = pyrender.DirectionalLight(color=[1.0, 0.97, 0.92], intensity=3.2)
    fill = pyrender.DirectionalLight(color=[0.85, 0.9, 1.0], intensity=0.7)
    scene.add(key, pose=_look_from(np.array([-2.0, 2.2, 2.5])))  # upper left, in front
    scene.add(fill, pose=_look_from(np.array([2.5, -0.8, 1.5])))  # lower right, softer
    return scene


def render_sphere(material: MaterialMaps, size: int = 512) -> np.ndarray:
    """The material on a lit sphere, ``size``×``size``×3 float32 (display-encoded), via offscreen EGL."""
    try:
        import pyrender
    except Exception as exc:  # ImportError, or PyOpenGL failing to load the EGL platform
        raise ScenegenError(
            f"cannot import pyrender for the material preview ({exc.__class__.__name__}: {exc}); it needs an "
            f"EGL-capable OpenGL (Mesa libEGL) and PYOPENGL_PLATFORM=egl (now {os.environ.get('PYOPENGL_PLATFORM')!r})"
        ) from None
    render_size = size * SUPERSAMPLE
    try:
        renderer = pyrender.OffscreenRenderer(render_size, render_size)
    except Exception as exc:
        raise ScenegenError(
            f"cannot start an offscreen OpenGL renderer for the material preview ({exc.__class__.__name__}: {exc}); "
            "install Mesa EGL (libegl1) and set PYOPENGL_PLATFORM=egl, or save without a preview"
        ) from None
    try:
        color, _ = renderer.render(_scene(material))
    finally:
        renderer.delete()
    image = np.asarray(color, dtype=np.float32)[..., :3] / np.float32(255.0)
    return resize(image, size, size) if SUPERSAMPLE > 1 else image


def render_material_preview(material: MaterialMaps, size: int = 512) -> np.ndarray:
    """Preview image, ``size`` × ``2·size`` × 3 float32 in [0, 1].

    Left: the material on a lit sphere (tiled 2×1 around it); right: a 2×2 tiled swatch of the base
    colour, so both shading and seams can be judged. Deterministic for a given material.
    """
    if size < 16:
        raise ScenegenError(f"preview size must be at least 16, got {size}")
    swatch = resize(tile_image(_downsampled(material.basecolor), 2, 2), size, size)  # no 4× full-size copy
    return np.concatenate([render_sphere(material, size), swatch[..., :3]], axis=1).astype(np.float32)
