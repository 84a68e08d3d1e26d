#version 330 core
// scenegen's copy of pyrender 0.1.45's mesh.frag. Changes (search "scenegen"); scenegen adds the defines
// CUTOUT (alphaMode MASK) and SCENE_DIRECTIONAL_LIGHTS / SCENE_POINT_LIGHTS / SCENE_SPOT_LIGHTS (how many
// lights of each kind the scene has: loops with compile-time bounds cost nothing for absent lights, where
// uniform-bounded loops were run masked for every possible light by llvmpipe).
//  * alpha cut-out: fragments whose base-colour alpha is below `alpha_cutoff` are discarded, so transparent
//    texels of MASK materials neither write colour nor depth (pyrender ignores alphaMode MASK);
//  * normal maps are read in the vertex tangent frame (`frag_tangent`, glTF TANGENT) where the mesh has one,
//    else in pyrender's frame from screen-space derivatives;
//  * double-sided surfaces are shaded with the normal facing the viewer (glTF: back faces flip the normal);
//  * double-sided cut-outs (foliage cards) are shaded as the side of a volume that faces the viewer (see
//    card_normal): the normal map's in-plane part in the card's frame, its out-of-card part towards the
//    viewer, alike for every card of a crossed billboard where they meet; then bent towards +Y (CARD_BEND),
//    lit Lambertian; with `crossed_cards` set (billboards of 2 or 3 crossed cards), the normal map's x fades
//    out towards the billboard's axis, cards seen edge-on fade out, and the cards do not shadow each other
//    (shadow_point);
//  * `ambient_ground` gives hemisphere ambient light (sky colour from above, ground colour from below);
//  * exponential distance fog towards `fog_color` (linear), off when `fog_density` is 0;
//  * shadow maps are sampled with hardware depth comparison (one bilinear tap), see shadow_calc;
//  * output alpha is the cut-out coverage (1 for opaque materials), for alpha-to-coverage.
///////////////////////////////////////////////////////////////////////////////
// Structs
///////////////////////////////////////////////////////////////////////////////

struct SpotLight {
    vec3 color;
    float intensity;
    float range;
    vec3 position;
    vec3 direction;
    float light_angle_scale;
    float light_angle_offset;

    #ifdef SPOT_LIGHT_SHADOWS
    sampler2DShadow shadow_map;
    mat4 light_matrix;
    #endif
};

struct DirectionalLight {
    vec3 color;
    float intensity;
    vec3 direction;

    #ifdef DIRECTIONAL_LIGHT_SHADOWS
    sampler2DShadow shadow_map;
    mat4 light_matrix;
    #endif
};

struct PointLight {
    vec3 color;
    float intensity;
    float range;
    vec3 position;

    #ifdef POINT_LIGHT_SHADOWS
    samplerCube shadow_map;
    #endif
};

struct Material {
    vec3 emissive_factor;

#ifdef USE_METALLIC_MATERIAL
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
#endif

#ifdef USE_GLOSSY_MATERIAL
    vec4 diffuse_factor;
    vec3 specular_factor;
    float glossiness_factor;
#endif

#ifdef HAS_NORMAL_TEX
    sampler2D normal_texture;
#endif
#ifdef HAS_OCCLUSION_TEX
    sampler2D occlusion_texture;
#endif
#ifdef HAS_EMISSIVE_TEX
    sampler2D emissive_texture;
#endif
#ifdef HAS_BASE_COLOR_TEX
    sampler2D base_color_texture;
#endif
#ifdef HAS_METALLIC_ROUGHNESS_TEX
    sampler2D metallic_roughness_texture;
#endif
#ifdef HAS_DIFFUSE_TEX
    sampler2D diffuse_texture;
#endif
#ifdef HAS_SPECULAR_GLOSSINESS_TEX
    sampler2D specular_glossiness;
#endif
};

struct PBRInfo {
    float nl;
    float nv;
    float nh;
    float lh;
    float vh;
    float roughness;
    float metallic;
    vec3 f0;
    vec3 c_diff;
};

///////////////////////////////////////////////////////////////////////////////
// Uniforms
///////////////////////////////////////////////////////////////////////////////
uniform Material material;
uniform PointLight point_lights[MAX_POINT_LIGHTS];
uniform int n_point_lights;
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform SpotLight spot_lights[MAX_SPOT_LIGHTS];
uniform int n_spot_lights;
uniform vec3 cam_pos;
uniform vec3 ambient_light;
// scenegen
uniform float alpha_cutoff;
uniform int double_sided;
uniform vec3 ambient_ground;
uniform vec3 fog_color;
uniform float fog_density;
uniform int crossed_cards;  // 1: a billboard of crossed cards (its mesh origin on their common axis)

