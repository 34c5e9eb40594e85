// Which network a state dict is, from its tensor names and shapes alone, as the field's loaders
// do (Real-ESRGAN's inference script, chaiNNer's model loader): a user with only
// RealESRGAN_x4plus.pth needs no spec. Each family is recognised by names its layers alone have;
// its arguments are read off the shapes (features from a first convolution's outputs, blocks by
// counting, the scale from the upsampler); then the guess is proven: the network the spec builds
// must have exactly the file's names and shapes.
//
// Families: rrdbnet (BasicSR names, and the original ESRGAN release's RRDB_trunk names, renamed),
// edsr (BasicSR names, and EDSR-PyTorch's head/body/tail names, renamed), msrresnet, srresnet
// (Lornatang), rdn (EDSR-PyTorch's UPNet and idealo ISR's UPN/SR variants; ISR's Keras layer
// names renamed), rrdn (ISR), swinir, hat and drct (the official releases' names; window, heads,
// MLP ratio and upsampler from the tables and convolutions, img_size from the attention masks).
#pragma once

#include <string>

#include "models/module.h"

namespace sr {

struct DetectedNetwork {
    std::string spec;      // e.g. "rrdbnet:num_in_ch=3,num_out_ch=3,num_feat=64,num_block=23,num_grow_ch=32,scale=4"
    NamedTensors tensors;  // the state dict under srforge's names (renamed for the original layouts)
    std::string note;      // what could not be read off the shapes and was assumed, or ""
};

// An error listing the families looked for when none fits.
DetectedNetwork detect_network(const NamedTensors& tensors);

// The original ESRGAN and EDSR-PyTorch layouts, and idealo ISR's RDN (Keras layer names), renamed
// to the names srforge's models use (BasicSR's, and EDSR-PyTorch's for rdn); any other state dict
// is returned unchanged.
NamedTensors with_basicsr_names(const NamedTensors& tensors);

}  // namespace sr
