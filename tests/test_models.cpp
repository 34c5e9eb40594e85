// models/: every architecture against PyTorch (tests/fixtures/models, written by
// tools/reference/make_model_fixtures.py): same weights, same input, and the output, the input
// gradient, every parameter gradient and (in train mode) the updated buffers must match to 1e-5.
// Also the module system itself: names, loading errors, save/load round trips, spec strings.
#include <algorithm>
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "autograd/backward.h"
#include "core/factory.h"
#include "core/file.h"
#include "core/safetensors.h"
#include "models/layers.h"
#include "models/spec.h"
#include "ops/winograd.h"
#include "test_util.h"

using namespace sr;

namespace {

const std::string kFixtures = std::string(SR_SOURCE_DIR) + "/tests/fixtures/models";

// To 1e-5 of the reference's largest value (at least 1e-3). A reference that is zero up to
// float64 round-off (below 1e-12: the bias of a convolution right before an instance norm without
// affine parameters, whose mean subtraction cancels it) is compared at `zero_scale`, the scale of
// the gradients it is a sum of: float32 sums of them cancel only to float32 precision.
// `tolerance` replaces the 1e-5 (see below).
void check_close(const Tensor& got, const Tensor& want, const std::string& what, double zero_scale = 1e-3,
                 double tolerance = 1e-5) {
    REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", to_string(got.shape()), " vs ", to_string(want.shape()));
    const Difference d = largest_difference(got, want);
    INFO(what, ": worst element ", d.at, ": got ", d.got, ", want ", d.want, " (largest |want| ", d.scale, ")");
    CHECK(d.worst <= tolerance * std::max(d.scale < 1e-12 ? zero_scale : d.scale, 1e-3));
}

// The tensors of `f` whose names start with `prefix`, with the prefix removed.
NamedTensors with_prefix(const SafetensorsFile& f, const std::string& prefix) {
    NamedTensors out;
    for (const auto& [n, t] : f.tensors)
        if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(prefix.size()), t);
    return out;
}

}  // namespace

// Every fixture (tests/fixtures/models, made by PyTorch) through our model: output, input
// gradient, parameter gradients and buffer updates, to `tolerance` of each tensor's scale.
void check_every_fixture(double tolerance) {
    int files = 0;
    std::set<std::string> covered;
    for (const auto& entry : std::filesystem::directory_iterator(kFixtures)) {
        const SafetensorsFile f = read_safetensors(entry.path().string());
        const std::string spec = f.metadata.at("spec"), mode = f.metadata.at("mode");
        CAPTURE(spec);
        CAPTURE(mode);
        std::shared_ptr<Network> model = make_model(spec);
        covered.insert(spec.substr(0, spec.find(':')));
        NamedTensors state = with_prefix(f, "param.");
        for (auto& nt : with_prefix(f, "buffer.")) state.push_back(nt);
        model->load_state_dict(state);
        model->train(mode == "train");
        Tensor x = f.at("input").clone().set_requires_grad(true);
        Tensor y = model->forward(x);
        check_close(y, f.at("output"), "output", 1e-3, tolerance);
        backward(y, f.at("grad_output"));
        check_close(x.grad(), f.at("grad.input"), "grad.input", 1e-3, tolerance);
        double largest_grad = 0;  // over all parameters: the scale of what structural zeros are sums of
        for (const auto& [n, p] : model->named_parameters())
            for (double v : to_vector(f.at("grad." + n))) largest_grad = std::max(largest_grad, std::abs(v));
        for (const auto& [n, p] : model->named_parameters()) {
            CAPTURE(n);
            REQUIRE(p.grad().defined());
            check_close(p.grad(), f.at("grad." + n), "grad." + n, largest_grad, tolerance);
        }
        if (mode == "train")
            for (const auto& [n, b] : model->named_buffers()) check_close(b, f.at("state." + n), "state." + n, 1e-3, tolerance);
        ++files;
    }
    CHECK(files >= 20);
    for (const std::string& name : model_names()) CHECK_MESSAGE(covered.count(name), name, " has no PyTorch fixture");
}

