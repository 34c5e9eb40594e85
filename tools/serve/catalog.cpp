#include "tools/serve/catalog.h"

#include <algorithm>

#include "models/spec.h"
#include "models/upscale.h"

namespace sr::serve {

namespace fs = std::filesystem;

bool is_weights_file(const fs::path& file) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* known : {".safetensors", ".pth", ".pt", ".ckpt", ".h5", ".hdf5"})
        if (ext == known) return true;
    return false;
}

Catalog::Catalog(std::string folder) : folder_(std::move(folder)) {
    SR_CHECK(fs::is_directory(folder_), "sr_serve: --models '", folder_, "' is not a folder");
}

namespace {

// A message in the file's name only: clients need not learn the server's folders.
std::string without_folder(std::string message, const fs::path& file) {
    const std::string full = file.string(), name = file.filename().string();
    for (size_t at; (at = message.find(full)) != std::string::npos;) message.replace(at, full.size(), name);
    return message;
}

}  // namespace

// Builds the network once to learn what it is; a file that does not load is listed with its error.
ModelInfo Catalog::describe(const fs::path& file) const {
    ModelInfo info;
    info.name = file.filename().string();
    try {
        std::shared_ptr<Network> net = load_network("", file.string(), false, &info.spec);
        info.architecture = info.spec.substr(0, info.spec.find(':'));
        for (const Tensor& p : net->parameters()) info.parameters += p.numel();
        info.scale = network_scale(*net, Device::cpu());
    } catch (const std::exception& e) {  // sr::Error; a bad_alloc or another library's error is the file's fault too
        info.error = without_folder(e.what(), file);
    }
    return info;
}

std::vector<ModelInfo> Catalog::list() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder_))
        if (entry.is_regular_file() && is_weights_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<ModelInfo> out;
    const std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, Seen> still;
    for (const fs::path& f : files) {
        std::error_code ec;
        const std::uintmax_t size = fs::file_size(f, ec);
        const fs::file_time_type time = fs::last_write_time(f, ec);
        if (ec) continue;  // vanished while listing
        auto it = seen_.find(f.filename().string());
        Seen s = it != seen_.end() && it->second.size == size && it->second.time == time ? it->second : Seen{size, time, describe(f)};
        out.push_back(s.info);
        still.emplace(f.filename().string(), std::move(s));
    }
    seen_ = std::move(still);
    return out;
}

std::shared_ptr<Network> Catalog::load(const std::string& name, ModelInfo* info) {
    const std::vector<ModelInfo> models = list();
    auto it = std::find_if(models.begin(), models.end(), [&](const ModelInfo& m) { return m.name == name; });
    SR_CHECK(it != models.end(), "no model named '", name.substr(0, 200), "' (GET /api/models lists them)");
    SR_CHECK(it->error.empty(), "model '", name, "' cannot be used: ", it->error);
    *info = *it;
    const std::lock_guard<std::mutex> lock(mutex_);
    const Seen& seen = seen_.at(name);
    if (loaded_name_ != name || !loaded_ || loaded_size_ != seen.size || loaded_time_ != seen.time) {  // a file replaced since
        const fs::path file = fs::path(folder_) / name;
        try {
            loaded_ = load_network(it->spec, file.string());
        } catch (const std::exception& e) {
            fail(without_folder(e.what(), file));
        }
        loaded_->eval();
        loaded_name_ = name;
        loaded_size_ = seen.size;
        loaded_time_ = seen.time;
    }
    return loaded_;
}

}  // namespace sr::serve
