// models/upscale: tiled upscaling equals the untiled result where the receptive field fits in the
// padding; self-ensemble, gray and alpha inputs.
#include <doctest/doctest.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <sys/wait.h>

#include "autograd/node.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/safetensors.h"
#include "core/factory.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "ops/concat.h"
#include "train/imresize.h"
#include "test_util.h"

using namespace sr;

TEST_CASE("tiles with enough padding give the untiled result exactly (to 1e-5), on ragged edges too") {
    // EDSR with one block: receptive field about 6 LR pixels, well inside pad - blend = 8.
    auto model = make_model("edsr:num_feat=8,num_block=1,upscale=2");
    model->eval();
    const Tensor image = uniform({3, 37, 29}, 0, 1);
    const Tensor whole = upscale_image(*model, image, {.tile = 64, .pad = 10, .blend = 2});
    CHECK(whole.shape() == Shape{3, 74, 58});
    for (int64_t tile : {8, 13}) {
        CAPTURE(tile);
        int64_t calls = 0;
        const Tensor tiled = upscale_image(*model, image, {.tile = tile, .pad = 10, .blend = 2, .progress = [&](int64_t, int64_t) { ++calls; }});
        CHECK(calls == ((37 + tile - 1) / tile) * ((29 + tile - 1) / tile));
        const Difference d = largest_difference(tiled, whole);
        INFO("worst at ", d.at, ": ", d.got, " vs ", d.want);
        CHECK(d.worst < 1e-5);
    }
    // Hard edges (no blend band) are exact as well.
    CHECK(largest_difference(upscale_image(*model, image, {.tile = 10, .pad = 8, .blend = 0}), whole).worst < 1e-5);
    // Too little padding is not exact, but still close: the blend hides the seam.
    const Difference rough = largest_difference(upscale_image(*model, image, {.tile = 10, .pad = 2, .blend = 1}), whole);
    CHECK(rough.worst < 0.2);
}

TEST_CASE("x8 self-ensemble is equivariant to flips and transposes, unlike a single pass") {
    auto model = make_model("edsr:num_feat=4,num_block=1,upscale=2");
    model->eval();
    const Tensor image = uniform({3, 9, 11}, 0, 1);
    // The image transposed: an ensemble averages over all 8 symmetries, so its output for the
    // transposed image is its output for the original, transposed.
    const Tensor transposed = image.permute({0, 2, 1}).contiguous();
    const Tensor a = upscale_image(*model, image, {.self_ensemble = true});
    const Tensor b = upscale_image(*model, transposed, {.self_ensemble = true}).permute({0, 2, 1}).contiguous();
    CHECK(largest_difference(a, b).worst < 1e-5);
    const Tensor plain = upscale_image(*model, image, {});
    const Tensor plain_t = upscale_image(*model, transposed, {}).permute({0, 2, 1}).contiguous();
    CHECK(largest_difference(plain, plain_t).worst > 1e-4);  // a single pass is not
}

TEST_CASE("transformers: tiles in whole windows, self-ensemble, any image size") {
    auto model = make_model("swinir:upscale=2,img_size=8,window_size=4,embed_dim=8,depths=[2],num_heads=[2],"
                            "upsampler=pixelshuffledirect");
    model->eval();
    const Tensor image = uniform({3, 23, 18}, 0, 1);
    const Tensor whole = upscale_image(*model, image, {});
    CHECK(whole.shape() == Shape{3, 46, 36});
    // A tile of 6 becomes 8 (two windows), the padding 5 becomes 8: 3 x 3 tiles, not 4 x 3.
    int64_t calls = 0;
    const Tensor tiled = upscale_image(*model, image, {.tile = 6, .pad = 5, .blend = 2, .progress = [&](int64_t, int64_t) { ++calls; }});
    CHECK(calls == 3 * 3);
    // Attention reaches further than any padding, so tiles are close to the whole image, not equal.
    const Difference d = largest_difference(tiled, whole);
    CHECK(d.worst > 0);
    CHECK(d.worst < 0.1);
    const Tensor ensemble = upscale_image(*model, image, {.tile = 8, .self_ensemble = true});
    CHECK(ensemble.shape() == whole.shape());
    CHECK(largest_difference(ensemble, whole).worst > 1e-4);  // eight passes averaged, not one
}

TEST_CASE("gray, gray+alpha and RGBA images keep their channels; alpha is upscaled beside the colour") {
    auto model = make_model("edsr:num_feat=4,num_block=1,upscale=3");
    model->eval();
    CHECK(upscale_image(*model, uniform({1, 6, 5}, 0, 1), {}).shape() == Shape{1, 18, 15});
    CHECK(upscale_image(*model, uniform({2, 6, 5}, 0, 1), {}).shape() == Shape{2, 18, 15});
    const Tensor rgba = concat({uniform({3, 6, 5}, 0, 1), full({1, 6, 5}, 0.25)}, 0);
    const Tensor out = upscale_image(*model, rgba, {});
    CHECK(out.shape() == Shape{4, 18, 15});
    for (double a : to_vector(out.slice(0, 3, 4))) CHECK(a == doctest::Approx(0.25));
    CHECK(error_of([&] { (void)upscale_image(*model, zeros({5, 4, 4}), {}); }).find("C = 1..4") != std::string::npos);
}

