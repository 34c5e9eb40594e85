// Keras weights read natively (core/hdf5.cpp, core/keras.cpp), against files h5py wrote in Keras'
// save_weights layout (tests/fixtures/hdf5, made by tools/reference/make_hdf5_fixtures.py).
#include <doctest/doctest.h>

#include <filesystem>

#include "autograd/node.h"
#include "core/file.h"
#include "core/hdf5.h"
#include "core/image_io.h"
#include "core/keras.h"
#include "core/pth.h"
#include "models/spec.h"
#include "tests/test_util.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

const std::string kHdf5 = std::string(SR_SOURCE_DIR) + "/tests/fixtures/hdf5/";

// The network a fixture was made from, run on the fixture's input: PyTorch's output to 1e-5.
void check_network(const std::string& name, bool with_spec) {
    CAPTURE(name);
    CAPTURE(with_spec);
    const SafetensorsFile io = read_safetensors(kHdf5 + name + ".io.safetensors");
    std::string used;
    std::shared_ptr<Network> net = load_network(with_spec ? io.metadata.at("spec") : "", kHdf5 + name + ".hdf5", false, &used);
    net->eval();
    NoGradGuard no_grad;
    const Difference d = largest_difference(net->forward(io.at("input")), io.at("output"));
    CHECK(d.worst <= 1e-5 * d.scale);
}

}  // namespace

TEST_CASE("idealo ISR's Keras weights load into srforge's RDN and RRDN and give PyTorch's outputs") {
    for (const char* name : {"isr_rdn", "isr_rdn_shuffle", "isr_rrdn"}) {
        check_network(name, true);
        check_network(name, false);  // recognised from the names and shapes alone
    }
}

TEST_CASE("HDF5 as h5py writes it: fixed- and variable-length strings, chunked attribute lists, model.save's group") {
    const std::string rdn = read_file(kHdf5 + "isr_rdn.hdf5");  // fixed-length strings (h5py 2)
    const hdf5::File a(rdn, "isr_rdn.hdf5");
    const std::vector<std::string> layers = a.string_attribute("", "layer_names").value();
    REQUIRE(layers.size() == 17);  // LR, F_m1, F_0, two blocks of 3 convs and LFF, GFF_1/2, UPN1-3, SR
    CHECK(layers.front() == "LR");
    CHECK(layers[1] == "F_m1");
    CHECK(a.string_attribute("LR", "weight_names").value().empty());  // h5py writes [] as an empty float array
    CHECK(a.string_attribute("F_m1", "weight_names").value() == std::vector<std::string>{"F_m1/kernel:0", "F_m1/bias:0"});
    CHECK(!a.string_attribute("F_m1", "nothing").has_value());
    CHECK(a.dataset("F_m1/F_m1/kernel:0").shape() == Shape{3, 3, 3, 8});  // Keras' [kh, kw, in, out]
    CHECK(a.members("F_m1") == std::vector<std::string>{"F_m1"});
    CHECK(!a.exists("F_m1/F_m2"));
    CHECK(error_of([&] { (void)a.dataset("F_m1"); }).find("'F_m1' is not a dataset") != std::string::npos);
    CHECK(error_of([&] { (void)a.dataset("nowhere/x"); }).find("it has no 'nowhere/x'") != std::string::npos);

    const std::string rrdn = read_file(kHdf5 + "isr_rrdn.hdf5");  // variable-length strings (h5py 3), model_weights
    const hdf5::File b(rrdn, "isr_rrdn.hdf5");
    CHECK(!b.string_attribute("model_weights", "layer_names").has_value());
    const std::vector<std::string> first = b.string_attribute("model_weights", "layer_names0").value();
    CHECK(first.front() == "LR");
    CHECK(b.string_attribute("model_weights", "backend").value() == std::vector<std::string>{"tensorflow"});
    const SafetensorsFile f = parse_keras_weights(rrdn, "isr_rrdn.hdf5");  // both chunks of layer_names
    CHECK(f.metadata.at("format") == "keras-hdf5");
    CHECK(f.at("Pre_blocks_conv.weight").shape() == Shape{8, 3, 3, 3});  // PyTorch's [out, in, kh, kw]
    CHECK(f.tensors.back().first == "SR.bias");
}

