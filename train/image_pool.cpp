#include "train/image_pool.h"

#include "autograd/node.h"
#include "ops/concat.h"
#include "train/degrade.h"

namespace sr {

ImagePool::ImagePool(int64_t size) : size_(size) { SR_CHECK(size >= 0, "image pool: size must be >= 0, got ", size); }

Tensor ImagePool::query(const Tensor& images, uint64_t seed, int64_t iteration) {
    NoGradGuard no_grad;
    const Tensor batch = images.detach();
    if (size_ == 0) return batch;
    SR_CHECK(batch.dim() == 4, "image pool: images must be [b, C, H, W], got ", batch.shape());
    if (!images_.empty())
        SR_CHECK(batch.shape().size() == 4 && batch.size(1) == images_[0].size(1) && batch.size(2) == images_[0].size(2) &&
                     batch.size(3) == images_[0].size(3),
                 "image pool: images of shape ", batch.shape(), " after ones of ", images_[0].shape());
    Rng rng(seed ^ kImagePoolKey, uint64_t(iteration));
    std::vector<Tensor> shown;
    for (int64_t i = 0; i < batch.size(0); ++i) {
        const Tensor image = batch.slice(0, i, i + 1).clone();
        if (filled() < size_) {
            images_.push_back(image);
            shown.push_back(image);
            continue;
        }
        const double coin = rng.uniform();
        const int64_t slot = rng.integer(size_);  // drawn either way: every image takes two numbers
        if (coin > 0.5) {
            shown.push_back(images_[size_t(slot)].to(batch.device()));  // a resumed pool is on the CPU
            images_[size_t(slot)] = image;
        } else {
            shown.push_back(image);
        }
    }
    return concat(shown, 0);
}

NamedTensors ImagePool::state() const {
    if (images_.empty()) return {};
    NoGradGuard no_grad;
    std::vector<Tensor> on_cpu;  // after a resume, the pool holds CPU images beside the device's
    for (const Tensor& t : images_) on_cpu.push_back(t.to(Device::cpu()));
    return {{"images", concat(on_cpu, 0)}};
}

void ImagePool::load_state(const NamedTensors& state) {
    images_.clear();
    for (const auto& [name, t] : state) {
        SR_CHECK(name == "images", "image pool: unknown state '", name, "'");
        SR_CHECK(t.dim() == 4 && t.size(0) <= size_, "image pool: state 'images' of shape ", t.shape(), " for a pool of ", size_);
        for (int64_t i = 0; i < t.size(0); ++i) images_.push_back(t.slice(0, i, i + 1).clone());
    }
}

}  // namespace sr
