// ONNX export of a generator, for deployment (onnxruntime, TensorRT, a browser).
//
// The network's forward() runs once on an example input under a Trace (autograd/trace.h); each
// recorded op becomes one or a few ONNX nodes (opset 17), its parameters and buffers become
// initializers under their state-dict names, and constants it makes on the way are stored as they
// were. The graph's input is "input" and its output "output", both NCHW float32 with the batch,
// the height and the width left dynamic. An op the exporter does not know, or a value computed
// outside the traced ops, is an error naming it: never a silently wrong graph. The graph takes
// what forward() takes: [0, 1] for SR networks, [-1, 1] for CycleGAN's generator (its
// Network::value_range; sr_upscale maps images for it, an ONNX runtime user must do the same).
//
// Built as its own library (sr_onnx), as it needs Debian's libonnx-dev and protobuf.
#pragma once

#include <string>

#include "models/module.h"

namespace sr {

// The serialized ModelProto. `spec` is stored as the model's doc string and metadata "spec".
std::string export_onnx(Network& net, const std::string& spec);

}  // namespace sr
