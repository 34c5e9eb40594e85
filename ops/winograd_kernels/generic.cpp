// The Winograd transforms for any x86-64, built with the library's own flags (SSE2 vectors): the
// fallback, and what tests compare the others with.
#include "ops/winograd_kernels/transforms.h"

namespace sr::winograd_kernels {

Transforms generic_transforms() { return transforms_table("generic"); }

}  // namespace sr::winograd_kernels
