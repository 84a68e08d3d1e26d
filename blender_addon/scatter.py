"""Billboards in Blender: cut-out quads from sprite PNGs, scattered as instances with Geometry Nodes.

* Each sprite becomes a billboard mesh 1 m tall (pivot at its foot, facing -Y; ``cross`` adds a
  second quad at 90° so it reads from every side) with an alpha-clip material: image alpha →
  ``Greater Than`` cutoff → Principled Alpha, rendered dithered/hashed (no sorting, no halos).
* The billboards live in a collection excluded from the view layer; a new scatter object (identity
  transform, so density and sizes are in world units) carries the "SceneGen Scatter" node group:
  Object Info(surface, relative) → Distribute Points on Faces (Poisson: density per m², minimum
  distance, seed; only faces flatter than Max Slope) → Instance on Points (a random billboard of
  the collection, random yaw, random height between Scale Min and Scale Max). Nothing is realised:
  one mesh per sprite, many instances. The surface object is not modified.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

GROUP_NAME = "SceneGen Scatter"
KINDS = {"quad": 1, "cross": 2}


# ------------------------------------------------------------------------------------------------- billboards
def cutout_material(name: str, image: bpy.types.Image, alpha_cutoff: float = 0.5) -> bpy.types.Material:
    """An alpha-clip material: the image's alpha thresholded at ``alpha_cutoff`` drives Principled Alpha."""
    material = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    out.location = (600, 0)
    bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.name = "SG Principled"
    bsdf.location = (300, 0)
    bsdf.inputs["Roughness"].default_value = 0.8
    tex = tree.nodes.new("ShaderNodeTexImage")
    tex.name = "SG sprite"
    tex.image = image
    tex.extension = "CLIP"
    tex.location = (-300, 0)
    cut = tree.nodes.new("ShaderNodeMath")
    cut.name = "SG Alpha Clip"
    cut.label = f"Alpha > {alpha_cutoff:g}"
    cut.operation = "GREATER_THAN"
    cut.inputs[1].default_value = alpha_cutoff
    cut.location = (0, -150)
    tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    tree.links.new(tex.outputs["Alpha"], cut.inputs[0])
    tree.links.new(cut.outputs["Value"], bsdf.inputs["Alpha"])
    tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    if hasattr(material, "surface_render_method"):
        material.surface_render_method = "DITHERED"
    if hasattr(material, "blend_method"):
        material.blend_method = "HASHED" if bpy.app.version >= (4, 2, 0) else "CLIP"
    material.use_backface_culling = False
    material["scenegen_alpha_cutoff"] = float(alpha_cutoff)
    return material


