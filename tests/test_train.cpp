// train/: optimisers against PyTorch, config files, schedules, EMA, losses, the data pipeline and
// the training loop (bit-exact resume, NaN stop, Ctrl-C through train_sr).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

#include "autograd/node.h"
#include "core/file.h"
#include "core/half.h"
#include "core/image_io.h"
#include "core/pth.h"
#include "core/safetensors.h"
#include "models/layers.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/layout.h"
#include "ops/pad.h"
#include "ops/reduce.h"
#include "test_util.h"
#include "train/basicsr_state.h"
#include "train/config.h"
#include "train/options.h"
#include "train/data.h"
#include "train/ema.h"
#include "train/losses.h"
#include "train/optim.h"
#include "train/plot.h"
#include "train/schedule.h"
#include "train/trainer.h"
#include "train/unpaired.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("srforge_test_train_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// A DIV2K-layout folder: `train` and `valid` images of h x w with block-mean LR at scale s.
fs::path make_dataset(const std::string& name, int train, int valid, int64_t h, int64_t w, int64_t s) {
    const fs::path root = fresh_dir(name);
    const std::string x = "X" + std::to_string(s), suffix = "x" + std::to_string(s) + ".png";
    int index = 1;
    for (const auto& [split, n] : std::vector<std::pair<std::string, int>>{{"train", train}, {"valid", valid}}) {
        const fs::path hr_dir = root / ("DIV2K_" + split + "_HR"), lr_dir = root / ("DIV2K_" + split + "_LR_bicubic") / x;
        fs::create_directories(hr_dir);
        fs::create_directories(lr_dir);
        for (int i = 0; i < n; ++i, ++index) {
            char stem[16];
            std::snprintf(stem, sizeof stem, "%04d", index);
            const Tensor hr = test_image(h, w, uint64_t(index));
            write_png((hr_dir / (std::string(stem) + ".png")).string(), hr);
            write_png((lr_dir / (stem + suffix)).string(), block_mean_u8(hr, s));
        }
    }
    return root;
}

LrSchedule cosine(double base, std::vector<int64_t> periods, std::vector<double> weights, double eta_min) {
    LrSchedule s;
    s.type = "CosineAnnealingRestartLR";
    s.base = base;
    s.periods = std::move(periods);
    s.restart_weights = std::move(weights);
    s.eta_min = eta_min;
    return s;
}

TrainOptions tiny_run(const fs::path& data, const fs::path& out) {
    TrainOptions o;
    o.name = "tiny";
    o.model = "edsr:num_feat=8,num_block=1,upscale=2";
    o.scale = 2;
    o.train_set.dataroot = data.string();
    o.patch = 8;
    o.batch = 2;
    o.workers = 2;
    o.total_iter = 6;
    o.schedule.base = 1e-3;
    o.schedule.milestones = {4};
    o.ema_decay = 0.9;
    o.val_freq = 3;
    o.print_freq = 2;
    o.save_freq = 3;
    o.out_dir = out.string();
    o.seed = 7;
    o.quiet = true;
    return o;
}

}  // namespace

TEST_CASE("Adam and AdamW follow torch.optim step for step (weight decay, bias correction)") {
    const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/optim.safetensors");
    for (bool decoupled : {false, true}) {
        const std::string name = decoupled ? "adamw" : "adam";
        CAPTURE(name);
        Tensor p = f.at("p0").clone().set_requires_grad(true);
        Adam opt({p}, {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .decoupled_weight_decay = decoupled});
        for (int i = 0; i < 4; ++i) {
            p.set_grad(f.at("grad." + std::to_string(i)).clone());
            opt.step();
            const Difference d = largest_difference(p, f.at(name + "." + std::to_string(i)));
            CHECK(d.worst < 1e-12);
        }
        CHECK(opt.steps() == 4);
    }
}

TEST_CASE("Adam updates many tensors in one parallel pass exactly as it updates each alone") {
    // Sizes chosen so that the threads' ranges start and end inside tensors, and small tensors lie
    // between large ones: every element must be updated once, by the same formula.
    const std::vector<int64_t> sizes = {3, 40001, 1, 17, 30000, 5, 65537};
    std::vector<Tensor> together, alone, grads;
    for (int64_t n : sizes) {
        const Tensor init = uniform({n}, -1.0, 1.0, {DType::F32});
        together.push_back(init.clone().set_requires_grad(true));
        alone.push_back(init.clone().set_requires_grad(true));
        grads.push_back(uniform({n}, -1.0, 1.0, {DType::F32}));
    }
    Adam joint(together, {.lr = 0.01, .weight_decay = 0.01});
    std::vector<Adam> single;
    for (const Tensor& p : alone) single.emplace_back(std::vector<Tensor>{p}, AdamOptions{.lr = 0.01, .weight_decay = 0.01});
    for (int step = 0; step < 3; ++step) {
        for (size_t i = 0; i < sizes.size(); ++i) {
            together[i].set_grad(grads[i] * double(step + 1));
            alone[i].set_grad(grads[i] * double(step + 1));
            single[i].step();
        }
        joint.step();
    }
    for (size_t i = 0; i < sizes.size(); ++i) {
        CAPTURE(sizes[i]);
        CHECK(to_vector(together[i]) == to_vector(alone[i]));
        CHECK(to_vector(joint.exp_avg_sq()[i]) == to_vector(single[i].exp_avg_sq()[0]));
    }
}

TEST_CASE("Adam skips parameters without a gradient and rejects bad hyper-parameters") {
    Tensor a = ones({2}).set_requires_grad(true), b = ones({2}).set_requires_grad(true);
    Adam opt({a, b}, {.lr = 0.1});
    a.set_grad(ones({2}));
    opt.step();
    CHECK(to_vector(b) == std::vector<double>{1, 1});
    CHECK(to_vector(a)[0] < 1);
    CHECK(error_of([&] { Adam bad({a}, {.beta2 = 1.0}); }).find("adam: invalid hyper-parameters") == 0);
    CHECK(error_of([] { Adam bad({ones({2})}); }).find("must be contiguous leaf tensors that require grad") != std::string::npos);
}

TEST_CASE("YAML option files: BasicSR's YAML features read, typed values checked, errors with file:line:column") {
    const YAML::Node c = parse_yaml("# a run\n"
                                    "name: EDSR_Mx2   # trailing comment\n"
                                    "scale: 2\n"
                                    "network_g:\n"
                                    "  type: EDSR\n"
                                    "  rgb_mean: [0.4488, 0.4371, 0.4040]\n"
                                    "  img_range: 255.\n"
                                    "train:\n"
                                    "  optim_g:\n"
                                    "    lr: !!float 1e-4\n"
                                    "    quoted: \"a: b # not a comment\"\n"
                                    "  flags: [true, False]\n"
                                    "  'conv5_4': 1\n"
                                    "  steps:\n"
                                    "    - 10\n"
                                    "    - 20\n"
                                    "  none: ~\n",
                                    "test.yaml");
    CHECK(yaml_text(c["name"], "name") == "EDSR_Mx2");
    CHECK(yaml_integer(c["scale"], "scale") == 2);
    CHECK(yaml_number(c["network_g"]["img_range"], "img_range") == 255);
    CHECK(yaml_number(c["train"]["optim_g"]["lr"], "lr") == 1e-4);
    CHECK(yaml_text(c["train"]["optim_g"]["quoted"], "quoted") == "a: b # not a comment");
    CHECK(yaml_numbers(c["network_g"]["rgb_mean"], "rgb_mean") == std::vector<double>{0.4488, 0.4371, 0.4040});
    CHECK(yaml_numbers(c["train"]["steps"], "steps") == std::vector<double>{10, 20});
    CHECK(yaml_flag(c["train"]["flags"][1], "flags") == false);
    CHECK(yaml_integer(c["train"]["conv5_4"], "conv5_4") == 1);
    CHECK(c["train"]["none"].IsNull());
    CHECK(yaml_text(c["train"]["none"], "none") == "");
    CHECK(error_of([] { parse_yaml("a: [1, 2\n", "x.yaml"); }).find("x.yaml:2:1: YAML syntax error") == 0);
    CHECK(error_of([] { parse_yaml("a: 1\n  b: 2\n", "x.yaml"); }).find("x.yaml:2:") == 0);
    CHECK(error_of([&] { yaml_number(c["name"], "name"); }) == "name must be a number, got 'EDSR_Mx2'");
    CHECK(error_of([&] { yaml_integer(c["network_g"]["rgb_mean"], "rgb_mean"); }) == "rgb_mean must be an integer, got a list");
    CHECK(error_of([&] { yaml_integer(c["train"]["optim_g"]["lr"], "lr"); }) == "lr must be an integer, got '1e-4'");
    CHECK(error_of([&] { yaml_flag(c["scale"], "scale"); }) == "scale must be true or false, got '2'");
    // Options read from a file name the file, line and column of a bad value.
    CHECK(error_of([] { options_from_yaml("name: x\ntrain:\n  total_iter: many\n", "t.yml"); }) ==
          "t.yml:3:15: train.total_iter must be an integer, got 'many'");
}

