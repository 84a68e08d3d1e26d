// scenegen --compress: a GLB's textures to KTX2 (Basis Universal) and its meshes to meshopt, with glTF-Transform.
//
//   node gltf_compress.mjs IN.glb OUT.glb
//
// Normal maps (normalTexture) are encoded as UASTC (+ Zstandard), linear; the data maps that share channels
// (ORM: metallicRoughnessTexture and occlusionTexture) as UASTC, linear, too; colour (baseColorTexture, with
// its alpha) as ETC1S, sRGB. Every texture gets mipmaps. Geometry is reordered, quantised (KHR_mesh_quantization)
// and meshopt-compressed (EXT_meshopt_compression). Deterministic: same input, same bytes. Called by
// scenegen/scene/gltf_compress.py, which documents the choices; prints one JSON line with the texture modes.
import { readFileSync, writeFileSync } from "node:fs";

import { Logger, NodeIO } from "@gltf-transform/core";
import { ALL_EXTENSIONS, EXTMeshoptCompression, KHRTextureBasisu } from "@gltf-transform/extensions";
import { meshopt, quantize, reorder } from "@gltf-transform/functions";
import { encodeToKTX2 } from "ktx2-encoder";
import { MeshoptEncoder } from "meshoptimizer";
import { PNG } from "pngjs";

const [input, output] = process.argv.slice(2);
const LINEAR_UASTC = new Set(["normalTexture", "metallicRoughnessTexture", "occlusionTexture"]);
const UASTC_RDO = 1.0;  // rate-distortion lambda of the UASTC encoder (basisu -uastc_rdo_l; higher = smaller)
const ETC1S_QUALITY = 128;  // basisu -q (1-255)

async function decodePng(buffer) {
  const png = PNG.sync.read(Buffer.from(buffer));
  return { data: new Uint8Array(png.data), width: png.width, height: png.height };
}

function slotsOf(document, texture) {
  const root = document.getRoot();
  return Array.from(new Set(texture.getGraph().listParentEdges(texture)
    .filter((edge) => edge.getParent() !== root).map((edge) => edge.getName())));
}

await MeshoptEncoder.ready;
const logger = new Logger(Logger.Verbosity.ERROR);
const io = new NodeIO().setLogger(logger).registerExtensions(ALL_EXTENSIONS).registerDependencies({ "meshopt.encoder": MeshoptEncoder });
const document = (await io.readBinary(new Uint8Array(readFileSync(input)))).setLogger(logger);
const report = { textures: [] };
let encoded = 0;
for (const texture of document.getRoot().listTextures()) {
  if (texture.getMimeType() !== "image/png") continue;
  const slots = slotsOf(document, texture);
  const data = slots.length > 0 && slots.every((slot) => LINEAR_UASTC.has(slot));
  const options = data
    ? { isUASTC: true, needSupercompression: true, enableRDO: true, rdoQualityLevel: UASTC_RDO, isPerceptual: false,
        isSetKTX2SRGBTransferFunc: false, generateMipmap: true, imageDecoder: decodePng, enableDebug: false }
    : { isUASTC: false, qualityLevel: ETC1S_QUALITY, compressionLevel: 2, isPerceptual: true,
        isSetKTX2SRGBTransferFunc: true, generateMipmap: true, imageDecoder: decodePng, enableDebug: false };
  const before = texture.getImage().byteLength;
  const ktx2 = await encodeToKTX2(texture.getImage(), options);
  texture.setImage(ktx2).setMimeType("image/ktx2");
  report.textures.push({ name: texture.getName(), slots, mode: data ? "uastc" : "etc1s", png_bytes: before,
                         ktx2_bytes: ktx2.byteLength });
  encoded += 1;
}
if (encoded) document.createExtension(KHRTextureBasisu).setRequired(true);
if (document.getRoot().listMeshes().length) {
  await document.transform(reorder({ encoder: MeshoptEncoder }), quantize(),
                           meshopt({ encoder: MeshoptEncoder, level: "medium" }));
  document.createExtension(EXTMeshoptCompression).setRequired(true);
}
writeFileSync(output, await io.writeBinary(document));
console.log(JSON.stringify(report));