def billboard_mesh(name: str, aspect: float, kind: str = "cross") -> bpy.types.Mesh:
    """A unit-height billboard (width = ``aspect``), foot at the origin, UV (0,0) bottom-left."""
    quads = KINDS[kind]
    verts, faces, uvs = [], [], []
    for q in range(quads):
        angle = math.pi * q / quads
        dx, dy = math.cos(angle) * aspect / 2, math.sin(angle) * aspect / 2
        base = len(verts)
        verts += [(-dx, -dy, 0.0), (dx, dy, 0.0), (dx, dy, 1.0), (-dx, -dy, 1.0)]
        faces.append((base, base + 1, base + 2, base + 3))
        uvs += [(0, 0), (1, 0), (1, 1), (0, 1)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    layer = mesh.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", np.asarray(uvs, dtype=np.float32).ravel())
    mesh.update()
    return mesh


def billboard_collection(name: str, sprite_paths: list[str], *, kind: str = "cross", alpha_cutoff: float = 0.5,
                         scene: bpy.types.Scene | None = None) -> bpy.types.Collection:
    """A collection (excluded from the view layer) holding one billboard object per sprite PNG."""
    scene = scene or bpy.context.scene
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    for i, path in enumerate(sprite_paths):
        image = bpy.data.images.load(path, check_existing=True)
        image.reload()
        image.colorspace_settings.name = "sRGB"
        image.alpha_mode = "STRAIGHT"
        width, height = image.size
        mesh = billboard_mesh(f"{name}_{i:03d}", width / max(height, 1), kind)
        mesh.materials.append(cutout_material(f"{name}_{i:03d}", image, alpha_cutoff))
        obj = bpy.data.objects.new(f"{name}_{i:03d}", mesh)
        collection.objects.link(obj)
    _exclude(bpy.context.view_layer.layer_collection, collection)
    return collection


def _exclude(layer: bpy.types.LayerCollection, collection: bpy.types.Collection) -> bool:
    if layer.collection == collection:
        layer.exclude = True
        return True
    return any(_exclude(child, collection) for child in layer.children)


# ------------------------------------------------------------------------------------------------- node group
def _input(group: bpy.types.NodeTree, name: str, socket_type: str, default=None, low=None, high=None):
    socket = group.interface.new_socket(name, in_out="INPUT", socket_type=socket_type)
    if default is not None:
        socket.default_value = default
    if low is not None:
        socket.min_value = low
    if high is not None:
        socket.max_value = high
    return socket


def scatter_group() -> bpy.types.NodeTree:
    """The "SceneGen Scatter" geometry node group (built once per file, shared by every scatter)."""
    group = bpy.data.node_groups.get(GROUP_NAME)
    if group is not None and group.get("scenegen_version") == 1:
        return group
    group = bpy.data.node_groups.new(GROUP_NAME, "GeometryNodeTree")
    group["scenegen_version"] = 1
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    _input(group, "Surface", "NodeSocketObject")
    _input(group, "Billboards", "NodeSocketCollection")
    _input(group, "Density", "NodeSocketFloat", 1.0, 0.0, 10000.0)
    _input(group, "Distance Min", "NodeSocketFloat", 0.3, 0.0, 100.0)
    _input(group, "Max Slope", "NodeSocketFloat", 45.0, 0.0, 90.0)
    _input(group, "Seed", "NodeSocketInt", 0)
    _input(group, "Scale Min", "NodeSocketFloat", 0.8, 0.0, 1000.0)
    _input(group, "Scale Max", "NodeSocketFloat", 1.2, 0.0, 1000.0)
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")

    nodes, links = group.nodes, group.links
    gin, gout = nodes.new("NodeGroupInput"), nodes.new("NodeGroupOutput")
    gin.location, gout.location = (-1200, 0), (800, 0)

    surface = nodes.new("GeometryNodeObjectInfo")
    surface.name = "SG Surface"
    surface.transform_space = "RELATIVE"
    surface.location = (-900, 200)
    links.new(gin.outputs["Surface"], surface.inputs["Object"])

    # Selection: faces whose normal is within Max Slope of +Z.
    normal = nodes.new("GeometryNodeInputNormal")
    normal.location = (-900, -200)
    split = nodes.new("ShaderNodeSeparateXYZ")
    split.location = (-700, -200)
    links.new(normal.outputs["Normal"], split.inputs["Vector"])
    radians = nodes.new("ShaderNodeMath")
    radians.operation = "RADIANS"
    radians.location = (-900, -400)
    links.new(gin.outputs["Max Slope"], radians.inputs[0])
    cosine = nodes.new("ShaderNodeMath")
    cosine.operation = "COSINE"
    cosine.location = (-700, -400)
    links.new(radians.outputs["Value"], cosine.inputs[0])
    flat = nodes.new("ShaderNodeMath")
    flat.operation = "GREATER_THAN"
    flat.location = (-500, -300)
    links.new(split.outputs["Z"], flat.inputs[0])
    # A small epsilon so Max Slope 90° still excludes downward faces but keeps vertical ones.
    bias = nodes.new("ShaderNodeMath")
    bias.operation = "SUBTRACT"
    bias.inputs[1].default_value = 1e-4
    bias.location = (-600, -450)
    links.new(cosine.outputs["Value"], bias.inputs[0])
    links.new(bias.outputs["Value"], flat.inputs[1])

    distribute = nodes.new("GeometryNodeDistributePointsOnFaces")
    distribute.name = "SG Distribute"
    distribute.distribute_method = "POISSON"
    distribute.location = (-300, 100)
    links.new(surface.outputs["Geometry"], distribute.inputs["Mesh"])
    links.new(flat.outputs["Value"], distribute.inputs["Selection"])
    links.new(gin.outputs["Distance Min"], distribute.inputs["Distance Min"])
    links.new(gin.outputs["Density"], distribute.inputs["Density Max"])
    links.new(gin.outputs["Seed"], distribute.inputs["Seed"])

    info = nodes.new("GeometryNodeCollectionInfo")
    info.name = "SG Billboards"
    info.transform_space = "ORIGINAL"
    info.inputs["Separate Children"].default_value = True
    info.inputs["Reset Children"].default_value = True
    info.location = (-300, -250)
    links.new(gin.outputs["Billboards"], info.inputs["Collection"])

    def random(kind: str, seed_offset: int, location: tuple[float, float]) -> bpy.types.Node:
        node = nodes.new("FunctionNodeRandomValue")
        node.data_type = kind
        node.location = location
        add = nodes.new("ShaderNodeMath")
        add.operation = "ADD"
        add.inputs[1].default_value = seed_offset
        add.location = (location[0] - 200, location[1] - 100)
        links.new(gin.outputs["Seed"], add.inputs[0])
        links.new(add.outputs["Value"], node.inputs["Seed"])
        return node

    pick = random("INT", 1, (0, -450))
    _by_type(pick.inputs, "Min", "NodeSocketInt").default_value = 0
    # Instance on Points wraps the index modulo the number of billboards in the collection.
    _by_type(pick.inputs, "Max", "NodeSocketInt").default_value = 1 << 20
    size = random("FLOAT", 2, (0, -700))
    links.new(gin.outputs["Scale Min"], _by_type(size.inputs, "Min", "NodeSocketFloat"))
    links.new(gin.outputs["Scale Max"], _by_type(size.inputs, "Max", "NodeSocketFloat"))
    yaw = random("FLOAT", 3, (0, -950))
    _by_type(yaw.inputs, "Max", "NodeSocketFloat").default_value = 2 * math.pi
    euler = nodes.new("ShaderNodeCombineXYZ")
    euler.location = (250, -950)
    links.new(_by_type(yaw.outputs, "Value", "NodeSocketFloat"), euler.inputs["Z"])

    instance = nodes.new("GeometryNodeInstanceOnPoints")
    instance.name = "SG Instance"
    instance.location = (450, 0)
    instance.inputs["Pick Instance"].default_value = True
    links.new(distribute.outputs["Points"], instance.inputs["Points"])
    links.new(info.outputs[0], instance.inputs["Instance"])
    links.new(_by_type(pick.outputs, "Value", "NodeSocketInt"), instance.inputs["Instance Index"])
    links.new(euler.outputs["Vector"], instance.inputs["Rotation"])
    links.new(_by_type(size.outputs, "Value", "NodeSocketFloat"), instance.inputs["Scale"])
    links.new(instance.outputs["Instances"], gout.inputs["Geometry"])
    return group


def _by_type(sockets, name: str, bl_idname: str) -> bpy.types.NodeSocket:
    """The socket called ``name`` of type ``bl_idname`` (Random Value has one per data type)."""
    return next(s for s in sockets if s.name == name and s.bl_idname.startswith(bl_idname))


def surface_area(obj: bpy.types.Object, max_slope_deg: float = 90.0) -> float:
    """World-space area (m²) of the faces of ``obj`` flatter than ``max_slope_deg``."""
    mesh = obj.data
    mesh.calc_loop_triangles()
    verts = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", verts)
    tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", tris)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    world = verts.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
    corners = world[tris].reshape(-1, 3, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(cross, axis=1)
    up = np.divide(cross[:, 2], length, out=np.zeros_like(length), where=length > 0)
    keep = up > math.cos(math.radians(max_slope_deg)) - 1e-4
    return float(0.5 * length[keep].sum())


def scatter(surface: bpy.types.Object, collection: bpy.types.Collection, *, density: float, distance_min: float,
            seed: int, scale_min: float, scale_max: float, max_slope_deg: float = 45.0,
            name: str | None = None) -> bpy.types.Object:
    """A new object scattering ``collection``'s billboards over ``surface`` (world-space density per m²)."""
    mesh = bpy.data.meshes.new(name or f"{surface.name} scatter")
    obj = bpy.data.objects.new(name or f"{surface.name} scatter", mesh)
    target = surface.users_collection[0] if surface.users_collection else bpy.context.scene.collection
    target.objects.link(obj)
    modifier = obj.modifiers.new("SceneGen Scatter", "NODES")
    modifier.node_group = scatter_group()
    values = {"Surface": surface, "Billboards": collection, "Density": float(density), "Distance Min": float(distance_min),
              "Max Slope": float(max_slope_deg), "Seed": int(seed), "Scale Min": float(scale_min), "Scale Max": float(scale_max)}
    for item in modifier.node_group.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name in values:
            modifier[item.identifier] = values[item.name]
    obj["scenegen_scatter"] = {"surface": surface.name, "collection": collection.name, "seed": int(seed)}
    return obj
