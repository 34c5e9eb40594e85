// train/imresize, train/metrics, train/pairs and tools/sr_eval: MATLAB-style bicubic imresize and
// PSNR-Y / SSIM-Y / PSNR-RGB against an independent numpy implementation of BasicSR's definitions
// (tests/fixtures/metrics.safetensors, from tools/reference/make_metric_fixtures.py), their exact
// properties and errors, dataset discovery in both layouts, and sr_eval end to end.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/factory.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "test_util.h"
#include "train/imresize.h"
#include "train/metrics.h"
#include "train/pairs.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

const SafetensorsFile& fixture() {
    static const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/metrics.safetensors");
    return f;
}

// A U8 fixture image (8-bit levels) as F32 values in [0, 1].
Tensor image_u8(const std::string& name) {
    const Tensor& t = fixture().at(name);
    std::vector<double> v = to_vector(t);
    for (double& x : v) x /= 255.0;
    return from_vector(v, t.shape());
}

// A fresh, empty folder under the system's temporary directory.
fs::path temp_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("srforge_test_metrics_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// Runs a command; its exit status, with stdout and stderr captured in files.
struct Run {
    int status = -1;
    std::string out, err;
};
Run run(const std::string& command, const fs::path& dir) {
    const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    const int raw = std::system((command + " > " + out.string() + " 2> " + err.string()).c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_file(out.string()), read_file(err.string())};
}

std::string sr_eval_path() {
    const std::string path = std::string(SR_TOOLS_DIR) + "/sr_eval";
    REQUIRE_MESSAGE(fs::exists(path), "build the sr_eval tool first (", path, ")");
    return path;
}

}  // namespace

TEST_CASE("imresize matches the numpy reference of BasicSR's imresize at every scale") {
    const std::vector<std::pair<std::string, double>> scales = {{"1_2", 1.0 / 2}, {"1_3", 1.0 / 3}, {"1_4", 1.0 / 4},
                                                                {"2", 2.0},       {"3", 3.0},       {"4", 4.0}};
    for (const std::string name : {"noise", "smooth"}) {
        const Tensor image = fixture().at(name);
        for (const auto& [label, scale] : scales) {
            const std::string key = name + ".x" + label;
            CAPTURE(key);
            const Tensor want = fixture().at(key);
            const Tensor got = imresize(image, scale);
            REQUIRE(got.shape() == want.shape());
            CHECK(got.dtype() == DType::F32);
            const Difference d = largest_difference(got, want);
            INFO("worst at ", d.at, ": ", d.got, " vs ", d.want);
            CHECK(d.worst < 1e-6);
            // F64 in, F64 out, from the same double computation.
            const Tensor got64 = imresize(image.to(DType::F64), scale);
            CHECK(got64.dtype() == DType::F64);
            CHECK(largest_difference(got64, want).worst < 1e-6);
        }
    }
    // Scales that are neither 1/integer nor integer.
    for (const auto& [label, scale] : std::vector<std::pair<std::string, double>>{{"0.3", 0.3}, {"1.5", 1.5}}) {
        CAPTURE(label);
        const Tensor want = fixture().at("noise.x" + label);
        const Tensor got = imresize(fixture().at("noise"), scale);
        REQUIRE(got.shape() == want.shape());
        CHECK(largest_difference(got, want).worst < 1e-6);
    }
}

