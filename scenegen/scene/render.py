"""Render a composed scene with pyrender (offscreen EGL): colour, optional depth, sun shadows, cut-outs.

pyrender 0.1.45 is used as is (never patched); what scenegen needs is added by a small ``Renderer``
subclass and by our own shaders in ``scenegen/scene/shaders/`` (copies of pyrender's, changes marked):

* **Cut-outs**: pyrender ignores alphaMode MASK. Our fragment shader discards texels whose alpha is below
  the material's ``alpha_cutoff`` (uniform set per draw), so transparent texels neither draw colour nor
  write depth; the shadow pass does the same, so billboards cast sprite-shaped shadows.
* **Instancing**: each :class:`~scenegen.scene.composed.InstanceGroup` is one pyrender Primitive with N
  poses: one draw call per group. Instances outside the (shadow-extended) view frustum are culled on the CPU
  and the rest sorted front to back.
* **Shadows**: the sun's orthographic shadow camera is fitted to the scene's bounds in light space (pyrender
  fits a cube of the scene's diagonal), on a ``SHADOW_MAP``² map sampled with one bilinear hardware
  depth-comparison tap (pyrender's 36-tap PCF cost as much as all other shading on llvmpipe).
* **Normal maps** are read in the geometry's glTF tangent frame (pyrender 0.1.45 accepts tangents but never
  uses them: its shader rebuilds the frame from screen-space derivatives, assuming unmirrored UVs), so the
  render and the GLB agree.
* **Billboards** (double-sided cut-outs) are lit as the viewer-facing side of a volume: a card's normal map
  (:func:`scenegen.sprites.sprite_normal_map`) keeps its in-plane part in the card's tangent frame, its
  out-of-card part points towards the viewer; a side sun darkens a tree's far side. Crossed cards meet on their
  common axis, where each card's own normal, their shadows on each other and a card seen edge-on all drew a
  vertical line; there, the in-plane x fades out towards the axis, edge-on cards fade out, and the cards cast
  no shadow on each other (a card the sun sees nearly edge-on casts none, and shadow lookups on crossed cards move
  towards the light past the billboard's own cards).
* **Cost on a CPU rasteriser** (Mesa llvmpipe): the fragment shader is compiled per material kind
  (``CUTOUT``) and per scene light count, so absent light types cost nothing (llvmpipe ran uniform-bounded
  light loops for every possible light); cut-out foliage is lit Lambertian with normals bent upwards.
* **Anti-aliasing**: pyrender's framebuffer is 4× MSAA; on top of that cut-out edges use alpha-to-coverage
  (the alpha test is turned into a sharpened coverage mask), which is enough for clean foliage edges; with
  ``supersample`` > 1 the frame is also rendered that many times larger and area-downsampled (smoother
  shading and thin blades, about ``supersample``² × the fill cost).
* **Sky and fog**: background pixels get a vertical gradient; fog (exponential, per metre) fades towards
  the horizon colour.
* No anisotropic filtering: Mesa llvmpipe (the CPU OpenGL we render with) made frames ~15× slower with it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import ScenegenError
from .composed import Camera, ComposedScene, InstanceGroup, SceneMaterial

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
if not hasattr(np, "infty"):  # pyrender 0.1.45 uses np.infty (removed in numpy 2.0)
    np.infty = np.inf  # type: ignore[attr-defined]

SHADER_DIR = Path(__file__).resolve().parent / "shaders"
SHADOW_MAP = 2048
MAX_TEXTURE = 2048  # textures are area-downsampled to at most this for the renderer (the GLB keeps them whole)


@dataclass
class RenderSettings:
    """How to render: output size, anti-aliasing, shadows, sky and fog (colours are display-encoded)."""

    width: int = 1280
    height: int = 720
    supersample: int = 1
    shadows: bool = True
    sky_horizon: tuple[float, float, float] = (0.78, 0.86, 0.93)
    sky_zenith: tuple[float, float, float] = (0.38, 0.58, 0.85)
    fog_density: float = 0.0  # per metre; 0 = off
    depth: bool = False
    cull: bool = True


@dataclass
class RenderResult:
    """``color`` H×W×3 float32 display-encoded; ``depth`` H×W metres (0 = sky) or None; timings in s."""

    color: np.ndarray
    depth: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    drawn_instances: int = 0


def _import_pyrender():
    try:
        import pyrender
    except Exception as exc:  # ImportError, or PyOpenGL failing to load its EGL platform
        raise ScenegenError(
            f"cannot import pyrender to render the scene ({exc.__class__.__name__}: {exc}); it needs an EGL-capable "
            f"OpenGL (Mesa libEGL) and PYOPENGL_PLATFORM=egl (now {os.environ.get('PYOPENGL_PLATFORM')!r})"
        ) from None
    return pyrender


# ----------------------------------------------------------------------------------------------- textures
def decode_png(data: bytes, max_side: int = MAX_TEXTURE) -> np.ndarray:
    """uint8 RGB(A) array from PNG bytes, area-downsampled so its longer side is at most ``max_side``."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ScenegenError("internal: a texture could not be decoded")
    if image.dtype != np.uint8:
        image = (image // 257).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        f = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image)


def _decode_all(materials: list[SceneMaterial]) -> dict[int, np.ndarray]:
    """Every texture of ``materials`` decoded (id of its PNG bytes → array), on as many threads as cores: the
    decoder releases the GIL, and a scene's textures are most of a render's setup time."""
    from concurrent.futures import ThreadPoolExecutor

    blobs = {id(b): b for m in materials for b in (m.basecolor_png, m.normal_png, m.orm_png) if b is not None}
    with ThreadPoolExecutor(max_workers=max(1, min(len(blobs), os.cpu_count() or 1))) as pool:
        return dict(zip(blobs, pool.map(decode_png, blobs.values())))


def _pyrender_material(pyrender, material: SceneMaterial, decoded: dict[int, np.ndarray] | None = None):
    from pyrender.constants import GLTF

    def texture(data: bytes) -> np.ndarray:
        return decoded[id(data)] if decoded is not None and id(data) in decoded else decode_png(data)

    wrap = GLTF.REPEAT if material.wrap == "repeat" else GLTF.CLAMP_TO_EDGE
    sampler = pyrender.Sampler(wrapS=wrap, wrapT=wrap)
    base = texture(material.basecolor_png)
    kwargs = {}
    if material.normal_png is not None:
        kwargs["normalTexture"] = pyrender.Texture(source=texture(material.normal_png), source_channels="RGB",
                                                   sampler=sampler)
    if material.orm_png is not None:
        orm = pyrender.Texture(source=texture(material.orm_png), source_channels="RGB", sampler=sampler)
        kwargs["metallicRoughnessTexture"] = orm  # pyrender reads G (roughness) and B (metallic)
        kwargs["occlusionTexture"] = orm  # and R (occlusion)
    channels = "RGBA" if base.shape[2] == 4 else "RGB"
    out = pyrender.MetallicRoughnessMaterial(
        name=material.name,
        baseColorTexture=pyrender.Texture(source=base, source_channels=channels, sampler=sampler),
        metallicFactor=float(material.metallic_factor),
        roughnessFactor=float(material.roughness_factor),
        alphaMode="MASK" if material.alpha_mode == "MASK" else "OPAQUE",
        alphaCutoff=float(material.alpha_cutoff),
        doubleSided=bool(material.double_sided),
        **kwargs,
    )
    return out


# ------------------------------------------------------------------------------------------------ culling
def frustum_planes(camera: Camera, aspect: float) -> np.ndarray:
    """6×4 inward-facing planes (n, d) of the camera's view frustum in world space: n·p + d ≥ 0 inside."""
    tan_y = np.tan(camera.yfov / 2.0)
    tan_x = tan_y * aspect
    pose = camera.pose
    right, up, back, eye = pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3]
    forward = -back
    normals = [
        forward,  # near
        -forward,  # far
        forward * tan_x + right,  # left plane's inward normal … (points right)
        forward * tan_x - right,
        forward * tan_y + up,
        forward * tan_y - up,
    ]
    planes = []
    for i, n in enumerate(normals):
        n = n / np.linalg.norm(n)
        if i == 0:
            d = -np.dot(n, eye + forward * camera.znear)
        elif i == 1:
            d = -np.dot(n, eye + forward * camera.zfar)
        else:
            d = -np.dot(n, eye)
        planes.append([*n, d])
    return np.array(planes)


