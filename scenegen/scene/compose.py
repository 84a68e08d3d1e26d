"""Scene spec → :class:`ComposedScene`: shapes with world-metre UVs, scattered instance groups, camera, lights.

One composed scene feeds both the renderer and the glTF writer. Each object is a group of one instance
(its transform kept as the node's TRS); each scatter layer is one group per sprite variant (or one for an
object), every instance a pose of the same mesh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ScenegenError
from ..imaging import encode_png
from ..sprites import billboard_mesh, dilate_colour, sprite_normal_map
from . import shapes
from .composed import (Camera, ComposedScene, Geometry, InstanceGroup, Light, SceneAssets, SceneMaterial, SpriteSet,
                       look_at, quat_between, quat_from_euler_deg, quat_multiply, quat_yaw, trs_matrices)
from .loader import LoadedScene
from .scatter import ScatterRules, Surface, scatter_points
from .spec import (AmbientLight, BoxSpec, CylinderSpec, GableSpec, MAX_INSTANCES, MeshSpec, PlaneSpec, PointLight,
                   RockSpec, SphereSpec, SunLight, TerrainSpec)
from .terrain import flatten_along, grid_mesh, image_heights, noise_heights
from .uv import box_project, planar_y, tangents


@dataclass
class ComposeReport:
    """What composing did: per scatter layer, how many instances were wanted and placed."""

    layers: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def srgb_to_linear(colour) -> tuple[float, float, float]:
    c = np.asarray(colour, dtype=np.float64)
    return tuple(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).tolist())


# ------------------------------------------------------------------------------------------------- shapes
def object_shape(scene: LoadedScene, obj: Any, where: tuple) -> tuple[shapes.Shape, np.ndarray | None]:
    """Local (positions, normals, faces) of an object spec, and the mesh file's UVs when it has them."""
    if isinstance(obj, PlaneSpec):
        return shapes.plane(*obj.size_m), None
    if isinstance(obj, BoxSpec):
        return shapes.box(*obj.size_m), None
    if isinstance(obj, SphereSpec):
        return shapes.sphere(obj.radius_m, obj.segments), None
    if isinstance(obj, CylinderSpec):
        return shapes.cylinder(obj.radius_m, obj.height_m, obj.segments), None
    if isinstance(obj, GableSpec):
        return shapes.gable(*obj.size_m), None
    if isinstance(obj, RockSpec):
        return shapes.rock(obj.radius_m, obj.seed, obj.roughness, obj.detail), None
    if isinstance(obj, TerrainSpec):
        return terrain_shape(scene, obj, where), None
    if isinstance(obj, MeshSpec):
        try:
            positions, normals, faces, uvs = scene.mesh(where + ("file",), obj.up_axis)  # parsed when loading
        except ScenegenError as exc:
            raise scene.error(where + ("file",), str(exc)) from None
        if obj.uv == "mesh" and uvs is None:
            raise scene.error(where + ("uv",), "the mesh file has no UVs; use 'box'")
        return (positions, normals, faces), uvs
    raise ScenegenError(f"internal: unknown object type {type(obj).__name__}")


def terrain_shape(scene: LoadedScene, obj: TerrainSpec, where: tuple) -> shapes.Shape:
    size_x, size_z = obj.size_m
    cells_x = obj.resolution
    cells_z = max(2, int(round(obj.resolution * size_z / size_x)))
    rows, cols = cells_z + 1, cells_x + 1
    if hasattr(obj.height, "image"):
        try:
            heights = image_heights(scene.file(*where, "height", "image"), rows, cols, obj.height.height_m)
        except ScenegenError as exc:
            raise scene.error(where + ("height", "image"), str(exc)) from None
    else:
        h = obj.height
        heights = noise_heights(rows, cols, size_x, size_z, amplitude=h.amplitude_m, scale_m=h.scale_m,
                                octaves=h.octaves, seed=h.seed)
    if obj.flatten_paths:
        paths = [(np.asarray(scene.spec.paths[p].points), scene.spec.paths[p].width_m) for p in obj.flatten_paths]
        heights = flatten_along(heights, size_x, size_z, paths)
    return grid_mesh(heights, size_x, size_z)


