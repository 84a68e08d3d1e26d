#version 330 core
// scenegen's shadow-map vertex shader: pyrender 0.1.45's mesh_depth.vert plus texture coordinates, so the
// fragment shader can discard the transparent texels of cut-out materials, and the world-space normal, so it
// can drop the cards of crossed billboards that the light sees edge-on.
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
out vec3 frag_normal;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
out vec2 uv_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 P;
uniform mat4 V;
uniform mat4 M;

void main()
{
    mat4 model = M * inst_m;
    vec4 world = model * vec4(position, 1.0);
    gl_Position = P * (V * world);
#ifdef NORMAL_LOC
    frag_normal = mat3(model) * normal;  // direction only (rotation and scale of a yawed billboard)
#endif
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
}
