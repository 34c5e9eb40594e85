// Keras weights in HDF5 (core/hdf5.cpp, core/keras.cpp): the superblock, object headers and their
// continuations, group B-trees, local and global heaps, attributes and datasets. Beyond the Keras
// layout, every member of the root group is read as a dataset and its attributes as strings, so
// that files without layer_names reach the same code.
#include "core/hdf5.h"
#include "core/keras.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes = sr::fuzz::bytes(data, size);
    sr::fuzz::refusing_is_fine([&] { sr::parse_keras_weights(bytes, "input.hdf5"); });
    return sr::fuzz::refusing_is_fine([&] {
        const sr::hdf5::File f(bytes, "input.hdf5");
        for (const std::string& member : f.members("")) {
            sr::fuzz::refusing_is_fine([&] { (void)f.string_attribute(member, "weight_names"); });
            sr::fuzz::refusing_is_fine([&] { (void)f.dataset(member); });
        }
    });
}
