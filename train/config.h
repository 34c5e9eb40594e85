// Training configuration files: the subset of YAML that BasicSR's option files use, read into the
// same tree as JSON (core/json.h): nested mappings by indentation, `- item` and `[a, b]` lists,
// numbers, true/false, null/~, plain and quoted strings, `#` comments.
//
//   name: EDSR_Lx2
//   scale: 2
//   network_g:
//     type: EDSR
//     num_feat: 256
//   train:
//     scheduler:
//       type: MultiStepLR
//       milestones: [200000]
//
// Anything outside that subset (anchors, multi-line strings, flow mappings) is a clear error
// naming the line.
#pragma once

#include <string>

#include "core/json.h"

namespace sr {

Json parse_yaml(const std::string& text, const std::string& what);
Json read_yaml(const std::string& path);

// Typed access into a config tree with a dotted path ("train.optim_g.lr"): the value, or
// `fallback` when any part of the path is missing. A value of the wrong kind is an error naming
// the path.
double config_number(const Json& root, const std::string& path, double fallback);
std::string config_text(const Json& root, const std::string& path, const std::string& fallback);
bool config_flag(const Json& root, const std::string& path, bool fallback);
const Json* config_find(const Json& root, const std::string& path);

}  // namespace sr