TEST_CASE("sr_upscale: files and folders, 16-bit in and out, bad input leaves no output") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "srforge_sr_upscale";
    fs::remove_all(dir);
    fs::create_directories(dir / "in");
    auto model = make_model("edsr:num_feat=4,num_block=1,upscale=2");
    model->save((dir / "w.safetensors").string());
    const std::string fixtures = std::string(SR_SOURCE_DIR) + "/tests/fixtures/images/";
    fs::copy_file(fixtures + "rgba8.png", dir / "in" / "a.png");
    fs::copy_file(fixtures + "rgb16.png", dir / "in" / "b.png");
    const std::string tool = std::string(SR_TOOLS_DIR) + "/sr_upscale --quiet --model edsr:num_feat=4,num_block=1,upscale=2 --weights " +
                             (dir / "w.safetensors").string();
    REQUIRE(std::system((tool + " --input " + (dir / "in").string() + " --output " + (dir / "out").string()).c_str()) == 0);
    ImageInfo a, b;
    CHECK(read_image((dir / "out" / "a.png").string(), 0, &a).shape() == Shape{4, 10, 14});
    CHECK(read_image((dir / "out" / "b.png").string(), 0, &b).shape() == Shape{3, 10, 14});
    CHECK(b.bits == 16);
    std::ofstream(dir / "bad.png") << "not an image";
    CHECK(std::system((tool + " --input " + (dir / "bad.png").string() + " --output " + (dir / "bad_out.png").string() +
                       " 2> /dev/null").c_str()) != 0);
    CHECK(!fs::exists(dir / "bad_out.png"));
}

TEST_CASE("sr_upscale never writes over an input, refuses colliding outputs, and loads weights strictly") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "srforge_sr_upscale_safety";
    fs::remove_all(dir);
    fs::create_directories(dir / "in");
    const std::string spec = "edsr:num_feat=4,num_block=1,upscale=2";
    make_model(spec)->save((dir / "w.safetensors").string(), {{"model", spec}});
    const std::string image = std::string(SR_SOURCE_DIR) + "/tests/fixtures/images/rgba8.png";
    fs::copy_file(image, dir / "in" / "a.png");
    fs::copy_file(image, dir / "in" / "b.png");
    fs::copy_file(image, dir / "in" / "a.jpg");  // its name is what matters: a.jpg and a.png both make a.png
    const std::string tool = std::string(SR_TOOLS_DIR) + "/sr_upscale --quiet --weights " + (dir / "w.safetensors").string();
    auto run = [&](const std::string& args) {
        const int status = std::system((tool + " " + args + " 2> " + (dir / "err.txt").string()).c_str());
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file((dir / "err.txt").string()));
    };
    const std::string before = read_file((dir / "in" / "a.png").string());
    // Errors name the tool once.
    CHECK(run("--tile abc --input x --output y").second == "sr_upscale: --tile must be an integer, got 'abc'\n");
    // --output equal to --input.
    auto [code, err] = run("--input " + (dir / "in" / "a.png").string() + " --output " + (dir / "in" / "a.png").string());
    CHECK(code == 1);
    CHECK(err.find("refusing to write") != std::string::npos);
    // A folder into itself: a.jpg would replace a.png.
    std::tie(code, err) = run("--input " + (dir / "in").string() + " --output " + (dir / "in").string());
    CHECK(code == 1);
    CHECK(err.find("would both be written to") != std::string::npos);
    fs::remove(dir / "in" / "a.jpg");
    std::tie(code, err) = run("--input " + (dir / "in").string() + " --output " + (dir / "in").string());
    CHECK(code == 1);
    CHECK(err.find("over the input image") != std::string::npos);
    CHECK(read_file((dir / "in" / "a.png").string()) == before);
    // The weights must be the model's: another spec, or a file with more blocks, is refused.
    std::tie(code, err) = run("--model edsr:num_feat=4,num_block=2,upscale=2 --input " + (dir / "in" / "a.png").string() + " --output " +
                              (dir / "o.png").string());
    CHECK(code == 1);
    CHECK(err.find("num_block=1, but --model says num_block=2") != std::string::npos);
    make_model("edsr:num_feat=4,num_block=2,upscale=2")->save((dir / "w2.safetensors").string());
    std::tie(code, err) = run("--model " + spec + " --input " + (dir / "in" / "a.png").string() + " --output " + (dir / "o.png").string() +
                              " --weights " + (dir / "w2.safetensors").string());
    CHECK(code == 1);  // w2 stores no spec, but its shapes show two blocks
    CHECK(err.find("num_block=2, but --model says num_block=1") != std::string::npos);
    CHECK(!fs::exists(dir / "o.png"));
    // NaN weights would only give a black image.
    NamedTensors w = read_safetensors((dir / "w.safetensors").string()).tensors;
    w[0].second = full(w[0].second.shape(), std::nan(""));
    write_safetensors((dir / "nan.safetensors").string(), w, {{"model", spec}});
    std::tie(code, err) = run("--input " + (dir / "in" / "a.png").string() + " --output " + (dir / "o.png").string() + " --weights " +
                              (dir / "nan.safetensors").string());
    CHECK(code == 1);
    CHECK(err.find("NaN or infinity") != std::string::npos);
    // A small file whose spec implies gigabytes stops before they are allocated.
    write_safetensors((dir / "huge.safetensors").string(), read_safetensors((dir / "w.safetensors").string()).tensors, {{"model", "edsr:num_feat=6000,num_block=16,upscale=2"}});
    std::tie(code, err) = run("--input " + (dir / "in" / "a.png").string() + " --output " + (dir / "o.png").string() + " --weights " +
                              (dir / "huge.safetensors").string());
    CHECK(code == 1);
    CHECK(err.find("the spec does not match these weights") != std::string::npos);
    NamedTensors unnamed = read_safetensors((dir / "w.safetensors").string()).tensors;  // no spec stored, no known names
    for (size_t i = 0; i < unnamed.size(); ++i) unnamed[i].first = std::to_string(i) + ".unknown";
    write_safetensors((dir / "bare.safetensors").string(), unnamed);
    std::tie(code, err) = run("--model edsr:num_feat=6000 --input " + (dir / "in" / "a.png").string() + " --output " + (dir / "o.png").string() +
                              " --weights " + (dir / "bare.safetensors").string());
    CHECK(code == 1);
    CHECK(err.find("needs more than") != std::string::npos);
}

