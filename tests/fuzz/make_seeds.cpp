// Writes the generated part of the seed corpus (tests/fuzz/corpus/NAME/): small valid inputs of
// each format, so the fuzzers start from files that parse and mutate inward from there. The
// option files and test images already in the tree are passed to the fuzzers as further seeds by
// tools/fuzz.sh; this covers what the tree lacks (a JPEG, a BMP, a checkpoint, small safetensors).
//
//   build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
#include <stb_image_write.h>

#include <cstdio>
#include <filesystem>

#include "core/factory.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/safetensors.h"
#include "models/spec.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using namespace sr;

namespace {

// A 5x3 RGB gradient, with values that are not all equal so every decoder path runs.
Tensor small_image(int64_t channels) {
    Tensor t = Tensor::empty({channels, 3, 5}, DType::F32, Device::cpu());
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = float(i % 7) / 6.0f;
    return t;
}

void write_stb(const fs::path& path, bool jpeg) {
    unsigned char rgb[5 * 3 * 3];
    for (int i = 0; i < 45; ++i) rgb[i] = static_cast<unsigned char>(i * 5);
    const int ok = jpeg ? stbi_write_jpg(path.c_str(), 5, 3, 3, rgb, 90) : stbi_write_bmp(path.c_str(), 5, 3, 3, rgb);
    SR_CHECK(ok, "make_seeds: cannot write '", path.string(), "'");
}

void image_seeds(const fs::path& dir) {
    write_file_atomic((dir / "rgb8.png").string(), encode_png(small_image(3), 8));
    write_file_atomic((dir / "gray16.png").string(), encode_png(small_image(1), 16));
    write_stb(dir / "rgb.jpg", true);
    write_stb(dir / "rgb.bmp", false);
}

void safetensors_seeds(const fs::path& dir) {
    Tensor bytes = Tensor::empty({2}, DType::U8, Device::cpu());
    bytes.data<uint8_t>()[0] = 7, bytes.data<uint8_t>()[1] = 255;
    write_safetensors((dir / "f32_u8.safetensors").string(), {{"a.weight", small_image(2)}, {"b", bytes}},
                      {{"model", "edsr:num_feat=2"}});
    write_safetensors((dir / "f64_scalar.safetensors").string(), {{"x", full({}, 1.5, {DType::F64})}, {"empty", zeros({0, 3})}});
}

void checkpoint_seed(const fs::path& dir) {
    // The run of fuzz_checkpoint.cpp.
    const std::string spec = "edsr:num_feat=2,num_block=1,upscale=2";
    std::shared_ptr<Network> net = make_model(spec);
    Adam adam(net->parameters());
    Ema ema(*net, 0.999);
    save_checkpoint((dir / "tiny.safetensors").string(), {spec, net.get(), &adam}, &ema, nullptr, RunState{7, 30.5, 5, 1});
}

// Option files come from configs/ and tests/fixtures/basicsr_options; this one adds the YAML
// features those lack (anchors, aliases, flow collections, a merge key, tags).
void options_seed(const fs::path& dir) {
    write_file_atomic((dir / "yaml_features.yml").string(), R"(name: &n seed
model_type: SRModel
scale: 2
datasets:
  train: &train {name: DIV2K, type: PairedImageDataset, dataroot_gt: hr, dataroot_lq: lr, gt_size: 32}
  val:
    <<: *train
    name: *n
network_g: !!map {type: EDSR, num_feat: 8, num_block: 1, upscale: 2}
train:
  total_iter: 10
  scheduler: {type: MultiStepLR, milestones: [5, 8], gamma: 0.5}
)");
}

void lmdb_meta_seed(const fs::path& dir) {
    write_file_atomic((dir / "meta_info.txt").string(), "0001_s001.png (480,480,3) 1\n0001_s002.png (480,480,3) 1\nbaboon.png (120,125,1) 0\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    try {
        const fs::path root = argv[1];
        for (const char* name : {"image", "safetensors", "checkpoint", "options", "lmdb_meta"}) fs::create_directories(root / name);
        image_seeds(root / "image");
        safetensors_seeds(root / "safetensors");
        checkpoint_seed(root / "checkpoint");
        options_seed(root / "options");
        lmdb_meta_seed(root / "lmdb_meta");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