TEST_CASE("imresize: sizes, identity at scale 1, constants stay constant, views and tiny images") {
    Generator gen(3);
    const Tensor image = uniform({3, 13, 10}, 0, 1, {DType::F64}, &gen);
    // Output sizes are ceil(size x scale), as MATLAB and BasicSR: 672 / 3 is 224 even though
    // 1.0 / 3 is not exact.
    CHECK(imresize(zeros({1, 672, 1020}), 1.0 / 3).shape() == Shape{1, 224, 340});
    CHECK(imresize(image, 0.5).shape() == Shape{3, 7, 5});
    CHECK(imresize(image, 2.5).shape() == Shape{3, 33, 25});
    // At scale 1 the cubic kernel samples 1 at distance 0 and 0 at every other integer.
    CHECK(to_vector(imresize(image, 1.0)) == to_vector(image));
    // Weights sum to 1, so a constant image stays constant, borders included.
    for (double scale : {0.25, 1.0 / 3, 0.7, 2.0, 3.0}) {
        CAPTURE(scale);
        for (double v : to_vector(imresize(full({2, 9, 11}, 0.375, {DType::F64}), scale))) CHECK(v == doctest::Approx(0.375).epsilon(1e-12));
    }
    // A strided view gives the result of its contiguous copy.
    const Tensor view = image.permute({0, 2, 1});
    CHECK(to_vector(imresize(view, 0.5)) == to_vector(imresize(view.contiguous(), 0.5)));
    // Images smaller than the kernel keep reflecting at their borders (BasicSR cannot resize them).
    CHECK(imresize(full({1, 2, 3}, 0.5), 0.25).shape() == Shape{1, 1, 1});
    CHECK(imresize(full({1, 2, 3}, 0.5), 0.25).item() == doctest::Approx(0.5));
    CHECK(imresize(full({1, 1, 1}, 0.5), 4).shape() == Shape{1, 4, 4});
    // Values are not clipped: bicubic overshoots at a step edge.
    const Tensor step = from_vector({0, 0, 0, 1, 1, 1}, {1, 1, 6});
    const std::vector<double> up = to_vector(imresize(step, 4));
    CHECK(*std::min_element(up.begin(), up.end()) < 0);
    CHECK(*std::max_element(up.begin(), up.end()) > 1);
}

TEST_CASE("quantize_u8 rounds to 8-bit levels and clips") {
    const Tensor x = from_vector({-0.2, 0.0, 0.5, 0.25, 1.0 / 255, 0.999, 1.7, 100.4 / 255}, {8}, DType::F64);
    const std::vector<double> q = to_vector(quantize_u8(x));
    // 0.5 * 255 = 127.5 exactly: half rounds to the even level 128.
    const std::vector<double> want = {0, 0, 128, 64, 1, 255, 255, 100};
    REQUIRE(q.size() == want.size());
    for (size_t i = 0; i < q.size(); ++i) CHECK(q[i] * 255 == doctest::Approx(want[i]).epsilon(1e-12));
    CHECK(quantize_u8(x.to(DType::F32)).dtype() == DType::F32);
    // Idempotent: a quantised image is a fixed point.
    const Tensor once = quantize_u8(uniform({3, 5, 4}, -0.1, 1.1));
    CHECK(to_vector(quantize_u8(once)) == to_vector(once));
}

TEST_CASE("imresize and quantize_u8 errors name the op and what was given") {
    CHECK(error_of([] { (void)imresize(zeros({4, 4}), 2); }) == "imresize: expects a non-empty image [C, H, W], got [4, 4]");
    CHECK(error_of([] { (void)imresize(zeros({1, 3, 4, 4}), 2); }) ==
          "imresize: expects a non-empty image [C, H, W], got [1, 3, 4, 4]");
    CHECK(error_of([] { (void)imresize(zeros({3, 0, 4}), 2); }).find("non-empty") != std::string::npos);
    CHECK(error_of([] { (void)imresize(zeros({3, 4, 4}), 0); }) == "imresize: scale must be a positive number, got 0");
    CHECK(error_of([] { (void)imresize(zeros({3, 4, 4}), -2); }).find("positive") != std::string::npos);
    CHECK(error_of([] { (void)imresize(zeros({3, 4, 4}), std::nan("")); }).find("positive") != std::string::npos);
    CHECK(error_of([] { (void)imresize(zeros({3, 4, 4}), 1e-9); }) == "imresize: scale must be in [1/256, 256], got 1e-09");
    CHECK(error_of([] { (void)imresize(zeros({3, 4, 4}), 300); }).find("[1/256, 256]") != std::string::npos);
    const Tensor u8 = fixture().at("photo");
    CHECK(error_of([&] { (void)imresize(u8, 2); }) == "imresize: expects a floating tensor (F32 or F64), got U8");
    CHECK(error_of([&] { (void)quantize_u8(u8); }) == "quantize_u8: expects a floating tensor (F32 or F64), got U8");
}