TEST_CASE("every model matches PyTorch: output, input gradient, parameter gradients, buffer updates") {
    // With direct convolutions, PyTorch's own algorithm on the CPU: the same products in another
    // order, so 1e-5 of the scale holds everywhere.
    REQUIRE(select_conv_algorithm("direct"));
    check_every_fixture(1e-5);
    REQUIRE(select_conv_algorithm("auto"));
}

TEST_CASE("every model matches PyTorch with the default (Winograd) convolutions") {
    // Winograd F(4x4, 3x3) rounds a few times more than a direct convolution (its transforms
    // scale values by up to 8 and 1/24 before they are summed), on the convolutions with 16
    // channels or more each way; through a whole network and back that stays within 5e-5.
    REQUIRE(select_conv_algorithm("auto"));
    check_every_fixture(5e-5);
}

TEST_CASE("published parameter counts") {
    CHECK(make_model("rrdbnet")->parameter_count() == 16697987);
    CHECK(make_model("edsr")->parameter_count() == 1517571);
    CHECK(make_model("edsr:num_feat=256,num_block=32,res_scale=0.1")->parameter_count() == 43089923);
    CHECK(make_model("msrresnet")->parameter_count() == 1517571);
    CHECK(make_model("rdn:scale=4")->parameter_count() == 22271107);
    CHECK(make_model("rdn:variant=isr,C=6,D=20,G=64,G0=64,scale=2")->parameter_count() == 16347635);  // ISR psnr-large
    CHECK(make_model("rrdn")->parameter_count() == 4176100);                                           // ISR gans
    CHECK(make_model("srresnet")->parameter_count() == 1547350);
    CHECK(make_model("vgg_discriminator")->parameter_count() == 14499401);
    CHECK(make_model("vgg_discriminator:input_size=256")->parameter_count() == 21055049);
    CHECK(make_model("unet_discriminator_sn")->parameter_count() == 4376897);
    CHECK(make_model("vgg19")->parameter_count() == 20024384);
    CHECK(make_model("resnet_generator")->parameter_count() == 11378179);             // CycleGAN resnet_9blocks
    CHECK(make_model("resnet_generator:n_blocks=6")->parameter_count() == 7837699);   // resnet_6blocks
    CHECK(make_model("patchgan_discriminator")->parameter_count() == 2764737);        // the 70x70 PatchGAN
    // SwinIR's three published x4 models (counts of the official class, README: classical 11.9M).
    CHECK(make_model("swinir:upscale=4,img_size=48,window_size=8,embed_dim=180,depths=[6,6,6,6,6,6],"
                     "num_heads=[6,6,6,6,6,6],mlp_ratio=2,upsampler=pixelshuffle")
              ->parameter_count() == 11900199);
    CHECK(make_model("swinir:upscale=4,img_size=64,window_size=8,embed_dim=60,depths=[6,6,6,6],num_heads=[6,6,6,6],"
                     "mlp_ratio=2,upsampler=pixelshuffledirect")
              ->parameter_count() == 929628);
    CHECK(make_model("swinir:upscale=4,img_size=64,window_size=8,embed_dim=240,depths=[6,6,6,6,6,6,6,6,6],"
                     "num_heads=[8,8,8,8,8,8,8,8,8],mlp_ratio=2,upsampler=nearest+conv,resi_connection=3conv")
              ->parameter_count() == 28013059);
    // HAT-S, HAT and HAT-L, DRCT and DRCT-L (official classes; READMEs: HAT 20.8M, DRCT 14.13M, DRCT-L 27.58M).
    const std::string hat = "hat:upscale=4,img_size=64,window_size=16,mlp_ratio=2,";
    const std::string six = "depths=[6,6,6,6,6,6],num_heads=[6,6,6,6,6,6]";
    const std::string twelve = "depths=[6,6,6,6,6,6,6,6,6,6,6,6],num_heads=[6,6,6,6,6,6,6,6,6,6,6,6]";
    CHECK(make_model(hat + "embed_dim=144,compress_ratio=24,squeeze_factor=24," + six)->parameter_count() == 9621183);
    CHECK(make_model(hat + "embed_dim=180," + six)->parameter_count() == 20772507);
    CHECK(make_model(hat + "embed_dim=180," + twelve)->parameter_count() == 40846575);
    const std::string drct = "drct:upscale=4,img_size=64,window_size=16,mlp_ratio=2,embed_dim=180,";
    CHECK(make_model(drct + six)->parameter_count() == 14139579);
    CHECK(make_model(drct + twelve)->parameter_count() == 27580719);
}