#ifdef USE_IBL
uniform samplerCube diffuse_env;
uniform samplerCube specular_env;
#endif

///////////////////////////////////////////////////////////////////////////////
// Inputs
///////////////////////////////////////////////////////////////////////////////

in vec3 frag_position;
in vec3 frag_pivot;  // scenegen: the mesh origin in world space (a billboard's foot, on its axis)
#ifdef NORMAL_LOC
in vec3 frag_normal;
#endif
#ifdef TANGENT_LOC
in vec4 frag_tangent;  // scenegen: world-space vertex tangent, w = handedness
in vec2 card_offset;  // scenegen: offset (m) along the tangent from the mesh origin, and the card's half width
#endif
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
#endif
#ifdef TEXCOORD_1_LOC
in vec2 uv_1;
#endif
#ifdef COLOR_0_LOC
in vec4 color_multiplier;
#endif

///////////////////////////////////////////////////////////////////////////////
// OUTPUTS
///////////////////////////////////////////////////////////////////////////////

out vec4 frag_color;

///////////////////////////////////////////////////////////////////////////////
// Constants
///////////////////////////////////////////////////////////////////////////////
const float PI = 3.141592653589793;
const float min_roughness = 0.04;
// scenegen: how far cut-out card normals are bent towards +Y (without a normal map / with one)
const float CARD_BEND = 0.6;
const float CARD_BEND_MAPPED = 0.3;
// scenegen: crossed cards: part of a card's half width over which the normal map's x fades in from the axis
const float AXIS_BAND = 0.15;
// scenegen: crossed cards receive no shadow from occluders nearer than this × their distance from the axis
// (÷ the light's horizontal part): their own other cards, which mesh_depth.frag keeps only when they face the
// light by 0.4 or more, so which lie within 1/0.4 of that distance along the light ray.
const float SELF_SHADOW_REACH = 2.5;

///////////////////////////////////////////////////////////////////////////////
// Utility Functions
///////////////////////////////////////////////////////////////////////////////
vec4 srgb_to_linear(vec4 srgb)
{
#ifndef SRGB_CORRECTED
    // Fast Approximation
    //vec3 linOut = pow(srgbIn.xyz,vec3(2.2));
    //
    vec3 b_less = step(vec3(0.04045),srgb.xyz);
    vec3 lin_out = mix( srgb.xyz/vec3(12.92), pow((srgb.xyz+vec3(0.055))/vec3(1.055),vec3(2.4)), b_less );
    return vec4(lin_out, srgb.w);
#else
    return srgb;
#endif
}

// scenegen: the tangent frame (t along +u, b along +v, ng) of a normal-mapped surface
#ifdef HAS_NORMAL_TEX
mat3 tangent_frame(vec3 ng)
{
#ifdef TANGENT_LOC
    vec3 t = normalize(frag_tangent.xyz - ng * dot(ng, frag_tangent.xyz));
    vec3 b = cross(ng, t) * frag_tangent.w;
#else
    vec3 pos_dx = dFdx(frag_position);
    vec3 pos_dy = dFdy(frag_position);
    vec3 tex_dx = dFdx(vec3(uv_0, 0.0));
    vec3 tex_dy = dFdy(vec3(uv_0, 0.0));
    vec3 t = (tex_dy.t * pos_dx - tex_dx.t * pos_dy) / (tex_dx.s * tex_dy.t - tex_dy.s * tex_dx.t);
    t = normalize(t - ng * dot(ng, t));
    vec3 b = normalize(cross(ng, t));
#endif
    return mat3(t, b, ng);
}
#endif

// Normal computation
vec3 get_normal()
{
#ifdef HAS_NORMAL_TEX
    mat3 tbn_n = tangent_frame(normalize(frag_normal));
    vec3 n = texture(material.normal_texture, uv_0).rgb;
    return normalize(tbn_n * (2.0 * n - 1.0));
#else

#ifdef NORMAL_LOC
    return frag_normal;
#else
    return normalize(cam_pos - frag_position);
#endif

#endif
}

