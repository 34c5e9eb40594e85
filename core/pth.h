// PyTorch checkpoints (.pth, .pt, .ckpt) read in C++, with no Python and no code run.
//
// Two containers, told apart by their first bytes:
//   zip (torch.save since PyTorch 1.6): ARCHIVE/data.pkl, the pickled object, and ARCHIVE/data/KEY,
//     the raw little-endian bytes of each storage; read with libzip (Debian's libzip-dev);
//   legacy (older torch.save, or _use_new_zipfile_serialization=False; the ESRGAN releases):
//     four pickles in a row — a magic number, the protocol (1001), the writer's sys_info, the
//     object — then a pickled list of storage keys, then per key an 8-byte element count and the
//     bytes.
// The pickles go through the restricted reader of core/pickle.h: a file that names any Python
// object beyond what a state dict needs is refused, whole.
//
// The state dict is found as the field's loaders find it: `key` if given (or `params` when the
// file lacks `key` but has that, as BasicSR falls back), else the first of
// BasicSR's `params_ema` and `params`, `state_dict` (Lightning, Lornatang's SRGAN) and `model`
// that holds a dict, else the object itself; names lose DataParallel's `module.` and
// torch.compile's `_orig_mod.` prefixes. Entries that are not tensors are left out. dtypes as in
// safetensors: float16/bfloat16 widen to F32, the integer and bool types are kept.
#pragma once

#include <memory>
#include <string>

#include "core/pickle.h"
#include "core/safetensors.h"

namespace sr {

// The tensors of a checkpoint, in the file's order; metadata "format" ("pth-zip" or
// "pth-legacy") and, when a wrapper held them, "state_dict_key".
SafetensorsFile read_pth(const std::string& path, const std::string& key = "");
SafetensorsFile parse_pth(const std::string& bytes, const std::string& what, const std::string& key = "");

// Any weights file: a PyTorch checkpoint, Keras weights (HDF5, core/keras.h) or a safetensors
// file, by its first bytes (not its name). `key` chooses a checkpoint's wrapper entry (BasicSR's
// param_key_g); the other kinds have none and ignore it.
SafetensorsFile read_weights(const std::string& path, const std::string& key = "");
bool is_pth(const std::string& bytes);

// A checkpoint's whole pickled object, for files that hold more than a state dict (BasicSR's
// training states: the iteration, the optimisers' state by parameter index, the schedulers). Its
// tensors are read on request. `bytes` must outlive the object.
class PthObject {
public:
    PthObject(const std::string& bytes, const std::string& what);
    ~PthObject();
    PthObject(const PthObject&) = delete;
    PthObject& operator=(const PthObject&) = delete;

    const pickle::Value& root() const;
    // A value of kind Tensor as a contiguous tensor (float16/bfloat16 widened to F32); `name` is
    // for errors.
    Tensor tensor(const pickle::Value& value, const std::string& name) const;
    const char* format() const;  // "pth-zip" or "pth-legacy"

private:
    struct Contents;
    std::string what_;
    std::unique_ptr<Contents> contents_;
};

}  // namespace sr