TEST_CASE("state dict names follow the reference implementations") {
    const NamedTensors sd = make_model("rrdbnet:num_block=1,num_feat=8,num_grow_ch=4")->state_dict();
    CHECK(sd.front().first == "conv_first.weight");
    CHECK(sd[2].first == "body.0.rdb1.conv1.weight");
    CHECK(sd.back().first == "conv_last.bias");
    const NamedTensors unet = make_model("unet_discriminator_sn:num_feat=4")->state_dict();
    std::set<std::string> names;
    for (const auto& [n, t] : unet) names.insert(n);
    CHECK(names.count("conv1.weight_orig"));
    CHECK(names.count("conv1.weight_u"));
    CHECK(names.count("conv9.bias"));
    CHECK(!names.count("conv1.weight"));
    const NamedTensors srres = make_model("srresnet:num_rcb=1")->state_dict();
    std::set<std::string> s2;
    for (const auto& [n, t] : srres) s2.insert(n);
    CHECK(s2.count("trunk.0.rcb.1.running_var"));
    CHECK(s2.count("upsampling.1.upsample_block.2.weight"));
    CHECK(make_model("rdn:scale=2,D=1,C=1")->state_dict()[4].first == "RDBs.0.convs.0.conv.0.weight");
    // CycleGAN's nn.Sequential indices, which count padding, norm and activation layers too.
    const NamedTensors gen = make_model("resnet_generator:ngf=4,n_blocks=9")->state_dict();
    CHECK(gen[6].first == "model.10.conv_block.1.weight");
    CHECK(gen[gen.size() - 6].first == "model.19.weight");  // the first transposed convolution, [16, 8, 3, 3]
    CHECK(gen[gen.size() - 6].second.shape() == Shape{16, 8, 3, 3});
    CHECK(gen.back().first == "model.26.bias");
    CHECK(make_model("patchgan_discriminator:ndf=4")->state_dict().back().first == "model.11.bias");
    // SwinIR, in the official state dict's order: a module's own tensors before its children's, so a
    // shifted block's attn_mask comes before its norm1.
    const NamedTensors swin = make_model("swinir:img_size=8,window_size=4,embed_dim=8,depths=[2],num_heads=[2]")->state_dict();
    CHECK(swin[2].first == "patch_embed.norm.weight");
    CHECK(swin[6].first == "layers.0.residual_group.blocks.0.attn.relative_position_bias_table");
    CHECK(swin[7].first == "layers.0.residual_group.blocks.0.attn.relative_position_index");
    CHECK(swin[18].first == "layers.0.residual_group.blocks.1.attn_mask");
    CHECK(swin[18].second.shape() == Shape{4, 16, 16});
    CHECK(swin.back().first == "conv_last.bias");
    // HAT's two network-wide index buffers lead; DRCT's groups have swin1 .. swin5 and adjust1 .. adjust5.
    const NamedTensors hat = make_model("hat:img_size=8,window_size=4,embed_dim=8,depths=[1],num_heads=[2],compress_ratio=2,"
                                        "squeeze_factor=2")->state_dict();
    CHECK(hat[0].first == "relative_position_index_SA");
    CHECK(hat[1].first == "relative_position_index_OCA");
    CHECK(hat[1].second.shape() == Shape{16, 36});
    const std::vector<double> oca = to_vector(hat[1].second);  // the official values, negative ones included
    CHECK(*std::min_element(oca.begin(), oca.end()) == -40);
    CHECK(*std::max_element(oca.begin(), oca.end()) == 40);
    std::set<std::string> hat_names, drct_names;
    for (const auto& [n, t] : hat) hat_names.insert(n);
    CHECK(hat_names.count("layers.0.residual_group.blocks.0.conv_block.cab.3.attention.3.weight"));
    CHECK(hat_names.count("layers.0.residual_group.overlap_attn.relative_position_bias_table"));
    CHECK(!hat_names.count("layers.0.residual_group.blocks.0.attn.relative_position_index"));
    for (const auto& [n, t] : make_model("drct:img_size=8,window_size=4,embed_dim=6,depths=[1],num_heads=[3],gc=2")->state_dict())
        drct_names.insert(n);
    CHECK(drct_names.count("layers.0.swin2.attn_mask"));
    CHECK(drct_names.count("layers.0.adjust5.weight"));
}