#ifdef CUTOUT
// scenegen: the shading normal of a double-sided cut-out card, `v` the unit vector towards the camera (from
// the billboard's axis).
// A card stands for a volume (a crossed billboard for one of revolution about its axis). The normal map's
// in-plane part stays in the card's own tangent frame, so the sprite's outline faces outwards in world space
// from either side of the card (the radial direction of the volume); its out-of-card part points towards the
// viewer, as the visible side of a volume does, instead of along the card's normal. The cards of a crossed
// billboard meet on their axis and show the same texel column there; the in-plane x would still point along
// each card's own direction, so on crossed cards it fades to 0 at the axis, where a volume of revolution faces
// the viewer anyway: the cards are lit alike where they meet, with no seam.
vec3 card_normal(vec3 v)
{
#ifdef HAS_NORMAL_TEX
    mat3 tbn_n = tangent_frame(normalize(frag_normal));
    vec3 m = 2.0 * texture(material.normal_texture, uv_0).rgb - 1.0;
#ifdef TANGENT_LOC
    if (crossed_cards != 0) {
        m.x *= smoothstep(0.0, AXIS_BAND, abs(card_offset.x) / max(card_offset.y, 1e-6));
    }
#endif
    return normalize(m.x * tbn_n[0] + m.y * tbn_n[1] + m.z * v);
#else
    return v;
#endif
}
#endif

// Fresnel
vec3 specular_reflection(PBRInfo info)
{
     vec3 res = info.f0 + (1.0 - info.f0) * pow(clamp(1.0 - info.vh, 0.0, 1.0), 5.0);
     return res;
}

// Smith
float geometric_occlusion(PBRInfo info)
{
    float r = info.roughness + 1.0;
    float k = r * r  / 8.0;
    float g1 = info.nv / (info.nv * (1.0 - k) + k);
    float g2 = info.nl / (info.nl * (1.0 - k) + k);
    //float k = info.roughness * sqrt(2.0 / PI);
    //float g1 = info.lh / (info.lh * (1.0 - k) + k);
    //float g2 = info.nh / (info.nh * (1.0 - k) + k);
    return g1 * g2;
}

float microfacet_distribution(PBRInfo info)
{
    float a = info.roughness * info.roughness;
    float a2 = a * a;
    float nh2 = info.nh * info.nh;

    float denom = (nh2 * (a2 - 1.0) + 1.0);
    return a2 / (PI * denom * denom);
}

vec3 compute_brdf(vec3 n, vec3 v, vec3 l,
                  float roughness, float metalness,
                  vec3 f0, vec3 c_diff, vec3 albedo,
                  vec3 radiance)
{
        float nl = clamp(dot(n, l), 0.001, 1.0);
#ifdef CUTOUT
        // scenegen: cut-outs (foliage, roughness ~0.9) are lit Lambertian: no visible difference, and the
        // GGX terms are much of the cost of the many overlapping card fragments on a software rasteriser.
        return nl * radiance * c_diff / PI;
#endif
        vec3 h = normalize(l+v);
        float nv = clamp(abs(dot(n, v)), 0.001, 1.0);
        float nh = clamp(dot(n, h), 0.0, 1.0);
        float lh = clamp(dot(l, h), 0.0, 1.0);
        float vh = clamp(dot(v, h), 0.0, 1.0);

        PBRInfo info = PBRInfo(nl, nv, nh, lh, vh, roughness, metalness, f0, c_diff);

        // Compute PBR terms
        vec3 F = specular_reflection(info);
        float G = geometric_occlusion(info);
        float D = microfacet_distribution(info);

        // Compute BRDF
        vec3 diffuse_contrib = (1.0 - F) * c_diff / PI;
        vec3 spec_contrib = F * G * D / (4.0 * nl * nv + 0.001);

        vec3 color = nl * radiance * (diffuse_contrib + spec_contrib);
        return color;
}

// scenegen: one shadow lookup with the GPU's depth comparison (sampler2DShadow, bilinear: 2×2 comparisons,
// filtered) instead of pyrender's 36 manual comparisons: far cheaper on a software rasteriser. `position` is
// where the lookup is made (the fragment, or for crossed cards a point towards the light, see shadow_point).
float shadow_calc(mat4 light_matrix, sampler2DShadow shadow_map, float nl, vec3 position)
{
    vec4 proj_coords = vec4(light_matrix * vec4(position, 1.0));
    vec3 light_coords = proj_coords.xyz / proj_coords.w;
    light_coords = light_coords * 0.5 + 0.5;
    if (light_coords.z > 1.0) {
        return 0.0;
    }
    float bias = max(0.001 * (1.0 - nl), 0.0001) / proj_coords.w;
    float compare = light_coords.z - bias;
    return 1.0 - texture(shadow_map, vec3(light_coords.xy, compare));
}