TEST_CASE("train options: BasicSR-layout presets, round trip through config.yaml, unknown keys") {
    const std::string configs = std::string(SR_SOURCE_DIR) + "/configs/";
    const TrainOptions o = options_from_file(configs + "edsr_baseline_x2.yaml");
    CHECK(o.model == "edsr:num_in_ch=3,num_out_ch=3,num_feat=64,num_block=16,upscale=2,res_scale=1,img_range=255.,"
                     "rgb_mean=0.4488/0.4371/0.4040");
    CHECK(o.scale == 2);
    CHECK(o.patch == 48);  // gt_size 96 at x2
    CHECK(o.batch == 16);
    CHECK(o.schedule.base == 1e-4);
    CHECK(o.schedule.milestones == std::vector<int64_t>{200000});
    CHECK(o.total_iter == 300000);
    CHECK(o.loss == "l1:1");
    CHECK(o.val_freq == 5000);
    CHECK(o.seed == 10);
    // Every preset is read without errors and names a model srforge builds at the preset's scale.
    for (const auto& entry : fs::directory_iterator(configs)) {
        CAPTURE(entry.path().string());
        const TrainOptions p = options_from_file(entry.path().string());
        CHECK(error_of([&] { make_model(p.model); }) == "(no error)");
        CHECK(p.total_iter > 0);
    }
    // config.yaml written by a run reads back to the same options.
    TrainOptions a = o;
    a.schedule = cosine(2.5e-4, {10, 20}, {1, 0.5}, 1e-7);
    a.schedule.warmup_iter = 3;
    a.ema_decay = 0.999;
    a.loss = "l1:1+ssim:0.1";
    a.train_set.dataroot = "some/where";
    const TrainOptions b = options_from_yaml(options_yaml(a), "config.yaml");
    CHECK(options_yaml(b) == options_yaml(a));
    CHECK(b.schedule.periods == a.schedule.periods);
    CHECK(b.schedule.restart_weights == a.schedule.restart_weights);
    CHECK(b.model == a.model);
    CHECK(b.patch == a.patch);
    // A transformer's lists (a spec's [6,6] or an option file's YAML lists) survive config.yaml.
    TrainOptions t = o;
    t.model = "swinir:upscale=2,img_size=8,window_size=4,embed_dim=8,depths=[2,1],num_heads=[2,4],upsampler=";
    const TrainOptions t2 = options_from_yaml(options_yaml(t), "config.yaml");
    CHECK(options_yaml(t2).find("depths: [2, 1]") != std::string::npos);
    CHECK(make_model(t2.model)->state_dict().size() == make_model(t.model)->state_dict().size());
    CHECK(make_model(t2.model)->parameter_count() == make_model(t.model)->parameter_count());
    CHECK(error_of([] { options_from_yaml("train:\n  totl_iter: 5\n", "t.yaml"); })
              .find("unknown option 'train.totl_iter'") != std::string::npos);
    CHECK(error_of([] { options_from_yaml("scale: 3\ndatasets:\n  train:\n    gt_size: 100\n", "t.yaml"); })
              .find("gt_size 100 is not a multiple of the scale 3") != std::string::npos);
    CHECK(error_of([] { options_from_yaml("train:\n  pixel_opt:\n    type: PerceptualLoss\n", "t.yaml"); })
              .find("L1Loss, MSELoss or CharbonnierLoss") != std::string::npos);
}

TEST_CASE("learning-rate schedules follow BasicSR's formulas, iteration by iteration") {
    LrSchedule step;
    step.base = 1e-3;
    step.milestones = {3, 5};
    step.gamma = 0.5;
    CHECK(step.at(1) == 1e-3);
    CHECK(step.at(2) == 1e-3);
    CHECK(step.at(3) == 0.5e-3);
    CHECK(step.at(5) == 0.25e-3);
    CHECK(step.at(100) == 0.25e-3);
    // Cosine with restarts: period k covers (start_k, start_k + p_k]; w_k scales (base - eta_min).
    const LrSchedule cos = cosine(1e-3, {10, 20}, {1, 0.5}, 1e-6);
    auto expect = [&](int64_t iter, double start, double period, double weight) {
        return 1e-6 + weight * 0.5 * (1e-3 - 1e-6) * (1 + std::cos(M_PI * (double(iter) - start) / period));
    };
    CHECK(cos.at(1) == doctest::Approx(expect(1, 0, 10, 1)).epsilon(1e-12));
    CHECK(cos.at(5) == doctest::Approx(5.005e-4).epsilon(1e-12));   // half way: (base + eta_min) / 2
    CHECK(cos.at(10) == doctest::Approx(1e-6).epsilon(1e-12));      // the end of the first period
    CHECK(cos.at(11) == doctest::Approx(expect(11, 10, 20, 0.5)).epsilon(1e-12));
    CHECK(cos.at(30) == doctest::Approx(1e-6).epsilon(1e-12));
    CHECK(cos.at(31) == doctest::Approx(1e-6).epsilon(1e-12));      // past the last period: stays at eta_min
    LrSchedule warm;
    warm.type = "constant";
    warm.base = 2e-4;
    warm.warmup_iter = 4;
    CHECK(warm.at(1) == doctest::Approx(0.5e-4));
    CHECK(warm.at(3) == doctest::Approx(1.5e-4));
    CHECK(warm.at(4) == 2e-4);
    warm.type = "Exponential";
    CHECK(error_of([&] { warm.at(1); }).find("unknown type 'Exponential'") != std::string::npos);
    // CycleGAN's linear policy, 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), in iterations.
    LrSchedule linear;
    linear.type = "LinearDecayLR";
    linear.base = 2e-4;
    linear.constant_iter = 100;
    linear.decay_iter = 100;
    CHECK(linear.at(1) == 2e-4);
    CHECK(linear.at(100) == 2e-4);
    CHECK(linear.at(101) == doctest::Approx(2e-4 * (1 - 1.0 / 101)).epsilon(1e-12));
    CHECK(linear.at(150) == doctest::Approx(2e-4 * (1 - 50.0 / 101)).epsilon(1e-12));
    CHECK(linear.at(200) == doctest::Approx(2e-4 / 101).epsilon(1e-12));  // the last iteration: still above 0
    CHECK(linear.at(300) == linear.at(200));
}

TEST_CASE("EMA: parameters averaged with the decay, buffers copied, in state-dict order") {
    manual_seed(3);
    ModuleList net;
    net.push(Conv2d(3, 4, 3));
    net.push(BatchNorm2d(4));
    net.push(Conv2d(4, 3, 3));
    Ema ema(net, 0.9);
    NamedTensors before;
    for (const auto& [n, t] : net.state_dict()) before.emplace_back(n, t.clone());
    // Move every parameter by +1 and change the buffers.
    {
        NoGradGuard no_grad;
        for (auto& [n, p] : net.named_parameters()) copy_(p, p + 1.0);
        for (auto& [n, b] : net.named_buffers()) copy_(b, b + 2.0);
    }
    ema.update(net);
    const NamedTensors now = net.state_dict();
    std::set<std::string> params;
    for (const auto& [n, p] : net.named_parameters()) params.insert(n);
    REQUIRE(ema.state().size() == now.size());
    for (size_t i = 0; i < now.size(); ++i) {
        CAPTURE(now[i].first);
        CHECK(ema.state()[i].first == now[i].first);
        const Tensor want = params.count(now[i].first) ? before[i].second + 0.1 : now[i].second;
        CHECK(largest_difference(ema.state()[i].second, want).worst < 1e-6);
    }
    CHECK(error_of([&] { Ema bad(net, 1.0); }).find("decay must be in [0, 1)") != std::string::npos);
}