TEST_CASE("loading reports missing, unexpected and mis-shaped tensors; save and load round trip") {
    auto model = make_model("edsr:num_feat=4,num_block=1,upscale=2");
    NamedTensors sd = model->state_dict();
    NamedTensors missing(sd.begin() + 1, sd.end());
    CHECK(error_of([&] { model->load_state_dict(missing); }) == "load_state_dict: missing conv_first.weight");
    NamedTensors extra = sd;
    extra.emplace_back("foo.weight", zeros({1}));
    CHECK(error_of([&] { model->load_state_dict(extra); }).find("unexpected tensor 'foo.weight'") != std::string::npos);
    CHECK(error_of([&] { model->load_state_dict(extra, true); }) == "(no error)");
    NamedTensors wrong = sd;
    wrong[0].second = zeros({4, 3, 5, 5});
    CHECK(error_of([&] { model->load_state_dict(wrong); }) ==
          "load_state_dict: 'conv_first.weight' has shape [4, 3, 5, 5] in the file but [4, 3, 3, 3] in the model");

    const std::string path = (std::filesystem::temp_directory_path() / "srforge_edsr.safetensors").string();
    model->save(path);
    auto other = make_model("edsr:num_feat=4,num_block=1,upscale=2");
    other->load(path);
    const Tensor x = uniform({1, 3, 4, 4}, 0, 1);
    NoGradGuard no_grad;
    CHECK(to_vector(model->forward(x)) == to_vector(other->forward(x)));
}

TEST_CASE("spec strings: defaults, bad keys and values") {
    CHECK(error_of([] { (void)make_model("edsr:num_feet=3"); }).find("edsr: unknown argument 'num_feet'") == 0);
    CHECK(error_of([] { (void)make_model("edsr:num_feat=x"); }) == "edsr: num_feat must be an integer, got 'x'");
    CHECK(error_of([] { (void)make_model("edsr:num_feat"); }).find("expected key=value") != std::string::npos);
    CHECK(error_of([] { (void)make_model("esrgan"); }).find("unknown model 'esrgan'") != std::string::npos);
    CHECK(error_of([] { (void)make_model("rrdbnet:scale=3"); }) == "rrdbnet: scale must be 1, 2 or 4, got 3");
    CHECK(error_of([] { (void)make_model("vgg19:layer_name_list=conv9_9"); }).find("unknown layer 'conv9_9'") !=
          std::string::npos);
    auto m = make_model("unet_discriminator_sn:num_feat=2");
    CHECK(error_of([&] { (void)m->forward(zeros({1, 3, 12, 12})); }).find("divisible by 8") != std::string::npos);
}

