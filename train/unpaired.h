// CycleGAN's data: two folders of images with no pairing between them (the reference's trainA and
// trainB). Each iteration draws, independently, random crops with flips from each folder, a pure
// function of (seed, iteration) as every srforge batch is (train/data.h), so a resumed run sees
// the same ones. Values are in [-1, 1], as the reference's Normalize((0.5,), (0.5,)) leaves them,
// the range of the ResNet generator's tanh.
#pragma once

#include <memory>
#include <string>

#include "train/data.h"

namespace sr {

constexpr uint64_t kDomainBKey = 0xBF58476D1CE4E5B9ull;  // domain B's stream: seed ^ this

class UnpairedData {
public:
    // `options.patch` is the crop side, `options.scale` is ignored (image to image).
    UnpairedData(const std::string& folder_a, const std::string& folder_b, DataOptions options);
    // real_A [batch, 3, patch, patch] and real_B likewise, F32 in [-1, 1], for iteration `iter`
    // (asked for in order, as TrainData::batch).
    std::pair<Tensor, Tensor> batch(int64_t iter);
    std::pair<Tensor, Tensor> make_batch(int64_t iter);  // without the workers

private:
    std::unique_ptr<TrainData> a_, b_;
};

}  // namespace sr