// scenegen: the shadow lookup point of a fragment lit from direction `l` (unit, towards the light). The cards
// of a crossed billboard would shadow each other along their common axis (each card's shadow on another
// starts there: a vertical line); moving the lookup towards the light past the billboard's own cards skips
// them, and shadows of everything further away stay. The move is 0 on the axis, so nothing steps there.
vec3 shadow_point(vec3 l)
{
#ifdef CUTOUT
#ifdef TANGENT_LOC
    if (crossed_cards != 0 && double_sided != 0) {
        float level = max(length(vec2(l.x, l.z)), 0.5);
        return frag_position + l * (SELF_SHADOW_REACH * abs(card_offset.x) / level);
    }
#endif
#endif
    return frag_position;
}

///////////////////////////////////////////////////////////////////////////////
// MAIN
///////////////////////////////////////////////////////////////////////////////
void main()
{

    vec4 color = vec4(vec3(0.0), 1.0);
///////////////////////////////////////////////////////////////////////////////
// Handle Metallic Materials
///////////////////////////////////////////////////////////////////////////////
#ifdef USE_METALLIC_MATERIAL

    // scenegen: alpha cut-out (MASK). The alpha test becomes a coverage value sharpened to about one pixel,
    // which alpha-to-coverage turns into antialiased edges under MSAA; texels below the cutoff are discarded,
    // first of all (the same alpha as base_color.a below): a block of discarded fragments costs no shading.
    float coverage = 1.0;
#ifdef CUTOUT
    float cut_alpha = material.base_color_factor.a;
#ifdef HAS_BASE_COLOR_TEX
    cut_alpha = cut_alpha * texture(material.base_color_texture, uv_0).a;
#endif
    float alpha_width = max(fwidth(cut_alpha), 1e-4);
    coverage = clamp((cut_alpha - alpha_cutoff) / alpha_width + 0.5, 0.0, 1.0);
    if (coverage <= 0.0) {
        discard;
    }
#endif

    // Compute metallic/roughness factors
    float roughness = material.roughness_factor;
    float metallic = material.metallic_factor;
#ifdef HAS_METALLIC_ROUGHNESS_TEX
    vec2 mr = texture(material.metallic_roughness_texture, uv_0).rg;
    roughness = roughness * mr.r;
    metallic = metallic * mr.g;
#endif
    roughness = clamp(roughness, min_roughness, 1.0);
    metallic = clamp(metallic, 0.0, 1.0);
    // In convention, material roughness is perceputal roughness ^ 2
    float alpha_roughness = roughness * roughness;

    // Compute albedo
    vec4 base_color = material.base_color_factor;
#ifdef HAS_BASE_COLOR_TEX
    base_color = base_color * srgb_to_linear(texture(material.base_color_texture, uv_0));
#endif

    // Compute specular and diffuse colors
    vec3 dialectric_spec = vec3(min_roughness);
    vec3 c_diff = mix(vec3(0.0), base_color.rgb * (1 - min_roughness), 1.0 - metallic);
    vec3 f0 = mix(dialectric_spec, base_color.rgb, metallic);

    // Compute normal
    vec3 n;
#ifdef CUTOUT
    if (double_sided != 0) {
        // scenegen: foliage cards are lit as a volume facing the viewer (card_normal), with normals bent
        // upwards (as engines do for grass), so crossed cards do not split into a lit and a dark half. The
        // viewer is seen from the billboard's axis at this height: one direction for the billboard's whole
        // width (its sprite was drawn as a view from one direction) and for all its cards where they meet.
        vec3 to_axis = cam_pos - vec3(frag_pivot.x, frag_position.y, frag_pivot.z);
        vec3 towards_camera = dot(to_axis, to_axis) > 1e-8 ? normalize(to_axis) : normalize(cam_pos - frag_position);
        if (crossed_cards != 0) {
            // scenegen: a card of a crossed billboard seen (nearly) edge-on is a sliver of squeezed texels
            // along the billboard's axis (another card then faces the viewer within 30°); it fades out from
            // 17° to 9° off edge-on. (Fading from further out leaves ghosts: parts of the sprite that only that
            // card shows turn half transparent.)
            vec3 ng = normalize(frag_normal);
            vec3 level = towards_camera - vec3(0.0, towards_camera.y, 0.0);
            float facing = abs(dot(ng, towards_camera)) / max(length(level), 1e-3);
            coverage *= smoothstep(0.15, 0.3, facing);
            if (coverage <= 0.0) {
                discard;
            }
        }
        n = card_normal(towards_camera);
#ifdef HAS_NORMAL_TEX
        n = normalize(mix(n, vec3(0.0, 1.0, 0.0), CARD_BEND_MAPPED));
#else
        n = normalize(mix(n, vec3(0.0, 1.0, 0.0), CARD_BEND));
#endif
    } else {
        n = normalize(get_normal());
    }
#else
    n = normalize(get_normal());
    if (double_sided != 0 && !gl_FrontFacing) {  // scenegen
        n = -n;
    }
#endif

    // Loop over lights
    for (int i = 0; i < SCENE_DIRECTIONAL_LIGHTS; i++) {  // scenegen: compile-time count
        vec3 direction = directional_lights[i].direction;
        vec3 v = normalize(cam_pos - frag_position); // Vector towards camera
        vec3 l = normalize(-1.0 * direction);   // Vector towards light

        // Compute attenuation and radiance
        float attenuation = directional_lights[i].intensity;
        vec3 radiance = attenuation * directional_lights[i].color;

        // Compute outbound color
        vec3 res = compute_brdf(n, v, l, roughness, metallic,
                                f0, c_diff, base_color.rgb, radiance);

        // Compute shadow
#ifdef DIRECTIONAL_LIGHT_SHADOWS
        float nl = clamp(dot(n,l), 0.0, 1.0);
        float shadow = shadow_calc(
            directional_lights[i].light_matrix,
            directional_lights[i].shadow_map,
            nl,
            shadow_point(l)
        );
        res = res * (1.0 - shadow);
#endif
        color.xyz += res;
    }

    for (int i = 0; i < SCENE_POINT_LIGHTS; i++) {  // scenegen: compile-time count
        vec3 position = point_lights[i].position;
        vec3 v = normalize(cam_pos - frag_position); // Vector towards camera
        vec3 l = normalize(position - frag_position); // Vector towards light

        // Compute attenuation and radiance
        float dist = length(position - frag_position);
        float attenuation = point_lights[i].intensity / (dist * dist);
        vec3 radiance = attenuation * point_lights[i].color;

        // Compute outbound color
        vec3 res = compute_brdf(n, v, l, roughness, metallic,
                                f0, c_diff, base_color.rgb, radiance);
        color.xyz += res;
    }
    for (int i = 0; i < SCENE_SPOT_LIGHTS; i++) {  // scenegen: compile-time count
        vec3 position = spot_lights[i].position;
        vec3 v = normalize(cam_pos - frag_position); // Vector towards camera
        vec3 l = normalize(position - frag_position); // Vector towards light

        // Compute attenuation and radiance
        vec3 direction = spot_lights[i].direction;
        float las = spot_lights[i].light_angle_scale;
        float lao = spot_lights[i].light_angle_offset;
        float dist = length(position - frag_position);
        float cd = clamp(dot(direction, -l), 0.0, 1.0);
        float attenuation = clamp(cd * las + lao, 0.0, 1.0);
        attenuation = attenuation * attenuation * spot_lights[i].intensity;
        attenuation = attenuation / (dist * dist);
        vec3 radiance = attenuation * spot_lights[i].color;

        // Compute outbound color
        vec3 res = compute_brdf(n, v, l, roughness, metallic,
                                f0, c_diff, base_color.rgb, radiance);
#ifdef SPOT_LIGHT_SHADOWS
        float nl = clamp(dot(n,l), 0.0, 1.0);
        float shadow = shadow_calc(
            spot_lights[i].light_matrix,
            spot_lights[i].shadow_map,
            nl,
            shadow_point(l)
        );
        res = res * (1.0 - shadow);
#endif
        color.xyz += res;
    }
    // scenegen: hemisphere ambient, sky light from above and ground bounce from below
    color.xyz += c_diff * mix(ambient_ground, ambient_light, 0.5 + 0.5 * n.y);

    // Calculate lighting from environment
#ifdef USE_IBL
    // TODO
#endif

    // Apply occlusion
#ifdef HAS_OCCLUSION_TEX
    float ao = texture(material.occlusion_texture, uv_0).r;
    color.xyz *= ao;
#endif

    // Apply emissive map
    vec3 emissive = material.emissive_factor;
#ifdef HAS_EMISSIVE_TEX
    emissive *= srgb_to_linear(texture(material.emissive_texture, uv_0)).rgb;
#endif
    color.xyz += emissive * material.emissive_factor;

#ifdef COLOR_0_LOC
    color *= color_multiplier;
#endif

    // scenegen: distance fog
    if (fog_density > 0.0) {
        float fog = 1.0 - exp(-fog_density * length(cam_pos - frag_position));
        color.xyz = mix(color.xyz, fog_color, fog);
    }
    frag_color = clamp(vec4(pow(color.xyz, vec3(1.0/2.2)), coverage), 0.0, 1.0);

#else
    // TODO GLOSSY MATERIAL BRDF
#endif

///////////////////////////////////////////////////////////////////////////////
// Handle Glossy Materials
///////////////////////////////////////////////////////////////////////////////

}
