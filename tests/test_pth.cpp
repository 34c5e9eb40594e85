// PyTorch checkpoints read natively (core/pth.cpp, core/pickle.cpp), against files torch.save
// wrote (tests/fixtures/pth, made by tools/reference/make_pth_fixtures.py).
#include <doctest/doctest.h>
#include <zip.h>

#include <filesystem>

#include "autograd/node.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/pth.h"
#include "models/spec.h"
#include "tests/test_util.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

const std::string kPth = std::string(SR_SOURCE_DIR) + "/tests/fixtures/pth/";

std::vector<double> values(const SafetensorsFile& f, const std::string& name) { return to_vector(f.at(name)); }

// The network a fixture was made from, run on the fixture's input: PyTorch's output to 1e-5.
void check_network(const std::string& name, const std::string& weights, bool with_spec = true) {
    CAPTURE(name);
    const SafetensorsFile io = read_safetensors(kPth + name + ".io.safetensors");
    std::shared_ptr<Network> net = load_network(with_spec ? io.metadata.at("spec") : "", weights);
    net->eval();
    NoGradGuard no_grad;
    const Difference d = largest_difference(net->forward(io.at("input")), io.at("output"));
    CHECK(d.worst <= 1e-5 * d.scale);
}

// A copy of a zip fixture with one entry's bytes replaced (libzip writes it).
std::string with_entry(const std::string& fixture, const std::string& suffix, const std::string& bytes, const std::string& out) {
    fs::copy_file(kPth + fixture, out, fs::copy_options::overwrite_existing);
    int err = 0;
    zip_t* z = zip_open(out.c_str(), 0, &err);
    REQUIRE(z);
    zip_int64_t index = -1;
    for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i)
        if (std::string(zip_get_name(z, zip_uint64_t(i), 0)).ends_with(suffix)) index = i;
    REQUIRE(index >= 0);
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    REQUIRE(zip_file_replace(z, zip_uint64_t(index), src, 0) == 0);
    REQUIRE(zip_close(z) == 0);
    return out;
}

}  // namespace

