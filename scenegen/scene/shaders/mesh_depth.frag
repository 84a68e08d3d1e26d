#version 330 core
// scenegen's shadow-map fragment shader: cut-out texels (alpha below the material's cutoff) write no depth, so
// they cast no shadow.
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
uniform sampler2D cutout_texture;
uniform float alpha_cutoff;
#endif
out vec4 frag_color;

void main()
{
#ifdef TEXCOORD_0_LOC
    if (alpha_cutoff > 0.0 && texture(cutout_texture, uv_0).a < alpha_cutoff) {
        discard;
    }
#endif
    frag_color = vec4(1.0);
}
