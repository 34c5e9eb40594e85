// HDF5 files read in C++, for Keras weights (core/keras.h): the part of the format that h5py and
// Keras write by default, parsed with every offset checked, so that a damaged or hostile file
// gets one error and never a read outside its bytes. (The HDF5 library itself is a poor fit for
// files from strangers; fuzzers find crashes in it. tests/fuzz/fuzz_hdf5.cpp fuzzes this reader.)
//
// The format (HDF5 File Format Specification, version 0 structures):
//   superblock   signature "\x89HDF\r\n\x1a\n", version 0 or 1, the sizes of addresses and lengths,
//                and the root group's symbol table entry;
//   object header  version 1: a list of messages (dataspace, datatype, data layout, attributes,
//                the symbol table of a group), continued in further blocks;
//   group        a B-tree (version 1, "TREE") whose leaves are symbol table nodes ("SNOD") of
//                entries: a name (an offset into the group's local heap, "HEAP") and the address
//                of the member's object header;
//   dataset      its element type, shape, and bytes stored contiguously or in the header (compact);
//   strings      fixed-length, or variable-length (h5py 3's lists of strings) in global heap
//                collections ("GCOL").
// Not read (each one clear error): superblock versions 2 and 3 (h5py's libver="latest"), new-style
// groups (link messages), chunked or compressed datasets, big-endian data.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr::hdf5 {

bool is_hdf5(const std::string& bytes);  // by its signature

class File {
public:
    // `bytes` must outlive the File; `what` names it in errors.
    File(const std::string& bytes, const std::string& what);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    // Paths are "/"-separated from the root group ("" is the root itself).
    bool exists(const std::string& path) const;
    std::vector<std::string> members(const std::string& group) const;  // in the B-tree's (name) order
    // An attribute of an object as strings: fixed- or variable-length strings (one, or an array of
    // them), or an empty array of any type (h5py writes [] as an empty float array). nullopt when the
    // object has no attribute of that name.
    std::optional<std::vector<std::string>> string_attribute(const std::string& path, const std::string& name) const;
    // A dataset of floating-point numbers (16, 32 or 64 bits) as an F32 tensor of its shape.
    Tensor dataset(const std::string& path) const;

private:
    struct Reader;
    std::unique_ptr<Reader> reader_;
};

}  // namespace sr::hdf5
