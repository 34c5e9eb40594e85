// A restricted reader of Python pickles, for PyTorch checkpoints (core/pth.h).
//
// A pickle is a program for a small stack machine; Python's own unpickler runs it, and a GLOBAL
// followed by REDUCE calls any function the file names (`os.system` included): loading an
// untrusted .pth with plain torch.load runs its code. This reader builds plain values only and
// accepts just the globals that PyTorch's `weights_only=True` loader accepts for state dicts and
// training states: OrderedDict, Counter (a scheduler's milestones), the tensor rebuild functions,
// the typed storages and torch.Size. Any other global is refused with one error naming it, before
// anything is built from it; no opcode runs code.
//
// Tensors are not built here: a rebuild call becomes a Value of kind Tensor that refers to its
// storage (a persistent id: dtype, key, element count); core/pth.cpp finds the bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"

namespace sr::pickle {

// Values refer to each other by plain pointers into their Pickle's arena, which owns them all:
// the memo lets one object appear in several places (even inside itself), and an arena frees a
// cyclic or million-deep structure without recursion.
struct Value;
using Ref = Value*;

struct Value {
    enum class Kind { None, Bool, Int, BigInt, Float, String, Bytes, List, Tuple, Dict, Global, Storage, Tensor };
    Kind kind = Kind::None;
    int64_t integer = 0;          // Bool, Int
    double number = 0;            // Float
    std::string text;             // String, Bytes, BigInt (little-endian two's complement), Global ("module.name")
    std::vector<Ref> items;       // List, Tuple; a Dict's values
    std::vector<Ref> keys;        // Dict: keys[i] maps to items[i], in insertion order
    std::unordered_map<std::string, size_t> index;  // Dict: string and integer keys -> position

    // Storage: a persistent id ('storage', type, key, location, numel[, view]).
    std::string storage_type;     // "HalfStorage", "FloatStorage", ...
    std::string storage_key;
    int64_t storage_numel = 0;

    // Tensor: a view of a storage.
    Ref storage;
    int64_t offset = 0;
    Shape size;
    std::vector<int64_t> stride;

    bool is(Kind k) const { return kind == k; }
    const Value* find(const std::string& key) const;  // a Dict's entry with this string key, or null
    const Value* find(int64_t key) const;             // ... with this integer key (an optimiser's state)
};

const char* kind_name(Value::Kind kind);

struct Pickle {
    std::deque<Value> arena;  // a deque: pointers to its elements stay valid as it grows
    Ref root = nullptr;
};

// Runs one pickle starting at bytes[*pos] up to its STOP; *pos is left just after it (legacy
// checkpoints hold several pickles in a row). `what` names the file in errors.
Pickle load(const std::string& bytes, size_t* pos, const std::string& what);

}  // namespace sr::pickle
