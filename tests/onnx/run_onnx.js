// Runs an ONNX model in onnxruntime (the npm package onnxruntime-node, which tools/test.sh installs
// into build/npm): the runtime srforge's exported models are checked against.
//   NODE_PATH=build/npm/node_modules node tests/onnx/run_onnx.js MODEL.onnx IN.f32 N,C,H,W OUT.f32
// IN.f32 and OUT.f32 are raw little-endian float32; the output's shape is printed.
const fs = require("fs");
const ort = require("onnxruntime-node");

async function main() {
  const [model, inPath, shape, outPath] = process.argv.slice(2);
  const dims = shape.split(",").map(Number);
  const bytes = fs.readFileSync(inPath);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const session = await ort.InferenceSession.create(model);
  const result = await session.run({ input: new ort.Tensor("float32", data, dims) });
  const out = result.output;
  fs.writeFileSync(outPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(out.dims.join(","));
}

main().catch((e) => {
  console.error(`run_onnx: ${e.message}`);
  process.exit(1);
});