TEST_CASE("the tools take a Keras .hdf5 directly") {
    const std::string dir = (fs::temp_directory_path() / "srforge_test_hdf5_tools").string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string image = std::string(SR_SOURCE_DIR) + "/tests/fixtures/images/rgba8.png";
    REQUIRE(std::system((std::string(SR_TOOLS_DIR) + "/sr_upscale --quiet --weights " + kHdf5 + "isr_rdn.hdf5 --input " + image +
                         " --output " + dir + "/big.png")
                            .c_str()) == 0);
    ImageInfo in, out;
    (void)read_image(image, 0, &in);
    (void)read_image(dir + "/big.png", 0, &out);
    CHECK(out.width == 2 * in.width);
    REQUIRE(std::system((std::string(SR_TOOLS_DIR) + "/sr_info --depth 1 --weights " + kHdf5 + "isr_rrdn.hdf5 > " + dir + "/info.txt").c_str()) == 0);
    CHECK(read_file(dir + "/info.txt").find("keras-hdf5, 32 tensors, 11948 values\nmodel (recognised from names and shapes): rrdn:C=2,D=2,G=4,G0=8,T=2,x=4") !=
          std::string::npos);
}

TEST_CASE("HDF5 files srforge does not read, and damaged ones, give one clear error each, never a crash") {
    CHECK(error_of([] { (void)read_weights(kHdf5 + "chunked.hdf5"); }).find("is compressed or filtered, which srforge does not read") !=
          std::string::npos);
    CHECK(error_of([] { (void)read_weights(kHdf5 + "latest.hdf5"); }).find("superblock version 3") != std::string::npos);
    CHECK(error_of([] { (void)read_weights(kHdf5 + "not_keras.hdf5"); }).find("without Keras' 'layer_names': not Keras weights") !=
          std::string::npos);
    // A group B-tree whose two children are one symbol table node: refused, not listed twice (a
    // small file could otherwise list a table 65535 times over).
    std::string twice = read_file(kHdf5 + "isr_rdn.hdf5");
    const size_t tree = twice.find("TREE");
    REQUIRE(tree != std::string::npos);
    twice[tree + 6] = 2;                          // entries used (a leaf: its children are symbol table nodes)
    twice.replace(tree + 48, 8, twice, tree + 32, 8);  // child 1 = child 0 (after key 0, child 0, key 1; 8-byte fields)
    CHECK(error_of([&] { (void)parse_keras_weights(twice, "twice.hdf5"); }).find("a symbol table node listed twice") != std::string::npos);
    // Cuts of a file, and bytes overwritten in its structures (the first 4 KiB: superblock, headers, B-trees, heaps).
    const std::string bytes = read_file(kHdf5 + "isr_rrdn.hdf5");
    size_t refused = 0, read = 0;
    for (size_t n = 0; n < bytes.size(); n += 97) {
        CAPTURE(n);
        CHECK(error_of([&] { (void)parse_keras_weights(bytes.substr(0, n), "cut.hdf5"); }) != "(no error)");
    }
    for (size_t at = 0; at < 4096; at += 3) {
        CAPTURE(at);
        std::string damaged = bytes;
        damaged[at] = char(uint8_t(damaged[at]) ^ 0xA5);
        const std::string e = error_of([&] { (void)parse_keras_weights(damaged, "damaged.hdf5"); });
        (e == "(no error)" ? read : refused) += 1;
    }
    CHECK(refused > 100);  // most structure bytes matter; the rest (padding, unused fields) may change freely
    MESSAGE("damaged bytes: ", refused, " refused, ", read, " read anyway");
}
