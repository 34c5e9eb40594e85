// Keras weights files (.h5, .hdf5), read through core/hdf5.h: what model.save_weights writes (and
// model.save, under "model_weights"). The root's attribute "layer_names" lists the layers (split
// into layer_names0, layer_names1, ... when long); each layer's group has "weight_names", the paths
// of its datasets ("F_m1/kernel:0").
//
// They come out in PyTorch's layout and names, as srforge's models use them: a convolution's
// kernel [kh, kw, in, out] becomes LAYER.weight [out, in, kh, kw], a dense layer's [in, out]
// becomes LAYER.weight [out, in], the bias LAYER.bias; any other weight keeps its Keras name
// (LAYER.gamma). idealo ISR's RDN and RRDN releases are such files (models/detect.cpp renames
// ISR's RDN layers to srforge's).
#pragma once

#include <string>

#include "core/safetensors.h"

namespace sr {

// metadata "format": "keras-hdf5".
SafetensorsFile parse_keras_weights(const std::string& bytes, const std::string& what);

}  // namespace sr