TEST_CASE("pixel losses: terms, weights and parts") {
    const Tensor a = from_vector({0, 0.5, 1, 1}, {1, 1, 2, 2}), b = from_vector({0, 1, 1, 0}, {1, 1, 2, 2});
    std::vector<Tensor> parts;
    CHECK(PixelLoss("l1")(a, b).item() == doctest::Approx(0.375));
    CHECK(PixelLoss("mse:2")(a, b, &parts).item() == doctest::Approx(2 * 1.25 / 4));
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].item() == doctest::Approx(0.625));
    parts.clear();
    CHECK(PixelLoss("l1:1+mse:0.5")(a, b, &parts).item() == doctest::Approx(0.375 + 0.5 * 0.3125));
    CHECK(parts.size() == 2);
    CHECK(PixelLoss("l1:1+ssim:0.1").spec() == "l1:1+ssim:0.1");
    CHECK(error_of([] { PixelLoss("l2"); }).find("unknown term 'l2'") != std::string::npos);
    CHECK(error_of([] { PixelLoss("l1:x"); }).find("bad weight") != std::string::npos);
}

TEST_CASE("training batches: aligned crops under flips and rotations, deterministic per iteration") {
    const fs::path root = make_dataset("batches", 3, 1, 24, 32, 2);
    std::vector<SamplePaths> files;
    for (int i = 1; i <= 3; ++i) {
        char stem[16];
        std::snprintf(stem, sizeof stem, "%04d", i);
        files.push_back({(root / "DIV2K_train_HR" / (std::string(stem) + ".png")).string(),
                         (root / "DIV2K_train_LR_bicubic" / "X2" / (std::string(stem) + "x2.png")).string()});
    }
    TrainData data(files, {.scale = 2, .patch = 6, .batch = 4, .workers = 2, .seed = 11});
    for (int64_t iter = 1; iter <= 5; ++iter) {
        const auto [lr, hr] = data.batch(iter);
        CHECK(lr.shape() == Shape{4, 3, 6, 6});
        CHECK(hr.shape() == Shape{4, 3, 12, 12});
        // Each LR pixel is still the rounded mean of its 2x2 HR block, whatever the flips/rotation.
        for (int64_t b = 0; b < 4; ++b) {
            const Tensor lr_b = lr.slice(0, b, b + 1).reshape({3, 6, 6}), hr_b = hr.slice(0, b, b + 1).reshape({3, 12, 12});
            CHECK(largest_difference(lr_b, block_mean_u8(hr_b, 2)).worst < 1e-6);
        }
        // The workers' batch is the one made directly from (seed, iteration).
        const auto [lr2, hr2] = data.make_batch(iter);
        CHECK(largest_difference(lr, lr2).worst == 0);
        CHECK(largest_difference(hr, hr2).worst == 0);
    }
    TrainData other(files, {.scale = 2, .patch = 6, .batch = 4, .workers = 1, .seed = 12});
    CHECK(largest_difference(other.make_batch(1).second, data.make_batch(1).second).worst > 0);
}

TEST_CASE("HR-only batches for synthesized LR: images smaller than the crop are padded by reflection") {
    const fs::path root = fresh_dir("hr_only");
    const Tensor image = test_image(10, 12, 3);  // [3, 10, 12], 8-bit values
    write_png((root / "small.png").string(), image);
    Tensor seen;
    DataOptions o{.scale = 2, .patch = 8, .batch = 1, .hflip = false, .rotation = false, .workers = 1, .seed = 5};
    o.synthesize = [&](const Tensor& hr, int64_t) {
        seen = hr.clone();
        return std::pair<Tensor, Tensor>{hr.slice(2, 0, 8).slice(3, 0, 8).contiguous(), hr};
    };
    TrainData data({{(root / "small.png").string(), ""}}, o);
    data.make_batch(1);
    REQUIRE(seen.shape() == Shape{1, 3, 16, 16});
    // Rows 10.. and columns 12.. mirror the image without repeating its last row/column
    // (OpenCV's BORDER_REFLECT_101, as RealESRGANDataset pads).
    auto at = [](const Tensor& t, int64_t c, int64_t y, int64_t x) { return to_vector(t.slice(0, c, c + 1).slice(1, y, y + 1).slice(2, x, x + 1))[0]; };
    const Tensor crop = seen.reshape({3, 16, 16});
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < 16; ++y)
            for (int64_t x = 0; x < 16; ++x) {
                const int64_t sy = y < 10 ? y : 18 - y, sx = x < 12 ? x : 22 - x;
                CHECK(at(crop, c, y, x) == doctest::Approx(at(image, c, sy, sx)).epsilon(1e-6));
            }
}

TEST_CASE("training data errors name the file and what is wrong") {
    const fs::path root = make_dataset("data_errors", 1, 0, 24, 32, 2);
    const std::string hr = (root / "DIV2K_train_HR" / "0001.png").string();
    const std::string lr = (root / "DIV2K_train_LR_bicubic" / "X2" / "0001x2.png").string();
    CHECK(error_of([&] { load_pair({hr, lr}, 3); }).find("(expected HR = 3 x LR)") != std::string::npos);
    CHECK(error_of([&] { load_pair({hr, "/nonexistent/x.png"}, 2); }).find("/nonexistent/x.png") != std::string::npos);
    write_file_atomic((root / "bad.png").string(), "not an image");
    CHECK(error_of([&] { load_pair({(root / "bad.png").string(), lr}, 2); }).find("bad.png") != std::string::npos);
    // A patch larger than the image.
    CHECK(error_of([&] { TrainData big({{hr, lr}}, {.scale = 2, .patch = 40, .batch = 1, .workers = 1}); })
              .find("is smaller than the 40-pixel patch") != std::string::npos);
    CHECK(error_of([&] { TrainData odd({{hr, lr}}, {.scale = 3, .patch = 4, .batch = 1, .workers = 1}); })
              .find("(expected HR = 3 x LR)") != std::string::npos);
    CHECK(error_of([] { TrainData none({}, {}); }).find("no training images") != std::string::npos);
    // A truncated image whose header still reads: found when the data is made, not when first drawn.
    const std::string whole = read_file(hr);
    write_file_atomic((root / "cut.png").string(), whole.substr(0, whole.size() / 2));
    CHECK(error_of([&] { TrainData cut({{hr, lr}, {(root / "cut.png").string(), lr}}, {.scale = 2, .patch = 4, .batch = 1, .workers = 1}); })
              .find("cut.png") != std::string::npos);
}

TEST_CASE("train: a run resumed from its checkpoint repeats the uninterrupted run bit for bit") {
    const fs::path data = make_dataset("resume_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("resume_runs");
    TrainOptions straight = tiny_run(data, out);
    straight.name = "straight";
    const TrainResult full = train(straight);
    REQUIRE(full.losses.size() == 6);
    CHECK(full.iterations == 6);

    TrainOptions split = tiny_run(data, out);
    split.name = "split";
    split.total_iter = 3;
    const TrainResult first = train(split);
    REQUIRE(first.losses.size() == 3);
    split.total_iter = 6;
    const TrainResult second = train(split);  // continues from checkpoints/latest (iteration 3)
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(first.losses[size_t(i)] == full.losses[size_t(i)]);
        CHECK(second.losses[size_t(i)] == full.losses[size_t(i + 3)]);
    }
    for (const std::string file : {"net_g_latest.safetensors", "net_g_ema.safetensors", "checkpoints/latest.safetensors"}) {
        CAPTURE(file);
        const SafetensorsFile a = read_safetensors((out / "straight" / file).string());
        const SafetensorsFile b = read_safetensors((out / "split" / file).string());
        REQUIRE(a.tensors.size() == b.tensors.size());
        for (size_t i = 0; i < a.tensors.size(); ++i) CHECK(largest_difference(a.tensors[i].second, b.tensors[i].second).worst == 0);
    }
    CHECK(second.psnr_y == full.psnr_y);
    // The run folder holds what the docs promise.
    for (const std::string file : {"config.yaml", "metrics.csv", "curves.png", "samples/iter_6.png", "checkpoints/iter_3.safetensors",
                                   "checkpoints/iter_6.safetensors", "net_g_best.safetensors"})
        CHECK_MESSAGE(fs::exists(out / "split" / file), file);
    // metrics.csv keeps one row per logged iteration, without the rows redone after resuming.
    std::ifstream csv(out / "split" / "metrics.csv");
    std::string line, text;
    int rows = 0;
    std::getline(csv, line);
    CHECK(line.rfind("iter,loss,lr,psnr_y,ssim_y,psnr_rgb,time_s", 0) == 0);
    while (std::getline(csv, line)) ++rows;
    CHECK(rows == 4 + 2);  // losses at 2, 3 (where the first call ended), 4, 6; validations at 3, 6
    // A different model in the same run folder is refused.
    split.model = "edsr:num_feat=8,num_block=2,upscale=2";
    CHECK(error_of([&] { train(split); }).find("is of model") != std::string::npos);
    // So is another seed: the batches after resuming would not be the ones the run started with.
    split.model = straight.model;
    split.seed = 8;
    CHECK(error_of([&] { train(split); }).find("was made with seed 7, this run has seed 8") != std::string::npos);
}

