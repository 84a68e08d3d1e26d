#version 330 core
// scenegen's copy of pyrender 0.1.45's mesh.vert. Changes: the normal matrix is M·S⁻² instead of
// transpose(inverse(M)) (exact for translation·rotation·scale without shear, and much cheaper per vertex),
// and the vertex tangent (glTF TANGENT: xyz along +u, w = handedness) is passed on in world space as
// `frag_tangent` (pyrender passes a `tbn` its fragment shader never reads: it rebuilds the frame from
// screen-space derivatives, assuming w = +1), with `card_offset` and `frag_pivot` for billboard cards (see
// mesh.frag).

layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TANGENT_LOC
layout(location = TANGENT_LOC) in vec4 tangent;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
#ifdef TEXCOORD_1_LOC
layout(location = TEXCOORD_1_LOC) in vec2 texcoord_1;
#endif
#ifdef COLOR_0_LOC
layout(location = COLOR_0_LOC) in vec4 color_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
uniform float card_half_width;  // scenegen: billboards: half a card's full width (mesh units); 0 for other meshes

out vec3 frag_position;
out vec3 frag_pivot;  // scenegen: the mesh origin in world space (a billboard's foot, on its axis)
#ifdef NORMAL_LOC
out vec3 frag_normal;
#endif
#ifdef TANGENT_LOC
out vec4 frag_tangent;
out vec2 card_offset;  // offset (m) along the tangent from the mesh origin (a billboard's axis), and its size
#endif
#ifdef TEXCOORD_0_LOC
out vec2 uv_0;
#endif
#ifdef TEXCOORD_1_LOC
out vec2 uv_1;
#endif
#ifdef COLOR_0_LOC
out vec4 color_multiplier;
#endif

void main()
{
    mat4 model = M * inst_m;
    vec4 world = model * vec4(position, 1.0);
    gl_Position = P * (V * world);
    frag_position = world.xyz;
    frag_pivot = model[3].xyz;
    mat3 linear = mat3(model);
#ifdef NORMAL_LOC
    vec3 inv_scale2 = 1.0 / vec3(dot(linear[0], linear[0]), dot(linear[1], linear[1]), dot(linear[2], linear[2]));
    frag_normal = normalize(linear * (normal * inv_scale2));
#endif
#ifdef TANGENT_LOC
    // tangents transform like positions; a mirroring instance transform flips the handedness
    frag_tangent = vec4(normalize(linear * tangent.xyz), determinant(linear) < 0.0 ? -tangent.w : tangent.w);
    float scale = length(linear * tangent.xyz);
    float along = dot(position, tangent.xyz) * scale;  // metres; ±half a card's width at its full rectangle's
    // corners. A trimmed card (a polygon inside that rectangle) has corners nearer its axis: the half width
    // comes from the uniform then (abs(along) at the rectangle's corners interpolates to the same constant)
    card_offset = vec2(along, card_half_width > 0.0 ? card_half_width * scale : abs(along));
#endif
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
#ifdef TEXCOORD_1_LOC
    uv_1 = texcoord_1;
#endif
#ifdef COLOR_0_LOC
    color_multiplier = color_0;
#endif
}
