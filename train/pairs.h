// Finding the HR/LR image pairs of an SR dataset folder, for evaluation (tools/sr_eval) and training.
//
// Two layouts are understood, with DIV2K's file naming (HR NAME.ext, LR NAMEx{scale}.ext):
//   DIV2K:  ROOT/DIV2K_{train,valid}_HR/0801.png
//           ROOT/DIV2K_{train,valid}_LR_bicubic/X{scale}/0801x{scale}.png
//   plain:  ROOT/HR/baby.png, ROOT/LR_bicubic/X{scale}/babyx{scale}.png   (Set5, Set14, Urban100, ...)
//   images: ROOT/baby.png, ...  (HR only: any folder of photos, for training with LR made from HR)
// In the DIV2K layout `split` picks train, valid or all (train then valid); a plain folder is one
// set, so `split` does not select anything there (it must still be one of the three words).
// HR images are the folder's PNG, JPEG and BMP files, in name order. Images are not opened here.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sr {

struct ImagePair {
    std::string name;  // the HR file's name, e.g. "0801.png"
    std::string hr;    // paths
    std::string lr;    // empty: none (see lr_optional)
};

// The PNG, JPEG and BMP files of one folder (not its subfolders), sorted by name; an error naming
// `op` and the folder when it is missing or holds none.
std::vector<std::filesystem::path> images_in(const char* op, const std::filesystem::path& dir);

// The HR images of a split. An error names what is missing: the folder, the layout's folders, or
// any image at all.
std::vector<std::string> find_hr_images(const std::string& root, const std::string& split);

// The HR images and their LR counterparts at `scale` (>= 1). A missing LR folder or LR file is an
// error naming the path that was expected, except that with `lr_optional` a missing LR folder
// gives pairs with an empty `lr` (the trainer then makes LR from HR); a folder that exists but
// lacks a file is still an error.
std::vector<ImagePair> find_pairs(const std::string& root, const std::string& split, int scale, bool lr_optional = false);

}  // namespace sr