TEST_CASE("train: --precision bf16 on the CPU stays near fp32, keeps float weights, resumes bit for bit") {
    const fs::path data = make_dataset("bf16_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("bf16_runs");
    TrainOptions fp32 = tiny_run(data, out);
    fp32.name = "fp32";
    const TrainResult a = train(fp32);
    TrainOptions bf16 = tiny_run(data, out);
    bf16.name = "bf16";
    bf16.precision = "bf16";
    const TrainResult b = train(bf16);
    CHECK(gemm_precision() == GemmPrecision::fp32);  // the trainer leaves the process as it found it
    REQUIRE(a.losses.size() == b.losses.size());
    bool differ = false;
    for (size_t i = 0; i < a.losses.size(); ++i) {
        CHECK(b.losses[i] == doctest::Approx(a.losses[i]).epsilon(0.02));
        differ = differ || b.losses[i] != a.losses[i];
    }
    CHECK(differ);  // the products really ran in bf16
    // The master weights stay float: not every weight is a bfloat16 value.
    const SafetensorsFile weights = read_safetensors((out / "bf16" / "net_g_latest.safetensors").string());
    bool off_grid = false;
    for (const auto& [name, t] : weights.tensors)
        for (double v : to_vector(t)) off_grid = off_grid || float(v) != round_to_bfloat16(float(v));
    CHECK(off_grid);
    // Stopped at 3 and resumed to 6: the same run.
    TrainOptions split = bf16;
    split.name = "bf16_split";
    split.total_iter = 3;
    train(split);
    split.total_iter = 6;
    const TrainResult second = train(split);
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(second.losses[size_t(i)] == b.losses[size_t(i + 3)]);
    // tf32 is a GPU mode.
    TrainOptions tf32 = tiny_run(data, out);
    tf32.precision = "tf32";
    CHECK(error_of([&] { train(tf32); }).find("precision tf32 needs --device cuda") != std::string::npos);
}

TEST_CASE("train: a transformer with stochastic depth resumes bit for bit (its drops follow the iteration)") {
    const fs::path data = make_dataset("resume_swin_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("resume_swin_runs");
    TrainOptions straight = tiny_run(data, out);
    straight.model = "swinir:upscale=2,img_size=8,window_size=4,embed_dim=8,depths=[2,2],num_heads=[2,2],drop_path_rate=0.5,"
                     "upsampler=pixelshuffledirect";
    straight.name = "straight";
    const TrainResult full = train(straight);
    TrainOptions split = straight;
    split.name = "split";
    split.total_iter = 3;
    (void)train(split);
    split.total_iter = 6;
    const TrainResult second = train(split);
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(second.losses[size_t(i)] == full.losses[size_t(i + 3)]);
    const SafetensorsFile a = read_safetensors((out / "straight" / "net_g_latest.safetensors").string());
    const SafetensorsFile b = read_safetensors((out / "split" / "net_g_latest.safetensors").string());
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (size_t i = 0; i < a.tensors.size(); ++i) CHECK(largest_difference(a.tensors[i].second, b.tensors[i].second).worst == 0);
    // The drops are real: without stochastic depth the same run ends elsewhere.
    TrainOptions no_drop = straight;
    no_drop.name = "no_drop";
    no_drop.model = "swinir:upscale=2,img_size=8,window_size=4,embed_dim=8,depths=[2,2],num_heads=[2,2],drop_path_rate=0,"
                    "upsampler=pixelshuffledirect";
    CHECK(train(no_drop).losses.back() != full.losses.back());
}

TEST_CASE("train: path.resume_state continues another folder's checkpoint") {
    const fs::path data = make_dataset("resume_state_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("resume_state_runs");
    TrainOptions straight = tiny_run(data, out);
    straight.name = "straight";
    straight.total_iter = 5;
    const TrainResult full = train(straight);
    TrainOptions first = tiny_run(data, out);
    first.name = "first";
    first.total_iter = 3;
    train(first);
    TrainOptions other = tiny_run(data, out);
    other.name = "other";  // a fresh folder: without resume_state it would start at iteration 1
    other.total_iter = 5;
    other.resume_state = (out / "first" / "checkpoints" / "latest.safetensors").string();
    const TrainResult r = train(other);
    REQUIRE(r.losses.size() == 2);
    CHECK(r.losses[0] == full.losses[3]);
    CHECK(r.losses[1] == full.losses[4]);
    other.name = "missing";
    other.resume_state = (out / "nowhere.safetensors").string();
    CHECK(error_of([&] { train(other); }).find("path.resume_state '" + other.resume_state + "' does not exist") != std::string::npos);
    CHECK(!fs::exists(out / "missing"));
    // A PyTorch file that is not a training state: one line saying what it lacks.
    other.resume_state = std::string(SR_SOURCE_DIR) + "/tests/fixtures/pth/edsr_legacy.pth";
    CHECK(error_of([&] { train(other); }).find("has no 'iter' (not a BasicSR training state?)") != std::string::npos);
}

namespace {

const std::string kBasicsrRuns = std::string(SR_SOURCE_DIR) + "/tests/fixtures/basicsr_runs/";

// One more Adam step from the fixture's gradients must land where torch.optim.Adam's did: only
// true if the moments, the step count (bias correction) and the weights all came back right.
void check_next_step(Module& net, Adam& optimizer, const SafetensorsFile& next, const std::string& prefix, double lr) {
    for (const auto& [n, p] : net.named_parameters()) p.set_grad(next.at(prefix + "grad." + n).clone());
    optimizer.set_lr(lr);
    optimizer.step();
    for (const auto& [n, p] : net.named_parameters()) {
        CAPTURE(n);
        CHECK(largest_difference(p, next.at(prefix + "after." + n)).worst < 1e-6);
    }
}

}  // namespace

TEST_CASE("resume: a BasicSR training state restores weights, EMA and Adam, so the next step is PyTorch's") {
    const std::string spec = "edsr:num_feat=8,num_block=1,upscale=2";
    auto net = make_model(spec);
    Adam adam(net->parameters(), {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99});
    Ema ema(*net, 0.9);
    const RunState state = load_basicsr_state(kBasicsrRuns + "edsr/training_states/3.state", {spec, net.get(), &adam}, &ema, nullptr, 7);
    CHECK(state.iteration == 3);
    CHECK(state.seed == 7);
    CHECK(adam.steps() == 3);  // torch 1.12+ writes each step as a tensor
    const SafetensorsFile weights = read_pth(kBasicsrRuns + "edsr/models/net_g_3.pth", "params_ema");
    for (const auto& [n, t] : ema.state()) CHECK(largest_difference(t, weights.at(n)).worst == 0);
    check_next_step(*net, adam, read_safetensors(kBasicsrRuns + "edsr/next_step.safetensors"), "", 1e-2);

    // A GAN run: the generator's optimiser first, then the discriminator's; steps as Python ints.
    auto g = make_model(spec);
    auto d = make_model("unet_discriminator_sn:num_feat=4");
    Adam adam_g(g->parameters(), {.lr = 1e-2}), adam_d(d->parameters(), {.lr = 5e-3});
    const Trained tg{spec, g.get(), &adam_g}, td{"unet_discriminator_sn:num_feat=4", d.get(), &adam_d};
    const std::string gan = kBasicsrRuns + "esrgan/training_states/2.state";
    CHECK(load_basicsr_state(gan, tg, nullptr, &td, 7).iteration == 2);
    CHECK(adam_g.steps() == 2);
    CHECK(adam_d.steps() == 2);
    const SafetensorsFile next = read_safetensors(kBasicsrRuns + "esrgan/next_step.safetensors");
    check_next_step(*g, adam_g, next, "g.", 1e-2);
    check_next_step(*d, adam_d, next, "d.", 5e-3);

    // What does not fit: one clear error each.
    CHECK(error_of([&] { load_basicsr_state(gan, tg, nullptr, nullptr, 7); }).find("holds 2 optimisers, but this run trains 1") !=
          std::string::npos);
    Adam other_betas(g->parameters(), {.beta1 = 0.5});
    CHECK(error_of([&] { load_basicsr_state(gan, {spec, g.get(), &other_betas}, nullptr, &td, 7); })
              .find("was saved with betas [0.9, 0.99], eps 1e-08, weight_decay 0, but this run's option file says betas [0.5") !=
          std::string::npos);
    auto wider = make_model("edsr:num_feat=16,num_block=1,upscale=2");
    Adam adam_wider(wider->parameters());
    CHECK(error_of([&] { load_basicsr_state(gan, {"wider", wider.get(), &adam_wider}, nullptr, &td, 7); }).find("has shape") !=
          std::string::npos);
    const fs::path moved = fresh_dir("basicsr_moved") / "training_states";
    fs::create_directories(moved);
    fs::copy_file(gan, moved / "2.state");
    CHECK(error_of([&] { load_basicsr_state((moved / "2.state").string(), tg, nullptr, &td, 7); })
              .find("net_g_2.pth' does not exist; BasicSR writes a network's weights there") != std::string::npos);
}

TEST_CASE("train: path.resume_state takes a BasicSR training state and trains on from its iteration") {
    const fs::path data = make_dataset("basicsr_resume_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("basicsr_resume_runs");
    TrainOptions o = tiny_run(data, out);  // edsr:num_feat=8,num_block=1,upscale=2 with EMA, as the fixture
    o.name = "continued";
    o.resume_state = kBasicsrRuns + "edsr/training_states/3.state";
    const TrainResult r = train(o);
    CHECK(r.losses.size() == 3);  // iterations 4, 5 and 6
    const SafetensorsFile latest = read_safetensors((out / "continued" / "checkpoints" / "latest.safetensors").string());
    CHECK(latest.metadata.at("iteration") == "6");
    CHECK(latest.metadata.at("optim.steps") == "6");
    // From here on it is a srforge run: a second call resumes the folder's own checkpoint.
    o.resume_state.clear();
    o.total_iter = 7;
    CHECK(train(o).losses.size() == 1);
}

TEST_CASE("train: a checkpoint written by an earlier srforge (b59f67d) still resumes, bit for bit") {
    const fs::path fixture = fs::path(SR_SOURCE_DIR) / "tests/fixtures/checkpoint_b59f67d";
    const fs::path data = make_dataset("resume_data", 4, 1, 32, 32, 2);  // the data it was trained on
    const fs::path out = fresh_dir("old_checkpoint_runs");
    fs::copy(fixture, out / "old_main", fs::copy_options::recursive);
    std::vector<double> expected;
    std::ifstream in(fixture / "expected_losses.txt");
    for (double v; in >> v;) expected.push_back(v);
    REQUIRE(expected.size() == 6);
    TrainOptions o = tiny_run(data, out);
    o.name = "old_main";
    const TrainResult r = train(o);  // continues from the fixture's iteration 3
    REQUIRE(r.losses.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(r.losses[i] == expected[i + 3]);
}

TEST_CASE("train: GAN training (relativistic, perceptual, discriminator warm-up) resumes bit for bit") {
    const fs::path data = make_dataset("gan_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("gan_runs");
    auto gan_run = [&](const std::string& name, int64_t iters) {
        TrainOptions o = tiny_run(data, out);
        o.name = name;
        o.total_iter = iters;
        o.model_d = "unet_discriminator_sn:num_feat=4";
        o.model_type = "ESRGANModel";
        o.perceptual = true;
        o.perceptual_opt.layer_weights = {{"conv1_2", 0.5}, {"conv2_2", 1.0}};
        o.perceptual_opt.style_weight = 0.1;
        o.loss = "l1:0.01";
        o.gan_weight = 0.1;
        o.net_d_init_iters = 1;  // iteration 1 trains only the discriminator
        o.net_d_iters = 1;
        return o;
    };
    const TrainResult full = train(gan_run("straight", 6));
    REQUIRE(full.losses.size() == 6);
    TrainOptions split = gan_run("split", 3);
    const TrainResult first = train(split);
    split.total_iter = 6;
    const TrainResult second = train(split);
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(first.losses[size_t(i)] == full.losses[size_t(i)]);
        CHECK(second.losses[size_t(i)] == full.losses[size_t(i + 3)]);
    }
    const SafetensorsFile a = read_safetensors((out / "straight" / "checkpoints" / "latest.safetensors").string());
    const SafetensorsFile b = read_safetensors((out / "split" / "checkpoints" / "latest.safetensors").string());
    REQUIRE(a.tensors.size() == b.tensors.size());
    int discriminator_tensors = 0;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        CAPTURE(a.tensors[i].first);
        CHECK(largest_difference(a.tensors[i].second, b.tensors[i].second).worst == 0);
        if (a.tensors[i].first.rfind("net_d.", 0) == 0 || a.tensors[i].first.rfind("optim_d.", 0) == 0) ++discriminator_tensors;
    }
    CHECK(discriminator_tensors > 0);
    CHECK(a.metadata.at("optim_d.steps") == "6");
    CHECK(a.metadata.at("optim.steps") == "5");  // the generator waited for the warm-up iteration
    // Every loss term and the discriminator's logits are logged.
    std::ifstream csv(out / "split" / "metrics.csv");
    std::string header;
    std::getline(csv, header);
    CHECK(header == "iter,loss,l_g_pix,l_g_percep,l_g_style,l_g_gan,l_d_real,l_d_fake,out_d_real,out_d_fake,lr,psnr_y,ssim_y,psnr_rgb,time_s");
    CHECK(fs::exists(out / "split" / "net_d_latest.safetensors"));
    // The same folder without a discriminator is refused; so is another discriminator.
    TrainOptions plain = tiny_run(data, out);
    plain.name = "split";
    plain.total_iter = 7;
    CHECK(error_of([&] { train(plain); }).find("but this run does not") != std::string::npos);
    split.model_d = "unet_discriminator_sn:num_feat=8";
    split.total_iter = 7;
    CHECK(error_of([&] { train(split); }).find("has discriminator 'unet_discriminator_sn:num_feat=4'") != std::string::npos);
}

TEST_CASE("train: Real-ESRGAN runs (synthetic degradations, pair pool) resume bit for bit") {
    const fs::path data = make_dataset("realesrgan_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("realesrgan_runs");
    auto run = [&](const std::string& name, int64_t iters) {
        TrainOptions o = tiny_run(data, out);
        o.name = name;
        o.total_iter = iters;
        o.model_type = "RealESRGANModel";
        o.crop_pad_size = 40;  // HR crops degraded, then cut to the 16-pixel HR patch
        o.queue_size = 4;      // two batches: full after iteration 2, exchanging from 3 on
        o.rotation = false;
        o.model_d = "unet_discriminator_sn:num_feat=4";
        o.gan_weight = 0.1;
        return o;
    };
    const TrainResult full = train(run("straight", 6));
    REQUIRE(full.losses.size() == 6);
    TrainOptions split = run("split", 3);
    train(split);
    split.total_iter = 6;
    const TrainResult second = train(split);
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(second.losses[size_t(i)] == full.losses[size_t(i + 3)]);
    const SafetensorsFile a = read_safetensors((out / "straight" / "checkpoints" / "latest.safetensors").string());
    const SafetensorsFile b = read_safetensors((out / "split" / "checkpoints" / "latest.safetensors").string());
    REQUIRE(a.tensors.size() == b.tensors.size());
    int pool_tensors = 0;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        CAPTURE(a.tensors[i].first);
        CHECK(largest_difference(a.tensors[i].second, b.tensors[i].second).worst == 0);
        if (a.tensors[i].first.rfind("pool.", 0) == 0) ++pool_tensors;
    }
    CHECK(pool_tensors > 0);
    // config.yaml reads back as a Real-ESRGAN run with the same degradation settings.
    const TrainOptions back = options_from_file((out / "split" / "config.yaml").string());
    CHECK(back.synthetic());
    CHECK(back.crop_pad_size == 40);
    CHECK(back.queue_size == 4);
    CHECK(options_yaml(back) == options_yaml(split));
    // A queue that is not a multiple of the batch is refused.
    TrainOptions bad = run("bad", 2);
    bad.queue_size = 3;
    CHECK(error_of([&] { train(bad); }).find("queue_size 3 must be a multiple of the batch size 2") != std::string::npos);
}

TEST_CASE("train options: GAN keys in BasicSR's layout and their round trip") {
    const std::string configs = std::string(SR_SOURCE_DIR) + "/configs/";
    const TrainOptions o = options_from_file(configs + "esrgan_x4.yaml");
    CHECK(o.model_d == "vgg_discriminator:num_in_ch=3,num_feat=64");
    CHECK(o.relativistic());
    CHECK(o.gan_type == "vanilla");
    CHECK(o.gan_weight == 5e-3);
    CHECK(o.loss == "l1:0.01");
    CHECK(o.perceptual);
    CHECK(o.perceptual_opt.layer_weights == std::map<std::string, double>{{"conv5_4", 1.0}});
    CHECK(o.perceptual_opt.criterion == "l1");
    CHECK(o.lr_d == 1e-4);
    CHECK(o.ema_decay == 0.999);
    const TrainOptions b = options_from_yaml(options_yaml(o), "config.yaml");
    CHECK(options_yaml(b) == options_yaml(o));
    CHECK(b.perceptual_opt.layer_weights == o.perceptual_opt.layer_weights);
    const TrainOptions r = options_from_file(configs + "realesrgan_x4.yaml");
    CHECK(r.synthetic());
    CHECK(r.model_d == "unet_discriminator_sn:num_in_ch=3,num_feat=64,skip_connection=true");
    CHECK(r.patch * r.scale == 256);
    CHECK(r.crop_pad_size == 400);
    CHECK(r.queue_size == 180);
    CHECK(!r.rotation);
    CHECK(r.degradation.resize_prob2 == std::array<double, 3>{0.3, 0.4, 0.3});
    CHECK(r.degradation.blur_sigma2 == std::array<double, 2>{0.2, 1.5});
    CHECK(r.degradation.kernel_prob == std::vector<double>{0.45, 0.25, 0.12, 0.03, 0.12, 0.03});
    CHECK(r.perceptual_opt.layer_weights.size() == 5);
    CHECK(r.gan_weight == 0.1);
    CHECK(r.l1_gt_usm);
    CHECK(!r.gan_gt_usm);
    CHECK(options_yaml(options_from_yaml(options_yaml(r), "c.yaml")) == options_yaml(r));
    CHECK(error_of([] {
              options_from_yaml("model_type: RealESRNetModel\ndatasets:\n  train:\n    kernel_list: [iso]\n", "t.yaml");
          }).find("must list iso, aniso") != std::string::npos);
    CHECK(error_of([] { check_options(options_from_yaml("model_type: ESRGANModel\n", "t.yaml")); })
              .find("needs a network_d") != std::string::npos);
    CHECK(error_of([] {
              options_from_yaml("network_d:\n  type: vgg_discriminator\ntrain:\n  gan_opt:\n    gan_type: wgan\n", "t.yaml");
          }).find("(no error)") != std::string::npos);  // the type is checked when training starts
    CHECK(error_of([] {
              options_from_yaml("network_d:\n  type: vgg_discriminator\ntrain:\n  gan_opt:\n    real_label_val: 0.9\n", "t.yaml");
          }).find("labels are 1 (real) and 0 (fake)") != std::string::npos);
}

TEST_CASE("train: a folder of HR photos (LR made on the fly) with validation on another folder") {
    const fs::path photos = fresh_dir("photos"), set5 = fresh_dir("set5like");
    for (int i = 0; i < 3; ++i) write_png((photos / std::string("p").append(std::to_string(i)).append(".png")).string(), test_image(30, 34, uint64_t(i)));
    fs::create_directories(set5 / "HR");
    fs::create_directories(set5 / "LR_bicubic" / "X2");
    write_png((set5 / "HR" / "baby.png").string(), test_image(32, 32, 9));
    write_png((set5 / "LR_bicubic" / "X2" / "babyx2.png").string(), block_mean_u8(test_image(32, 32, 9), 2));
    TrainOptions o = tiny_run(photos, fresh_dir("photos_runs"));
    o.val_sets = {DatasetOptions{}};
    o.val_sets[0].phase = "val";
    o.val_sets[0].dataroot = set5.string();
    o.total_iter = 2;
    const TrainResult r = train(o);
    CHECK(r.iterations == 2);
    CHECK(std::isfinite(r.psnr_y));
    CHECK(r.bicubic_psnr_y > 20);  // bicubic of the block-mean LR against its HR
}

TEST_CASE("train: a diverging loss stops the run with a clear error and leaves the last checkpoint alone") {
    const fs::path data = make_dataset("nan_data", 2, 1, 32, 32, 2);
    const fs::path out = fresh_dir("nan_runs");
    TrainOptions o = tiny_run(data, out);
    o.total_iter = 3;
    o.ema_decay = 0;
    train(o);
    const std::string latest = (out / "tiny" / "checkpoints" / "latest.safetensors").string();
    const std::string before = read_file(latest);
    o.total_iter = 20;
    o.schedule.type = "constant";
    o.schedule.base = 1e30;
    const std::string message = error_of([&] { train(o); });
    CHECK(message.find("train: the loss is") == 0);
    CHECK(message.find("last good checkpoint (iteration") != std::string::npos);
    CHECK(read_file(latest).size() > 0);
    CHECK(read_safetensors(latest).metadata.at("iteration") != "");
    CHECK(before.size() == read_file(latest).size());
}

TEST_CASE("train: bad options are refused before anything is written") {
    const fs::path data = make_dataset("bad_options", 1, 1, 32, 32, 2);
    const fs::path out = fresh_dir("bad_options_runs");
    TrainOptions o = tiny_run(data, out);
    o.scale = 3;
    CHECK(error_of([&] { train(o); }).find("upscales by 2, but the data scale is 3") != std::string::npos);
    o = tiny_run(data, out);
    o.name = "../escape";
    CHECK(error_of([&] { train(o); }).find("run name") != std::string::npos);
    o = tiny_run(data, out);
    o.optimizer = "SGD";
    CHECK(error_of([&] { train(o); }).find("optimizer must be Adam or AdamW") != std::string::npos);
    o = tiny_run(data, out);
    o.pretrain_g = "/nonexistent/net_g.safetensors";
    CHECK(error_of([&] { train(o); }).find("train the preset they come from first") != std::string::npos);
    o = tiny_run(fs::path("/nonexistent/data"), out);
    CHECK(error_of([&] { train(o); }).find("/nonexistent/data") != std::string::npos);
    CHECK(!fs::exists(out / "tiny"));
}

TEST_CASE("plots: charts and image grids have the promised sizes and are not blank") {
    const Tensor charts = draw_charts({{"loss", "iteration", "loss", {{"a", {1, 2, 3}, {1, 0.5, 0.25}}}, true},
                                       {"psnr", "iteration", "dB", {{"b", {1, 2}, {30, 31}}}, false}},
                                      300, 200);
    CHECK(charts.shape() == Shape{3, 200, 600});
    const std::vector<double> v = to_vector(charts);
    CHECK(*std::min_element(v.begin(), v.end()) < 0.5);  // lines and text are drawn on the white background
    CHECK(*std::max_element(v.begin(), v.end()) == 1);
    const Tensor grid = image_grid({{zeros({3, 10, 10}), ones({3, 10, 12})}, {ones({3, 8, 10}), zeros({3, 8, 12})}}, {"x", "y"}, 2);
    CHECK(grid.size(0) == 3);
    CHECK(grid.size(2) == 10 + 12 + 3 * 2);
}

TEST_CASE("train_sr: flags, exit codes, Ctrl-C saves a checkpoint and the next run continues") {
    const std::string tool = std::string(SR_TOOLS_DIR) + "/train_sr";
    REQUIRE_MESSAGE(fs::exists(tool), "build train_sr first");
    const fs::path data = make_dataset("cli_data", 2, 1, 32, 32, 2);
    const fs::path out = fresh_dir("cli_runs");
    const fs::path log = out / "log.txt";
    auto run = [&](const std::string& args) {
        const int status = std::system((tool + " " + args + " > " + log.string() + " 2>&1").c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    CHECK(run("--bogus") == 1);
    CHECK(read_file(log.string()).find("unknown argument '--bogus'") != std::string::npos);
    CHECK(run("--model edsr --iters 5") == 1);
    CHECK(read_file(log.string()).find("no data") != std::string::npos);
    CHECK(run("--config /nonexistent.yaml") == 1);
    CHECK(read_file(log.string()).find("/nonexistent.yaml") != std::string::npos);
    CHECK(run("--data " + data.string() + " --iters x") == 1);
    CHECK(read_file(log.string()).find("--iters must be an integer, got 'x'") != std::string::npos);

    const std::string logged_args = "--model edsr:num_feat=8,num_block=1,upscale=2 --scale 2 --data " + data.string() +
                                    " --out " + out.string() + " --name cli --patch 8 --batch 2 --val-freq 1000000 --save-freq 1000000";
    const std::string args = logged_args + " --quiet";
    // A run far too long to finish: SIGINT once it has logged its first iteration (not after a
    // fixed time: a loaded machine can take longer than that to start, and an early signal
    // finds no handler yet) stops it cleanly with exit status 130.
    const std::string until_first_iteration =
        "for i in $(seq 600); do grep -q \"^iter 1/\" " + log.string() + " && break; sleep 0.1; done; ";
    const int status = std::system(("sh -c '" + tool + " " + logged_args + " --print-freq 1 --iters 100000000 > " +
                                    log.string() + " 2>&1 & pid=$!; " + until_first_iteration +
                                    "kill -INT $pid; wait $pid'").c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);
    const std::string latest = (out / "cli" / "checkpoints" / "latest.safetensors").string();
    REQUIRE(fs::exists(latest));
    const int64_t stopped = std::stoll(read_safetensors(latest).metadata.at("iteration"));
    CHECK(stopped >= 1);
    // Running again continues from there to the (now reachable) end.
    CHECK(run(args + " --iters " + std::to_string(stopped + 2)) == 0);
    CHECK(read_safetensors(latest).metadata.at("iteration") == std::to_string(stopped + 2));
    CHECK(read_file(log.string()).find("validation after " + std::to_string(stopped + 2) + " iterations") != std::string::npos);
}

TEST_CASE("train: a run folder in use is refused; a finished run is left as it was; a lost latest resumes from iter_N") {
    const fs::path data = make_dataset("folder_data", 4, 1, 32, 32, 2);
    const fs::path out = fresh_dir("folder_runs");
    TrainOptions o = tiny_run(data, out);
    o.total_iter = 3;
    const TrainResult full3 = train(o);
    {  // another process (here: another lock) holds the folder
        FolderLock other((out / "tiny").string(), "test");
        CHECK(error_of([&] { train(o); }).find("train: the run folder '" + (out / "tiny").string() + "' is in use by another process (pid ") !=
              std::string::npos);
    }
    // Rerunning the finished run changes nothing: no duplicate rows, no validation of iteration 0.
    const std::string csv = read_file((out / "tiny" / "metrics.csv").string());
    const TrainResult again = train(o);
    CHECK(again.already_finished);
    CHECK(again.iterations == 3);
    CHECK(again.losses.empty());
    CHECK(!again.validated);
    CHECK(read_file((out / "tiny" / "metrics.csv").string()) == csv);
    // latest.safetensors lost, checkpoints/iter_3 kept: the run continues from iteration 3.
    TrainOptions straight = tiny_run(data, out);
    straight.name = "straight";
    const TrainResult full6 = train(straight);
    fs::remove(out / "tiny" / "checkpoints" / "latest.safetensors");
    o.total_iter = 6;
    const TrainResult rest = train(o);
    REQUIRE(rest.losses.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(rest.losses[i] == full6.losses[i + 3]);
    CHECK(full3.losses[2] == full6.losses[2]);
}

TEST_CASE("train: stale temporary files of killed runs are removed; a full disk leaves every checkpoint whole") {
    const fs::path data = make_dataset("disk_data", 2, 1, 32, 32, 2);
    const fs::path out = fresh_dir("disk_runs");
    TrainOptions o = tiny_run(data, out);
    o.total_iter = 1;
    fs::create_directories(out / "tiny" / "checkpoints");
    const fs::path stale = out / "tiny" / "checkpoints" / "latest.safetensors.tmp.999999999.0";  // no such process
    const fs::path live = out / "tiny" / "checkpoints" / ("latest.safetensors.tmp." + std::to_string(::getpid()) + ".7");
    write_file_atomic(stale.string(), "partial");
    write_file_atomic(live.string(), "being written");
    train(o);
    CHECK(!fs::exists(stale));
    CHECK(fs::exists(live));  // its writer still runs

    // train_sr on tmpfs folders of several sizes: wherever the disk fills up, the run stops with one
    // message, and every checkpoint left loads (none is a truncated copy), with no temporary file left.
    const std::string tool = std::string(SR_TOOLS_DIR) + "/train_sr";
    int failures = 0;
    for (int kb = 120; kb <= 400; kb += 40) {
        CAPTURE(kb);
        const fs::path disk = fresh_dir("tmpfs_" + std::to_string(kb));
        const std::string run = tool + " --model edsr:num_feat=8,num_block=1,upscale=2 --scale 2 --data " + data.string() + " --out " +
                                disk.string() + " --name full --patch 8 --batch 2 --iters 6 --save-freq 2 --val-freq 100 --quiet";
        // In a private mount namespace (unshare -rm: no root needed where user namespaces are
        // allowed) the tmpfs vanishes with the shell, so what was left on it is copied out first.
        const std::string check = "mount -t tmpfs -o size=" + std::to_string(kb) + "k tmpfs " + disk.string() + " && " + run + " > " +
                                  disk.string() + ".log 2>&1; echo $? > " + disk.string() + ".status; cp -r " + disk.string() + "/. " +
                                  disk.string() + ".copy/ 2>/dev/null; true";
        fresh_dir("tmpfs_" + std::to_string(kb) + ".copy");
        const int status = std::system(("unshare -rm sh -c '" + check + "'").c_str());
        const bool namespaced = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        REQUIRE_MESSAGE(namespaced, "unshare -rm (a private mount namespace) is needed here");
        const int exit_code = std::stoi(read_file(disk.string() + ".status"));
        const std::string log = read_file(disk.string() + ".log");
        if (exit_code != 0) {
            ++failures;
            CHECK(exit_code == 1);
            CHECK(log.find("No space left on device") != std::string::npos);
        }
        const fs::path ckpts = fs::path(disk.string() + ".copy") / "full" / "checkpoints";
        if (!fs::exists(ckpts)) continue;
        for (const auto& e : fs::directory_iterator(ckpts)) {
            CAPTURE(e.path().string());
            CHECK(e.path().string().find(".tmp.") == std::string::npos);
            CHECK(error_of([&] { read_safetensors(e.path().string()); }) == "(no error)");
        }
    }
    CHECK(failures > 0);  // the sizes do reach a full disk
}

TEST_CASE("unpaired data (CycleGAN): crops of each folder in [-1, 1], independent, a function of (seed, iteration)") {
    const fs::path root = fresh_dir("unpaired_data");
    for (const char* domain : {"trainA", "trainB"}) {
        fs::create_directories(root / domain);
        for (int i = 0; i < 3; ++i) write_png((root / domain / ("img" + std::to_string(i) + ".png")).string(), uniform({3, 20, 24}, 0.0, 1.0));
    }
    DataOptions o;
    o.patch = 8;
    o.batch = 2;
    o.workers = 1;
    o.seed = 5;
    UnpairedData data((root / "trainA").string(), (root / "trainB").string(), o);
    const auto [a, b] = data.make_batch(3);
    CHECK(a.shape() == Shape{2, 3, 8, 8});
    CHECK(b.shape() == Shape{2, 3, 8, 8});
    const std::vector<double> values = to_vector(a);
    CHECK(*std::min_element(values.begin(), values.end()) >= -1.0);
    CHECK(*std::max_element(values.begin(), values.end()) <= 1.0);
    CHECK(*std::min_element(values.begin(), values.end()) < -0.5);  // not squeezed into [0, 1]
    const auto [a2, b2] = data.make_batch(3);
    CHECK(largest_difference(a, a2).worst == 0);  // a function of (seed, iteration)
    CHECK(largest_difference(b, b2).worst == 0);
    CHECK(largest_difference(a, data.make_batch(4).first).worst > 0);
    const auto [from_workers_a, from_workers_b] = data.batch(3);
    CHECK(largest_difference(a, from_workers_a).worst == 0);
    CHECK(largest_difference(b, from_workers_b).worst == 0);
    // Two folders of the same images still give different crops: the domains draw independently.
    UnpairedData same((root / "trainA").string(), (root / "trainA").string(), o);
    const auto [sa, sb] = same.make_batch(3);
    CHECK(largest_difference(sa, sb).worst > 0);
    CHECK(error_of([&] { UnpairedData((root / "nowhere").string(), (root / "trainB").string(), o); }).find("domain A") != std::string::npos);
}

namespace {

// Two folders of unpaired images (the reference's trainA/trainB) and a paired validation set of
// A-side inputs with B-side ground truth, all at one size.
fs::path make_unpaired_dataset(const std::string& name) {
    const fs::path root = fresh_dir(name);
    for (const char* folder : {"trainA", "trainB", "valA", "valB"}) fs::create_directories(root / folder);
    for (int i = 0; i < 3; ++i) {
        const Tensor clean = test_image(24, 28, uint64_t(40 + i));
        write_png((root / "trainB" / ("b" + std::to_string(i) + ".png")).string(), clean);
        write_png((root / "trainA" / ("a" + std::to_string(i) + ".png")).string(), test_image(24, 28, uint64_t(50 + i)) * 0.5);
    }
    const Tensor val = test_image(22, 26, 60);  // not multiples of 4: validation pads for the generator
    write_png((root / "valB" / "v.png").string(), val);
    write_png((root / "valA" / "v.png").string(), val * 0.5);
    return root;
}

TrainOptions tiny_cyclegan(const fs::path& data, const fs::path& out) {
    const std::string yaml = "name: cyclegan\nmodel_type: CycleGANModel\nscale: 1\nmanual_seed: 4\n"
                             "datasets:\n  train:\n    type: UnpairedImageDataset\n    dataroot: " + data.string() + "\n"
                             "    gt_size: 16\n    use_rot: false\n    batch_size_per_gpu: 2\n    num_worker_per_gpu: 1\n"
                             "  val:\n    type: PairedImageDataset\n    dataroot_gt: " + (data / "valB").string() + "\n"
                             "    dataroot_lq: " + (data / "valA").string() + "\n"
                             "network_g: {type: ResnetGenerator, ngf: 4, n_blocks: 1}\n"
                             "network_d: {type: NLayerDiscriminator, ndf: 4, n_layers: 2}\n"
                             "train:\n  optim_g: {type: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n"
                             "  optim_d: {type: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n"
                             "  scheduler: {type: LinearDecayLR, constant_iter: 3, decay_iter: 3}\n  total_iter: 6\n"
                             "  gan_opt: {type: GANLoss, gan_type: lsgan}\n  lambda_A: 10\n  lambda_B: 10\n  lambda_identity: 0.5\n"
                             "  pool_size: 3\n"
                             "val:\n  val_freq: 3\nlogger:\n  print_freq: 1\n  save_checkpoint_freq: 3\n"
                             "path:\n  out_dir: " + out.string() + "\n";
    TrainOptions o = options_from_yaml(yaml, "cyclegan.yml");
    o.quiet = true;
    return o;
}

}  // namespace

TEST_CASE("train: CycleGANModel reads the reference's hyper-parameters and refuses what it does not do") {
    const fs::path data = make_unpaired_dataset("cyclegan_options_data");
    TrainOptions o = tiny_cyclegan(data, fresh_dir("cyclegan_options_runs"));
    CHECK(o.unpaired());
    CHECK(o.model == "resnet_generator:ngf=4,n_blocks=1");
    CHECK(o.model_d == "patchgan_discriminator:ndf=4,n_layers=2");
    CHECK(o.beta1 == 0.5);
    CHECK(o.pool_size == 3);
    CHECK(o.schedule.at(5) == doctest::Approx(2e-4 * (1 - 2.0 / 4)));
    check_options(o);
    // config.yaml reads back to the same options, without the SR-only losses.
    const std::string written = options_yaml(o);
    CHECK(written.find("pixel_opt") == std::string::npos);
    CHECK(options_yaml(options_from_yaml(written, "config.yaml")) == written);
    auto refused = [&](auto change) {
        TrainOptions bad = o;
        change(bad);
        return error_of([&] { check_options(bad); });
    };
    CHECK(refused([](TrainOptions& b) { b.scale = 2; }).find("scale must be 1") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.train_set.type = "PairedImageDataset"; }).find("UnpairedImageDataset") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.model_d = ""; }).find("needs a network_d") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.ema_decay = 0.999; }).find("no ema_decay") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.gan_type = "hinge"; }).find("lsgan or vanilla") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.patch = 18; }).find("multiples of 4") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.train_set.dataroot = ""; }).find("dataroot_a and dataroot_b") != std::string::npos);
    CHECK(refused([](TrainOptions& b) { b.model_type = "SRModel"; b.model_d = ""; }).find("not SRModel's") != std::string::npos);
}

