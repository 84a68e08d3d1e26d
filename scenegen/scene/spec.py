"""The scene file (scene.json) as pydantic v2 models: the single source of its JSON Schema.

Units are metres, degrees and display-encoded (sRGB) colours in [0, 1]; Y is up (glTF). Every model forbids
unknown keys and the file is validated strictly (no "512" for 512, no true for 1). Limits keep a typo from
asking for hours of work: see the ``le=`` bounds below and :data:`MAX_INSTANCES`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_INSTANCES = 2_000_000  # all scatter layers together
MAX_LAYER_COUNT = 1_000_000
MAX_PIXELS = 8192 * 8192  # render width × height × supersample²
MAX_SPRITE_VARIANTS = 32
MAX_RENDER_SIDE = 16384  # width or height × antialias: what OpenGL (Mesa llvmpipe) renders in one framebuffer
MAX_COORD = 1_000_000.0  # metres from the origin of any position (float32 in the GLB keeps ~0.1 m there)
MAX_TERRAIN_CELLS = 2048  # grid cells along either side of a terrain
MIN_CAMERA_DISTANCE = 1e-3  # metres between the camera and its target

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Finite = Annotated[float, Field(allow_inf_nan=False)]
MIN_LENGTH = 0.001  # metres: the smallest size, radius, tile or scale (smaller ones break normals and UVs)


def _not_tiny(value: float) -> float:
    if value < MIN_LENGTH:
        raise ValueError(f"must be at least {MIN_LENGTH:g}")
    return value


Positive = Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False), AfterValidator(_not_tiny)]
Coord = Annotated[float, Field(ge=-MAX_COORD, le=MAX_COORD, allow_inf_nan=False)]
Angle = Annotated[float, Field(ge=-36_000, le=36_000, allow_inf_nan=False)]
Colour = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
Vec3 = tuple[Coord, Coord, Coord]
Vec2 = tuple[Coord, Coord]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]
TextureSize = Annotated[int, Field(ge=32, le=8192)]
RelPath = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Range(Strict):
    """An inclusive [min, max] range."""

    min: Coord
    max: Coord

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


# ------------------------------------------------------------------------------------------------ materials
class PathMask(Strict):
    """A blend mask drawn from a named path of the scene (1 on the path, fading to 0 at its edge)."""

    path: Name = Field(description="name of an entry of `paths`")
    softness_m: Annotated[float, Field(ge=0, le=100)] = Field(0.6, description="width of the fade at each edge")
    noise_m: Annotated[float, Field(ge=0, le=100)] = Field(0.35, description="how much the edge wanders")


class Blend(Strict):
    """Class ``a`` where the mask is 0, class ``b`` where it is 1, blended in the model's latent space."""

    a: str = Field(description="texture class where the mask is 0")
    b: str = Field(description="texture class where the mask is 1")
    seed_b: Seed | None = Field(None, description="seed of class b (default: the material's seed)")
    mask: Union[PathMask, RelPath] = Field(description="a path mask, or a greyscale image file (white = b)")