def make_geometry(name: str, shape: shapes.Shape, material: str, tile_m: float, scale, *, planar: bool = False,
                  file_uvs: np.ndarray | None = None) -> Geometry:
    """A Geometry with world-metre UVs (box or planar projection) or the file's UVs, and glTF tangents."""
    positions, normals, faces = shape
    if file_uvs is not None:
        uvs = file_uvs
    elif planar:
        uvs = planar_y(positions, tile_m, scale)
    else:
        positions, normals, uvs, faces = box_project(positions, normals, faces, tile_m, scale)
    return Geometry(name=name, positions=positions, normals=normals, uvs=uvs, indices=faces, material=material,
                    tangents=tangents(positions, normals, uvs, faces))


def _scale3(scale) -> np.ndarray:
    return np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,)).copy()


def billboard_geometry(name: str, sprites: SpriteSet, variant: int, height_m: float, kind: str, cutoff: float,
                       material: str, *, trim: bool = True) -> Geometry:
    """The billboard cards of one sprite variant, UVs mapped into the atlas frame, tangents along each card's u
    (trimmed cards unless ``trim=False``: :func:`scenegen.sprites.billboard_mesh`)."""
    mesh = billboard_mesh(sprites.sprites[variant], height_m=height_m, kind=kind, alpha_cutoff=cutoff, name=name,
                          trim=trim)
    x, y, w, h = sprites.frames[variant]
    aw, ah = sprites.atlas_size
    uv = np.asarray(mesh.visual.uv, dtype=np.float64)  # v up, over the sprite's own image
    atlas_uv = np.stack([(x + uv[:, 0] * w) / aw, 1.0 - (y + (1.0 - uv[:, 1]) * h) / ah], axis=1)
    return _card_geometry(name, mesh, atlas_uv, material)


def _card_geometry(name: str, mesh, uvs: np.ndarray, material: str) -> Geometry:
    """A Geometry of billboard cards; every card has its own vertices, so each gets its own tangent frame."""
    positions, normals, faces = mesh.vertices, mesh.vertex_normals, mesh.faces
    return Geometry(name=name, positions=positions, normals=normals, uvs=uvs, indices=faces, material=material,
                    tangents=tangents(positions, normals, uvs, faces), card_half_width=mesh.metadata["card_half_width"],
                    card_bounds=mesh.metadata["card_bounds"])


def sprite_billboard(rgba: np.ndarray, name: str, *, height_m: float, kind: str, alpha_cutoff: float,
                     normal: np.ndarray | None = None, trim: bool = True) -> tuple[Geometry, SceneMaterial]:
    """One sprite as a standalone billboard: its cards and a cut-out material with the sprite's normal map.

    The material is what :func:`scenegen.sprites.billboard_mesh` describes (colour-bled base colour, MASK,
    double sided, metallic 0, roughness 0.9, clamped) plus ``normal`` (OpenGL; by default
    :func:`scenegen.sprites.sprite_normal_map` of the sprite); trimmed cards unless ``trim=False``.
    """
    mesh = billboard_mesh(rgba, height_m=height_m, kind=kind, alpha_cutoff=alpha_cutoff, name=name, trim=trim)
    if normal is None:
        normal = sprite_normal_map(rgba, alpha_cutoff=alpha_cutoff)
    material = SceneMaterial(
        name=name, basecolor_png=encode_png(dilate_colour(rgba)), normal_png=encode_png(normal), metallic_factor=0.0,
        roughness_factor=0.9, alpha_mode="MASK", alpha_cutoff=float(alpha_cutoff), double_sided=True, wrap="clamp")
    return _card_geometry(name, mesh, np.asarray(mesh.visual.uv, dtype=np.float64), name), material


def surface_height(surface: Surface, x: float, z: float) -> float | None:
    """Highest y of the surface's triangles straight above or below (x, z), or None if there are none."""
    tri = surface.positions[surface.faces]
    lo, hi = tri[:, :, [0, 2]].min(axis=1), tri[:, :, [0, 2]].max(axis=1)
    near = np.nonzero((lo[:, 0] <= x) & (hi[:, 0] >= x) & (lo[:, 1] <= z) & (hi[:, 1] >= z))[0]
    best = None
    for a, b, c in tri[near]:
        d = (b[2] - c[2]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[2] - c[2])
        if abs(d) < 1e-12:
            continue
        w1 = ((b[2] - c[2]) * (x - c[0]) + (c[0] - b[0]) * (z - c[2])) / d
        w2 = ((c[2] - a[2]) * (x - c[0]) + (a[0] - c[0]) * (z - c[2])) / d
        w3 = 1.0 - w1 - w2
        if min(w1, w2, w3) >= -1e-9:
            y = w1 * a[1] + w2 * b[1] + w3 * c[1]
            best = y if best is None else max(best, y)
    return best


