#version 330 core
// scenegen's shadow-map vertex shader: pyrender 0.1.45's mesh_depth.vert plus texture coordinates, so the
// fragment shader can discard the transparent texels of cut-out materials.
layout(location = 0) in vec3 position;
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
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
}
