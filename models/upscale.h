// Upscaling whole images with an SR network, at any size.
//
// Large images are cut into tiles of `tile` x `tile` LR pixels. Each tile is run with `pad`
// pixels of context on every side, and neighbouring tiles overlap by a blend band of `blend`
// pixels on each side of their shared edge, where their outputs are mixed with linear weights that
// sum to 1. Where the network's receptive field fits in pad - blend pixels, every tile sees exactly
// what the whole image would show it, so the result equals the untiled output (tested to 1e-5);
// beyond that the blend band hides the seam.
//
// The image may be gray, gray+alpha, RGB or RGBA ([C, H, W] in [0, 1]): gray is fed as three equal
// channels and averaged back; alpha does not go through the network but is upscaled bilinearly.
// Networks that work in another value range, or on sides of a multiple of some size, get the
// image in their own terms (Network::value_range, size_multiple); those whose output depends on
// the whole image (CycleGAN's generator, with instance norm) are never tiled.
// With self_ensemble the network runs on the 8 flips/rotations of each tile and the results,
// turned back, are averaged (x8 self-ensemble, Lim et al. 2017).
#pragma once

#include <functional>

#include "models/module.h"

namespace sr {

struct UpscaleOptions {
    int64_t tile = 0;     // LR pixels per tile side; 0: whole image up to 512 x 512 pixels, else 256
    int64_t pad = 16;     // context around each tile
    int64_t blend = 4;    // half width of the band where neighbouring tiles are mixed
    bool self_ensemble = false;
    Device device = Device::cpu();
    std::function<void(int64_t done, int64_t total)> progress = nullptr;  // called after each tile
};

// The network's scale factor, from one small probe run (output size / input size).
int64_t network_scale(Network& model, Device device);

// image [C, H, W] in [0, 1], C = 1..4 -> [C, H s, W s], clamped to [0, 1].
Tensor upscale_image(Network& model, const Tensor& image, const UpscaleOptions& options);

}  // namespace sr
