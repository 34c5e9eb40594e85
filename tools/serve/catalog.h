// sr_serve's models: the weights files in one folder (safetensors, PyTorch checkpoints, Keras
// .hdf5), each described by what the file itself says — its spec (train_sr's metadata, or the
// network recognised from its tensors), its architecture, scale and parameter count.
//
// Users name a model by its file name only; a name is looked up among the files listed, never
// joined to a path, so nothing outside the folder can be loaded.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/module.h"

namespace sr::serve {

struct ModelInfo {
    std::string name;          // the file name, e.g. "net_g_best.safetensors"
    std::string spec;          // e.g. "edsr:num_feat=64,num_block=16,upscale=2"
    std::string architecture;  // the spec's network, e.g. "edsr"
    int64_t scale = 0;
    int64_t parameters = 0;
    std::string error;         // why the file cannot be used ("" when it can)
};

class Catalog {
public:
    explicit Catalog(std::string folder);
    // The folder's weights files, sorted by name; files seen before (same size and time) are not read again.
    std::vector<ModelInfo> list();
    // The network of a listed, usable file (the last one loaded is kept); an error for any other name.
    std::shared_ptr<Network> load(const std::string& name, ModelInfo* info);

private:
    struct Seen {
        std::uintmax_t size;
        std::filesystem::file_time_type time;
        ModelInfo info;
    };
    ModelInfo describe(const std::filesystem::path& file) const;

    std::string folder_;
    std::mutex mutex_;
    std::map<std::string, Seen> seen_;
    std::string loaded_name_;  // the network kept, and the file's size and time when it was read
    std::uintmax_t loaded_size_ = 0;
    std::filesystem::file_time_type loaded_time_;
    std::shared_ptr<Network> loaded_;
};

bool is_weights_file(const std::filesystem::path& file);

}  // namespace sr::serve
