// train/options: BasicSR's and Real-ESRGAN's own option files run unchanged through train_sr (in a
// working directory laid out as those files expect), the one option table (help, Markdown, unknown
// keys with a suggestion, keys with no effect), and BasicSR's datasets (filename_tmpl,
// meta_info_file, LMDB, several validation sets, val.metrics, TensorBoard, save_img).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include "core/file.h"
#include "core/image_io.h"
#include "core/pth.h"
#include "test_util.h"
#include "train/datasets.h"
#include "train/options.h"
#include "train/trainer.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

const fs::path fixtures = fs::path(SR_SOURCE_DIR) / "tests/fixtures/basicsr_options";

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("srforge_test_options_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// An HR image of h x w and its block-mean LR at scale s under the same name in two folders.
void write_pair(const fs::path& hr_dir, const fs::path& lr_dir, const std::string& name, int64_t h, int64_t w, int64_t s,
                uint64_t seed) {
    fs::create_directories(hr_dir);
    fs::create_directories(lr_dir);
    const Tensor hr = test_image(h, w, seed);
    write_png((hr_dir / name).string(), hr);
    write_png((lr_dir / name).string(), block_mean_u8(hr, s));
}

// The folders BasicSR's option files name, relative to `root` (their working directory): DIV2K
// sub-images as extract_subimages.py names them, Set5/Set14 as GTmod12 + LRbicx{2,4}, DF2K with
// Real-ESRGAN's meta info, and MSRResNet's meta_info_file.
void make_basicsr_tree(const fs::path& root) {
    const fs::path div2k = root / "datasets/DIV2K";
    fs::create_directories(root / "datasets/DF2K/DF2K_HR_sub");
    for (int i = 1; i <= 2; ++i) {
        const std::string name = "000" + std::to_string(i) + "_s001.png";
        write_pair(div2k / "DIV2K_train_HR_sub", div2k / "DIV2K_train_LR_bicubic/X2_sub", name, 128, 128, 2, uint64_t(i));
        write_pair(div2k / "DIV2K_train_HR_sub", div2k / "DIV2K_train_LR_bicubic/X4_sub", name, 128, 128, 4, uint64_t(i));
        write_pair(root / "datasets/DF2K/DIV2K_train_HR_sub", root / "datasets/DF2K/DIV2K_train_LR_bicubic_X4_sub", name, 128, 128, 4,
                   uint64_t(i));
        write_png((root / "datasets/DF2K/DF2K_HR_sub" / name).string(), test_image(96, 96, uint64_t(i)));
    }
    for (const std::string set : {"Set5", "Set14"}) {
        write_pair(root / "datasets" / set / "GTmod12", root / "datasets" / set / "LRbicx2", "baby.png", 48, 48, 2, 7);
        write_pair(root / "datasets" / set / "GTmod12", root / "datasets" / set / "LRbicx4", "baby.png", 48, 48, 4, 7);
    }
    fs::create_directories(root / "basicsr/data/meta_info");
    write_file_atomic((root / "basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt").string(),
                      "0001_s001.png (128,128,3)\n0002_s001.png (128,128,3)\n");
    fs::create_directories(root / "datasets/DF2K/meta_info");
    write_file_atomic((root / "datasets/DF2K/meta_info/meta_info_DF2Kmultiscale+OST_sub.txt").string(),
                      "DF2K_HR_sub/0001_s001.png\nDF2K_HR_sub/0002_s001.png\n");
}

// Runs train_sr in `cwd`; returns the exit status, the output in `log`.
int train_sr(const fs::path& cwd, const std::string& args, std::string& log) {
    const std::string tool = std::string(SR_TOOLS_DIR) + "/train_sr";
    const fs::path out = cwd / "train_sr.log";
    const int status = std::system(("cd " + cwd.string() + " && " + tool + " " + args + " > " + out.string() + " 2>&1").c_str());
    log = read_file(out.string());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct OfficialFile {
    std::string file;
    std::string overrides;   // only sizes and the run length: the datasets, networks and losses are the file's
    bool pretrained_pth;     // path.pretrain_network_g names a .pth checkpoint
};

}  // namespace

TEST_CASE("BasicSR's and Real-ESRGAN's own option files train unchanged for one iteration") {
    const fs::path root = fresh_dir("basicsr_tree");
    make_basicsr_tree(root);
    // Flags override the file: one iteration of batch 1, validated once. GAN files keep their
    // 128-pixel HR patches (VGGStyleDiscriminator's input_size).
    const std::string one = " --iters 1 --batch 1 --workers 1 --val-freq 1 --quiet";
    const std::vector<OfficialFile> files = {
        {"train_EDSR_Mx2.yml", "--patch 24", false},
        {"train_EDSR_Lx2.yml", "--patch 12", false},
        {"train_MSRResNet_x4.yml", "--patch 8", false},
        {"train_RRDBNet_PSNR_x4.yml", "--patch 8", false},
        {"train_MSRGAN_x4.yml", "--patch 32", true},
        {"train_ESRGAN_x4.yml", "--patch 32", true},
        {"train_realesrnet_x4plus.yml", "--patch 8", true},
        {"train_realesrgan_x4plus.yml", "--patch 8", true},
    };
    for (const OfficialFile& f : files) {
        CAPTURE(f.file);
        const std::string opt = "-opt " + (fixtures / f.file).string() + " " + f.overrides + one;
        std::string log;
        if (f.pretrained_pth) {  // the released .pth it starts from is not in the tree: one line saying so
            CHECK(train_sr(root, opt, log) == 1);
            CHECK(log.find(".pth' (path.pretrain_network_g) do not exist") != std::string::npos);
            CHECK(std::count(log.begin(), log.end(), '\n') == 1);
            REQUIRE(train_sr(root, opt + " --pretrain ''", log) == 0);
        } else {
            REQUIRE_MESSAGE(train_sr(root, opt, log) == 0, log);
        }
        const TrainOptions o = options_from_file((fixtures / f.file).string());
        const fs::path run = root / "runs" / o.name;
        CHECK(fs::exists(run / "net_g_latest.safetensors"));
        // config.yaml is a BasicSR option file of the same run, and reads back to the same options.
        const TrainOptions back = options_from_file((run / "config.yaml").string());
        CHECK(options_yaml(back) == read_file((run / "config.yaml").string()));
        CHECK(back.model == o.model);
        CHECK(back.model_type == o.model_type);
        CHECK(back.train_set.dataroot_gt == o.train_set.dataroot_gt);
        // Every file asks for TensorBoard logs.
        CHECK(o.use_tb_logger);
        std::string events;  // the tags stand in the records as plain bytes (test_tb_events decodes the format)
        for (const auto& e : fs::directory_iterator(run / "tb_logger"))
            if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events += read_file(e.path().string());
        CHECK(events.find(o.gan() ? "losses/l_g_pix" : "losses/l_pix") != std::string::npos);
        if (o.gan()) CHECK(events.find("out_d_fake") != std::string::npos);
        if (!o.val_sets.empty()) CHECK(events.find("metrics/" + o.val_sets[0].name + "/psnr") != std::string::npos);
        if (o.save_img) CHECK(fs::exists(run / "visualization/baby/baby_1.png"));
        if (!o.val_sets.empty()) {
            std::ifstream csv(run / "metrics.csv");
            std::string header;
            std::getline(csv, header);
            CHECK(header.find(",psnr,") != std::string::npos);  // the metric's own name
        }
    }
    // pretrain_network_g may be a .pth, read natively (its state dict under param_key_g: params).
    std::string log;
    const std::string pth = std::string(SR_SOURCE_DIR) + "/tests/fixtures/pth/edsr_params_zip.pth";
    REQUIRE_MESSAGE(train_sr(root, "-opt " + (fixtures / "train_EDSR_Mx2.yml").string() + one +
                                       " --patch 8 --name from_pth --model edsr:num_feat=8,num_block=2,upscale=2 --pretrain " + pth,
                             log) == 0,
                    log);
    const SafetensorsFile init = read_safetensors((root / "runs/from_pth/net_g_init.safetensors").string());
    const SafetensorsFile given = read_pth(pth);
    REQUIRE(init.tensors.size() == given.tensors.size());
    for (const auto& [name, t] : given.tensors) CHECK(to_vector(init.at(name)) == to_vector(t));
}

TEST_CASE("options: keys BasicSR needs and srforge does not are listed; unknown keys get the closest known one") {
    const TrainOptions o = options_from_file((fixtures / "train_EDSR_Mx2.yml").string());
    auto has = [&](const std::string& k) { return std::find(o.no_effect.begin(), o.no_effect.end(), k) != o.no_effect.end(); };
    CHECK(has("num_gpu"));
    CHECK(has("datasets.train.dataset_enlarge_ratio"));
    CHECK(has("datasets.train.prefetch_mode"));
    CHECK(has("dist_params"));
    CHECK(has("logger.wandb"));
    CHECK(has("datasets.train.io_backend.type: disk"));
    CHECK(o.metrics.size() == 1);
    CHECK(o.metrics[0].name == "psnr");
    CHECK(o.metrics[0].crop_border == 2);
    CHECK(!o.metrics[0].test_y_channel);
    CHECK(o.val_freq == 5000);  // !!float 5e3
    CHECK(o.schedule.warmup_iter == -1);
    CHECK(o.val_sets.size() == 1);
    CHECK(o.val_sets[0].name == "Set5");
    CHECK(o.train_set.filename_tmpl == "{}");
    const TrainOptions two = options_from_file((fixtures / "train_MSRResNet_x4.yml").string());
    CHECK(two.val_sets.size() == 2);  // datasets.val and datasets.val_2
    CHECK(two.val_sets[1].phase == "val_2");
    CHECK(two.train_set.meta_info == "basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt");
    CHECK(std::find(two.no_effect.begin(), two.no_effect.end(), "val.metrics.niqe (calculate_niqe is not computed here)") !=
          two.no_effect.end());

    CHECK(error_of([] { options_from_yaml("train:\n  optim_g:\n    lr_rate: 1\n", "t.yml"); }) ==
          "t.yml:3:5: unknown option 'train.optim_g.lr_rate' (did you mean 'train.optim_g.lr'? train_sr --help lists the options)");
    CHECK(error_of([] { options_from_yaml("datasets:\n  val_3:\n    dataroot_gtt: x\n", "t.yml"); })
              .find("did you mean 'datasets.val_3.dataroot_gt'?") != std::string::npos);
    CHECK(error_of([] { options_from_yaml("scale: [2]\n", "t.yml"); }) == "t.yml:1:8: scale must be an integer, got a list");
    CHECK(error_of([] { options_from_yaml("datasets:\n  train:\n    io_backend: {type: memcached}\n", "t.yml"); })
              .find("io_backend.type must be disk or lmdb, got 'memcached'") != std::string::npos);
    CHECK(error_of([] { options_from_yaml("name: [x\n", "t.yml"); }).find("t.yml:2:1: YAML syntax error") == 0);
    CHECK(error_of([] { options_from_yaml("datasets:\n  train:\n    num_worker_per_gpu: 100000\n", "t.yml"); }) ==
          "t.yml:3:25: datasets.train.num_worker_per_gpu must be between 0 and 4096, got 100000");
}

TEST_CASE("options: the one table gives --help, the docs' list, and flags that override the file") {
    const std::string help = options_help();
    for (const std::string flag : {"--iters", "--batch", "--patch", "--out", "--val-images", "--data", "--model", "--lr", "--restart"})
        CHECK_MESSAGE(help.find("  " + flag + " ") != std::string::npos, flag);
    CHECK(help.find("[train.total_iter]") != std::string::npos);
    const std::string md = options_markdown();
    CHECK(md.find("| `datasets.*.dataroot_gt` |") != std::string::npos);
    CHECK(md.find("`num_gpu`") != std::string::npos);
    // docs/TRAINING.md holds the generated list as it is today.
    CHECK_MESSAGE(read_file(std::string(SR_SOURCE_DIR) + "/docs/TRAINING.md").find(md) != std::string::npos,
                  "regenerate the option list: build/tools/train_sr --options-markdown");

    const std::string file = (fixtures / "train_EDSR_Mx2.yml").string();
    std::vector<std::string> args = {"train_sr", "--iters", "7", "-opt", file, "--batch", "3", "--patch", "10", "--val-images", "2",
                                     "--out", "elsewhere", "--lr", "[1]"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    TrainOptions o;
    CHECK(error_of([&] { options_from_command_line(int(argv.size()), argv.data(), o); }) ==
          "train_sr: --lr must be a number, got a list");
    args.resize(args.size() - 2);
    argv.clear();
    for (std::string& a : args) argv.push_back(a.data());
    o = TrainOptions{};
    REQUIRE(options_from_command_line(int(argv.size()), argv.data(), o));
    CHECK(o.total_iter == 7);  // the flag wins though it stands before the file
    CHECK(o.batch == 3);
    CHECK(o.patch == 10);
    CHECK(o.out_dir == "elsewhere");
    CHECK(o.val_sets[0].max_images == 2);
    CHECK(o.model.rfind("edsr:", 0) == 0);  // the rest from the file
}

TEST_CASE("datasets: filename_tmpl, meta_info_file, several validation sets with their own metrics, SingleImageDataset") {
    const fs::path root = fresh_dir("datasets");
    write_pair(root / "hr", root / "lr_named", "a.png", 32, 32, 2, 1);
    write_pair(root / "hr", root / "lr_named", "b.png", 32, 32, 2, 2);
    fs::create_directories(root / "lr");
    for (const std::string stem : {"a", "b"}) fs::copy_file(root / "lr_named" / (stem + ".png"), root / "lr" / (stem + "x2.png"));
    DatasetOptions d;
    d.type = "PairedImageDataset";
    d.dataroot_gt = (root / "hr").string();
    d.dataroot_lq = (root / "lr").string();
    d.filename_tmpl = "{}x2";
    const std::vector<DatasetSample> all = dataset_samples(d, 2);
    REQUIRE(all.size() == 2);
    CHECK(all[1].paths.lr == (root / "lr" / "bx2.png").string());
    write_file_atomic((root / "meta.txt").string(), "b.png (32,32,3)\n");
    d.meta_info = (root / "meta.txt").string();
    REQUIRE(dataset_samples(d, 2).size() == 1);
    CHECK(dataset_samples(d, 2)[0].name == "b");
    d.filename_tmpl = "{}_lr";
    CHECK(error_of([&] { dataset_samples(d, 2); }).find("no LR image '" + (root / "lr" / "b_lr.png").string() + "'") != std::string::npos);

    // A run validating on two sets, the second scored by a metric of its own choice of crop.
    const std::string yaml = "name: two_sets\nmodel_type: SRModel\nscale: 2\nmanual_seed: 3\n"
                             "network_g: {type: EDSR, num_feat: 8, num_block: 1, upscale: 2}\n"
                             "datasets:\n"
                             "  train: {name: T, type: PairedImageDataset, dataroot_gt: hr, dataroot_lq: lr_named, gt_size: 16,\n"
                             "          batch_size_per_gpu: 2, num_worker_per_gpu: 1, use_hflip: true, use_rot: true}\n"
                             "  val: {name: A, type: PairedImageDataset, dataroot_gt: hr, dataroot_lq: lr, filename_tmpl: '{}x2'}\n"
                             "  val_1: {name: B, type: SingleImageDataset, dataroot_lq: lr_named}\n"
                             "  val_2: {name: C, type: PairedImageDataset, dataroot_gt: hr, dataroot_lq: lr_named}\n"
                             "train:\n  total_iter: 2\n  optim_g: {type: Adam, lr: !!float 1e-3}\n  scheduler: {type: MultiStepLR, milestones: [10]}\n"
                             "  pixel_opt: {type: MSELoss, loss_weight: 1.0}\n"
                             "val:\n  val_freq: 2\n  save_img: true\n  metrics:\n"
                             "    psnr: {type: calculate_psnr, crop_border: 2, test_y_channel: false}\n"
                             "    ssim: {type: calculate_ssim, crop_border: 0, test_y_channel: true}\n"
                             "logger: {print_freq: 1, save_checkpoint_freq: 2, use_tb_logger: true}\n";
    write_file_atomic((root / "two.yml").string(), yaml);
    std::string log;
    REQUIRE_MESSAGE(train_sr(root, "-opt two.yml --quiet --out runs", log) == 0, log);
    std::ifstream csv(root / "runs/two_sets/metrics.csv");
    std::string header;
    std::getline(csv, header);
    CHECK(header == "iter,loss,lr,psnr,ssim,C/psnr,C/ssim,time_s");  // B has no ground truth: outputs only
    CHECK(fs::exists(root / "runs/two_sets/visualization/a/a_2.png"));
    CHECK(log.find("  psnr ") != std::string::npos);
}

TEST_CASE("options: validation sets keep the file's order; null losses; config.yaml is BasicSR's (~ for no path)") {
    const TrainOptions o = options_from_yaml("datasets:\n"
                                             "  val: {type: PairedImageDataset, dataroot_gt: a, dataroot_lq: b}\n"
                                             "  val_1: {name: Second, dataroot: c, split: train}\n"
                                             "train:\n  pixel_opt: ~\n  perceptual_opt: ~\n",
                                             "t.yml");
    REQUIRE(o.val_sets.size() == 2);
    CHECK(o.val_sets[0].phase == "val");  // the first set picks the best model
    CHECK(o.val_sets[1].split == "train");
    CHECK(o.loss == "none");
    CHECK(!o.perceptual);
    const TrainOptions back = options_from_yaml(options_yaml(o), "config.yaml");
    CHECK(back.val_sets[0].phase == "val");
    CHECK(back.val_sets[1].split == "train");
    CHECK(options_yaml(back) == options_yaml(o));
    CHECK(options_yaml(o).find("pretrain_network_g: ~") != std::string::npos);
    CHECK(options_yaml(o).find("\"\"") == std::string::npos);
    CHECK(error_of([] { options_from_yaml("network_d: {type: VGGStyleDiscriminator}\ntrain:\n  optim_d: {type: SGD}\n", "t.yml"); })
              .find("train.optim_d.type must be Adam (the discriminator's optimiser is Adam), got 'SGD'") != std::string::npos);
}