def visible_instances(group: InstanceGroup, planes: np.ndarray, margin: float) -> np.ndarray:
    """Indices of the instances whose bounding sphere (grown by ``margin``) meets the frustum."""
    lo, hi = group.geometry.bounds.astype(np.float64)
    centre_local = (lo + hi) / 2.0
    radius_local = float(np.linalg.norm(hi - lo) / 2.0)
    matrices = group.matrices()
    centres = np.einsum("kij,j->ki", matrices[:, :3, :3], centre_local) + group.translations
    radii = radius_local * np.abs(group.scales).max(axis=1) + margin
    distance = centres @ planes[:, :3].T + planes[:, 3]
    return np.nonzero(np.all(distance >= -radii[:, None], axis=1))[0]


# ---------------------------------------------------------------------------------------------- renderer
def _renderer_class(pyrender):
    """A pyrender Renderer using scenegen's shaders (cut-outs, fog, hemisphere ambient) and fitted shadows."""
    from OpenGL import GL
    from pyrender.constants import RenderFlags, TexFlags
    from pyrender.shader_program import ShaderProgramCache

    class _Programs(ShaderProgramCache):
        """pyrender's program cache, adding ``extra_defines`` to the defines of our material shader."""

        extra_defines: dict = {}

        def get_program(self, vertex_shader, fragment_shader, geometry_shader=None, defines=None):
            if fragment_shader == "mesh.frag":
                defines = {**(defines or {}), **self.extra_defines}
            return super().get_program(vertex_shader, fragment_shader, geometry_shader, defines)

    class SceneRenderer(pyrender.Renderer):
        def __init__(self, width: int, height: int, uniforms: dict, shadow_bounds: np.ndarray):
            super().__init__(width, height)
            self._program_cache = _Programs(shader_dir=str(SHADER_DIR))
            self.light_defines: dict = {}
            self.scene_uniforms = uniforms
            self.shadow_bounds = shadow_bounds
            self._compare_mode: set[int] = set()

        # -- a draw order that does not depend on memory addresses -------------------------------------
        def _sorted_mesh_nodes(self, scene):
            """pyrender keeps nodes in sets and breaks distance ties by set order (object addresses), so
            two runs could draw equal-depth fragments in another order; ties go by node name here."""
            eye = scene.get_pose(scene.main_camera_node)[:3, 3]

            def key(node):
                return (-float(np.linalg.norm(scene.get_pose(node)[:3, 3] - eye)), node.name or "")

            nodes = sorted(scene.mesh_nodes, key=key)
            return [n for n in nodes if not n.mesh.is_transparent] + [n for n in nodes if n.mesh.is_transparent]

        # -- shadows fitted to the scene, at the shadow texture's size ---------------------------------
        def _get_light_cam_matrices(self, scene, light_node, flags):
            if not isinstance(light_node.light, pyrender.DirectionalLight):
                return super()._get_light_cam_matrices(scene, light_node, flags)
            return sun_shadow_matrices(scene.get_pose(light_node), self.shadow_bounds)

        def _configure_shadow_mapping_viewport(self, light, flags):
            super()._configure_shadow_mapping_viewport(light, flags)
            size = light.shadow_texture.width
            GL.glViewport(0, 0, size, size)
            GL.glEnable(GL.GL_POLYGON_OFFSET_FILL)
            GL.glPolygonOffset(1.5, 2.0)

        def _update_context(self, scene, flags):
            super()._update_context(scene, flags)
            for texture in self._shadow_textures:  # our shader samples them as sampler2DShadow (bilinear compare)
                if texture._texid is not None and texture._texid not in self._compare_mode:
                    GL.glBindTexture(GL.GL_TEXTURE_2D, texture._texid)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_COMPARE_MODE, GL.GL_COMPARE_REF_TO_TEXTURE)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_COMPARE_FUNC, GL.GL_LEQUAL)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
                    GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
                    self._compare_mode.add(texture._texid)

        def _forward_pass(self, scene, flags, seg_node_map=None):
            GL.glDisable(GL.GL_POLYGON_OFFSET_FILL)
            self._update_light_defines(scene, flags)
            return super()._forward_pass(scene, flags, seg_node_map)

        # -- shader variants: cut-out or opaque, and the scene's light counts -----------------------
        def _update_light_defines(self, scene, flags) -> None:
            limits = self._compute_max_n_lights(flags)
            self.light_defines = {
                "SCENE_DIRECTIONAL_LIGHTS": min(len(scene.directional_light_nodes), limits[0]),
                "SCENE_SPOT_LIGHTS": min(len(scene.spot_light_nodes), limits[1]),
                "SCENE_POINT_LIGHTS": min(len(scene.point_light_nodes), limits[2]),
            }

        def _get_primitive_program(self, primitive, flags, program_flags):
            extra = dict(self.light_defines)
            if primitive.material.alphaMode == "MASK":
                extra["CUTOUT"] = 1
            self._program_cache.extra_defines = extra
            try:
                return super()._get_primitive_program(primitive, flags, program_flags)
            finally:
                self._program_cache.extra_defines = {}

        # -- per-draw state: cut-outs, culling, our uniforms --------------------------------------
        def _bind_and_draw_primitive(self, primitive, pose, program, flags):
            material = primitive.material
            cutoff = float(material.alphaCutoff) if material.alphaMode == "MASK" else 0.0
            depth_only = bool(flags & RenderFlags.DEPTH_ONLY)
            program.set_uniform("alpha_cutoff", cutoff)
            program.set_uniform("crossed_cards", int(getattr(primitive, "scenegen_crossed", 0)))
            program.set_uniform("card_half_width", float(getattr(primitive, "scenegen_card_half_width", 0.0)))
            if depth_only:  # shadow maps
                if cutoff > 0.0 and material.tex_flags & TexFlags.BASE_COLOR:
                    self._bind_texture(material.baseColorTexture, "cutout_texture", program)
                self._draw(primitive, pose, program, cull=not material.doubleSided)
                return
            program.set_uniform("double_sided", int(bool(material.doubleSided)))
            for name, value in self.scene_uniforms.items():
                program.set_uniform(name, value)
            if cutoff > 0.0:
                GL.glEnable(GL.GL_SAMPLE_ALPHA_TO_COVERAGE)
            try:
                super()._bind_and_draw_primitive(primitive, pose, program, flags)
            finally:
                GL.glDisable(GL.GL_SAMPLE_ALPHA_TO_COVERAGE)

        def _draw(self, primitive, pose, program, cull: bool) -> None:
            program.set_uniform("M", pose)
            primitive._bind()
            if cull:
                GL.glEnable(GL.GL_CULL_FACE)
                GL.glCullFace(GL.GL_BACK)
            else:
                GL.glDisable(GL.GL_CULL_FACE)
            GL.glDisable(GL.GL_BLEND)
            GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_FILL)
            count = len(primitive.poses) if primitive.poses is not None else 1
            GL.glDrawElementsInstanced(primitive.mode, primitive.indices.size, GL.GL_UNSIGNED_INT, None, count)
            primitive._unbind()

    return SceneRenderer