TEST_CASE("train: a CycleGAN run resumed from its checkpoint (four networks, two Adams each side, two pools) repeats the uninterrupted run") {
    const fs::path data = make_unpaired_dataset("cyclegan_resume_data");
    const fs::path out = fresh_dir("cyclegan_resume_runs");
    TrainOptions straight = tiny_cyclegan(data, out);
    straight.name = "straight";
    const TrainResult full = train(straight);
    REQUIRE(full.losses.size() == 6);
    CHECK(full.validated);
    CHECK(full.baseline == "the input");
    CHECK(full.bicubic_psnr_y > 0);  // the input against its ground truth: the score of "no translation"

    TrainOptions split = tiny_cyclegan(data, out);
    split.name = "split";
    split.total_iter = 3;
    const TrainResult first = train(split);  // the pools are full after 2 iterations (pool_size 3, batch 2)
    split.total_iter = 6;
    const TrainResult second = train(split);
    REQUIRE(first.losses.size() == 3);
    REQUIRE(second.losses.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(first.losses[size_t(i)] == full.losses[size_t(i)]);
        CHECK(second.losses[size_t(i)] == full.losses[size_t(i + 3)]);
    }
    CHECK(second.psnr_y == full.psnr_y);
    for (const std::string file : {"net_g_A.safetensors", "net_g_B.safetensors", "net_d_A.safetensors", "net_d_B.safetensors",
                                   "checkpoints/latest.safetensors"}) {
        CAPTURE(file);
        const SafetensorsFile a = read_safetensors((out / "straight" / file).string());
        const SafetensorsFile b = read_safetensors((out / "split" / file).string());
        REQUIRE(a.tensors.size() == b.tensors.size());
        for (size_t i = 0; i < a.tensors.size(); ++i) CHECK(largest_difference(a.tensors[i].second, b.tensors[i].second).worst == 0);
    }
    const SafetensorsFile ckpt = read_safetensors((out / "split" / "checkpoints" / "latest.safetensors").string());
    CHECK(ckpt.metadata.at("parts") == "g_A,g_B,d_A,d_B");
    CHECK(ckpt.metadata.at("optim_d_B.steps") == "6");
    CHECK(ckpt.at("pool.A.images").shape() == Shape{3, 3, 16, 16});
    CHECK(ckpt.at("pool.B.images").shape() == Shape{3, 3, 16, 16});
    for (const std::string file : {"config.yaml", "metrics.csv", "curves.png", "samples/iter_6.png", "net_g_A_init.safetensors",
                                   "net_g_A_best.safetensors", "checkpoints/iter_3.safetensors"})
        CHECK_MESSAGE(fs::exists(out / "split" / file), file);
    std::ifstream csv(out / "split" / "metrics.csv");
    std::string header;
    std::getline(csv, header);
    CHECK(header.find("l_g_A,l_g_B,l_cycle_A,l_cycle_B,l_idt_A,l_idt_B,l_d_A,l_d_B") != std::string::npos);
    // G_A's weights name their spec, and whole images of any size go through it in [0, 1].
    auto g_a = make_model("resnet_generator:ngf=4,n_blocks=1");
    g_a->load((out / "split" / "net_g_A.safetensors").string());
    const Tensor in = read_image((data / "valA" / "v.png").string(), 3);
    const Tensor y = upscale_image(*g_a, in, {});
    CHECK(y.shape() == in.shape());
    {  // what upscale_image does for it: [-1, 1], mirrored to 24 x 28, the padding cut off again
        NoGradGuard no_grad;
        const Tensor padded = reflection_pad2d((in * 2.0 + -1.0).reshape({1, 3, 22, 26}), Pad2d(0, 2, 0, 2));
        const Tensor out = g_a->forward(padded).slice(2, 0, 22).slice(3, 0, 26);
        const Tensor manual = clamp((out + 1.0) * 0.5, 0.0, 1.0).reshape({3, 22, 26});
        CHECK(largest_difference(y, manual).worst < 1e-6);
    }
    // An SR run cannot continue a CycleGAN checkpoint, nor the other way round.
    TrainOptions sr_run = tiny_run(make_dataset("cyclegan_sr_data", 2, 1, 32, 32, 2), out);
    sr_run.name = "split";
    sr_run.total_iter = 8;
    CHECK(error_of([&] { train(sr_run); }).find("CycleGANModel run") != std::string::npos);
    TrainOptions other = tiny_cyclegan(data, out);
    other.name = "straight";
    other.total_iter = 8;
    other.model_d = "patchgan_discriminator:ndf=8,n_layers=2";
    CHECK(error_of([&] { train(other); }).find("network d_A") != std::string::npos);
}
