// scenegen --compress: a GLB's textures to WebP, or to KTX2 (Basis Universal) with meshopt geometry, with
// glTF-Transform.
//
//   node gltf_compress.mjs IN.glb OUT.glb webp|ktx2
//
// webp: colour (baseColorTexture, with its alpha) as lossy WebP, alpha kept exactly; the data maps (normalTexture,
//   and the ORM map: metallicRoughnessTexture + occlusionTexture) as near-lossless WebP (the lossless codec, so no
//   chroma subsampling mixes their channels); an image whose WebP is not smaller stays PNG. EXT_texture_webp,
//   required. Geometry as it was: no other extension, so every loader that reads WebP reads the file (Blender,
//   Godot 4) and the validator checks every image and accessor.
// ktx2: normal and ORM maps as UASTC (+ Zstandard), linear; colour as ETC1S, sRGB; every texture with mipmaps.
//   KHR_texture_basisu, required. Geometry reordered, quantised (KHR_mesh_quantization) and meshopt-compressed
//   (EXT_meshopt_compression, required).
// Deterministic: same input, same bytes. Called by scenegen/scene/gltf_compress.py, which documents the choices;
// prints one JSON line with every texture's slots, mode and sizes.
import { readFileSync, writeFileSync } from "node:fs";

import { Logger, NodeIO } from "@gltf-transform/core";
import { ALL_EXTENSIONS, EXTMeshoptCompression, EXTTextureWebP, KHRTextureBasisu } from "@gltf-transform/extensions";
import { meshopt, quantize, reorder } from "@gltf-transform/functions";
import { encodeToKTX2 } from "ktx2-encoder";
import { MeshoptEncoder } from "meshoptimizer";
import { PNG } from "pngjs";
import sharp from "sharp";

const [input, output, format] = process.argv.slice(2);
if (!["webp", "ktx2"].includes(format)) throw new Error(`format must be webp or ktx2, got ${format}`);
const DATA_SLOTS = new Set(["normalTexture", "metallicRoughnessTexture", "occlusionTexture"]);
const UASTC_RDO = 1.0;  // rate-distortion lambda of the UASTC encoder (basisu -uastc_rdo_l; higher = smaller)
const ETC1S_QUALITY = 128;  // basisu -q (1-255)
// WebP (libwebp through sharp): effort 6 = libwebp method 6 (smallest); exact keeps the colour under transparent
// texels (the sprites' dilated edges, which mipmaps and filtering read).
const WEBP_COLOUR = { quality: 90, alphaQuality: 100, exact: true, smartSubsample: true, effort: 6 };
const WEBP_DATA = { nearLossless: true, quality: 60, effort: 6 };  // (exact would turn near-lossless off)

async function decodePng(buffer) {
  const png = PNG.sync.read(Buffer.from(buffer));
  return { data: new Uint8Array(png.data), width: png.width, height: png.height };
}

function slotsOf(document, texture) {
  const root = document.getRoot();
  return Array.from(new Set(texture.getGraph().listParentEdges(texture)
    .filter((edge) => edge.getParent() !== root).map((edge) => edge.getName())));
}

async function encode(image, data) {
  if (format === "webp") {
    const webp = await sharp(Buffer.from(image)).webp(data ? WEBP_DATA : WEBP_COLOUR).toBuffer();
    return { bytes: new Uint8Array(webp), mime: "image/webp", mode: data ? "near_lossless" : "lossy" };
  }
  const options = data
    ? { isUASTC: true, needSupercompression: true, enableRDO: true, rdoQualityLevel: UASTC_RDO, isPerceptual: false,
        isSetKTX2SRGBTransferFunc: false, generateMipmap: true, imageDecoder: decodePng, enableDebug: false }
    : { isUASTC: false, qualityLevel: ETC1S_QUALITY, compressionLevel: 2, isPerceptual: true,
        isSetKTX2SRGBTransferFunc: true, generateMipmap: true, imageDecoder: decodePng, enableDebug: false };
  return { bytes: await encodeToKTX2(image, options), mime: "image/ktx2", mode: data ? "uastc" : "etc1s" };
}

sharp.concurrency(1);  // one libvips thread (the encodes run one after another; same input, same bytes: tested)
await MeshoptEncoder.ready;
const logger = new Logger(Logger.Verbosity.ERROR);
const io = new NodeIO().setLogger(logger).registerExtensions(ALL_EXTENSIONS).registerDependencies({ "meshopt.encoder": MeshoptEncoder });
const document = (await io.readBinary(new Uint8Array(readFileSync(input)))).setLogger(logger);
const report = { format, textures: [] };
for (const texture of document.getRoot().listTextures()) {
  if (texture.getMimeType() !== "image/png") continue;
  const slots = slotsOf(document, texture);
  const data = slots.length > 0 && slots.every((slot) => DATA_SLOTS.has(slot));
  const before = texture.getImage().byteLength;
  const encoded = await encode(texture.getImage(), data);
  const keep = format === "webp" && encoded.bytes.byteLength >= before;  // a tiny or flat image: PNG is smaller
  if (!keep) texture.setImage(encoded.bytes).setMimeType(encoded.mime);
  report.textures.push({ name: texture.getName(), slots, mode: keep ? "png" : encoded.mode, png_bytes: before,
                         bytes: keep ? before : encoded.bytes.byteLength });
}
if (report.textures.some((t) => t.mode !== "png")) {
  document.createExtension(format === "webp" ? EXTTextureWebP : KHRTextureBasisu).setRequired(true);
}
if (format === "ktx2" && document.getRoot().listMeshes().length) {
  await document.transform(reorder({ encoder: MeshoptEncoder }), quantize(),
                           meshopt({ encoder: MeshoptEncoder, level: "medium" }));
  document.createExtension(EXTMeshoptCompression).setRequired(true);
}
writeFileSync(output, await io.writeBinary(document));
console.log(JSON.stringify(report));
