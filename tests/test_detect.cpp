// Architecture detection (models/detect.cpp): each generator fixture of tests/fixtures/models,
// given only its tensors, is recognised, and the recognised network gives PyTorch's output; the
// original ESRGAN and EDSR-PyTorch layouts are renamed; an unknown file is one clear error.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>

#include "autograd/node.h"
#include "core/safetensors.h"
#include "models/detect.h"
#include "models/spec.h"
#include "tests/test_util.h"

using namespace sr;

namespace {

const std::string kModels = std::string(SR_SOURCE_DIR) + "/tests/fixtures/models/";

// The fixture's state dict ("param." and "buffer." tensors).
NamedTensors state_of(const SafetensorsFile& f) {
    NamedTensors out;
    for (const auto& [n, t] : f.tensors)
        for (const char* prefix : {"param.", "buffer."})
            if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(std::string(prefix).size()), t);
    return out;
}

// The detected network, loaded with the tensors, on the fixture's input: PyTorch's output.
void check_detected(const SafetensorsFile& f, const NamedTensors& tensors) {
    const DetectedNetwork d = detect_network(tensors);
    INFO("detected: ", d.spec);
    std::shared_ptr<Network> net = make_model(d.spec);
    net->load_state_dict(d.tensors);
    net->eval();
    NoGradGuard no_grad;
    const Difference diff = largest_difference(net->forward(f.at("input")), f.at("output"));
    CHECK(diff.worst <= 1e-5 * std::max(diff.scale, 1e-3));
}

NamedTensors renamed(const NamedTensors& tensors, const std::vector<std::pair<std::regex, std::string>>& rules) {
    NamedTensors out;
    for (const auto& [n, t] : tensors) {
        std::string name = n;
        for (const auto& [pattern, replacement] : rules) name = std::regex_replace(name, pattern, replacement);
        out.emplace_back(name, t);
    }
    return out;
}

}  // namespace

TEST_CASE("every generator is recognised from its tensors alone, with every argument the shapes hold") {
    const char* fixtures[] = {"edsr_x2",          "edsr_x3",         "msrresnet_x2",      "msrresnet_x3", "msrresnet_x4",
                              "rdn_isr_shuffle_x3", "rdn_isr_ups_x2", "rdn_x2",            "rdn_x3",       "rdn_x4",
                              "rrdbnet_x1",       "rrdbnet_x2",      "rrdbnet_x4",        "rrdn_x2",      "rrdn_x4",
                              "srresnet_x2_eval", "srresnet_x4_eval", "srvgg_compact_x4", "swinir_classical_x2",
                              "swinir_lightweight_x3_odd", "swinir_real_x4_3conv", "hat_x2", "drct_x2", "drct_x4_gray_odd"};
    for (const char* name : fixtures) {
        CAPTURE(name);
        const SafetensorsFile f = read_safetensors(kModels + name + ".safetensors");
        check_detected(f, state_of(f));
    }
    // res_scale is no weight: detection assumes EDSR-M's 1 and says so; the note names the way out.
    const SafetensorsFile f = read_safetensors(kModels + "edsr_x4_res0.1.safetensors");
    const DetectedNetwork d = detect_network(state_of(f));
    CHECK(d.spec == "edsr:num_in_ch=3,num_out_ch=3,num_feat=8,num_block=1,upscale=4");
    CHECK(d.note.find("give --model") != std::string::npos);
    // The transformers' constants that no weight holds: SwinIR's img_range, HAT's conv_scale. With
    // the fixture's value added to the detected spec, the network is PyTorch's.
    const struct {
        const char* fixture;
        const char* spec;
        const char* stated;
    } unstored[] = {
        {"swinir_denoise_gray", "swinir:upscale=1,in_chans=1,img_size=8,depths=[2],window_size=4,embed_dim=8,num_heads=[2],mlp_ratio=4,resi_connection=1conv",
         ",img_range=255"},
        {"hat_x3_identity_odd", "hat:upscale=3,in_chans=3,depths=[1],window_size=4,embed_dim=8,num_heads=[2],mlp_ratio=4,compress_ratio=2,"
                                "squeeze_factor=2,overlap_ratio=0.5,upsampler=pixelshuffle,resi_connection=identity", ",conv_scale=0.5"},
    };
    for (const auto& u : unstored) {
        CAPTURE(u.fixture);
        const SafetensorsFile t = read_safetensors(kModels + u.fixture + ".safetensors");
        const DetectedNetwork found = detect_network(state_of(t));
        CHECK(found.spec == u.spec);
        CHECK(found.note.find("give --model") != std::string::npos);
        std::shared_ptr<Network> net = make_model(found.spec + u.stated);
        net->load_state_dict(found.tensors);
        net->eval();
        NoGradGuard no_grad;
        const Difference diff = largest_difference(net->forward(t.at("input")), t.at("output"));
        CHECK(diff.worst <= 1e-5 * std::max(diff.scale, 1e-3));
    }
}