TEST_CASE("FLOP counting sees convolutions inside fused dense blocks") {
    auto model = make_model("rrdbnet:num_block=1,num_feat=8,num_grow_ch=4");
    FlopCounter counter;
    NoGradGuard no_grad;
    (void)model->forward(zeros({1, 3, 4, 4}));
    // conv_first + 15 RDB convs at 4x4, conv_body, conv_up1 at 8x8, conv_up2/conv_hr at 16x16, conv_last.
    const double rdb = 16.0 * 9 * (8 * 4 + 12 * 4 + 16 * 4 + 20 * 4 + 24 * 8) * 3;
    const double expected = 2 * (16.0 * 9 * 3 * 8 + rdb + 16.0 * 9 * 64 + 64.0 * 9 * 64 + 256.0 * 9 * 64 * 2 + 256.0 * 9 * 8 * 3);
    CHECK(counter.total() == doctest::Approx(expected));
}

TEST_CASE("a state dict with batch norm's I64 num_batches_tracked loads, the counters ignored by name") {
    std::shared_ptr<Network> net = make_model("srresnet:channels=4,num_rcb=1,upscale_factor=2");
    NamedTensors state = net->state_dict();
    Tensor count = Tensor::empty({}, DType::I64, Device::cpu());
    count.data<int64_t>()[0] = 1234;
    int counters = 0;
    for (const auto& [name, t] : NamedTensors(state))
        if (name.ends_with(".running_var")) {
            state.emplace_back(name.substr(0, name.size() - 11) + "num_batches_tracked", count);
            ++counters;
        }
    REQUIRE(counters > 0);
    const std::string path = (std::filesystem::temp_directory_path() / "srforge_bn_counters.safetensors").string();
    write_safetensors(path, state);
    CHECK_NOTHROW(net->load(path));  // strict: only the counters are skipped
    state.emplace_back("other.num_batches", count);
    write_safetensors(path, state);
    CHECK(error_of([&] { net->load(path); }).find("unexpected tensor 'other.num_batches'") != std::string::npos);
}

TEST_CASE("sr_forward writes the same output and gradients as the model, and fails cleanly on bad input") {
    const SafetensorsFile f = read_safetensors(kFixtures + "/rrdbnet_x2.safetensors");
    const auto dir = std::filesystem::temp_directory_path() / "srforge_sr_forward";
    std::filesystem::create_directories(dir);
    const std::string weights = (dir / "w.safetensors").string(), io = (dir / "io.safetensors").string();
    const std::string out = (dir / "out.safetensors").string();
    NamedTensors w = with_prefix(f, "param.");
    w.emplace_back("unused.extra", zeros({2}));  // refused, unless --non-strict
    write_safetensors(weights, w);
    write_safetensors(io, {{"x", f.at("input")}, {"g", f.at("grad_output")}});
    const std::string tool = std::string(SR_TOOLS_DIR) + "/sr_forward";
    const std::string cmd = tool + " --model '" + f.metadata.at("spec") + "' --weights " + weights + " --input " + io +
                            " --input-key x --grad-output-key g --output " + out;
    CHECK(std::system((cmd + " 2> " + (dir / "strict.txt").string()).c_str()) != 0);
    CHECK(read_file((dir / "strict.txt").string()).find("unexpected tensor 'unused.extra'") != std::string::npos);
    REQUIRE(std::system((cmd + " --non-strict > /dev/null").c_str()) == 0);
    const SafetensorsFile r = read_safetensors(out);
    check_close(r.at("output"), f.at("output"), "sr_forward output");
    check_close(r.at("grad.input"), f.at("grad.input"), "sr_forward grad.input");
    check_close(r.at("grad.conv_first.weight"), f.at("grad.conv_first.weight"), "sr_forward grad.conv_first.weight");
    // A missing input key: non-zero exit, one line on stderr, no output file.
    std::filesystem::remove(out);
    const std::string bad = tool + " --model '" + f.metadata.at("spec") + "' --weights " + weights + " --input " + io +
                            " --input-key nope --output " + out + " 2> " + (dir / "err.txt").string();
    CHECK(std::system(bad.c_str()) != 0);
    CHECK(!std::filesystem::exists(out));
}
