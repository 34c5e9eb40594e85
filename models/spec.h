// Model spec strings: "name:key=value,key=value", e.g. "edsr:num_feat=64,num_block=16,upscale=4"
// or "rdn:scale=2,D=16,C=8,G=64,G0=64". Keys are the reference constructor's argument names;
// omitted keys take its defaults; a key the model does not know is an error naming the known ones.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/module.h"

namespace sr {

class ModelArgs {
public:
    // Parses "name:k=v,..." (the part after ':' may be empty).
    explicit ModelArgs(const std::string& spec);

    const std::string& name() const { return name_; }
    const std::string& spec() const { return spec_; }
    int64_t integer(const std::string& key, int64_t fallback);
    double number(const std::string& key, double fallback);
    bool flag(const std::string& key, bool fallback);
    std::string text(const std::string& key, const std::string& fallback);
    // A list written with '/' between values ("rgb_mean=0.4488/0.4371/0.4040").
    std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback);
    // A list of integers written as in Python ("depths=[6,6,6,6]"), or with '/' between them.
    std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& fallback);
    // After the model has read its keys: an error for any key it never asked for.
    void check_all_used() const;

private:
    const std::string* find(const std::string& key);
    std::string name_, spec_;
    std::map<std::string, std::string> values_;
    std::set<std::string> asked_;
};

// "name:k=v,depths=[6,6]" -> its arguments in order, each list whole ({"depths", "[6,6]"}).
std::vector<std::pair<std::string, std::string>> spec_arguments(const std::string& spec);

// The models srforge knows, by spec name: edsr, rdn, rrdn, rrdbnet, msrresnet, srresnet, srvgg_compact,
// vgg_discriminator, unet_discriminator_sn, vgg19, and CycleGAN's resnet_generator and
// patchgan_discriminator (models/cyclegan.h), and the transformers swinir,
// hat and drct (models/swinir.h, hat.h, drct.h).
std::shared_ptr<Network> make_model(const std::string& spec);
std::vector<std::string> model_names();

// A network with trained weights, for the tools that run one (sr_upscale, sr_eval, sr_forward),
// from a safetensors file or a PyTorch checkpoint. `spec` may be empty when the weights name their
// model (metadata "model", as train_sr writes) or their names and shapes show it (models/detect.h);
// when both are given they must agree on the network and on every argument both state, checked
// before the network is built. Loading is strict unless `allow_unexpected` (then tensors the model
// lacks are skipped; missing ones are always an error), and weights holding NaN or infinity are
// refused: they would only give black images.
// `used_spec`, when given, receives the spec the network was built from.
std::shared_ptr<Network> load_network(const std::string& spec, const std::string& weights_path, bool allow_unexpected = false,
                                      std::string* used_spec = nullptr);

}  // namespace sr
