// Exponential moving average of a network's weights (BasicSR's net_g_ema): after every step,
//   ema = decay * ema + (1 - decay) * weights   for parameters; buffers are copied.
// Validation and the saved "EMA weights" use the average, which is smoother than the raw weights.
#pragma once

#include "models/module.h"

namespace sr {

class Ema {
public:
    Ema(const Module& model, double decay);
    void update(const Module& model);
    const NamedTensors& state() const { return state_; }  // the averaged state dict
    NamedTensors& state() { return state_; }
    double decay() const { return decay_; }

private:
    double decay_;
    NamedTensors state_;
};

}  // namespace sr
