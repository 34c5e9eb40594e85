// Safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the raw little-endian tensor bytes.
//
// Reading validates everything before any tensor is built: the header length against the file
// size, the JSON, every dtype, shape and offset pair against the data size (byte counts must equal
// shape x itemsize, tensors must tile the data region exactly with no gap or overlap). A truncated,
// corrupt or hostile file gives one sr::Error naming the file and the problem, never a crash or an
// out-of-bounds read.
//
// dtypes read: F32, F64, U8, I8, I16, I32, I64 and BOOL (kept), F16 and BF16 (widened to F32).
// Written: all but F16 and BF16.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sr {

struct SafetensorsFile {
    std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
    std::map<std::string, std::string> metadata;

    const Tensor* find(const std::string& name) const;
    const Tensor& at(const std::string& name) const;  // an error naming the file's keys if missing
};

SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what);

// Tensors are copied to the CPU and written contiguously, in the order given; atomic (core/file.h).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

}  // namespace sr
