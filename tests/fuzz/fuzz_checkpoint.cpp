// Training checkpoints (train/checkpoint.cpp): a safetensors file whose metadata and tensor names
// must fit the run that resumes from it, restored into a tiny generator with EMA and Adam state.
// The reader takes a path, so each input is written to a file of this process first.
#include <unistd.h>

#include "core/file.h"
#include "models/spec.h"
#include "tests/fuzz/fuzz.h"
#include "train/checkpoint.h"

namespace {

// The run the checkpoints are restored into; tests/fuzz/make_seeds.cpp writes its checkpoint.
struct TinyRun {
    const std::string spec = "edsr:num_feat=2,num_block=1,upscale=2";
    std::shared_ptr<sr::Network> net = sr::make_model(spec);
    sr::Adam adam{net->parameters()};
    sr::Ema ema{*net, 0.999};
    std::string path = "/tmp/srforge_fuzz_checkpoint." + std::to_string(getpid()) + ".safetensors";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static TinyRun run;
    sr::write_file_atomic(run.path, sr::fuzz::bytes(data, size));
    return sr::fuzz::refusing_is_fine([&] { sr::load_checkpoint(run.path, {run.spec, run.net.get(), &run.adam}, &run.ema, nullptr); });
}
