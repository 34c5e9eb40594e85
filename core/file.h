// Whole-file reads and atomic writes. A write goes to a temporary file beside the target, is
// flushed, then renamed over it: a crash or a full disk never leaves a half-written checkpoint or
// image in place of a good one.
#pragma once

#include <string>

namespace sr {

// The file's bytes; a missing or unreadable file is an sr::Error naming it.
std::string read_file(const std::string& path);

void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace sr
