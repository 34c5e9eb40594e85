// Training batches: aligned random LR/HR crops with random flips and 90-degree rotations, made
// ahead of time by worker threads.
//
// Every random choice of the batch for iteration i (which image, where to crop, which flips) comes
// from the counter-based RNG with stream (seed, i), so a batch depends on nothing but the seed and
// the iteration: the workers may finish in any order, and a resumed run sees exactly the batches
// an uninterrupted one would have.
//
// Images are decoded once and kept in memory (8 bits per value) while they fit in `cache_mb`;
// beyond that they are decoded again whenever they are used. When the whole dataset fits, every
// image is decoded when the data is made, so a corrupt file is an error before training starts. An HR image without an LR partner
// gets its LR made by MATLAB-style bicubic downscaling (train/imresize.h), rounded to 8 bits as
// DIV2K's stored LR images are.
//
// With `synthesize` set (Real-ESRGAN's synthetic degradations, train/degrade.h) only HR images are
// read: a batch is HR crops of patch x scale pixels (an image smaller than that is first padded at
// its bottom and right by reflection, as RealESRGANDataset pads to 400), which the worker hands to
// synthesize(hr, iter) for the (LR, HR) pair.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/tensor.h"

namespace sr {

class LmdbImages;

// Where a training pair's images are: files, or keys of BasicSR LMDB databases when hr_db/lr_db
// are set (core/lmdb_images.h).
struct SamplePaths {
    std::string hr, lr;  // lr empty: made from hr
    std::shared_ptr<const LmdbImages> hr_db = nullptr, lr_db = nullptr;
};

struct DataOptions {
    int64_t scale = 4;
    int64_t patch = 48;   // LR patch side; the HR patch is patch x scale
    int64_t batch = 16;
    bool hflip = true, rotation = true;
    int workers = 2;      // threads making batches ahead of the training step
    int prefetch = 4;     // batches made ahead
    int64_t cache_mb = 2048;
    uint64_t seed = 0;
    // Data-parallel training (train/distributed.h): this process makes samples first_sample ..
    // first_sample + batch - 1 of each iteration's global batch, so N ranks of batch B draw exactly
    // the crops one process of batch N B would.
    int64_t first_sample = 0;
    std::function<std::pair<Tensor, Tensor>(const Tensor& hr, int64_t iter)> synthesize = nullptr;  // see above
};

// The flips of one training crop, applied in BasicSR's augment order: horizontal, vertical, then
// transpose (together with the vertical flip, a 90-degree rotation).
struct Flips {
    bool h = false, v = false, transpose = false;
};

// One decoded image pair, 8 bits per value, [C, H, W] planar.
struct ImagePair8 {
    int64_t h = 0, w = 0;      // LR size; HR is scale times larger (HR-only: lr is empty, h x w is HR's size)
    std::vector<uint8_t> lr, hr;
};

class TrainData {
public:
    TrainData(std::vector<SamplePaths> files, DataOptions options);
    ~TrainData();
    TrainData(const TrainData&) = delete;
    TrainData& operator=(const TrainData&) = delete;

    // The batch of iteration `iter` (>= the first iteration asked for, and asked for in order):
    // LR [B, 3, patch, patch] and HR [B, 3, patch s, patch s], F32 in [0, 1].
    std::pair<Tensor, Tensor> batch(int64_t iter);
    // The same batch made directly, without the workers (tests use it).
    std::pair<Tensor, Tensor> make_batch(int64_t iter);

    size_t size() const { return files_.size(); }

private:
    std::shared_ptr<const ImagePair8> image(size_t index);
    void preload();
    Tensor make_hr_batch(int64_t iter);
    Flips draw_flips(int64_t iter, uint64_t k) const;
    void worker();

    std::vector<SamplePaths> files_;
    DataOptions opt_;
    // Decoded images, when cached.
    std::vector<std::shared_ptr<const ImagePair8>> cache_;
    int64_t cached_bytes_ = 0;
    std::mutex cache_mutex_;
    // The prefetch queue: batches by iteration.
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<int64_t, std::pair<Tensor, Tensor>> ready_;
    std::map<int64_t, std::string> failed_;  // errors met by workers, reported to the consumer
    int64_t next_to_make_ = -1, consumed_ = -1;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// Reads one HR/LR pair (making LR when missing), checking that HR is exactly scale x LR; with
// hr_only just the HR image (whole, h x w its size).
ImagePair8 load_pair(const SamplePaths& paths, int64_t scale, bool hr_only = false);

}  // namespace sr
