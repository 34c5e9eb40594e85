// train/distributed.h: data-parallel training on CPU ranks started by Open MPI's mpirun, against
// one process of the same global batch; resuming across rank counts; Real-ESRGAN-style runs (a
// pair pool per rank); CycleGAN; a rank killed mid-run.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "core/file.h"
#include "core/image_io.h"
#include "core/safetensors.h"
#include "test_util.h"
#include "train/data.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

const fs::path kOut = fs::temp_directory_path() / "srforge_test_distributed";
const std::string kTrain = std::string(SR_TOOLS_DIR) + "/train_sr";

// Open MPI refuses root without these (containers and CI run as root); --oversubscribe lets two
// ranks share fewer cores.
const std::string kMpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                            "mpirun --oversubscribe --bind-to none -np 2 ";

std::string run_flags(const std::string& name, int64_t batch, int64_t iters) {
    return " --data " + std::string(SR_SOURCE_DIR) + "/data/demo --model edsr:num_feat=8,num_block=1,upscale=2 --scale 2 --patch 12" +
           " --batch " + std::to_string(batch) + " --iters " + std::to_string(iters) +
           " --val-freq 3 --save-freq 3 --print-freq 1 --val-images 1 --workers 1 --quiet --out " + kOut.string() + " --name " + name;
}

