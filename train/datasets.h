// The images of a dataset entry of an option file (train/options.h DatasetOptions), found as
// BasicSR's datasets find them:
//   srforge folder      dataroot (+ split): train/pairs.h's layouts; LR made from HR when absent
//   PairedImageDataset  every image of dataroot_gt, or the names in meta_info_file (first word of
//                       each line); its LR partner is dataroot_lq / filename_tmpl.format(stem) + ext
//                       (BasicSR's paired_paths_from_folder / _from_meta_info_file). With
//                       io_backend lmdb both roots are NAME.lmdb folders and an image's LR has its
//                       key (paired_paths_from_lmdb).
//   RealESRGANDataset   HR only: meta_info lists paths relative to dataroot_gt (every image of the
//                       folder without it); with lmdb, the database's keys
//   SingleImageDataset  LR only (dataroot_lq): nothing to score against
// Paths are taken as given, so relative ones are relative to the working directory, as in BasicSR.
// Images are not decoded here; a missing partner file is an error naming the path expected.
#pragma once

#include <string>
#include <vector>

#include "train/data.h"
#include "train/options.h"

namespace sr {

struct DatasetSample {
    std::string name;   // the image's name without extension (validation outputs are named by it)
    SamplePaths paths;  // paths.hr empty: no ground truth (SingleImageDataset)
};

std::vector<DatasetSample> dataset_samples(const DatasetOptions& dataset, int64_t scale);

// A short description for the start message: "PairedImageDataset DIV2K (800 images)".
std::string dataset_title(const DatasetOptions& dataset, size_t images);

}  // namespace sr