TEST_CASE("PSNR-Y, SSIM-Y and PSNR-RGB match the numpy reference of BasicSR's metrics") {
    const Tensor hr = image_u8("photo");
    const Tensor metrics = fixture().at("metrics");  // rows: scale (0: noisy copy), crop_border, PSNR-Y, SSIM-Y, PSNR-RGB
    const std::vector<double> rows = to_vector(metrics);
    REQUIRE(metrics.size(1) == 5);
    for (int64_t r = 0; r < metrics.size(0); ++r) {
        const int scale = int(rows[r * 5]), crop = int(rows[r * 5 + 1]);
        CAPTURE(scale);
        CAPTURE(crop);
        const Tensor sr = image_u8(scale ? "photo.sr_x" + std::to_string(scale) : "photo.noisy");
        CHECK(std::abs(psnr_y(sr, hr, crop) - rows[r * 5 + 2]) < 1e-6);
        CHECK(std::abs(ssim_y(sr, hr, crop) - rows[r * 5 + 3]) < 1e-8);
        CHECK(std::abs(psnr_rgb(sr, hr, crop) - rows[r * 5 + 4]) < 1e-6);
        const ImageScores s = score_image(sr, hr, crop);
        CHECK(s.psnr_y == psnr_y(sr, hr, crop));
        CHECK(s.ssim_y == ssim_y(sr, hr, crop));
        CHECK(s.psnr_rgb == psnr_rgb(sr, hr, crop));
    }
}

TEST_CASE("metrics read images as 8-bit levels, like BasicSR's tensor2img") {
    const Tensor hr = image_u8("photo");
    Generator gen(4);
    // An unquantised SR output scores what its quantised (saved) version scores, in F32 or F64.
    const Tensor raw = hr + uniform(hr.shape(), -0.02, 0.02, {}, &gen);
    const Tensor saved = quantize_u8(raw);
    CHECK(psnr_y(raw, hr, 4) == psnr_y(saved, hr, 4));
    CHECK(ssim_y(raw, hr, 4) == ssim_y(saved, hr, 4));
    CHECK(psnr_rgb(raw.to(DType::F64), hr, 4) == psnr_rgb(saved, hr, 4));
    // Identical images: PSNR is +infinity, as BasicSR returns float('inf'); SSIM is exactly 1.
    CHECK(std::isinf(psnr_y(hr, hr, 2)));
    CHECK(psnr_y(hr, hr, 2) > 0);
    CHECK(std::isinf(psnr_rgb(hr, hr, 0)));
    CHECK(ssim_y(hr, hr, 2) == 1.0);
    // One level more or less of blue at one pixel moves Y there by 24.966 / 255 and nowhere else:
    // MSE-Y = (24.966 / 255)^2 / pixels, MSE-RGB = 1 / (3 pixels).
    Tensor one = hr.clone();
    std::vector<double> v = to_vector(one);
    const int64_t plane = 72 * 48, at = 2 * plane + 30 * 48 + 20;  // blue channel, row 30, column 20
    v[at] = v[at] > 0.5 ? v[at] - 1.0 / 255 : v[at] + 1.0 / 255;
    one = from_vector(v, hr.shape());
    const double dy = 24.966 / 255;
    CHECK(psnr_y(one, hr, 0) == doctest::Approx(10 * std::log10(255.0 * 255.0 / (dy * dy / double(plane)))).epsilon(1e-12));
    CHECK(psnr_rgb(one, hr, 0) == doctest::Approx(10 * std::log10(255.0 * 255.0 / (1.0 / (3.0 * plane)))).epsilon(1e-12));
    // Cropping removes the changed pixel from view.
    CHECK(std::isinf(psnr_rgb(one, hr, 21)));
}

