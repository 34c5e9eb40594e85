// CycleGAN's pool of past fakes (Shrivastava et al. 2017, as pytorch-CycleGAN-and-pix2pix's
// util/image_pool.py): the discriminator is shown a mix of the newest fakes and older ones, which
// steadies adversarial training. For each image of a batch, in order:
//   while the pool holds fewer than `size` images: store it, and show it;
//   once full: with probability 1/2 show a stored image chosen uniformly and store the new one in
//   its place; otherwise show the new one.
// A pool of size 0 shows every batch as it is. The coin and the slot of image i come from the
// Philox stream (seed ^ kImagePoolKey, iteration), so a resumed run decides exactly as the
// uninterrupted one (train/degrade.h's Rng).
#pragma once

#include <vector>

#include "models/module.h"

namespace sr {

constexpr uint64_t kImagePoolKey = 0x94D049BB133111EBull;

class ImagePool {
public:
    explicit ImagePool(int64_t size = 50);
    // images [b, C, H, W] (any device; the shape is fixed by the first call) -> what the
    // discriminator sees, [b, C, H, W], detached.
    Tensor query(const Tensor& images, uint64_t seed, int64_t iteration);

    int64_t size() const { return size_; }
    int64_t filled() const { return int64_t(images_.size()); }
    // For checkpoints: "images" [filled, C, H, W] (F32, CPU), absent while the pool is empty.
    NamedTensors state() const;
    void load_state(const NamedTensors& state);

private:
    int64_t size_;
    std::vector<Tensor> images_;  // each [1, C, H, W], on the device of the queries
};

}  // namespace sr