int shell(const std::string& command) {
    const int status = std::system((command + " > " + (kOut / "log.txt").string() + " 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// metrics.csv's loss column, one value per logged iteration.
std::vector<double> losses(const std::string& name) {
    std::ifstream csv(kOut / name / "metrics.csv");
    std::string line;
    std::getline(csv, line);
    std::vector<double> out;
    while (std::getline(csv, line)) {
        std::stringstream row(line);
        std::string iter, loss;
        std::getline(row, iter, ',');
        std::getline(row, loss, ',');
        if (!loss.empty()) out.push_back(std::stod(loss));
    }
    return out;
}

// The two runs' six logged losses and final weights agree to `tolerance` (0: bit for bit), but
// for the tensors named in `noise_driven` (see the CycleGAN case).
void check_same_run(const std::string& a, const std::string& b, double tolerance,
                    const std::vector<std::string>& weights = {"net_g_latest.safetensors"}, const std::set<std::string>& noise_driven = {}) {
    CAPTURE(a);
    CAPTURE(b);
    const std::vector<double> la = losses(a), lb = losses(b);
    REQUIRE(la.size() == 6);
    REQUIRE(lb.size() == la.size());
    for (size_t i = 0; i < la.size(); ++i) CHECK(std::abs(la[i] - lb[i]) <= tolerance * std::abs(la[i]));
    for (const std::string& file : weights) {
        CAPTURE(file);
        const SafetensorsFile wa = read_safetensors((kOut / a / file).string());
        const SafetensorsFile wb = read_safetensors((kOut / b / file).string());
        REQUIRE(wa.tensors.size() == wb.tensors.size());
        for (size_t i = 0; i < wa.tensors.size(); ++i) {
            CAPTURE(wa.tensors[i].first);
            if (!noise_driven.count(wa.tensors[i].first))
                CHECK(largest_difference(wa.tensors[i].second, wb.tensors[i].second).worst <= tolerance);
        }
    }
}

}  // namespace

TEST_CASE("data parallel: rank r of N draws samples r B .. r B + B - 1 of one process's batch of N B") {
    const fs::path root = kOut / "crops";
    fs::remove_all(root);
    fs::create_directories(root);
    std::vector<SamplePaths> files;
    for (int i = 0; i < 3; ++i) {
        const std::string path = (root / ("img" + std::to_string(i) + ".png")).string();
        write_png(path, test_image(20, 24, uint64_t(i + 1)));
        files.push_back({path, ""});
    }
    DataOptions o{.scale = 2, .patch = 4, .batch = 6, .workers = 1, .seed = 9};
    const auto [lr_all, hr_all] = TrainData(files, o).make_batch(5);
    o.batch = 3;
    for (int rank = 0; rank < 2; ++rank) {
        o.first_sample = rank * 3;
        const auto [lr, hr] = TrainData(files, o).make_batch(5);
        CHECK(largest_difference(lr, lr_all.slice(0, rank * 3, rank * 3 + 3)).worst == 0);
        CHECK(largest_difference(hr, hr_all.slice(0, rank * 3, rank * 3 + 3)).worst == 0);
    }
}

TEST_CASE("data parallel: 2 CPU ranks of batch 4 train as 1 process of batch 8, and resume across rank counts") {
    fs::remove_all(kOut);
    fs::create_directories(kOut);
    REQUIRE(shell(kTrain + run_flags("one", 8, 6)) == 0);
    REQUIRE_MESSAGE(shell(kMpirun + kTrain + run_flags("two", 4, 6)) == 0, read_file((kOut / "log.txt").string()));
    // Rank 0 reports how much of the all-reduce backward hid (GradientAverager's buckets).
    const std::string report = read_file((kOut / "log.txt").string());
    CHECK(report.find("all-reduce of the generator's gradients: 0.000 MB per step") == std::string::npos);
    CHECK(report.find("% of it done before backward ended") != std::string::npos);
    // Not bit for bit: a rank's gradient sums its 4 samples, then the ranks' sums are added, where
    // one process sums all 8 in another order. Float rounding is all that differs.
    check_same_run("one", "two", 1e-5);
    // Two ranks stop at 3, one process of batch 8 continues; and the other way round.
    REQUIRE(shell(kMpirun + kTrain + run_flags("two_then_one", 4, 3)) == 0);
    REQUIRE(shell(kTrain + run_flags("two_then_one", 8, 6)) == 0);
    check_same_run("one", "two_then_one", 1e-5);
    REQUIRE(shell(kTrain + run_flags("one_then_two", 8, 3)) == 0);
    REQUIRE(shell(kMpirun + kTrain + run_flags("one_then_two", 4, 6)) == 0);
    check_same_run("one", "one_then_two", 1e-5);
    // Rank 0 alone wrote the run folder: one metrics.csv row per iteration, not two.
    CHECK(losses("two").size() == 6);
}

TEST_CASE("data parallel: Real-ESRNet runs keep a pair pool per rank in the checkpoint and resume bit for bit") {
    fs::remove_all(kOut);
    fs::create_directories(kOut);
    // On-the-fly degradations of 40-pixel HR crops, a pool of two batches per rank.
    const fs::path options = kOut / "realesrnet.yml";
    std::ofstream(options) << "model_type: RealESRNetModel\nscale: 2\nmanual_seed: 3\ngt_usm: true\nqueue_size: 4\n"
                           << "datasets:\n  train:\n    type: RealESRGANDataset\n    crop_pad_size: 40\n    use_rot: false\n";
    const std::string flags = " --config " + options.string() + " --data " + std::string(SR_SOURCE_DIR) +
                              "/data/demo --model edsr:num_feat=8,num_block=1,upscale=2 --patch 12 --val-freq 3 --save-freq 3"
                              " --print-freq 1 --val-images 1 --workers 1 --out " + kOut.string();
    auto run = [&](const std::string& name, int ranks, int64_t iters, bool quiet = true) {
        const std::string launch = ranks == 1 ? "" : kMpirun;
        return shell(launch + kTrain + flags + " --batch " + std::to_string(4 / ranks) + " --iters " + std::to_string(iters) +
                     " --name " + name + (quiet ? " --quiet" : ""));
    };
    REQUIRE_MESSAGE(run("straight", 2, 6) == 0, read_file((kOut / "log.txt").string()));
    REQUIRE(run("split", 2, 3) == 0);
    REQUIRE(run("split", 2, 6) == 0);
    check_same_run("straight", "split", 0);  // each rank's pool came back whole
    // Rank 1's pool is in the checkpoint beside rank 0's, and holds other pairs (its own crops
    // and degradations).
    const SafetensorsFile ckpt = read_safetensors((kOut / "split" / "checkpoints" / "latest.safetensors").string());
    const Tensor* pools[2] = {nullptr, nullptr};
    for (const auto& [name, t] : ckpt.tensors) {
        if (name == "pool.lq") pools[0] = &t;
        if (name == "pool.rank1.lq") pools[1] = &t;
    }
    REQUIRE(pools[0]);
    REQUIRE(pools[1]);
    CHECK(pools[0]->shape() == pools[1]->shape());
    CHECK(largest_difference(*pools[0], *pools[1]).worst > 0.1);
    // One process resumes it (rank 1's pool is dropped, and it says so).
    REQUIRE(run("split", 1, 8, false) == 0);
    CHECK(read_file((kOut / "log.txt").string()).find("the pools of the missing ranks are dropped") != std::string::npos);
}

TEST_CASE("data parallel: CycleGAN on 2 ranks trains as one process of the global batch, and resumes with its pools") {
    fs::remove_all(kOut);
    const fs::path data = kOut / "unpaired";
    for (const char* domain : {"trainA", "trainB"}) {
        fs::create_directories(data / domain);
        for (int i = 0; i < 3; ++i)
            write_png((data / domain / ("img" + std::to_string(i) + ".png")).string(), test_image(20, 24, uint64_t(domain[5] * 10 + i)));
    }
    auto options = [&](int pool_size) {
        const fs::path file = kOut / ("cyclegan_pool" + std::to_string(pool_size) + ".yml");
        std::ofstream(file) << "model_type: CycleGANModel\nscale: 1\nmanual_seed: 4\n"
                            << "network_g: {type: ResnetGenerator, ngf: 4, n_blocks: 1}\n"
                            << "network_d: {type: NLayerDiscriminator, ndf: 4, n_layers: 2}\n"
                            << "datasets:\n  train:\n    type: UnpairedImageDataset\n    dataroot: " << data.string()
                            << "\n    gt_size: 16\n    use_rot: false\n"
                            << "train:\n  gan_opt: {type: GANLoss, gan_type: lsgan}\n  pool_size: " << pool_size << "\n";
        return " --config " + file.string() + " --workers 1 --print-freq 1 --save-freq 3 --quiet --out " + kOut.string();
    };
    auto run = [&](int pool_size, const std::string& name, int ranks, int64_t iters) {
        const std::string flags = options(pool_size) + " --batch " + std::to_string(2 / ranks) + " --iters " + std::to_string(iters) + " --name " + name;
        return shell((ranks == 1 ? "" : kMpirun) + kTrain + flags);
    };
    const std::vector<std::string> nets = {"net_g_A.safetensors", "net_g_B.safetensors", "net_d_A.safetensors", "net_d_B.safetensors"};
    // Without pools, 2 ranks of batch 1 are 1 process of batch 2 (instance norm is per image; the
    // losses are means): equal but for the order of the gradient sums. Except where that order is
    // all there is: a convolution's bias in front of an instance norm (the reference keeps them)
    // has a gradient of zero up to rounding, and Adam, dividing by its root mean square, turns
    // either run's rounding noise into whole steps of the learning rate (they part by ~1e-4,
    // every other weight agrees to ~1e-8).
    const std::set<std::string> before_instance_norm = {"model.1.bias", "model.4.bias", "model.7.bias", "model.10.conv_block.1.bias",
                                                        "model.10.conv_block.5.bias", "model.11.bias", "model.14.bias",  // generators
                                                        "model.2.bias", "model.5.bias"};                                // discriminators
    REQUIRE_MESSAGE(run(0, "one", 1, 6) == 0, read_file((kOut / "log.txt").string()));
    REQUIRE_MESSAGE(run(0, "two", 2, 6) == 0, read_file((kOut / "log.txt").string()));
    check_same_run("one", "two", 1e-5, nets, before_instance_norm);
    // With pools (each rank its own), a 2-rank run stopped and resumed repeats the straight one.
    REQUIRE(run(3, "pooled", 2, 6) == 0);
    REQUIRE(run(3, "pooled_split", 2, 3) == 0);
    REQUIRE(run(3, "pooled_split", 2, 6) == 0);
    check_same_run("pooled", "pooled_split", 0, nets);
    bool rank1_pool = false;
    for (const auto& [name, t] : read_safetensors((kOut / "pooled" / "checkpoints" / "latest.safetensors").string()).tensors)
        rank1_pool = rank1_pool || name.rfind("pool.rank1.A.", 0) == 0;
    CHECK(rank1_pool);
}

TEST_CASE("data parallel: a rank killed mid-run ends the job promptly; the last checkpoint is whole and the run resumes") {
    fs::remove_all(kOut);
    fs::create_directories(kOut);
    const std::string flags = run_flags("killed", 4, 100000) + " --save-freq 2";
    const fs::path latest = kOut / "killed" / "checkpoints" / "latest.safetensors";
    // Start the job, wait for its first checkpoint, kill one rank (the newest train_sr process).
    const fs::path script = kOut / "kill_a_rank.sh";
    std::ofstream(script) << "(" << kMpirun << kTrain << flags << ") &\njob=$!\n"
                          << "for i in $(seq 600); do [ -f " << latest.string() << " ] && break; sleep 0.1; done\n"
                          << "sleep 0.5\npkill -9 -n -f 'train_sr.*--name killed'\nwait $job\n";
    const auto start = std::chrono::steady_clock::now();
    CHECK(shell("timeout 120 bash " + script.string()) != 0);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(100));
    const std::string log = read_file((kOut / "log.txt").string());
    CAPTURE(log);
    CHECK(log.find("signal 9") != std::string::npos);  // mpirun names the rank that was killed
    // Every checkpoint is whole (written to a temporary file, then renamed), and the run continues.
    const SafetensorsFile ckpt = read_safetensors(latest.string());
    const int64_t stopped = std::stoll(ckpt.metadata.at("iteration"));
    CHECK(stopped >= 2);
    REQUIRE(shell(kMpirun + kTrain + run_flags("killed", 4, stopped + 2)) == 0);
    CHECK(std::stoll(read_safetensors(latest.string()).metadata.at("iteration")) == stopped + 2);
}