def sun_shadow_matrices(light_pose: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V, P) of an orthographic shadow camera looking along the light's -Z that just covers ``bounds``."""
    lo, hi = bounds
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    centre = corners.mean(axis=0)
    pose = np.array(light_pose, dtype=np.float64)
    pose[:3, 3] = centre
    view = np.linalg.inv(pose)
    local = corners @ view[:3, :3].T + view[:3, 3]
    (x0, y0, z0), (x1, y1, z1) = local.min(axis=0), local.max(axis=0)
    pad = 0.02 * max(x1 - x0, y1 - y0) + 0.5
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    near, far = -z1 - 1.0, -z0 + 1.0  # camera looks down -Z: depths are -z
    proj = np.zeros((4, 4))
    proj[0, 0], proj[0, 3] = 2.0 / (x1 - x0), -(x1 + x0) / (x1 - x0)
    proj[1, 1], proj[1, 3] = 2.0 / (y1 - y0), -(y1 + y0) / (y1 - y0)
    proj[2, 2], proj[2, 3] = -2.0 / (far - near), -(far + near) / (far - near)
    proj[3, 3] = 1.0
    return view, proj


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def sky_gradient(camera: Camera, width: int, height: int, horizon, zenith,
                 rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> np.ndarray:
    """Display-encoded sky colours: ``horizon`` at and below the horizon blending to ``zenith`` overhead.

    For the pixels (rows, cols) if given (N×3), else for the whole H×W×3 frame.
    """
    if rows is None or cols is None:
        rows, cols = (a.ravel() for a in np.mgrid[0:height, 0:width])
        shape = (height, width, 3)
    else:
        shape = (len(rows), 3)
    tan_y = np.float32(np.tan(camera.yfov / 2.0))
    ys = (1.0 - 2.0 * (rows.astype(np.float32) + 0.5) / height) * tan_y
    xs = (2.0 * (cols.astype(np.float32) + 0.5) / width - 1.0) * tan_y * np.float32(width / height)
    right, up, back = (camera.pose[:3, k].astype(np.float32) for k in range(3))
    ray_y = xs * right[1] + ys * up[1] - back[1]  # world-space y of the ray (x·right + y·up − back)
    elevation = np.clip(ray_y / np.sqrt(xs * xs + ys * ys + 1.0), 0.0, 1.0)
    t = (1.0 - (1.0 - elevation) ** 3)[:, None]
    sky = np.asarray(horizon, np.float32) * (1 - t) + np.asarray(zenith, np.float32) * t
    return sky.reshape(shape).astype(np.float32)


def pyrender_scene(scene: ComposedScene, settings: RenderSettings):
    """(pyrender.Scene, render flags, instances drawn): one Mesh with one instanced Primitive per group."""
    pyrender = _import_pyrender()
    aspect = settings.width / settings.height
    pr_scene = pyrender.Scene(bg_color=[*settings.sky_horizon, 1.0], ambient_light=np.asarray(scene.ambient))
    used = {name: m for name, m in scene.materials.items() if any(g.geometry.material == name and g.count for g in scene.groups)}
    decoded = _decode_all(list(used.values()))
    materials = {name: _pyrender_material(pyrender, m, decoded) for name, m in used.items()}
    planes = frustum_planes(scene.camera, aspect)
    sun_dirs = [-light.pose[:3, 2] for light in scene.lights if light.kind == "sun" and light.shadows and settings.shadows]
    drawn = 0
    eye = scene.camera.pose[:3, 3]
    for group in scene.groups:
        if group.count == 0:
            continue
        index = np.arange(group.count)
        if settings.cull:
            index = visible_instances(group, planes, _shadow_margin(group, sun_dirs))
            if index.size == 0:
                continue
        order = np.argsort(np.linalg.norm(group.translations[index] - eye, axis=1), kind="stable")
        index = index[order]
        geometry = group.geometry
        mapped = scene.materials[geometry.material].normal_png is not None
        primitive = pyrender.Primitive(
            positions=geometry.positions, normals=geometry.normals, texcoord_0=geometry.uvs,
            tangents=geometry.tangents if mapped else None,  # pyrender never reads them; our shaders do
            indices=geometry.indices, material=materials[geometry.material], poses=group.matrices()[index],
        )
        primitive.scenegen_crossed = int(group.billboard and _crossed(geometry))
        primitive.scenegen_card_half_width = float(geometry.card_half_width)
        pr_scene.add(pyrender.Mesh(primitives=[primitive], name=group.name), name=f"{len(pr_scene.mesh_nodes):05d} {group.name}")
        drawn += len(index)

    cam = scene.camera
    pr_scene.add(pyrender.PerspectiveCamera(yfov=cam.yfov, znear=cam.znear, zfar=cam.zfar, aspectRatio=aspect),
                 pose=cam.pose)
    flags = pyrender.RenderFlags.NONE
    for light in scene.lights:
        colour = np.asarray(light.color, dtype=np.float64)
        if light.kind == "sun":
            node_light = pyrender.DirectionalLight(color=colour, intensity=light.intensity)
            if light.shadows and settings.shadows:
                node_light._generate_shadow_texture(size=SHADOW_MAP)
                flags |= pyrender.RenderFlags.SHADOWS_DIRECTIONAL
        elif light.kind == "point":
            node_light = pyrender.PointLight(color=colour, intensity=light.intensity, range=light.range)
        else:
            node_light = pyrender.SpotLight(color=colour, intensity=light.intensity, range=light.range,
                                            innerConeAngle=light.inner_cone, outerConeAngle=light.outer_cone)
            if light.shadows and settings.shadows:
                flags |= pyrender.RenderFlags.SHADOWS_SPOT
        pr_scene.add(node_light, pose=light.pose)
    return pr_scene, flags, drawn


def render_scene(scene: ComposedScene, settings: RenderSettings | None = None) -> RenderResult:
    """Render ``scene``'s camera view; see the module notes for what is drawn and how."""
    settings = settings or RenderSettings()
    pyrender = _import_pyrender()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ss = max(1, int(settings.supersample))
    width, height = settings.width * ss, settings.height * ss
    pr_scene, flags, drawn = pyrender_scene(scene, settings)
    uniforms = {
        "ambient_ground": np.asarray(scene.ambient_ground, dtype=np.float32),
        "fog_color": _srgb_to_linear(settings.sky_horizon).astype(np.float32),
        "fog_density": float(settings.fog_density),
    }
    timings["render_setup_s"] = time.perf_counter() - started

    try:
        offscreen = pyrender.OffscreenRenderer(width, height)
    except Exception as exc:
        raise ScenegenError(
            f"cannot start an offscreen OpenGL renderer ({exc.__class__.__name__}: {exc}); install Mesa EGL "
            "(libegl1) and set PYOPENGL_PLATFORM=egl"
        ) from None
    try:
        offscreen._renderer = _renderer_class(pyrender)(width, height, uniforms, scene.bounds(full_cards=True))  # trimmed cards shadow into the rectangles' texels
        started = time.perf_counter()
        color, depth = offscreen.render(pr_scene, flags=flags)
        timings["render_draw_s"] = time.perf_counter() - started
    finally:
        offscreen.delete()

    started = time.perf_counter()
    image = np.asarray(color[..., :3], dtype=np.float32) * np.float32(1.0 / 255.0)
    rows, cols = np.nonzero(depth <= 0.0)
    image[rows, cols] = sky_gradient(scene.camera, width, height, settings.sky_horizon, settings.sky_zenith, rows, cols)
    if ss > 1:
        image = np.clip(cv2.resize(image, (settings.width, settings.height), interpolation=cv2.INTER_AREA), 0.0, 1.0)
        depth = depth[ss // 2::ss, ss // 2::ss]
    timings["render_post_s"] = time.perf_counter() - started
    return RenderResult(color=image, depth=depth if settings.depth else None, timings=timings, drawn_instances=drawn)


def _crossed(geometry) -> bool:
    """Whether a billboard geometry has more than one card (its card normals are not all the same)."""
    normals = geometry.normals
    return bool(len(normals) and np.abs(normals - normals[0]).max() > 1e-3)


def _shadow_margin(group: InstanceGroup, sun_dirs: list[np.ndarray]) -> float:
    """How far outside the frustum an instance may stand and still cast a shadow into it (metres)."""
    if not sun_dirs:
        return 0.0
    lo, hi = group.geometry.bounds
    tall = float((hi[1] - lo[1]) * np.abs(group.scales[:, 1]).max())
    margin = 0.0
    for d in sun_dirs:
        elevation = np.arcsin(np.clip(-d[1] / np.linalg.norm(d), 0.05, 1.0))
        margin = max(margin, tall / np.tan(elevation))
    return min(margin, 200.0)