TEST_CASE("the original ESRGAN and EDSR-PyTorch names are renamed to BasicSR's") {
    const SafetensorsFile rrdb = read_safetensors(kModels + "rrdbnet_x4.safetensors");
    check_detected(rrdb, renamed(state_of(rrdb), {{std::regex(R"(^body\.(\d+)\.rdb([123])\.)"), "RRDB_trunk.$1.RDB$2."},
                                                  {std::regex(R"(^conv_body\.)"), "trunk_conv."},
                                                  {std::regex(R"(^conv_up1\.)"), "upconv1."},
                                                  {std::regex(R"(^conv_up2\.)"), "upconv2."},
                                                  {std::regex(R"(^conv_hr\.)"), "HRconv."}}));
    // Module::load renames too, so train_sr's pretrain_network_g takes the original ESRGAN release.
    const std::string esrgan_path = (std::filesystem::temp_directory_path() / "srforge_esrgan_names.safetensors").string();
    write_safetensors(esrgan_path, renamed(state_of(rrdb), {{std::regex(R"(^body\.(\d+)\.rdb([123])\.)"), "RRDB_trunk.$1.RDB$2."},
                                                            {std::regex(R"(^conv_body\.)"), "trunk_conv."}}));
    std::shared_ptr<Network> net = make_model(rrdb.metadata.at("spec"));
    CHECK_NOTHROW(net->load(esrgan_path));
    const SafetensorsFile edsr = read_safetensors(kModels + "edsr_x2.safetensors");
    NamedTensors pytorch_names = renamed(state_of(edsr), {{std::regex(R"(^conv_first\.)"), "head.0."},
                                                           {std::regex(R"(^body\.(\d+)\.conv1\.)"), "body.$1.body.0."},
                                                           {std::regex(R"(^body\.(\d+)\.conv2\.)"), "body.$1.body.2."},
                                                           {std::regex(R"(^upsample\.)"), "tail.0."},
                                                           {std::regex(R"(^conv_last\.)"), "tail.1."}});
    REQUIRE(edsr.metadata.at("spec") == "edsr:num_feat=8,num_block=2,upscale=2");
    const int64_t blocks = 2;  // EDSR-PyTorch's conv after the body is body.{num_block}
    for (auto& [n, t] : pytorch_names)
        if (n.rfind("conv_after_body.", 0) == 0) n = "body." + std::to_string(blocks) + "." + n.substr(16);
    pytorch_names.emplace_back("sub_mean.weight", zeros({3, 3, 1, 1}));  // EDSR-PyTorch's fixed mean shift: dropped
    check_detected(edsr, pytorch_names);
}

TEST_CASE("an unknown state dict, or one whose shapes do not fit the family its names suggest, is one clear error") {
    CHECK(error_of([] { (void)detect_network({{"foo.weight", zeros({2, 2})}}); })
              .find("not a network srforge knows by its tensor names; looked for RRDBNet") != std::string::npos);
    const SafetensorsFile f = read_safetensors(kModels + "rrdbnet_x4.safetensors");
    NamedTensors broken = state_of(f);
    broken.pop_back();  // conv_last.bias
    CHECK(error_of([&] { (void)detect_network(broken); }).find("but they lack 1 of its tensors") != std::string::npos);
    // The compact network's activation is no weight either: without PReLU slopes, leakyrelu is assumed.
    const SafetensorsFile lrelu = read_safetensors(kModels + "srvgg_compact_x2_lrelu.safetensors");
    const DetectedNetwork d = detect_network(state_of(lrelu));
    CHECK(d.spec == "srvgg_compact:num_in_ch=3,num_out_ch=3,num_feat=6,num_conv=1,upscale=2,act_type=leakyrelu");
    check_detected(lrelu, state_of(lrelu));
    CHECK(d.note.find("leakyrelu (0.1) assumed") != std::string::npos);
}