# ------------------------------------------------------------------------------------------------ compose
def compose(scene: LoadedScene, assets: SceneAssets, progress: Callable[[str], None] = lambda _m: None,
            ) -> tuple[ComposedScene, ComposeReport]:
    """Build every object and scatter layer of ``scene`` from its finished materials and sprite sets.

    ``assets`` must hold every material and sprite set the scene uses (:func:`.loader.used_names`);
    the composed scene lists its materials in first-use order.
    """
    spec = scene.spec
    report = ComposeReport()
    materials: dict[str, SceneMaterial] = {}

    def material(name: str) -> SceneMaterial:
        if name not in materials:
            materials[name] = _finished(assets.materials, "material", name)
        return materials[name]

    sprite_sets: dict[str, SpriteSet] = {}
    billboards: dict[tuple[str, int], Geometry] = {}
    groups: list[InstanceGroup] = []
    surfaces: dict[str, Surface] = {}
    first_terrain = None

    for i, obj in enumerate(spec.objects):
        name = scene.object_names[i]
        where = ("objects", i)
        shape, file_uvs = object_shape(scene, obj, where)
        tile = spec.materials[obj.material].tile_size_m
        scale = _scale3(obj.scale)
        geometry = make_geometry(name, shape, obj.material, tile, scale, planar=isinstance(obj, TerrainSpec),
                                 file_uvs=file_uvs if obj.uv == "mesh" else None)
        material(obj.material)
        rotation = quat_from_euler_deg(np.array(obj.rotation_deg))
        position = np.array(obj.position, dtype=np.float64)
        if obj.place_on is not None:
            ground = surface_height(surfaces[obj.place_on], position[0], position[2])
            if ground is None:
                raise scene.error(where + ("place_on",), f"({position[0]:g}, {position[2]:g}) is not above "
                                                         f"'{obj.place_on}'")
            position[1] += ground
        group = InstanceGroup(name=name, geometry=geometry, translations=position[None],
                              rotations=rotation, scales=scale[None])
        groups.append(group)
        world = trs_matrices(group.translations, group.rotations, group.scales)[0]
        surfaces[name] = Surface(positions=shape[0] @ world[:3, :3].T + world[:3, 3], faces=shape[2])
        if isinstance(obj, TerrainSpec) and first_terrain is None:
            first_terrain = name
        progress(f"object {name}: {len(geometry.indices):,} triangles")

    total = 0
    for i, layer in enumerate(spec.scatter):
        where = ("scatter", i)
        layer_name = layer.name or (f"{layer.sprite}" if layer.sprite else f"{layer.object.type}") + f"_{i}"
        target = layer.on or first_terrain
        avoid = tuple((np.asarray(spec.paths[p].points, dtype=np.float64), spec.paths[p].width_m / 2.0 + layer.path_margin_m)
                      for p in layer.avoid_paths)
        rules = ScatterRules(count=layer.count, density_per_m2=layer.density_per_m2, min_distance_m=layer.min_distance_m,
                             slope_deg=(layer.slope_deg.min, layer.slope_deg.max),
                             height_m=(layer.height_m.min, layer.height_m.max) if layer.height_m else None,
                             region=layer.region, avoid=avoid, seed=layer.seed, salt=layer_name)
        if layer.density_per_m2 is not None:
            estimate = layer.density_per_m2 * float(surfaces[target].areas.sum())
            if total + estimate > MAX_INSTANCES * 1.05:
                raise scene.error(where + ("density_per_m2",), f"about {estimate:,.0f} instances on '{target}'; "
                                  f"the limit is {MAX_INSTANCES:,} in all")
        try:
            points = scatter_points(surfaces[target], rules)
        except ScenegenError as exc:
            raise scene.error(where + ("min_distance_m",), str(exc)) from None
        placed = len(points.positions)
        total += placed
        if total > MAX_INSTANCES:
            raise scene.error(where, f"more than {MAX_INSTANCES:,} instances in all")
        rng = points.rng
        yaw = np.radians(rng.uniform(layer.yaw_deg.min, layer.yaw_deg.max, placed))
        size = rng.uniform(layer.scale.min, layer.scale.max, placed)
        up = np.array([0.0, 1.0, 0.0])
        translations = points.positions - up * layer.sink_m
        report.layers.append({"name": layer_name, "wanted": points.wanted, "placed": placed, "on": target})
        if placed < points.wanted:
            report.warnings.append(f"scatter layer '{layer_name}' placed {placed:,} of {points.wanted:,} "
                                   "(surface too small for min_distance_m, or filters too strict)")
        if layer.sprite is not None:
            sprite_spec = spec.sprites[layer.sprite]
            if layer.sprite not in sprite_sets:
                sprite_sets[layer.sprite] = _finished(assets.sprites, "sprite set", layer.sprite)
                materials[layer.sprite] = sprite_sets[layer.sprite].material
            variant = rng.integers(0, sprite_spec.variants, placed)
            for v in range(sprite_spec.variants):
                chosen = variant == v
                if (layer.sprite, v) not in billboards:  # one mesh per variant, shared by every layer using it
                    billboards[(layer.sprite, v)] = billboard_geometry(
                        f"{layer.sprite}_{v}", sprite_sets[layer.sprite], v, sprite_spec.height_m, sprite_spec.kind,
                        sprite_spec.alpha_cutoff, layer.sprite)
                geometry = billboards[(layer.sprite, v)]
                groups.append(InstanceGroup(
                    name=f"{layer_name}_{v}", geometry=geometry, translations=translations[chosen],
                    rotations=quat_yaw(yaw[chosen]), scales=np.repeat(size[chosen, None], 3, axis=1), billboard=True))
        else:
            obj = layer.object
            shape, file_uvs = object_shape(scene, obj, where + ("object",))
            base_scale = _scale3(obj.scale)
            tile = spec.materials[obj.material].tile_size_m
            geometry = make_geometry(layer_name, shape, obj.material, tile, base_scale,
                                     file_uvs=file_uvs if obj.uv == "mesh" else None)
            material(obj.material)
            rotations = quat_yaw(yaw)
            if layer.align_to_normal and placed:
                tilt = quat_between(np.broadcast_to(up, points.normals.shape), points.normals)
                rotations = quat_multiply(tilt, rotations)
            groups.append(InstanceGroup(name=layer_name, geometry=geometry, translations=translations,
                                        rotations=rotations, scales=size[:, None] * base_scale[None]))
        progress(f"scatter {layer_name}: {placed:,} on {target}")

    composed = ComposedScene(materials=materials, groups=groups, camera=_camera(spec), lights=[], name=spec.name)
    _lights(spec, composed)
    return composed, report


