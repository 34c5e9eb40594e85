#include "train/pairs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

bool is_image(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

void check_split(const char* op, const std::string& split) {
    SR_CHECK(split == "train" || split == "valid" || split == "all", op, ": split must be train, valid or all, got '",
             split, "'");
}

bool is_div2k(const fs::path& root) {
    return fs::is_directory(root / "DIV2K_train_HR") || fs::is_directory(root / "DIV2K_valid_HR");
}

// The splits a request covers, as DIV2K names them.
std::vector<std::string> splits_of(const std::string& split) {
    if (split == "all") return {"train", "valid"};
    return {split};
}

std::vector<std::pair<fs::path, fs::path>> folders(const char* op, const std::string& root_text, const std::string& split,
                                                  int scale) {
    check_split(op, split);
    const fs::path root(root_text);
    SR_CHECK(fs::is_directory(root), op, ": no folder '", root_text, "'");
    const std::string x = std::string("X") + std::to_string(scale);  // ("X" + ... trips a false GCC 12 -Wrestrict)
    std::vector<std::pair<fs::path, fs::path>> out;
    if (is_div2k(root)) {
        for (const std::string& s : splits_of(split))
            out.emplace_back(root / ("DIV2K_" + s + "_HR"), root / ("DIV2K_" + s + "_LR_bicubic") / x);
    } else if (fs::is_directory(root / "HR")) {
        out.emplace_back(root / "HR", root / "LR_bicubic" / x);
    } else {
        // A folder of images: HR only.
        out.emplace_back(root, root / "LR_bicubic" / x);
    }
    return out;
}

}  // namespace

std::vector<fs::path> images_in(const char* op, const fs::path& dir) {
    SR_CHECK(fs::is_directory(dir), op, ": no folder '", dir.string(), "'");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && is_image(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    SR_CHECK(!files.empty(), op, ": no PNG, JPEG or BMP images in '", dir.string(), "'");
    return files;
}

// (HR folder, LR folder at `scale`) for each folder of HR images the request covers.
std::vector<std::string> find_hr_images(const std::string& root, const std::string& split) {
    std::vector<std::string> out;
    for (const auto& [hr_dir, lr_dir] : folders("find_hr_images", root, split, 1))
        for (const fs::path& p : images_in("find_hr_images", hr_dir)) out.push_back(p.string());
    return out;
}

std::vector<ImagePair> find_pairs(const std::string& root, const std::string& split, int scale, bool lr_optional) {
    SR_CHECK(scale >= 1, "find_pairs: scale must be >= 1, got ", scale);
    std::vector<ImagePair> out;
    for (const auto& [hr_dir, lr_dir] : folders("find_pairs", root, split, scale)) {
        const std::vector<fs::path> hr = images_in("find_pairs", hr_dir);
        if (lr_optional && !fs::exists(lr_dir)) {
            for (const fs::path& p : hr) out.push_back({p.filename().string(), p.string(), ""});
            continue;
        }
        SR_CHECK(fs::is_directory(lr_dir), "find_pairs: no LR folder '", lr_dir.string(), "' for x", scale);
        for (const fs::path& p : hr) {
            const fs::path lr = lr_dir / (p.stem().string() + "x" + std::to_string(scale) + p.extension().string());
            SR_CHECK(fs::is_regular_file(lr), "find_pairs: no LR image '", lr.string(), "' for '", p.string(), "'");
            out.push_back({p.filename().string(), p.string(), lr.string()});
        }
    }
    return out;
}

}  // namespace sr