TEST_CASE("metric errors: shapes, channels, crops that leave too little") {
    const Tensor a = zeros({3, 20, 16});
    CHECK(error_of([&] { (void)psnr_y(a, zeros({3, 20, 15}), 0); }) ==
          "psnr_y: expects two RGB images [3, H, W] of one shape, got [3, 20, 16] and [3, 20, 15]");
    CHECK(error_of([&] { (void)ssim_y(zeros({1, 20, 16}), zeros({1, 20, 16}), 0); }).find("expects two RGB images") != std::string::npos);
    CHECK(error_of([&] { (void)psnr_rgb(zeros({1, 3, 20, 16}), zeros({1, 3, 20, 16}), 0); }).find("psnr_rgb: expects") !=
          std::string::npos);
    CHECK(error_of([&] { (void)psnr_y(a, a, -1); }) == "psnr_y: crop_border must be >= 0, got -1");
    CHECK(error_of([&] { (void)psnr_rgb(a, a, 8); }) == "psnr_rgb: cropping 8 pixels from each side of [3, 20, 16] leaves 4 x 0 pixels");
    CHECK(error_of([&] { (void)psnr_rgb(a, a, 7); }) == "(no error)");
    CHECK(error_of([&] { (void)ssim_y(a, a, 3); }) ==
          "ssim_y: cropping 3 pixels from each side of [3, 20, 16] leaves 14 x 10 pixels, smaller than the 11 x 11 SSIM window");
    CHECK(error_of([&] { (void)ssim_y(zeros({3, 11, 11}), zeros({3, 11, 11}), 0); }) == "(no error)");
    CHECK(error_of([&] { (void)score_image(a, a, 3); }).find("score_image: cropping") != std::string::npos);
    CHECK(error_of([&] { (void)psnr_y(fixture().at("photo"), fixture().at("photo"), 0); }) ==
          "metrics: expects a floating tensor (F32 or F64), got U8");
}