TEST_CASE("CycleGAN's generator through sr_upscale: [-1, 1] inside, any size (padded to multiples of 4), never tiled") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "srforge_sr_upscale_cyclegan";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string spec = "resnet_generator:ngf=4,n_blocks=1";
    auto g = make_model(spec);
    g->eval();
    g->save((dir / "g.safetensors").string(), {{"model", spec}});
    const Tensor image = uniform({3, 30, 37}, 0, 1);
    write_png((dir / "in.png").string(), image);
    const Tensor whole = upscale_image(*g, read_image((dir / "in.png").string(), 3), {});
    CHECK(whole.shape() == Shape{3, 30, 37});
    // Asking for tiles changes nothing: its instance norms need the whole image's statistics.
    CHECK(largest_difference(upscale_image(*g, read_image((dir / "in.png").string(), 3), {.tile = 16}), whole).worst == 0);
    const std::string tool = std::string(SR_TOOLS_DIR) + "/sr_upscale --quiet --weights " + (dir / "g.safetensors").string();
    REQUIRE(std::system((tool + " --input " + (dir / "in.png").string() + " --output " + (dir / "out.png").string()).c_str()) == 0);
    CHECK(largest_difference(read_image((dir / "out.png").string(), 3), quantize_u8(whole)).worst < 1e-6);
    CHECK(error_of([&] { (void)upscale_image(*g, uniform({3, 2, 9}, 0, 1), {}); }).find("at least 4 x 4") != std::string::npos);
}

TEST_CASE("sr_grid: the same square of each image, LR shown in pixel blocks; bad rows refused") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "srforge_sr_grid";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const Tensor hr = uniform({3, 40, 48}, 0, 1);
    write_png((dir / "hr.png").string(), hr);
    write_png((dir / "lr.png").string(), uniform({3, 20, 24}, 0, 1));
    write_png((dir / "odd.png").string(), uniform({3, 15, 24}, 0, 1));
    const std::string tool = std::string(SR_TOOLS_DIR) + "/sr_grid --size 16 --output " + (dir / "grid.png").string();
    auto run = [&](const std::string& args) { return std::system((tool + " " + args + " > /dev/null 2>&1").c_str()); };
    const std::string row = "8,4:" + (dir / "lr.png").string() + "," + (dir / "hr.png").string();
    REQUIRE(run("--captions LR,HR --rows \"" + row + ";" + row + "\"") == 0);
    const Tensor grid = read_image((dir / "grid.png").string(), 3);
    CHECK(grid.size(2) == 4 + 16 + 4 + 16 + 4);  // two squares, with gaps between and around them
    CHECK(grid.size(1) > 2 * 16);        // two rows and the captions
    REQUIRE(run("--rows \"40,30:" + (dir / "hr.png").string() + "\"") == 0);  // reaches out: moved inside, to 32,24
    CHECK(largest_difference(read_image((dir / "grid.png").string(), 3).slice(1, 4, 20).slice(2, 4, 20),
                             quantize_u8(hr.slice(1, 24, 40).slice(2, 32, 48))).worst < 1e-6);
    CHECK(run("--size 41 --rows \"0,0:" + (dir / "hr.png").string() + "\"") != 0);  // larger than the image
    CHECK(run("--rows \"0,0:" + (dir / "odd.png").string() + "," + (dir / "hr.png").string() + "\"") != 0);  // 15 rows into 40
    CHECK(run("--captions A --rows \"" + row + "\"") != 0);                                                   // 1 caption, 2 columns
    CHECK(run("--rows \"x,0:" + (dir / "hr.png").string() + "\"") != 0);
    CHECK(run("--rows \"0,0:" + (dir / "missing.png").string() + "\"") != 0);
}
