#include "train/unpaired.h"

#include "train/pairs.h"

namespace sr {

namespace {

// Each image is its own "pair" at scale 1: TrainData's crops and flips, without resizing.
std::unique_ptr<TrainData> domain(const char* which, const std::string& folder, DataOptions options) {
    std::vector<SamplePaths> files;
    for (const auto& path : images_in(which, folder)) files.push_back({path.string(), path.string()});
    options.scale = 1;
    return std::make_unique<TrainData>(std::move(files), options);
}

Tensor to_signed(const Tensor& x) { return x * 2.0 + -1.0; }

}  // namespace

UnpairedData::UnpairedData(const std::string& folder_a, const std::string& folder_b, DataOptions options) {
    a_ = domain("unpaired data (domain A)", folder_a, options);
    options.seed ^= kDomainBKey;
    b_ = domain("unpaired data (domain B)", folder_b, options);
}

std::pair<Tensor, Tensor> UnpairedData::batch(int64_t iter) { return {to_signed(a_->batch(iter).first), to_signed(b_->batch(iter).first)}; }

std::pair<Tensor, Tensor> UnpairedData::make_batch(int64_t iter) {
    return {to_signed(a_->make_batch(iter).first), to_signed(b_->make_batch(iter).first)};
}

}  // namespace sr