TEST_CASE("find_pairs: DIV2K and plain layouts, splits, and what is missing") {
    const fs::path dir = temp_dir("pairs");
    auto touch = [](const fs::path& p) {
        fs::create_directories(p.parent_path());
        std::ofstream(p) << "x";
    };
    const fs::path div2k = dir / "div2k";
    for (const std::string n : {"0002", "0001"}) {
        touch(div2k / "DIV2K_train_HR" / (n + ".png"));
        touch(div2k / "DIV2K_train_LR_bicubic" / "X2" / (n + "x2.png"));
    }
    touch(div2k / "DIV2K_valid_HR" / "0801.png");
    touch(div2k / "DIV2K_valid_HR" / "notes.txt");  // not an image: ignored
    touch(div2k / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png");

    const std::vector<ImagePair> valid = find_pairs(div2k.string(), "valid", 2);
    REQUIRE(valid.size() == 1);
    CHECK(valid[0].name == "0801.png");
    CHECK(valid[0].hr == (div2k / "DIV2K_valid_HR" / "0801.png").string());
    CHECK(valid[0].lr == (div2k / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png").string());
    const std::vector<ImagePair> all = find_pairs(div2k.string(), "all", 2);
    REQUIRE(all.size() == 3);
    CHECK(all[0].name == "0001.png");  // train first, sorted by name, then valid
    CHECK(all[1].name == "0002.png");
    CHECK(all[2].name == "0801.png");
    CHECK(find_pairs(div2k.string(), "train", 2).size() == 2);
    CHECK(find_hr_images(div2k.string(), "all").size() == 3);

    CHECK(error_of([&] { (void)find_pairs(div2k.string(), "valid", 3); }) ==
          "find_pairs: no LR folder '" + (div2k / "DIV2K_valid_LR_bicubic" / "X3").string() + "' for x3");
    fs::remove(div2k / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png");
    CHECK(error_of([&] { (void)find_pairs(div2k.string(), "train", 2); }) ==
          "find_pairs: no LR image '" + (div2k / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png").string() + "' for '" +
              (div2k / "DIV2K_train_HR" / "0002.png").string() + "'");
    CHECK(error_of([&] { (void)find_pairs(div2k.string(), "test", 2); }) == "find_pairs: split must be train, valid or all, got 'test'");
    CHECK(error_of([&] { (void)find_pairs(div2k.string(), "valid", 0); }) == "find_pairs: scale must be >= 1, got 0");

    // A plain benchmark folder (Set5-style): one set, any split.
    const fs::path plain = dir / "set5";
    touch(plain / "HR" / "baby.png");
    touch(plain / "LR_bicubic" / "X4" / "babyx4.png");
    const std::vector<ImagePair> set5 = find_pairs(plain.string(), "valid", 4);
    REQUIRE(set5.size() == 1);
    CHECK(set5[0].lr == (plain / "LR_bicubic" / "X4" / "babyx4.png").string());

    CHECK(error_of([&] { (void)find_pairs((dir / "nope").string(), "valid", 2); }) ==
          "find_pairs: no folder '" + (dir / "nope").string() + "'");
    fs::create_directories(dir / "empty" / "HR");
    // Any other folder is a folder of HR images.
    CHECK(error_of([&] { (void)find_pairs(dir.string(), "valid", 2); }) ==
          "find_pairs: no PNG, JPEG or BMP images in '" + dir.string() + "'");
    const fs::path photos = dir / "photos";
    touch(photos / "b.jpg");
    touch(photos / "a.png");
    CHECK(error_of([&] { (void)find_pairs(photos.string(), "train", 2); }) ==
          "find_pairs: no LR folder '" + (photos / "LR_bicubic" / "X2").string() + "' for x2");
    // With lr_optional a missing LR folder means "make LR from HR" (an empty lr path) ...
    const std::vector<ImagePair> hr_only = find_pairs(photos.string(), "train", 2, /*lr_optional=*/true);
    REQUIRE(hr_only.size() == 2);
    CHECK(hr_only[0].name == "a.png");
    CHECK(hr_only[0].lr.empty());
    CHECK(find_pairs(div2k.string(), "valid", 3, true)[0].lr.empty());
    // ... but an LR folder that lacks a file is still an error.
    CHECK(error_of([&] { (void)find_pairs(div2k.string(), "train", 2, true); }).find("no LR image") != std::string::npos);
    CHECK(error_of([&] { (void)find_hr_images((dir / "empty").string(), "all"); }) ==
          "find_hr_images: no PNG, JPEG or BMP images in '" + (dir / "empty" / "HR").string() + "'");
    fs::remove_all(dir);
}

TEST_CASE("sr_eval: bicubic and a model on a small DIV2K-layout folder, JSON output, clear errors") {
    const std::string tool = sr_eval_path();
    const fs::path dir = temp_dir("sr_eval");
    const fs::path data = dir / "data";
    fs::create_directories(data / "DIV2K_valid_HR");
    fs::create_directories(data / "DIV2K_valid_LR_bicubic" / "X2");
    // Two HR images (a photograph crop and its noisy copy) and their MATLAB-bicubic LR images.
    const std::vector<std::pair<std::string, Tensor>> hrs = {{"0801", image_u8("photo")}, {"0802", image_u8("photo.noisy")}};
    for (const auto& [name, hr] : hrs) {
        write_png((data / "DIV2K_valid_HR" / (name + ".png")).string(), hr);
        write_png((data / "DIV2K_valid_LR_bicubic" / "X2" / (name + "x2.png")).string(), quantize_u8(imresize(hr, 0.5)));
    }
    auto model = make_model("edsr:num_feat=4,num_block=1,upscale=2");
    model->eval();
    model->save((dir / "w.safetensors").string());

    for (const bool bicubic : {true, false}) {
        CAPTURE(bicubic);
        const std::string args = bicubic ? " --model bicubic" : " --model edsr:num_feat=4,num_block=1,upscale=2 --weights " +
                                                                     (dir / "w.safetensors").string() + " --tile 10";
        const Run r = run(tool + args + " --data " + data.string() + " --scale 2 --json", dir);
        REQUIRE_MESSAGE(r.status == 0, r.err);
        const Json j = Json::parse(r.out, "sr_eval output");
        const Json* images = j.find("images");
        REQUIRE(images != nullptr);
        REQUIRE(images->items.size() == 2);
        ImageScores mean;
        for (size_t i = 0; i < 2; ++i) {
            const Json& item = images->items[i];
            CHECK(item.find("name")->text == hrs[i].first + ".png");
            const Tensor hr = read_image((data / "DIV2K_valid_HR" / (hrs[i].first + ".png")).string(), 3);
            const Tensor lr = read_image((data / "DIV2K_valid_LR_bicubic" / "X2" / (hrs[i].first + "x2.png")).string(), 3);
            const Tensor sr = quantize_u8(bicubic ? imresize(lr, 2) : upscale_image(*model, lr, {.tile = 10}));
            const ImageScores want = score_image(sr, hr, 2);
            CHECK(item.find("psnr_y")->number == doctest::Approx(want.psnr_y).epsilon(1e-8));
            CHECK(item.find("ssim_y")->number == doctest::Approx(want.ssim_y).epsilon(1e-7));
            CHECK(item.find("psnr_rgb")->number == doctest::Approx(want.psnr_rgb).epsilon(1e-8));
            mean.psnr_y += want.psnr_y / 2;
            mean.ssim_y += want.ssim_y / 2;
        }
        CHECK(j.find("mean")->find("psnr_y")->number == doctest::Approx(mean.psnr_y).epsilon(1e-8));
        CHECK(j.find("mean")->find("ssim_y")->number == doctest::Approx(mean.ssim_y).epsilon(1e-7));
    }
    // The table form lists every image and the mean.
    const Run table = run(tool + " --model bicubic --data " + data.string() + " --scale 2", dir);
    CHECK(table.status == 0);
    CHECK(table.out.find("0801.png") != std::string::npos);
    CHECK(table.out.find("mean") != std::string::npos);

    // An HR image that is not exactly 2x its LR image.
    const fs::path hr2 = data / "DIV2K_valid_HR" / "0802.png";
    write_png(hr2.string(), zeros({3, 70, 48}));
    Run bad = run(tool + " --model bicubic --data " + data.string() + " --scale 2", dir);
    CHECK(bad.status == 1);
    CHECK(bad.err.find("sr_eval: '" + hr2.string() + "' is 48x70 but its LR image") != std::string::npos);
    // A corrupt LR image, and a missing one.
    write_png(hr2.string(), hrs[1].second);
    const fs::path lr2 = data / "DIV2K_valid_LR_bicubic" / "X2" / "0802x2.png";
    std::ofstream(lr2) << "not a PNG";
    bad = run(tool + " --model bicubic --data " + data.string() + " --scale 2 --json", dir);
    CHECK(bad.status == 1);
    CHECK(bad.err.find("cannot decode '" + lr2.string() + "'") != std::string::npos);
    CHECK(bad.out.empty());
    fs::remove(lr2);
    bad = run(tool + " --model bicubic --data " + data.string() + " --scale 2", dir);
    CHECK(bad.status == 1);
    CHECK(bad.err.find("no LR image '" + lr2.string() + "'") != std::string::npos);
    // A model of another scale, and bad arguments.
    bad = run(tool + " --model edsr:num_feat=4,num_block=1,upscale=2 --weights " + (dir / "w.safetensors").string() +
                  " --data " + data.string() + " --scale 3",
              dir);
    CHECK(bad.status == 1);
    CHECK(bad.err.find("upscales x2, not x3") != std::string::npos);
    CHECK(run(tool + " --model edsr --data " + data.string() + " --scale 2", dir).err.find("--weights is required") !=
          std::string::npos);
    CHECK(run(tool + " --model bicubic --data " + data.string() + " --scale two", dir).status == 1);
    fs::remove_all(dir);
}