class MaterialSpec(Strict):
    """A seamless PBR material: exactly one of `class`, `image` or `blend`."""

    class_: str | None = Field(None, alias="class", description="texture class of the model (e.g. grass)")
    image: RelPath | None = Field(None, description="a photo to turn into a seamless material")
    blend: Blend | None = None
    seed: Seed = 0
    size: TextureSize = Field(512, description="texture size in pixels (square)")
    tile_size_m: Annotated[float, Field(ge=0.01, le=10_000)] = Field(2.0, description="metres covered by one repeat of the texture")
    normal_strength: Annotated[float, Field(ge=0, le=10)] = 1.0
    roughness: tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]] = (0.45, 0.95)
    ao_strength: Annotated[float, Field(ge=0, le=10)] = 1.0
    metallic: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _one_source(self) -> MaterialSpec:
        given = [k for k, v in (("class", self.class_), ("image", self.image), ("blend", self.blend)) if v is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'class', 'image' or 'blend' (got {', '.join(given) or 'none'})")
        if self.roughness[0] > self.roughness[1]:
            raise ValueError("roughness must be [low, high] with low <= high")
        return self


# -------------------------------------------------------------------------------------------------- sprites
class SpriteSpec(Strict):
    """Billboard sprites of one class: ``variants`` different sprites packed in one atlas."""

    class_: str = Field(alias="class", description="sprite class (conifer, broadleaf_tree, bush, grass_tuft, flower, rock)")
    seed: Seed = 0
    variants: Annotated[int, Field(ge=1, le=MAX_SPRITE_VARIANTS)] = 4
    size: Annotated[int, Field(ge=64, le=512)] = 256
    height_m: Positive = Field(1.0, description="height of the visible sprite before scatter scaling")
    kind: Literal["quad", "cross", "cross3"] = "cross"
    alpha_cutoff: Annotated[float, Field(gt=0, lt=1)] = 0.5


# ---------------------------------------------------------------------------------------------------- paths
class PathSpec(Strict):
    """A polyline on the ground (x, z in metres), e.g. a trail blended into a terrain material."""

    points: Annotated[list[Vec2], Field(min_length=2, max_length=10_000)]
    width_m: Positive = 2.0


# -------------------------------------------------------------------------------------------------- objects
class Transform(Strict):
    position: Vec3 = (0.0, 0.0, 0.0)
    rotation_deg: tuple[Angle, Angle, Angle] = Field((0.0, 0.0, 0.0), description="about X, then Y, then Z (world axes)")
    scale: Union[Positive, tuple[Positive, Positive, Positive]] = 1.0


class ObjectBase(Transform):
    name: Name | None = Field(None, description="unique name (default: type and index)")
    material: Name = Field(description="name of an entry of `materials`")
    uv: Literal["box", "mesh"] = Field("box", description="box: world-metre box projection; mesh: the file's own UVs")
    place_on: Name | None = Field(None, description="an earlier object: position y is measured from its surface at x, z")


class PlaneSpec(ObjectBase):
    type: Literal["plane"]
    size_m: tuple[Positive, Positive] = (10.0, 10.0)


class BoxSpec(ObjectBase):
    type: Literal["box"]
    size_m: tuple[Positive, Positive, Positive] = (1.0, 1.0, 1.0)


class SphereSpec(ObjectBase):
    type: Literal["sphere"]
    radius_m: Positive = 0.5
    segments: Annotated[int, Field(ge=8, le=512)] = 48


class CylinderSpec(ObjectBase):
    type: Literal["cylinder"]
    radius_m: Positive = 0.5
    height_m: Positive = 1.0
    segments: Annotated[int, Field(ge=3, le=512)] = 32


class GableSpec(ObjectBase):
    """A triangular prism (a gable roof): ridge along X, ``size_m`` = (length, height, depth)."""

    type: Literal["gable"]
    size_m: tuple[Positive, Positive, Positive] = (4.0, 1.5, 3.0)


class RockSpec(ObjectBase):
    """A noisy, flattened icosphere."""

    type: Literal["rock"]
    radius_m: Positive = 0.5
    seed: Seed = 0
    roughness: Annotated[float, Field(ge=0, le=1)] = 0.35
    detail: Annotated[int, Field(ge=1, le=5)] = 3


class NoiseHeight(Strict):
    amplitude_m: Annotated[float, Field(ge=0, le=10_000)] = 2.0
    scale_m: Positive = Field(20.0, description="size of the largest hills")
    octaves: Annotated[int, Field(ge=1, le=8)] = 4
    seed: Seed = 0


class ImageHeight(Strict):
    image: RelPath = Field(description="greyscale heightmap (white = high), 8 or 16 bit")
    height_m: Annotated[float, Field(ge=0, le=10_000)] = 5.0


class TerrainSpec(ObjectBase):
    """A heightfield over x, z in [-size/2, size/2], from seeded noise or a heightmap image."""

    type: Literal["terrain"]
    size_m: tuple[Positive, Positive] = (40.0, 40.0)
    resolution: Annotated[int, Field(ge=2, le=2048)] = Field(128, description="grid cells along each side")
    height: Union[NoiseHeight, ImageHeight] = Field(default_factory=NoiseHeight)
    flatten_paths: list[Name] = Field(default_factory=list, description="paths along which the ground is smoothed")

    @model_validator(mode="after")
    def _grid_fits(self) -> TerrainSpec:
        size_x, size_z = self.size_m
        cells_z = max(2, round(self.resolution * size_z / size_x))
        if cells_z > MAX_TERRAIN_CELLS:
            raise ValueError(f"size_m {size_x:g} × {size_z:g} at resolution {self.resolution} needs {cells_z:,} cells "
                             f"along z; the limit is {MAX_TERRAIN_CELLS:,} (make size_m less elongated or lower "
                             "resolution)")
        return self


class MeshSpec(ObjectBase):
    type: Literal["mesh"]
    file: RelPath = Field(description="obj, ply, stl, glb or gltf file (relative to the scene file)")
    up_axis: Literal["y", "z"] = "y"


ObjectSpec = Annotated[
    Union[PlaneSpec, BoxSpec, SphereSpec, CylinderSpec, GableSpec, RockSpec, TerrainSpec, MeshSpec],
    Field(discriminator="type"),
]


# -------------------------------------------------------------------------------------------------- scatter
class ScatterSpec(Strict):
    """Instances of one sprite (all its variants) or one object dropped onto an object's surface."""

    name: Name | None = None
    sprite: Name | None = Field(None, description="name of an entry of `sprites`")
    object: ObjectSpec | None = Field(None, description="an object to instance (position and rotation ignored; its scale multiplies `scale`)")
    on: Name | None = Field(None, description="object to scatter on (default: the first terrain)")
    count: Annotated[int, Field(ge=0, le=MAX_LAYER_COUNT)] | None = None
    density_per_m2: Annotated[float, Field(ge=0, le=1000)] | None = None
    min_distance_m: Annotated[float, Field(ge=0, le=1000)] = 0.0
    slope_deg: Range = Field(default_factory=lambda: Range(min=0.0, max=90.0))
    height_m: Range | None = Field(None, description="allowed world heights of the surface")
    scale: Range = Field(default_factory=lambda: Range(min=1.0, max=1.0))
    yaw_deg: Range = Field(default_factory=lambda: Range(min=0.0, max=360.0))
    align_to_normal: bool = Field(False, description="tilt objects with the surface (never sprites)")
    sink_m: Annotated[float, Field(ge=-100, le=100)] = Field(0.0, description="push items this far into the ground")
    avoid_paths: list[Name] = Field(default_factory=list)
    path_margin_m: Annotated[float, Field(ge=0, le=1000)] = 0.3
    region: tuple[Vec2, Vec2] | None = Field(None, description="[[x0, z0], [x1, z1]]: only scatter inside")
    seed: Seed = 0

    @model_validator(mode="after")
    def _what_and_how_many(self) -> ScatterSpec:
        if (self.sprite is None) == (self.object is None):
            raise ValueError("give exactly one of 'sprite' or 'object'")
        if (self.count is None) == (self.density_per_m2 is None):
            raise ValueError("give exactly one of 'count' or 'density_per_m2'")
        if self.slope_deg.min < 0 or self.slope_deg.max > 90:
            raise ValueError("slope_deg must lie within [0, 90]")
        if self.scale.min <= 0:
            raise ValueError("scale.min must be > 0")
        return self


# ---------------------------------------------------------------------------------------- camera and lights
class CameraSpec(Strict):
    position: Vec3 = (0.0, 2.0, 10.0)
    target: Vec3 = (0.0, 0.0, 0.0)
    yfov_deg: Annotated[float, Field(gt=1, lt=170)] = 50.0
    znear: Annotated[float, Field(gt=0, le=100)] = 0.1
    zfar: Annotated[float, Field(gt=0, le=1_000_000)] = 1000.0

    @model_validator(mode="after")
    def _sane(self) -> CameraSpec:
        if self.zfar <= self.znear:
            raise ValueError("zfar must be greater than znear")
        distance = sum((a - b) ** 2 for a, b in zip(self.position, self.target)) ** 0.5
        if distance < MIN_CAMERA_DISTANCE:
            raise ValueError(f"position and target must differ (by at least {MIN_CAMERA_DISTANCE:g} m)")
        return self


class SunLight(Strict):
    type: Literal["sun"]
    azimuth_deg: Angle = Field(135.0, description="where the sun stands, from +Z (0) towards +X (90)")
    elevation_deg: Annotated[float, Field(gt=0, le=90)] = 45.0
    color: Colour = (1.0, 0.96, 0.9)
    intensity: Annotated[float, Field(ge=0, le=1000)] = 3.0
    shadows: bool = True


class PointLight(Strict):
    type: Literal["point"]
    position: Vec3
    color: Colour = (1.0, 1.0, 1.0)
    intensity: Annotated[float, Field(ge=0, le=1e6)] = 10.0
    range_m: Positive | None = None


class SpotLight(Strict):
    type: Literal["spot"]
    position: Vec3
    target: Vec3
    color: Colour = (1.0, 1.0, 1.0)
    intensity: Annotated[float, Field(ge=0, le=1e6)] = 10.0
    inner_cone_deg: Annotated[float, Field(ge=0, lt=90)] = 20.0
    outer_cone_deg: Annotated[float, Field(gt=0, le=90)] = 30.0
    range_m: Positive | None = None
    shadows: bool = False

    @model_validator(mode="after")
    def _cones(self) -> SpotLight:
        if self.inner_cone_deg >= self.outer_cone_deg:
            raise ValueError("inner_cone_deg must be smaller than outer_cone_deg")
        return self


class AmbientLight(Strict):
    type: Literal["ambient"]
    color: Colour = (0.55, 0.65, 0.8)
    ground_color: Colour = (0.3, 0.27, 0.22)
    intensity: Annotated[float, Field(ge=0, le=100)] = 1.0


LightSpec = Annotated[Union[SunLight, PointLight, SpotLight, AmbientLight], Field(discriminator="type")]


def _default_lights() -> list:
    return [SunLight(type="sun"), AmbientLight(type="ambient")]


# --------------------------------------------------------------------------------------- render and outputs
class SkySpec(Strict):
    horizon: Colour = (0.78, 0.86, 0.93)
    zenith: Colour = (0.38, 0.58, 0.85)


class RenderSpec(Strict):
    width: Annotated[int, Field(ge=16, le=8192)] = 1280
    height: Annotated[int, Field(ge=16, le=8192)] = 720
    antialias: Annotated[int, Field(ge=1, le=4)] = Field(
        1, description="supersampling factor on top of 4× MSAA and alpha-to-coverage (2 = smoother, ~2× slower)")
    shadows: bool = True
    sky: SkySpec = Field(default_factory=SkySpec)
    fog_density: Annotated[float, Field(ge=0, le=10)] = Field(0.0, description="exponential fog per metre")

    @model_validator(mode="after")
    def _not_absurd(self) -> RenderSpec:
        problem = render_size_problem(self.width, self.height, self.antialias)
        if problem:
            raise ValueError(problem)
        return self


def render_size_problem(width: int, height: int, antialias: int) -> str | None:
    """Why a render of width × height at ``antialias``× supersampling cannot be made (None when it can)."""
    if width * height * antialias**2 > MAX_PIXELS:
        return f"width × height × antialias² must not exceed {MAX_PIXELS:,} pixels"
    if max(width, height) * antialias > MAX_RENDER_SIDE:
        return (f"{width}×{height} at antialias {antialias} renders {width * antialias}×{height * antialias}; "
                f"OpenGL renders at most {MAX_RENDER_SIDE:,} pixels a side")
    return None


OutName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class OutputSpec(Strict):
    """File names written into the output folder; null skips that output."""

    image: OutName | None = "render.png"
    depth: OutName | None = Field(None, description="16-bit PNG, value / 65535 × camera zfar = metres (0 = sky)")
    glb: OutName | None = "scene.glb"
    summary: OutName | None = Field("build.json", description="counts, timings, files with SHA-256")
    gpu_instancing: bool = Field(False, description="write EXT_mesh_gpu_instancing (one node per instanced mesh)")

    @model_validator(mode="after")
    def _distinct(self) -> OutputSpec:
        names = [(k, getattr(self, k)) for k in ("image", "depth", "glb", "summary") if getattr(self, k) is not None]
        if not names:
            raise ValueError("every output is null: nothing would be written")
        seen: dict[str, str] = {}
        for key, name in names:  # case-insensitively: one file on macOS and Windows
            if name.casefold() in seen:
                raise ValueError(f"'{key}' and '{seen[name.casefold()]}' name the same file '{name}'; "
                                 "outputs must have distinct names")
            seen[name.casefold()] = key
        return self


class SceneSpec(Strict):
    """A scenegen scene: materials, sprites, objects, scatter layers, camera, lights, render, outputs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="scenegen scene")

    name: Name = "scene"
    texture_model: RelPath | None = Field(None, description="texture model directory (default: the shipped model)")
    sprite_model: RelPath | None = Field(None, description="sprite model directory (default: the shipped model)")
    materials: dict[Name, MaterialSpec] = Field(default_factory=dict)
    sprites: dict[Name, SpriteSpec] = Field(default_factory=dict)
    paths: dict[Name, PathSpec] = Field(default_factory=dict)
    objects: list[ObjectSpec] = Field(default_factory=list, max_length=10_000)
    scatter: list[ScatterSpec] = Field(default_factory=list, max_length=1_000)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    lights: list[LightSpec] = Field(default_factory=_default_lights, max_length=16)
    render: RenderSpec = Field(default_factory=RenderSpec)
    outputs: OutputSpec = Field(default_factory=OutputSpec)


def json_schema() -> dict:
    """The JSON Schema of scene.json (draft 2020-12), for editors."""
    schema = SceneSpec.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