def _finished(assets, what: str, name: str):
    try:
        return assets[name]
    except KeyError:
        raise ScenegenError(f"internal: {what} '{name}' was not resolved before composing") from None


def _camera(spec) -> Camera:
    cam = spec.camera
    return Camera(pose=look_at(np.array(cam.position), np.array(cam.target)), yfov=float(np.radians(cam.yfov_deg)),
                  znear=cam.znear, zfar=cam.zfar)


def sun_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector towards the sun: azimuth from +Z (0°) towards +X (90°), elevation above the horizon."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


def _lights(spec, composed: ComposedScene) -> None:
    ambient, ground = np.zeros(3), np.zeros(3)
    for light in spec.lights:
        if isinstance(light, AmbientLight):
            ambient += np.asarray(srgb_to_linear(light.color)) * light.intensity
            ground += np.asarray(srgb_to_linear(light.ground_color)) * light.intensity
        elif isinstance(light, SunLight):
            towards = sun_direction(light.azimuth_deg, light.elevation_deg)
            composed.lights.append(Light("sun", look_at(towards * 100.0, np.zeros(3)), srgb_to_linear(light.color),
                                         light.intensity, shadows=light.shadows))
        elif isinstance(light, PointLight):
            pose = np.eye(4)
            pose[:3, 3] = light.position
            composed.lights.append(Light("point", pose, srgb_to_linear(light.color), light.intensity,
                                         range=light.range_m))
        else:
            composed.lights.append(Light("spot", look_at(np.array(light.position), np.array(light.target)),
                                         srgb_to_linear(light.color), light.intensity, shadows=light.shadows,
                                         inner_cone=float(np.radians(light.inner_cone_deg)),
                                         outer_cone=float(np.radians(light.outer_cone_deg)), range=light.range_m))
    composed.ambient = tuple(ambient.tolist())
    composed.ambient_ground = tuple(ground.tolist())