TEST_CASE("every storage type, strided views and shared storages read as torch.save wrote them, zip and legacy") {
    for (const char* file : {"dtypes.pth", "dtypes_legacy.pth"}) {
        CAPTURE(file);
        const SafetensorsFile f = read_pth(kPth + file);
        CHECK(f.metadata.at("format") == (std::string(file) == "dtypes.pth" ? "pth-zip" : "pth-legacy"));
        std::vector<double> arange12(12);
        for (int i = 0; i < 12; ++i) arange12[size_t(i)] = i;
        CHECK(f.at("f32").shape() == Shape{3, 4});
        CHECK(values(f, "f32") == arange12);
        CHECK(f.at("f64").dtype() == DType::F64);
        CHECK(values(f, "f16")[5] == 1.25);
        CHECK(values(f, "bf16")[11] == 2.75);
        CHECK(f.at("f16").dtype() == DType::F32);
        CHECK(f.at("i64").dtype() == DType::I64);
        CHECK(f.at("i64").data<int64_t>()[1] == int64_t(1) << 40);
        CHECK(values(f, "i32") == std::vector<double>{-7, 7});
        CHECK(values(f, "i16") == std::vector<double>{300});
        CHECK(values(f, "i8") == std::vector<double>{-128});
        CHECK(values(f, "u8") == std::vector<double>{0, 255});
        CHECK(f.at("bool").dtype() == DType::Bool);
        CHECK(values(f, "bool") == std::vector<double>{1, 0, 1});
        CHECK(f.at("transposed").shape() == Shape{4, 3});  // base.t(): element [i][j] is base[j][i] = 4j + i
        CHECK(values(f, "transposed") == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
        CHECK(values(f, "view_a") == std::vector<double>{2, 3, 4});
        CHECK(values(f, "view_b") == std::vector<double>{6, 7, 8, 9});
        CHECK(f.at("scalar").shape() == Shape{});
        CHECK(f.at("scalar").item() == 2.5);
    }
}

TEST_CASE("checkpoints in the field's wrappers load into srforge's networks and give PyTorch's outputs") {
    check_network("edsr_params_zip", kPth + "edsr_params_zip.pth");          // {"params": ...}, "module." prefixes
    check_network("edsr_legacy", kPth + "edsr_legacy.pth");                  // a plain OrderedDict, legacy format
    check_network("rrdbnet_ema_legacy", kPth + "rrdbnet_ema_legacy.pth");    // params_ema chosen over params
    check_network("srresnet_state_dict", kPth + "srresnet_state_dict.pth");  // state_dict, BN counters, _orig_mod.
    check_network("swinir_params", kPth + "swinir_params.pth");  // I64 relative_position_index, attn_mask buffers
    CHECK(read_pth(kPth + "rrdbnet_ema_legacy.pth").metadata.at("state_dict_key") == "params_ema");
    CHECK(read_pth(kPth + "srresnet_state_dict.pth").at("conv1.0.weight").shape().size() == 4);  // prefix gone
    // A chosen key, as param_key_g: params is another network here.
    const SafetensorsFile io = read_safetensors(kPth + "rrdbnet_params_legacy.io.safetensors");
    std::shared_ptr<Network> net = make_model(io.metadata.at("spec"));
    net->load(kPth + "rrdbnet_ema_legacy.pth", false, "params");
    net->eval();
    NoGradGuard no_grad;
    const Difference d = largest_difference(net->forward(io.at("input")), io.at("output"));
    CHECK(d.worst <= 1e-5 * d.scale);
    CHECK(error_of([] { (void)read_pth(kPth + "srresnet_state_dict.pth", "params_ema"); })
              .find("has no entry 'params_ema' (it has: state_dict, epoch, best_psnr)") != std::string::npos);
    // Without a spec, the network is recognised by its names and shapes.
    check_network("edsr_legacy", kPth + "edsr_legacy.pth", false);
    check_network("srvgg_params", kPth + "srvgg_params.pth", false);  // Real-ESRGAN's compact network
    check_network("swinir_params", kPth + "swinir_params.pth", false);  // img_size read off its attn_mask
}

TEST_CASE("the tools take a .pth directly") {
    const std::string dir = (fs::temp_directory_path() / "srforge_test_pth_tools").string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    const SafetensorsFile io = read_safetensors(kPth + "edsr_legacy.io.safetensors");
    write_safetensors(dir + "/in.safetensors", {{"input", io.at("input")}});
    const std::string cmd = std::string(SR_TOOLS_DIR) + "/sr_forward --model " + io.metadata.at("spec") + " --weights " + kPth +
                            "edsr_legacy.pth --input " + dir + "/in.safetensors --output " + dir + "/out.safetensors";
    REQUIRE(std::system((cmd + " > /dev/null").c_str()) == 0);
    const Difference d = largest_difference(read_safetensors(dir + "/out.safetensors").at("output"), io.at("output"));
    CHECK(d.worst <= 1e-5 * d.scale);
    // Given only the checkpoint, sr_upscale finds the network (params_ema's RRDBNet, x4) and sr_info says which.
    const std::string image = std::string(SR_SOURCE_DIR) + "/tests/fixtures/images/rgba8.png";
    REQUIRE(std::system((std::string(SR_TOOLS_DIR) + "/sr_upscale --quiet --weights " + kPth + "rrdbnet_ema_legacy.pth --input " + image +
                         " --output " + dir + "/big.png")
                            .c_str()) == 0);
    ImageInfo info;
    (void)read_image(dir + "/big.png", 0, &info);
    CHECK(info.width == 28);
    REQUIRE(std::system((std::string(SR_TOOLS_DIR) + "/sr_info --depth 1 --weights " + kPth + "rrdbnet_ema_legacy.pth > " + dir + "/info.txt").c_str()) == 0);
    CHECK(read_file(dir + "/info.txt").find("pth-legacy, 72 tensors, 25387 values (under 'params_ema')\nmodel (recognised from names and shapes): "
                                            "rrdbnet:num_in_ch=3,num_out_ch=3,num_feat=8,num_block=2,num_grow_ch=4,scale=4") != std::string::npos);
}

TEST_CASE("a checkpoint naming any other Python object is refused, and nothing of it runs") {
    fs::remove("/tmp/srforge_pwned");
    const std::string bad = error_of([] { (void)read_pth(kPth + "malicious.pth"); });
    CHECK(bad.find("names the Python object 'posix.system'") != std::string::npos);
    CHECK(bad.find("srforge never runs a checkpoint's code") != std::string::npos);
    CHECK(!fs::exists("/tmp/srforge_pwned"));
    const std::string object = error_of([] { (void)read_pth(kPth + "model_object.pth"); });
    CHECK(object.find("'models.EDSR'") != std::string::npos);
    CHECK(object.find("save model.state_dict()") != std::string::npos);
}

TEST_CASE("damaged checkpoints give one clear error each, never a crash") {
    const std::string dir = (fs::temp_directory_path() / "srforge_test_pth_bad").string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    // Every cut of a legacy file and many of a zip file.
    for (const char* file : {"dtypes_legacy.pth", "dtypes.pth"}) {
        const std::string bytes = read_file(kPth + file);
        for (size_t n = 0; n < bytes.size(); n += (std::string(file) == "dtypes.pth" ? 37 : 1)) {
            CAPTURE(n);
            CHECK(error_of([&] { (void)parse_pth(bytes.substr(0, n), "cut.pth"); }) != "(no error)");
        }
    }
    CHECK(error_of([] { (void)parse_pth(read_file(kPth + "dtypes.pth").substr(0, 3000), "cut.pth"); }).find("not a readable zip archive") !=
          std::string::npos);
    // A storage shorter than its tensors.
    const std::string short_storage = with_entry("dtypes.pth", "/data/0", std::string(8, '\0'), dir + "/short.pth");
    CHECK(error_of([&] { (void)read_pth(short_storage); }).find("but its tensors need 48 (the storage is too short") != std::string::npos);
    // A dtype srforge cannot use: ComplexFloatStorage in place of FloatStorage.
    std::string legacy = read_file(kPth + "dtypes_legacy.pth");
    const size_t at = legacy.find("torch\nFloatStorage\n");
    REQUIRE(at != std::string::npos);
    legacy.replace(at, 19, "torch\nComplexFloatStorage\n");
    CHECK(error_of([&] { (void)parse_pth(legacy, "complex.pth"); }).find("'torch.ComplexFloatStorage', a dtype srforge does not read") !=
          std::string::npos);
    // A stride-0 view: a few stored bytes could otherwise claim terabytes.
    CHECK(error_of([] { (void)read_pth(kPth + "expanded.pth"); }).find("has 1000 elements but its storage only 1 (an expanded view") !=
          std::string::npos);
    // Neither zip nor pickle.
    CHECK(error_of([] { (void)parse_pth("hello", "h.pth"); }).find("not a PyTorch checkpoint") != std::string::npos);
}
