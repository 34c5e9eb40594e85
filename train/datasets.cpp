#include "train/datasets.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/lmdb_images.h"
#include "train/pairs.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

// BasicSR's filename_tmpl.format(stem): the first "{}" replaced by the stem.
std::string apply_template(const std::string& tmpl, const std::string& stem) {
    const size_t at = tmpl.find("{}");
    SR_CHECK(at != std::string::npos, "datasets: filename_tmpl '", tmpl, "' must hold {} (where the HR name goes)");
    return tmpl.substr(0, at) + stem + tmpl.substr(at + 2);
}

// The first word of every non-blank line of a meta info file.
std::vector<std::string> meta_info_names(const std::string& path) {
    std::ifstream in(path);
    SR_CHECK(in, "datasets: cannot read the meta info file '", path, "'");
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        const size_t a = line.find_first_not_of(" \t\r");
        if (a == std::string::npos) continue;
        names.push_back(line.substr(a, line.find_first_of(" \t\r", a) - a));
    }
    SR_CHECK(!names.empty(), "datasets: the meta info file '", path, "' lists no images");
    return names;
}

// The ground-truth files: those the meta info file lists (relative to dataroot_gt), or every
// image of dataroot_gt.
std::vector<fs::path> gt_files(const DatasetOptions& d) {
    if (d.meta_info.empty()) return images_in("datasets", d.dataroot_gt);
    std::vector<fs::path> files;
    for (const std::string& name : meta_info_names(d.meta_info)) files.push_back(fs::path(d.dataroot_gt) / name);
    return files;
}

std::vector<DatasetSample> folder_samples(const DatasetOptions& d, int64_t scale) {
    std::vector<DatasetSample> out;
    for (const ImagePair& p : find_pairs(d.dataroot, d.split, int(scale), /*lr_optional=*/true))
        out.push_back({fs::path(p.name).stem().string(), {p.hr, p.lr}});
    return out;
}

std::vector<DatasetSample> lmdb_paired_samples(const DatasetOptions& d) {
    auto gt = std::make_shared<const LmdbImages>(d.dataroot_gt);
    auto lq = std::make_shared<const LmdbImages>(d.dataroot_lq);
    const std::set<std::string> lq_keys(lq->keys().begin(), lq->keys().end());
    std::vector<std::string> keys = gt->keys();
    std::sort(keys.begin(), keys.end());  // as paired_paths_from_lmdb sorts them
    std::vector<DatasetSample> out;
    for (const std::string& key : keys) {
        SR_CHECK(lq_keys.count(key), "datasets: '", d.dataroot_lq, "' has no image '", key, "' (the keys of both databases must match)");
        out.push_back({key, {key, key, gt, lq}});
    }
    return out;
}

std::vector<DatasetSample> paired_samples(const DatasetOptions& d) {
    SR_CHECK(!d.dataroot_gt.empty() && !d.dataroot_lq.empty(), "datasets.", d.phase,
             ": PairedImageDataset needs dataroot_gt and dataroot_lq");
    if (d.io_backend == "lmdb") return lmdb_paired_samples(d);
    std::vector<DatasetSample> out;
    for (const fs::path& gt : gt_files(d)) {
        const fs::path lq = fs::path(d.dataroot_lq) / (apply_template(d.filename_tmpl, gt.stem().string()) + gt.extension().string());
        SR_CHECK(fs::is_regular_file(gt), "datasets.", d.phase, ": no ground-truth image '", gt.string(), "'");
        SR_CHECK(fs::is_regular_file(lq), "datasets.", d.phase, ": no LR image '", lq.string(), "' for '", gt.string(),
                 "' (filename_tmpl '", d.filename_tmpl, "')");
        out.push_back({gt.stem().string(), {gt.string(), lq.string()}});
    }
    return out;
}

std::vector<DatasetSample> hr_only_samples(const DatasetOptions& d) {
    SR_CHECK(!d.dataroot_gt.empty(), "datasets.", d.phase, ": RealESRGANDataset needs dataroot_gt");
    std::vector<DatasetSample> out;
    if (d.io_backend == "lmdb") {
        auto gt = std::make_shared<const LmdbImages>(d.dataroot_gt);
        for (const std::string& key : gt->keys()) out.push_back({key, {key, "", gt, nullptr}});
        return out;
    }
    for (const fs::path& gt : gt_files(d)) {
        SR_CHECK(fs::is_regular_file(gt), "datasets.", d.phase, ": no image '", gt.string(), "'");
        out.push_back({gt.stem().string(), {gt.string(), ""}});
    }
    return out;
}

std::vector<DatasetSample> lr_only_samples(const DatasetOptions& d) {
    SR_CHECK(!d.dataroot_lq.empty(), "datasets.", d.phase, ": SingleImageDataset needs dataroot_lq");
    std::vector<DatasetSample> out;
    if (d.io_backend == "lmdb") {
        auto lq = std::make_shared<const LmdbImages>(d.dataroot_lq);
        for (const std::string& key : lq->keys()) out.push_back({key, {"", key, nullptr, lq}});
        return out;
    }
    for (const fs::path& lq : images_in("datasets", d.dataroot_lq)) out.push_back({lq.stem().string(), {"", lq.string()}});
    return out;
}

}  // namespace

std::vector<DatasetSample> dataset_samples(const DatasetOptions& d, int64_t scale) {
    std::vector<DatasetSample> out;
    if (d.type.empty() && !d.dataroot.empty()) out = folder_samples(d, scale);
    else if (d.type == "PairedImageDataset") out = paired_samples(d);
    else if (d.type == "RealESRGANDataset") out = hr_only_samples(d);
    else if (d.type == "SingleImageDataset") out = lr_only_samples(d);
    else
        fail("datasets.", d.phase, ": type must be PairedImageDataset, RealESRGANDataset or SingleImageDataset (or give srforge's dataroot), got '",
             d.type, "'");
    if (d.max_images > 0 && int64_t(out.size()) > d.max_images) out.resize(size_t(d.max_images));
    SR_CHECK(!out.empty(), "datasets.", d.phase, ": no images");
    return out;
}

std::string dataset_title(const DatasetOptions& d, size_t images) {
    const std::string where = d.type.empty() ? d.dataroot + " (" + d.split + ")" : d.type + " " + (d.dataroot_gt.empty() ? d.dataroot_lq : d.dataroot_gt);
    return (d.name.empty() ? "" : d.name + ": ") + where + ", " + std::to_string(images) + " images";
}

}  // namespace sr
