#version 330 core
// scenegen's shadow-map fragment shader: cut-out texels (alpha below the material's cutoff) write no depth, so
// they cast no shadow. A card of a crossed billboard that the light sees at a grazing angle (within about 24°
// of edge-on; at most one card of a cross or cross3 at a time) casts no shadow either: on the other cards it
// would be a thin dark wedge starting exactly on the billboard's axis, where the cards meet.
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
uniform sampler2D cutout_texture;
uniform float alpha_cutoff;
#endif
#ifdef NORMAL_LOC
in vec3 frag_normal;
uniform int crossed_cards;
uniform mat4 V;
#endif
out vec4 frag_color;

void main()
{
#ifdef TEXCOORD_0_LOC
    if (alpha_cutoff > 0.0 && texture(cutout_texture, uv_0).a < alpha_cutoff) {
        discard;
    }
#endif
#ifdef NORMAL_LOC
    if (crossed_cards != 0) {
        vec3 towards_light = vec3(V[0][2], V[1][2], V[2][2]);  // the light camera's +Z in world space
        vec3 level = towards_light - vec3(0.0, towards_light.y, 0.0);
        if (abs(dot(normalize(frag_normal), towards_light)) < 0.4 * length(level)) {
            discard;
        }
    }
#endif
    frag_color = vec4(1.0);
}
