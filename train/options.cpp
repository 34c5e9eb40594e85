#include "train/options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/file.h"
#include "models/spec.h"
#include "train/config.h"
#include "train/losses.h"

namespace sr {

namespace {

// ---- values: YAML node <-> C++ value ------------------------------------------------------------

void read_value(double& v, const YAML::Node& n, const std::string& key) { v = yaml_number(n, key); }
void read_value(int64_t& v, const YAML::Node& n, const std::string& key) { v = yaml_integer(n, key); }
void read_value(bool& v, const YAML::Node& n, const std::string& key) { v = yaml_flag(n, key); }
void read_value(std::string& v, const YAML::Node& n, const std::string& key) { v = yaml_text(n, key); }
void read_value(int& v, const YAML::Node& n, const std::string& key) {
    const int64_t x = yaml_integer(n, key);
    SR_CHECK(x >= 0 && x <= 4096, key, " must be between 0 and 4096, got ", x);
    v = int(x);
}
void read_value(uint64_t& v, const YAML::Node& n, const std::string& key) {
    const int64_t x = yaml_integer(n, key);
    SR_CHECK(x >= 0, key, " must be a non-negative integer, got ", x);
    v = uint64_t(x);
}
void read_value(std::vector<double>& v, const YAML::Node& n, const std::string& key) { v = yaml_numbers(n, key); }
void read_value(std::vector<int64_t>& v, const YAML::Node& n, const std::string& key) {
    v.clear();
    if (!n.IsSequence()) (void)yaml_numbers(n, key);  // the error for a non-list
    for (const YAML::Node& item : n) v.push_back(yaml_integer(item, key));
}
template <size_t N>
void read_value(std::array<double, N>& v, const YAML::Node& n, const std::string& key) {
    const std::vector<double> l = yaml_numbers(n, key);
    SR_CHECK(l.size() == N, key, " must be a list of ", N, " numbers, got ", l.size());
    std::copy(l.begin(), l.end(), v.begin());
}
void read_value(Device& v, const YAML::Node& n, const std::string& key) { v = Device::parse(yaml_text(n, key)); }

// Numbers are written as the shortest text that reads back to the same double; an exponent gets a
// '.' in its mantissa ("1.0e-07"), which PyYAML (and so BasicSR) reads as a float, not a string.
std::string number_text(double v) {
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    std::string s(buf, end);
    const size_t e = s.find('e');
    if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
    return s;
}

YAML::Node scalar(const std::string& text) { return YAML::Node(text); }
YAML::Node write_value(double v) { return scalar(number_text(v)); }
YAML::Node write_value(int64_t v) { return scalar(std::to_string(v)); }
YAML::Node write_value(int v) { return scalar(std::to_string(v)); }
YAML::Node write_value(uint64_t v) { return scalar(std::to_string(v)); }
YAML::Node write_value(bool v) { return scalar(v ? "true" : "false"); }
// An empty text is written as ~ (null), as BasicSR's files have it: BasicSR tests paths with `is not None`.
YAML::Node write_value(const std::string& v) { return v.empty() ? YAML::Node(YAML::NodeType::Null) : scalar(v); }
YAML::Node write_value(const Device& v) { return scalar(v.is_cpu() ? "cpu" : "cuda"); }
template <typename List>
YAML::Node write_list(const List& values) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& v : values) list.push_back(write_value(v));
    list.SetStyle(YAML::EmitterStyle::Flow);
    return list;
}
YAML::Node write_value(const std::vector<double>& v) { return write_list(v); }
YAML::Node write_value(const std::vector<int64_t>& v) { return write_list(v); }
template <size_t N>
YAML::Node write_value(const std::array<double, N>& v) { return write_list(v); }

// ---- the table's rows ------------------------------------------------------------------------

using Written = std::vector<std::pair<std::string, YAML::Node>>;  // (path, value) pairs for config.yaml

struct Option {
    std::string path;  // YAML path; '*' stands for a dataset's phase (train, val, val_1, ...); empty: a flag only
    std::string flag;  // empty: the file only
    std::string help;  // for --help and docs/TRAINING.md; "(srforge)" marks keys BasicSR does not have
    // Sets the option from a value; `key` is the concrete path (or the flag) for messages.
    std::function<void(TrainOptions&, const YAML::Node&, const std::string& key)> read;
    std::function<Written(const TrainOptions&)> write;  // null: never written
    bool is_switch = false;  // a flag without a value (sets true)
    bool whole = false;      // takes a whole mapping (network_g, val.metrics, ...): its keys are its own
};

Option make_row(std::string path, std::string flag, std::string help) {
    Option row;
    row.path = std::move(path);
    row.flag = std::move(flag);
    row.help = std::move(help);
    return row;
}

// The usual row: a path, a flag and one member of TrainOptions, e.g.
//   field("train.total_iter", "--iters", "total iterations", MEMBER(total_iter))
#define MEMBER(m) [](auto& o) -> auto& { return o.m; }

template <typename Access>
Option field(std::string path, std::string flag, std::string help, Access access) {
    using T = std::decay_t<decltype(access(std::declval<TrainOptions&>()))>;
    Option row = make_row(path, flag, help);
    row.read = [access](TrainOptions& o, const YAML::Node& n, const std::string& key) { read_value(access(o), n, key); };
    row.write = [access, path](const TrainOptions& o) { return Written{{path, write_value(access(o))}}; };
    row.is_switch = std::is_same_v<T, bool> && !row.flag.empty();
    return row;
}

// Another name of an option (BasicSR's older spelling): read, never written.
template <typename Access>
Option alias(std::string path, std::string help, Access access) {
    Option row = field(std::move(path), "", std::move(help), access);
    row.write = nullptr;
    return row;
}

// A row written to config.yaml only when `applies` (GAN keys for GAN runs, ...).
Option when(bool (*applies)(const TrainOptions&), Option row) {
    if (row.write)
        row.write = [applies, write = row.write](const TrainOptions& o) { return applies(o) ? write(o) : Written{}; };
    return row;
}
bool is_gan(const TrainOptions& o) { return o.gan(); }
bool is_synthetic(const TrainOptions& o) { return o.synthetic(); }
bool has_perceptual(const TrainOptions& o) { return o.perceptual; }
bool has_vgg_weights(const TrainOptions& o) { return o.perceptual && !o.perceptual_opt.pretrained.empty(); }  // srforge's key
bool is_multistep(const TrainOptions& o) { return o.schedule.type == "MultiStepLR"; }
bool is_cosine(const TrainOptions& o) { return o.schedule.type == "CosineAnnealingRestartLR"; }
bool is_linear_decay(const TrainOptions& o) { return o.schedule.type == "LinearDecayLR"; }
bool is_unpaired(const TrainOptions& o) { return o.unpaired(); }
bool is_paired(const TrainOptions& o) { return !o.unpaired(); }
bool is_paired_gan(const TrainOptions& o) { return o.gan() && !o.unpaired(); }

// A key whose only allowed value is the one srforge implements (e.g. optim_d.type: Adam).
Option fixed(std::string path, std::string value, std::string why, bool (*applies)(const TrainOptions&) = nullptr) {
    Option row = make_row(path, "", "");
    row.read = [value, why](TrainOptions&, const YAML::Node& n, const std::string& key) {
        const std::string v = yaml_text(n, key);
        auto number = [](const std::string& t, double& x) {  // "1" and "1.0" are the same label value
            char* end = nullptr;
            x = std::strtod(t.c_str(), &end);
            return !t.empty() && *end == 0;
        };
        double a = 0, b = 0;
        SR_CHECK(v == value || (number(v, a) && number(value, b) && a == b), key, " must be ", value, " (", why, "), got '", v, "'");
    };
    if (applies) row.write = [path, value, applies](const TrainOptions& o) { return applies(o) ? Written{{path, scalar(value)}} : Written{}; };
    return row;
}

// ---- datasets --------------------------------------------------------------------------------

bool is_val_phase(const std::string& phase) { return phase == "val" || phase.rfind("val_", 0) == 0; }

// "datasets.val_2.dataroot_gt" -> "val_2"
std::string phase_of(const std::string& key) {
    const size_t a = key.find('.') + 1, b = key.find('.', a);
    return key.substr(a, b - a);
}

DatasetOptions& dataset_of(TrainOptions& o, const std::string& phase) {
    if (phase == "train") return o.train_set;
    for (DatasetOptions& d : o.val_sets)
        if (d.phase == phase) return d;
    DatasetOptions d;
    d.phase = phase;
    d.split = "valid";
    o.val_sets.push_back(d);
    return o.val_sets.back();
}

// A key of every dataset entry, e.g. dataset_field("dataroot_gt", ..., MEMBER(dataroot_gt)).
template <typename Access>
Option dataset_field(const std::string& key, std::string help, Access access) {
    Option row = make_row("datasets.*." + key, "", help);
    row.read = [access](TrainOptions& o, const YAML::Node& n, const std::string& path) {
        read_value(access(dataset_of(o, phase_of(path))), n, path);
    };
    row.write = [access, key](const TrainOptions& o) {
        Written out;
        auto add = [&](const DatasetOptions& d) {
            TrainOptions fresh;  // what reading the phase back starts from
            const DatasetOptions& base = dataset_of(fresh, d.phase);
            if (access(d) != access(base)) out.push_back({"datasets." + d.phase + "." + key, write_value(access(d))});
        };
        add(o.train_set);
        for (const DatasetOptions& d : o.val_sets) add(d);
        return out;
    };
    return row;
}

// meta_info_file and meta_info set one member; config.yaml writes the key of the dataset's type.
Option only_for_type(const std::string& type, bool is_type, Option row) {
    row.write = [type, is_type, write = row.write](const TrainOptions& o) {
        Written out;
        for (auto& [path, value] : write(o)) {
            const std::string phase = phase_of(path);
            const DatasetOptions& d = phase == "train" ? o.train_set : *std::find_if(o.val_sets.begin(), o.val_sets.end(),
                                                                                      [&](const DatasetOptions& v) { return v.phase == phase; });
            if ((d.type == type) == is_type) out.push_back({path, value});
        }
        return out;
    };
    return row;
}

Option io_backend_row() {
    Option row = make_row("datasets.*.io_backend", "", "{type: disk} or {type: lmdb} (dataroots are NAME.lmdb folders)");
    row.whole = true;
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& path) {
        SR_CHECK(n.IsMap() && n["type"], path, " must be a mapping with a type, like {type: disk}");
        for (const auto& kv : n)
            SR_CHECK(kv.first.Scalar() == "type", path, ": unknown key '", kv.first.Scalar(), "' (only type is read)");
        const std::string type = yaml_text(n["type"], path + ".type");
        SR_CHECK(type == "disk" || type == "lmdb", path, ".type must be disk or lmdb, got '", type, "'");
        dataset_of(o, phase_of(path)).io_backend = type;
    };
    row.write = [](const TrainOptions& o) {
        Written out;
        auto add = [&](const DatasetOptions& d) {
            YAML::Node m;
            m["type"] = d.io_backend;
            m.SetStyle(YAML::EmitterStyle::Flow);
            out.push_back({"datasets." + d.phase + ".io_backend", m});
        };
        add(o.train_set);
        for (const DatasetOptions& d : o.val_sets) add(d);
        return out;
    };
    return row;
}

// ---- networks and losses -----------------------------------------------------------------------

// BasicSR's class names of the networks srforge has, and srforge's spec names for them.
const std::vector<std::pair<std::string, std::string>> network_names = {
    {"EDSR", "edsr"}, {"RDN", "rdn"}, {"RRDN", "rrdn"}, {"RRDBNet", "rrdbnet"}, {"MSRResNet", "msrresnet"},
    {"SRResNet", "srresnet"}, {"SRVGGNetCompact", "srvgg_compact"}, {"VGGStyleDiscriminator", "vgg_discriminator"}, {"UNetDiscriminatorSN", "unet_discriminator_sn"},
    {"ResnetGenerator", "resnet_generator"}, {"NLayerDiscriminator", "patchgan_discriminator"}, {"SwinIR", "swinir"}, {"HAT", "hat"},
    {"DRCT", "drct"}};

std::string spec_name(std::string type) {
    for (const auto& [basicsr, spec] : network_names)
        if (type == basicsr) return spec;
    for (char& c : type) c = char(std::tolower(static_cast<unsigned char>(c)));
    return type;
}

// network_g: {type: EDSR, num_feat: 64, rgb_mean: [0.4488, 0.4371, 0.4040]} -> "edsr:num_feat=64,rgb_mean=0.4488/0.4371/0.4040";
// a plain string is taken as a spec.
std::string spec_from(const YAML::Node& n, const std::string& key) {
    if (n.IsScalar()) return n.Scalar();
    SR_CHECK(n.IsMap() && n["type"], key, " must be a mapping with a type (e.g. {type: EDSR, num_feat: 64}) or a spec string");
    std::string spec = spec_name(yaml_text(n["type"], key + ".type")) + ":";
    bool first = true;
    for (const auto& kv : n) {
        const std::string arg = kv.first.Scalar();
        if (arg == "type") continue;
        std::string text;
        if (kv.second.IsSequence())
            for (const YAML::Node& item : kv.second) text += (text.empty() ? "" : "/") + yaml_text(item, key + "." + arg);
        else
            text = yaml_text(kv.second, key + "." + arg);
        if (text == "True" || text == "TRUE") text = "true";  // YAML's other spellings of booleans, as PyYAML reads them
        if (text == "False" || text == "FALSE") text = "false";
        spec += (first ? "" : ",") + arg + "=" + text;
        first = false;
    }
    return spec;
}

// The reverse, for config.yaml: BasicSR's class name and one key per argument ('/' lists as lists).
YAML::Node network_from(const std::string& spec) {
    const size_t colon = spec.find(':');
    std::string type = spec.substr(0, colon);
    for (const auto& [basicsr, name] : network_names)
        if (type == name) type = basicsr;
    YAML::Node n;
    n["type"] = type;
    for (const auto& [key, value] : spec_arguments(spec)) {
        const bool bracketed = value.size() >= 2 && value.front() == '[' && value.back() == ']';
        if (!bracketed && value.find('/') == std::string::npos) {
            n[key] = value;
            continue;
        }
        // A list: "[6,6]" as in Python, or "0.4488/0.4371/0.4040".
        const std::string inner = bracketed ? value.substr(1, value.size() - 2) : value;
        const char separator = bracketed ? ',' : '/';
        YAML::Node list(YAML::NodeType::Sequence);
        for (size_t a = 0; a <= inner.size();) {
            const size_t b = std::min(inner.find(separator, a), inner.size());
            list.push_back(inner.substr(a, b - a));
            a = b + 1;
        }
        list.SetStyle(YAML::EmitterStyle::Flow);
        n[key] = list;
    }
    return n;
}

template <typename Access>
Option network_row(std::string path, std::string flag, std::string help, Access access) {
    Option row = make_row(path, flag, help);
    row.whole = true;
    row.read = [access](TrainOptions& o, const YAML::Node& n, const std::string& key) { access(o) = spec_from(n, key); };
    row.write = [access, path](const TrainOptions& o) {
        return access(o).empty() ? Written{} : Written{{path, network_from(access(o))}};
    };
    return row;
}

// train.pixel_opt: BasicSR's {type: L1Loss, loss_weight: 1.0, reduction: mean}, or srforge's
// spec string for weighted sums ("l1:1+ssim:0.1", train/losses.h; "none").
const std::vector<std::pair<std::string, std::string>> pixel_loss_names = {
    {"L1Loss", "l1"}, {"MSELoss", "mse"}, {"CharbonnierLoss", "charbonnier"}};

std::string loss_from(const YAML::Node& n, const std::string& key) {
    if (n.IsNull()) return "none";  // BasicSR: pixel_opt: ~ is no pixel loss
    if (n.IsScalar()) return n.Scalar();
    SR_CHECK(n.IsMap(), key, " must be a mapping like {type: L1Loss, loss_weight: 1.0} or a loss spec like l1:1+ssim:0.1");
    double weight = 1;
    std::string type = "L1Loss";
    for (const auto& kv : n) {
        const std::string k = kv.first.Scalar();
        if (k == "type") type = yaml_text(kv.second, key + ".type");
        else if (k == "loss_weight") weight = yaml_number(kv.second, key + ".loss_weight");
        else if (k == "reduction") SR_CHECK(yaml_text(kv.second, key + ".reduction") == "mean", key, ".reduction must be mean");
        else if (k == "eps") SR_CHECK(yaml_number(kv.second, key + ".eps") == 1e-12, key, ".eps must be 1e-12 (CharbonnierLoss's)");
        else fail(key, ": unknown key '", k, "' (type, loss_weight, reduction)");
    }
    for (const auto& [basicsr, name] : pixel_loss_names)
        if (type == basicsr) return name + ":" + number_text(weight);
    fail(key, ".type must be L1Loss, MSELoss or CharbonnierLoss, got '", type, "'");
}

YAML::Node loss_node(const std::string& spec) {
    const PixelLoss loss(spec);
    if (loss.terms().size() != 1) return scalar(spec);
    const auto& [type, weight] = loss.terms()[0];
    for (const auto& [basicsr, name] : pixel_loss_names)
        if (type == name) {
            YAML::Node n;
            n["type"] = basicsr;
            n["loss_weight"] = number_text(weight);
            n["reduction"] = "mean";
            return n;
        }
    return scalar(spec);
}

Option pixel_loss_row() {
    Option row = make_row("train.pixel_opt", "--loss", "pixel loss: {type: L1Loss|MSELoss|CharbonnierLoss, loss_weight: W} or a spec l1:1+ssim:0.1; none");
    row.whole = true;
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) { o.loss = loss_from(n, key); };
    row.write = [](const TrainOptions& o) { return Written{{"train.pixel_opt", loss_node(o.loss)}}; };
    return row;
}

Option layer_weights_row() {
    Option row = make_row("train.perceptual_opt.layer_weights", "--percep", "VGG19 layers and weights, e.g. {'conv5_4': 1}; the flag takes conv5_4:1+conv4_4:0.5");
    row.whole = true;
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        o.perceptual = true;
        if (n.IsScalar()) {
            o.perceptual_opt.layer_weights = parse_layer_weights(n.Scalar());
            return;
        }
        SR_CHECK(n.IsMap() && n.size() > 0, key, " must map layers to weights, like {'conv5_4': 1}");
        o.perceptual_opt.layer_weights.clear();
        for (const auto& kv : n) o.perceptual_opt.layer_weights[kv.first.Scalar()] = yaml_number(kv.second, key + "." + kv.first.Scalar());
    };
    row.write = [](const TrainOptions& o) {
        YAML::Node m;
        for (const auto& [layer, w] : o.perceptual_opt.layer_weights) m[layer] = number_text(w);
        return o.perceptual ? Written{{"train.perceptual_opt.layer_weights", m}} : Written{};
    };
    return row;
}

// ---- special rows ------------------------------------------------------------------------------

// datasets.train.gt_size is the HR patch; srforge keeps the LR patch (gt_size / scale).
Option gt_size_row() {
    Option row = make_row("datasets.train.gt_size", "", "HR patch size (a multiple of the scale; --patch gives the LR size)");
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        const int64_t gt = yaml_integer(n, key);
        SR_CHECK(o.scale >= 1 && gt > 0 && gt % o.scale == 0, key, ": gt_size ", gt, " is not a multiple of the scale ", o.scale);
        o.patch = gt / o.scale;
    };
    row.write = [](const TrainOptions& o) { return Written{{"datasets.train.gt_size", write_value(o.patch * o.scale)}}; };
    return row;
}

// Real-ESRGAN's files give gt_size at the top level too; it must agree.
Option top_gt_size_row() {
    Option row = make_row("gt_size", "", "");
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        const int64_t gt = yaml_integer(n, key);
        SR_CHECK(gt == o.patch * o.scale, key, " (", gt, ") and datasets.train.gt_size (", o.patch * o.scale, ") differ");
    };
    row.write = [](const TrainOptions& o) { return o.synthetic() ? Written{{"gt_size", write_value(o.patch * o.scale)}} : Written{}; };
    return row;
}

// Adam's betas of the generator; the discriminator's must be the same pair (one pair is kept).
Option betas_row() {
    Option row = make_row("train.optim_g.betas", "", "Adam's [beta1, beta2] (the discriminator's optim_d.betas must be the same)");
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        std::array<double, 2> b{};
        read_value(b, n, key);
        o.beta1 = b[0];
        o.beta2 = b[1];
    };
    row.write = [](const TrainOptions& o) { return Written{{"train.optim_g.betas", write_value(std::array<double, 2>{o.beta1, o.beta2})}}; };
    return row;
}

Option betas_d_row() {
    Option row = make_row("train.optim_d.betas", "", "");
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        std::array<double, 2> b{};
        read_value(b, n, key);
        SR_CHECK(b[0] == o.beta1 && b[1] == o.beta2, key, " must equal train.optim_g.betas (one pair of betas is used for both)");
    };
    row.write = [](const TrainOptions& o) {
        return o.gan() ? Written{{"train.optim_d.betas", write_value(std::array<double, 2>{o.beta1, o.beta2})}} : Written{};
    };
    return row;
}

// Real-ESRGAN's kernel_list names the six families; srforge draws from all six in this order
// (a family is left out by giving it probability 0 in kernel_prob).
const std::vector<std::string> kernel_families = {"iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"};

Option kernel_list_row(std::string path) {
    Option row = make_row(path, "", "");
    row.read = [](TrainOptions&, const YAML::Node& n, const std::string& key) {
        bool same = n.IsSequence() && n.size() == kernel_families.size();
        for (size_t i = 0; same && i < kernel_families.size(); ++i) same = n[i].IsScalar() && n[i].Scalar() == kernel_families[i];
        SR_CHECK(same, key, " must list iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso in this order "
                             "(set a family's kernel_prob to 0 to leave it out)");
    };
    row.write = [path](const TrainOptions& o) {
        YAML::Node list(YAML::NodeType::Sequence);
        for (const std::string& k : kernel_families) list.push_back(k);
        list.SetStyle(YAML::EmitterStyle::Flow);
        return o.synthetic() ? Written{{path, list}} : Written{};
    };
    return row;
}

Option metrics_row() {
    Option row = make_row("val.metrics", "", "{NAME: {type: calculate_psnr|calculate_ssim, crop_border: N, test_y_channel: true}}; best model on the first");
    row.whole = true;
    row.read = [](TrainOptions& o, const YAML::Node& n, const std::string& key) {
        SR_CHECK(n.IsMap(), key, " must map metric names to {type: calculate_psnr, ...}");
        o.metrics.clear();
        for (const auto& kv : n) {
            MetricOptions m{kv.first.Scalar(), "", 0, false};
            std::string better = "higher";
            const std::string at = key + "." + m.name;
            SR_CHECK(kv.second.IsMap(), at, " must be a mapping like {type: calculate_psnr, crop_border: 4}");
            for (const auto& e : kv.second) {
                const std::string k = e.first.Scalar();
                if (k == "type") m.type = yaml_text(e.second, at + ".type");
                else if (k == "crop_border") m.crop_border = yaml_integer(e.second, at + ".crop_border");
                else if (k == "test_y_channel") m.test_y_channel = yaml_flag(e.second, at + ".test_y_channel");
                else if (k == "better") better = yaml_text(e.second, at + ".better");
                else fail(at, ": unknown key '", k, "' (type, crop_border, test_y_channel, better)");
            }
            if (m.type == "calculate_niqe") {  // no-reference; needs BasicSR's fitted NIQE model, which srforge has not
                o.no_effect.push_back(at + " (calculate_niqe is not computed here)");
                continue;
            }
            SR_CHECK(m.type == "calculate_psnr" || m.type == "calculate_ssim", at,
                     ".type must be calculate_psnr or calculate_ssim (calculate_niqe is accepted and skipped), got '", m.type, "'");
            SR_CHECK(better == "higher", at, ".better must be higher for ", m.type);
            SR_CHECK(m.crop_border >= 0, at, ".crop_border must be >= 0");
            o.metrics.push_back(m);
        }
    };
    row.write = [](const TrainOptions& o) {
        YAML::Node n;
        for (const MetricOptions& m : o.metrics) {
            n[m.name]["type"] = m.type;
            n[m.name]["crop_border"] = std::to_string(m.crop_border);
            n[m.name]["test_y_channel"] = m.test_y_channel ? "true" : "false";
        }
        return o.metrics.empty() ? Written{} : Written{{"val.metrics", n}};
    };
    return row;
}

// A flag that only acts (--restart, --data DIR, ...).
Option action(std::string flag, std::string help, bool is_switch,
              std::function<void(TrainOptions&, const std::string& value)> act) {
    Option row = make_row("", flag, help);
    row.read = [act](TrainOptions& o, const YAML::Node& n, const std::string& key) { act(o, yaml_text(n, key)); };
    row.is_switch = is_switch;
    return row;
}

// --data DIR: train on a srforge folder (DIV2K layout, HR/ + LR_bicubic/, or photos) and validate on
// its valid split; --val-data DIR: validate on that folder instead.
void use_val_folder(TrainOptions& o, const std::string& dir) {
    DatasetOptions val;
    val.phase = "val";
    val.dataroot = dir;
    val.split = "valid";
    o.val_sets = {val};
}

void use_data_folder(TrainOptions& o, const std::string& dir) {
    if (o.unpaired()) {  // the reference's layout, DIR/trainA and DIR/trainB; the validation sets stay
        o.train_set.dataroot = dir;
        o.train_set.dataroot_a = o.train_set.dataroot_b = "";
        return;
    }
    o.train_set = DatasetOptions{};
    o.train_set.dataroot = dir;
    use_val_folder(o, dir);
}

void for_each_val_set(TrainOptions& o, const std::function<void(DatasetOptions&)>& f) {
    if (o.val_sets.empty()) dataset_of(o, "val");  // the default set, so that the flag has something to act on
    for (DatasetOptions& d : o.val_sets) f(d);
}

int64_t flag_integer(const std::string& flag, const std::string& v) { return yaml_integer(YAML::Node(v), flag); }

// ---- the table ---------------------------------------------------------------------------------

// The run: name, type, seed, device.
std::vector<Option> run_rows() {
    return {
        field("name", "--name", "run name: the run folder is OUT/NAME", MEMBER(name)),
        field("model_type", "--model-type", "SRModel | SRGANModel | ESRGANModel | RealESRNetModel | RealESRGANModel | CycleGANModel", MEMBER(model_type)),
        field("scale", "--scale", "upscaling factor of the data (the network must match)", MEMBER(scale)),
        field("manual_seed", "--seed", "random seed (weights and batches)", MEMBER(seed)),
        field("threads", "--threads", "(srforge) CPU threads; 0: all cores", MEMBER(threads)),
        field("device", "--device", "(srforge) cpu | cuda", MEMBER(device)),
        field("precision", "--precision", "(srforge) math of convolutions and products: fp32 | tf32 (GPU) | bf16", MEMBER(precision)),
    };
}

// Datasets: one entry per phase (train, val, val_1, ...); datasets.train's crops and loader.
std::vector<Option> dataset_rows() {
    return {
        dataset_field("name", "the dataset's name (validation results are reported under it)", MEMBER(name)),
        dataset_field("type", "PairedImageDataset | RealESRGANDataset | SingleImageDataset | UnpairedImageDataset; omitted: srforge's dataroot", MEMBER(type)),
        dataset_field("dataroot", "(srforge) a DIV2K-layout root, a folder with HR/ and LR_bicubic/X{s}/, or of photos", MEMBER(dataroot)),
        dataset_field("split", "(srforge) train | valid | all, for a DIV2K-layout dataroot", MEMBER(split)),
        dataset_field("dataroot_gt", "ground-truth (HR) folder, relative to the working directory", MEMBER(dataroot_gt)),
        dataset_field("dataroot_lq", "low-quality (LR) folder", MEMBER(dataroot_lq)),
        dataset_field("dataroot_a", "(UnpairedImageDataset) domain A's images (default: dataroot/trainA)", MEMBER(dataroot_a)),
        dataset_field("dataroot_b", "(UnpairedImageDataset) domain B's images (default: dataroot/trainB)", MEMBER(dataroot_b)),
        dataset_field("filename_tmpl", "LR file name from the HR name, e.g. '{}x2' (default '{}')", MEMBER(filename_tmpl)),
        only_for_type("RealESRGANDataset", false,
                      dataset_field("meta_info_file", "a file listing the HR images to use (first word of each line)", MEMBER(meta_info))),
        only_for_type("RealESRGANDataset", true,
                      dataset_field("meta_info", "(RealESRGANDataset) a file listing HR images relative to dataroot_gt", MEMBER(meta_info))),
        io_backend_row(),
        dataset_field("max_images", "(srforge) validation: the first N images only (0: all)", MEMBER(max_images)),
        gt_size_row(),
        field("datasets.train.use_hflip", "", "random horizontal flips", MEMBER(hflip)),
        alias("datasets.train.use_flip", "BasicSR's older name of use_hflip", MEMBER(hflip)),
        field("datasets.train.use_rot", "", "random vertical flips and 90-degree rotations (BasicSR's augment)", MEMBER(rotation)),
        field("datasets.train.batch_size_per_gpu", "--batch", "batch size", MEMBER(batch)),
        field("datasets.train.num_worker_per_gpu", "--workers", "data loading threads", MEMBER(workers)),
        field("datasets.train.cache_mb", "", "(srforge) decoded images kept in memory, MB", MEMBER(cache_mb)),
        when(is_synthetic, field("datasets.train.crop_pad_size", "", "(Real-ESRGAN) HR crop that the degradations start from", MEMBER(crop_pad_size))),
        fixed("datasets.train.blur_kernel_size", "21", "kernels are 7..21 padded to 21, as Real-ESRGAN's", is_synthetic),
        fixed("datasets.train.blur_kernel_size2", "21", "kernels are 7..21 padded to 21, as Real-ESRGAN's", is_synthetic),
        kernel_list_row("datasets.train.kernel_list"),
        kernel_list_row("datasets.train.kernel_list2"),
        when(is_synthetic, field("datasets.train.kernel_prob", "", "(Real-ESRGAN) probabilities of the six kernel families", MEMBER(degradation.kernel_prob))),
        when(is_synthetic, field("datasets.train.sinc_prob", "", "(Real-ESRGAN)", MEMBER(degradation.sinc_prob))),
        when(is_synthetic, field("datasets.train.blur_sigma", "", "(Real-ESRGAN)", MEMBER(degradation.blur_sigma))),
        when(is_synthetic, field("datasets.train.betag_range", "", "(Real-ESRGAN)", MEMBER(degradation.betag_range))),
        when(is_synthetic, field("datasets.train.betap_range", "", "(Real-ESRGAN)", MEMBER(degradation.betap_range))),
        when(is_synthetic, field("datasets.train.kernel_prob2", "", "(Real-ESRGAN)", MEMBER(degradation.kernel_prob2))),
        when(is_synthetic, field("datasets.train.sinc_prob2", "", "(Real-ESRGAN)", MEMBER(degradation.sinc_prob2))),
        when(is_synthetic, field("datasets.train.blur_sigma2", "", "(Real-ESRGAN)", MEMBER(degradation.blur_sigma2))),
        when(is_synthetic, field("datasets.train.betag_range2", "", "(Real-ESRGAN)", MEMBER(degradation.betag_range2))),
        when(is_synthetic, field("datasets.train.betap_range2", "", "(Real-ESRGAN)", MEMBER(degradation.betap_range2))),
        when(is_synthetic, field("datasets.train.final_sinc_prob", "", "(Real-ESRGAN)", MEMBER(degradation.final_sinc_prob))),
    };
}

// Networks and the weights they start from.
std::vector<Option> network_rows() {
    return {
        network_row("network_g", "--model", "the network: {type: EDSR, num_feat: 64, ...} or a spec (sr_info --models)", MEMBER(model)),
        network_row("network_d", "--model-d", "the discriminator: {type: VGGStyleDiscriminator, num_feat: 64}", MEMBER(model_d)),
        field("path.pretrain_network_g", "--pretrain", "generator weights to start a fresh run from", MEMBER(pretrain_g)),
        alias("path.pretrain_model_g", "BasicSR's older name of pretrain_network_g", MEMBER(pretrain_g)),
        field("path.param_key_g", "", "the state dict inside a .pth checkpoint (params, params_ema)", MEMBER(param_key_g)),
        field("path.strict_load_g", "", "every tensor must match (false: missing and unexpected ones are skipped)", MEMBER(strict_load_g)),
        alias("path.strict_load", "BasicSR's older name of strict_load_g", MEMBER(strict_load_g)),
        when(is_gan, field("path.pretrain_network_d", "", "discriminator weights to start from", MEMBER(pretrain_d))),
        when(is_gan, field("path.param_key_d", "", "as param_key_g, for the discriminator", MEMBER(param_key_d))),
        when(is_gan, field("path.strict_load_d", "", "as strict_load_g, for the discriminator", MEMBER(strict_load_d))),
        field("path.resume_state", "--resume-state", "a checkpoint (checkpoints/*.safetensors, or BasicSR's training_states/N.state) to continue from", MEMBER(resume_state)),
        field("path.out_dir", "--out", "(srforge) parent folder of run folders", MEMBER(out_dir)),
    };
}

// Optimisation and losses.
std::vector<Option> training_rows() {
    return {
        when(is_paired, field("train.ema_decay", "--ema", "EMA of the weights (e.g. 0.999), used for validation; 0: none", MEMBER(ema_decay))),
        when(is_paired, field("train.grad_clip", "--grad-clip", "(srforge) clip the gradient norm to N; 0: no clipping", MEMBER(grad_clip))),
        field("train.optim_g.type", "", "Adam | AdamW", MEMBER(optimizer)),
        field("train.optim_g.lr", "--lr", "initial learning rate", MEMBER(schedule.base)),
        field("train.optim_g.weight_decay", "", "weight decay (AdamW: decoupled)", MEMBER(weight_decay)),
        betas_row(),
        fixed("train.optim_d.type", "Adam", "the discriminator's optimiser is Adam", is_gan),
        when(is_gan, field("train.optim_d.lr", "--lr-d", "the discriminator's learning rate", MEMBER(lr_d))),
        fixed("train.optim_d.weight_decay", "0", "the discriminator's Adam has no weight decay", is_gan),
        betas_d_row(),
        field("train.scheduler.type", "", "MultiStepLR | CosineAnnealingRestartLR | LinearDecayLR | constant", MEMBER(schedule.type)),
        when(is_multistep, field("train.scheduler.milestones", "", "MultiStepLR: iterations where the rate is multiplied by gamma", MEMBER(schedule.milestones))),
        when(is_multistep, field("train.scheduler.gamma", "", "MultiStepLR's factor", MEMBER(schedule.gamma))),
        when(is_cosine, field("train.scheduler.periods", "", "CosineAnnealingRestartLR: period lengths", MEMBER(schedule.periods))),
        when(is_cosine, field("train.scheduler.restart_weights", "", "CosineAnnealingRestartLR: weight of each period", MEMBER(schedule.restart_weights))),
        when(is_cosine, field("train.scheduler.eta_min", "", "CosineAnnealingRestartLR: the lowest rate", MEMBER(schedule.eta_min))),
        when(is_linear_decay, field("train.scheduler.constant_iter", "", "(LinearDecayLR) iterations at the initial rate (CycleGAN's n_epochs)", MEMBER(schedule.constant_iter))),
        when(is_linear_decay, field("train.scheduler.decay_iter", "", "(LinearDecayLR) iterations of linear decay towards 0 after them (n_epochs_decay)", MEMBER(schedule.decay_iter))),
        field("train.total_iter", "--iters", "total iterations", MEMBER(total_iter)),
        field("train.warmup_iter", "", "linear warm-up iterations (-1 or 0: none)", MEMBER(schedule.warmup_iter)),
        when(is_paired, pixel_loss_row()),
        fixed("train.perceptual_opt.type", "PerceptualLoss", "the VGG19 perceptual loss", has_perceptual),
        layer_weights_row(),
        fixed("train.perceptual_opt.vgg_type", "vgg19", "VGG19 is the network srforge has", has_perceptual),
        when(has_perceptual, field("train.perceptual_opt.use_input_norm", "", "ImageNet normalisation of the inputs", MEMBER(perceptual_opt.use_input_norm))),
        when(has_perceptual, field("train.perceptual_opt.range_norm", "", "inputs in [-1, 1] mapped to [0, 1] first", MEMBER(perceptual_opt.range_norm))),
        when(has_perceptual, field("train.perceptual_opt.perceptual_weight", "", "weight of the feature term", MEMBER(perceptual_opt.perceptual_weight))),
        when(has_perceptual, field("train.perceptual_opt.style_weight", "", "weight of the Gram (style) term", MEMBER(perceptual_opt.style_weight))),
        when(has_perceptual, field("train.perceptual_opt.criterion", "", "l1 | l2", MEMBER(perceptual_opt.criterion))),
        when(has_vgg_weights, field("train.perceptual_opt.pretrained", "--vgg-weights", "(srforge) ImageNet VGG19 weights (converted torchvision vgg19); without: random", MEMBER(perceptual_opt.pretrained))),
        fixed("train.gan_opt.type", "GANLoss", "BasicSR's GANLoss", is_gan),
        when(is_gan, field("train.gan_opt.gan_type", "--gan-type", "vanilla | lsgan | hinge", MEMBER(gan_type))),
        fixed("train.gan_opt.real_label_val", "1.0", "labels are 1 (real) and 0 (fake)", is_gan),
        fixed("train.gan_opt.fake_label_val", "0.0", "labels are 1 (real) and 0 (fake)", is_gan),
        when(is_paired_gan, field("train.gan_opt.loss_weight", "--gan-weight", "weight of the generator's adversarial loss", MEMBER(gan_weight))),
        when(is_unpaired, field("train.lambda_A", "", "(CycleGAN) weight of the cycle loss A -> B -> A", MEMBER(lambda_a))),
        when(is_unpaired, field("train.lambda_B", "", "(CycleGAN) weight of the cycle loss B -> A -> B", MEMBER(lambda_b))),
        when(is_unpaired, field("train.lambda_identity", "", "(CycleGAN) identity loss, as a fraction of lambda_A/B; 0: none", MEMBER(lambda_identity))),
        when(is_unpaired, field("train.pool_size", "", "(CycleGAN) past fakes each discriminator also sees; 0: none", MEMBER(pool_size))),
        when(is_paired_gan, field("train.net_d_iters", "", "update the generator every N iterations", MEMBER(net_d_iters))),
        when(is_paired_gan, field("train.net_d_init_iters", "", "discriminator-only warm-up iterations", MEMBER(net_d_init_iters))),
    };
}

// Validation and logging.
std::vector<Option> validation_rows() {
    return {
        field("val.val_freq", "--val-freq", "validate every N iterations", MEMBER(val_freq)),
        field("val.save_img", "", "save validation outputs as BasicSR does: RUN/visualization/NAME/NAME_ITER.png", MEMBER(save_img)),
        metrics_row(),
        field("val.tile", "", "(srforge) tile size for validating large images; 0: automatic", MEMBER(val_tile)),
        field("logger.print_freq", "--print-freq", "log the loss every N iterations", MEMBER(print_freq)),
        field("logger.save_checkpoint_freq", "--save-freq", "keep a checkpoint every N iterations", MEMBER(save_freq)),
        field("logger.use_tb_logger", "", "TensorBoard event files in RUN/tb_logger", MEMBER(use_tb_logger)),
    };
}

// Real-ESRGAN's degradations (top level, as in its option files).
std::vector<Option> degradation_rows() {
    return {
        top_gt_size_row(),
        when(is_synthetic, field("l1_gt_usm", "", "(Real-ESRGAN) pixel loss against the USM-sharpened HR", MEMBER(l1_gt_usm))),
        when(is_synthetic, field("percep_gt_usm", "", "(Real-ESRGAN) perceptual loss against the USM-sharpened HR", MEMBER(percep_gt_usm))),
        when(is_synthetic, field("gan_gt_usm", "", "(Real-ESRGAN) GAN loss against the USM-sharpened HR", MEMBER(gan_gt_usm))),
        alias("gt_usm", "(Real-ESRNet) older name of l1_gt_usm", MEMBER(l1_gt_usm)),
        when(is_synthetic, field("resize_prob", "", "(Real-ESRGAN) [up, down, keep]", MEMBER(degradation.resize_prob))),
        when(is_synthetic, field("resize_range", "", "(Real-ESRGAN)", MEMBER(degradation.resize_range))),
        when(is_synthetic, field("gaussian_noise_prob", "", "(Real-ESRGAN)", MEMBER(degradation.gaussian_noise_prob))),
        when(is_synthetic, field("noise_range", "", "(Real-ESRGAN)", MEMBER(degradation.noise_range))),
        when(is_synthetic, field("poisson_scale_range", "", "(Real-ESRGAN)", MEMBER(degradation.poisson_scale_range))),
        when(is_synthetic, field("gray_noise_prob", "", "(Real-ESRGAN)", MEMBER(degradation.gray_noise_prob))),
        when(is_synthetic, field("jpeg_range", "", "(Real-ESRGAN)", MEMBER(degradation.jpeg_range))),
        when(is_synthetic, field("second_blur_prob", "", "(Real-ESRGAN)", MEMBER(degradation.second_blur_prob))),
        when(is_synthetic, field("resize_prob2", "", "(Real-ESRGAN)", MEMBER(degradation.resize_prob2))),
        when(is_synthetic, field("resize_range2", "", "(Real-ESRGAN)", MEMBER(degradation.resize_range2))),
        when(is_synthetic, field("gaussian_noise_prob2", "", "(Real-ESRGAN)", MEMBER(degradation.gaussian_noise_prob2))),
        when(is_synthetic, field("noise_range2", "", "(Real-ESRGAN)", MEMBER(degradation.noise_range2))),
        when(is_synthetic, field("poisson_scale_range2", "", "(Real-ESRGAN)", MEMBER(degradation.poisson_scale_range2))),
        when(is_synthetic, field("gray_noise_prob2", "", "(Real-ESRGAN)", MEMBER(degradation.gray_noise_prob2))),
        when(is_synthetic, field("jpeg_range2", "", "(Real-ESRGAN)", MEMBER(degradation.jpeg_range2))),
        when(is_synthetic, field("queue_size", "", "(Real-ESRGAN) training-pair pool size (a multiple of the batch)", MEMBER(queue_size))),
    };
}

// Flags of the command line only.
std::vector<Option> command_line_rows() {
    return {
        action("--data", "(srforge) train on this folder (DIV2K layout, HR/ + LR_bicubic/, or photos), validate on its valid split; CycleGANModel: DIR/trainA and DIR/trainB",
               false, use_data_folder),
        action("--val-data", "(srforge) validate on this folder instead", false, use_val_folder),
        action("--train-split", "(srforge) train | valid | all, for a DIV2K-layout --data", false,
               [](TrainOptions& o, const std::string& v) { o.train_set.split = v; }),
        action("--val-split", "(srforge) train | valid | all, for DIV2K-layout validation folders", false,
               [](TrainOptions& o, const std::string& v) { for_each_val_set(o, [&](DatasetOptions& d) { d.split = v; }); }),
        action("--val-images", "(srforge) validate on the first N images of each set only", false,
               [](TrainOptions& o, const std::string& v) {
                   const int64_t n = flag_integer("--val-images", v);
                   for_each_val_set(o, [&](DatasetOptions& d) { d.max_images = n; });
               }),
        action("--patch", "LR patch size (the HR patch, gt_size, is P x scale)", false,
               [](TrainOptions& o, const std::string& v) { o.patch = flag_integer("--patch", v); }),
        action("--restart", "start over even if the run folder holds a checkpoint", true,
               [](TrainOptions& o, const std::string&) { o.resume = false; }),
        action("--quiet", "no progress output", true, [](TrainOptions& o, const std::string&) { o.quiet = true; }),
    };
}

const std::vector<Option>& option_table() {
    static const std::vector<Option> rows = [] {
        std::vector<Option> all;
        for (auto section : {run_rows, dataset_rows, network_rows, training_rows, validation_rows, degradation_rows, command_line_rows})
            for (Option& row : section()) all.push_back(std::move(row));
        return all;
    }();
    return rows;
}

// Keys BasicSR's files hold that mean nothing here; "*" is a dataset's phase, a trailing ".*" a
// whole mapping.
const std::vector<std::string> no_effect_keys = {
    "num_gpu", "dist_params.*", "is_train", "dist", "rank", "world_size", "auto_resume", "find_unused_parameters",
    "use_static_graph", "datasets.*.use_shuffle", "datasets.*.prefetch_mode", "datasets.*.pin_memory",
    "datasets.*.persistent_workers", "datasets.*.num_prefetch_queue", "datasets.*.dataset_enlarge_ratio",
    "datasets.*.phase", "datasets.*.scale", "datasets.*.color", "datasets.*.mean", "datasets.*.std",
    "datasets.*.gt_size", "datasets.*.use_hflip", "datasets.*.use_flip", "datasets.*.use_rot",
    "val.pbar", "val.suffix", "logger.wandb.*", "path.experiments_root", "path.models", "path.training_states",
    "path.log", "path.visualization", "path.root", "path.results_root", "path.ignore_resume_networks",
    "train.scheduler.last_epoch", "train.optim_g.eps", "train.optim_g.amsgrad", "train.optim_d.eps", "train.gan_opt.reduction", "train.perceptual_opt.reduction"};

// ---- reading -----------------------------------------------------------------------------------

// Does the concrete path match the pattern (with '*' for a dataset phase)?
bool matches(const std::string& pattern, const std::string& path) {
    const size_t star = pattern.find('*');
    if (star == std::string::npos) return pattern == path;
    if (path.compare(0, star, pattern, 0, star) != 0) return false;
    const size_t end = path.find('.', star);
    const std::string phase = path.substr(star, end == std::string::npos ? std::string::npos : end - star);
    if (phase != "train" && !is_val_phase(phase)) return false;
    return pattern.substr(star + 1) == (end == std::string::npos ? "" : path.substr(end));
}

bool is_no_effect(const std::string& path) {
    for (const std::string& k : no_effect_keys) {
        const bool subtree = k.size() > 2 && k.compare(k.size() - 2, 2, ".*") == 0;
        if (matches(subtree ? k.substr(0, k.size() - 2) : k, path)) return true;
    }
    return false;
}

const Option* row_for(const std::string& path) {
    for (const Option& row : option_table())
        if (!row.path.empty() && matches(row.path, path)) return &row;
    return nullptr;
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> d(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = d[0];
        d[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = d[j];
            d[j] = std::min({d[j] + 1, d[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return d[b.size()];
}

std::string closest_key(const std::string& path) {
    std::string best;
    size_t best_distance = SIZE_MAX;
    const std::string phase = path.rfind("datasets.", 0) == 0 ? phase_of(path) : "train";
    for (const Option& row : option_table()) {
        if (row.path.empty()) continue;
        std::string candidate = row.path;
        if (const size_t star = candidate.find('*'); star != std::string::npos) candidate.replace(star, 1, phase);
        const size_t d = edit_distance(path, candidate);
        if (d < best_distance) best_distance = d, best = candidate;
    }
    return best;
}

struct Found {
    const Option* row;
    std::string path;
    YAML::Node node;
};

// The first `n` dot-separated parts of a path.
std::string first_parts(const std::string& path, size_t n) {
    size_t from = 0;
    for (size_t i = 0; i < n; ++i) {
        const size_t dot = path.find('.', from);
        if (dot == std::string::npos) return path;
        if (i + 1 == n) return path.substr(0, dot);
        from = dot + 1;
    }
    return path;
}

// Is `path` a section that holds known keys (train, datasets.val_1, train.optim_g, ...)?
bool is_section(const std::string& path) {
    const size_t depth = size_t(std::count(path.begin(), path.end(), '.')) + 1;
    for (const Option& row : option_table())
        if (!row.path.empty() && row.path != first_parts(row.path, depth) && matches(first_parts(row.path, depth), path)) return true;
    for (const std::string& k : no_effect_keys)
        if (k != first_parts(k, depth) && matches(first_parts(k, depth), path)) return true;
    return false;
}


// Walks the file's mappings, pairing each key with its row; a key that is neither an option, nor
// one with no effect here, nor a section of either is an error.
void collect(const YAML::Node& node, const std::string& prefix, const std::string& what, std::vector<Found>& found,
             std::vector<std::string>& no_effect) {
    for (const auto& kv : node) {
        const std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        const YAML::Node& value = kv.second;
        const Option* row = row_for(path);
        if (row) found.push_back({row, path, value});
        if (row && (row->whole || !value.IsMap())) continue;
        if (!row && is_no_effect(path)) {
            no_effect.push_back(path);
            continue;
        }
        if (value.IsMap() && (row || is_section(path))) {
            collect(value, path, what, found, no_effect);
            continue;
        }
        if (value.IsNull() && is_section(path)) continue;  // BasicSR: perceptual_opt: ~ means no such loss
        fail(yaml_where(kv.first, what), ": unknown option '", path, "' (did you mean '", closest_key(path),
             "'? train_sr --help lists the options)");
    }
}

// Applies the rows in table order, so that a value may depend on one read before it (gt_size on
// scale), whatever the order of the file.
void apply(const std::vector<Found>& found, const std::string& what, TrainOptions& o) {
    for (const Option& row : option_table())
        for (const Found& f : found) {
            if (f.row != &row) continue;
            try {
                row.read(o, f.node, f.path);
            } catch (const Error& e) {
                fail(yaml_where(f.node, what), ": ", e.what());
            }
        }
}

}  // namespace

TrainOptions options_from_yaml(const std::string& yaml_text, const std::string& what, TrainOptions o) {
    const YAML::Node root = parse_yaml(yaml_text, what);
    if (root.IsNull()) return o;
    SR_CHECK(root.IsMap(), what, ": an option file is a mapping of options");
    std::vector<Found> found;
    std::vector<std::string> no_effect;
    collect(root, "", what, found, no_effect);
    if (root["datasets"] && root["datasets"].IsMap())  // validation sets in the file's order: the first one picks the best model
        for (const auto& kv : root["datasets"])
            if (is_val_phase(kv.first.Scalar())) dataset_of(o, kv.first.Scalar());
    apply(found, what, o);
    for (const std::string& k : no_effect)
        if (std::find(o.no_effect.begin(), o.no_effect.end(), k) == o.no_effect.end()) o.no_effect.push_back(k);
    for (const Found& f : found)  // io_backend disk is the only way srforge reads a folder anyway
        if (matches("datasets.*.io_backend", f.path) && f.node["type"] && f.node["type"].Scalar() == "disk")
            o.no_effect.push_back(f.path + ".type: disk");
    return o;
}

TrainOptions options_from_file(const std::string& path, TrainOptions defaults) {
    return options_from_yaml(read_file(path), path, std::move(defaults));
}

namespace {

void set_path(YAML::Node& node, const std::string& path, const YAML::Node& value) {
    const size_t dot = path.find('.');
    if (dot == std::string::npos) {
        node[path] = value;
        return;
    }
    const std::string key = path.substr(0, dot);
    if (!node[key].IsMap()) node[key] = YAML::Node(YAML::NodeType::Map);
    YAML::Node child = node[key];
    set_path(child, path.substr(dot + 1), value);
}

// A flag's value as a YAML node: lists as YAML ("[1000, 2000]"), anything else as the text itself.
YAML::Node flag_value(const std::string& text, const std::string& flag) {
    if (text.empty() || text[0] != '[') return YAML::Node(text);
    return parse_yaml(text, flag);
}

const Option* row_for_flag(const std::string& flag) {
    for (const Option& row : option_table())
        if (row.flag == flag) return &row;
    return nullptr;
}

// The file first, then --data, then every other flag in order: a flag always overrides the file,
// and --val-data or --train-split act on the folder --data set, wherever they stand.
int flag_rank(const std::string& arg) {
    if (arg == "--config" || arg == "-opt") return 0;
    return arg == "--data" ? 1 : 2;
}

}  // namespace

bool options_from_command_line(int argc, char** argv, TrainOptions& o) {
    std::vector<std::pair<std::string, std::string>> args;  // (flag, value)
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") return false;
        const bool is_config = a == "--config" || a == "-opt";
        const Option* row = is_config ? nullptr : row_for_flag(a);
        SR_CHECK(is_config || row, "train_sr: unknown argument '", a, "' (see --help)");
        if (row && row->is_switch) {
            args.push_back({a, "true"});
            continue;
        }
        SR_CHECK(i + 1 < argc, "train_sr: ", a, " needs a value");
        args.push_back({a, argv[++i]});
    }
    std::stable_sort(args.begin(), args.end(), [](const auto& x, const auto& y) { return flag_rank(x.first) < flag_rank(y.first); });
    for (const auto& [flag, value] : args) {
        if (flag_rank(flag) == 0) {
            o = options_from_file(value, o);
            continue;
        }
        try {
            row_for_flag(flag)->read(o, flag_value(value, flag), flag);
        } catch (const Error& e) {
            fail("train_sr: ", e.what());
        }
    }
    return true;
}

std::string options_yaml(const TrainOptions& o) {
    YAML::Node root(YAML::NodeType::Map);
    bool datasets_placed = false;
    for (const Option& row : option_table()) {
        if (!row.write) continue;
        if (!datasets_placed && row.path.rfind("datasets.", 0) == 0) {  // in their order: the first validation set picks the best model
            set_path(root, "datasets.train", YAML::Node(YAML::NodeType::Map));
            for (const DatasetOptions& d : o.val_sets) set_path(root, "datasets." + d.phase, YAML::Node(YAML::NodeType::Map));
            datasets_placed = true;
        }
        for (const auto& [path, value] : row.write(o)) set_path(root, path, value);
    }
    YAML::Emitter out;
    out << root;
    return "# written by train_sr: the options of this run, in BasicSR's layout (train_sr --config reads it back)\n" +
           std::string(out.c_str()) + "\n";
}

std::string options_help() {
    std::string text =
        "usage: train_sr [--config FILE.yml | -opt FILE.yml] [flags]\n"
        "Options come from the file (BasicSR's layout; BasicSR's and Real-ESRGAN's own option files work), then\n"
        "from the flags, which override it. Flags:\n"
        "  --config FILE           an option file (BasicSR's -opt FILE works too)\n";
    for (const Option& row : option_table()) {
        if (row.flag.empty()) continue;
        std::string left = "  " + row.flag + (row.is_switch ? "" : " V");
        left.resize(std::max<size_t>(left.size() + 1, 26), ' ');
        text += left + row.help + (row.path.empty() ? "" : "  [" + row.path + "]") + "\n";
    }
    text += "Every key of the file is listed in docs/TRAINING.md (train_sr --options-markdown prints the list).\n";
    return text;
}

std::string options_markdown() {
    std::string md = "| key | flag | meaning |\n|---|---|---|\n";
    for (const Option& row : option_table()) {
        if (row.path.empty() || row.help.empty()) continue;
        std::string help;  // a '|' inside a cell would end it
        for (char c : row.help) help += c == '|' ? std::string("\\|") : std::string(1, c);
        md += "| `" + row.path + "` | " + (row.flag.empty() ? "" : "`" + row.flag + "`") + " | " + help + " |\n";
    }
    md += "\nFlags without a key: ";
    for (const Option& row : option_table())
        if (row.path.empty()) md += "`" + row.flag + "` ";
    md += "\n\nAccepted with no effect here (listed at start): ";
    for (size_t i = 0; i < no_effect_keys.size(); ++i) md += (i ? ", `" : "`") + no_effect_keys[i] + "`";
    return md + "\n";
}

namespace {

// CycleGANModel: image to image on two unpaired folders, with the reference's losses only.
void check_unpaired_options(const TrainOptions& o) {
    SR_CHECK(o.train_set.type == "UnpairedImageDataset", "train: CycleGANModel trains on datasets.train of type UnpairedImageDataset, got '",
             o.train_set.type, "'");
    SR_CHECK((!o.train_set.dataroot_a.empty() && !o.train_set.dataroot_b.empty()) || !o.train_set.dataroot.empty(),
             "train: UnpairedImageDataset needs dataroot_a and dataroot_b, or a dataroot with trainA/ and trainB/");
    SR_CHECK(o.scale == 1, "train: CycleGANModel maps images to images of the same size: scale must be 1, got ", o.scale);
    SR_CHECK(o.gan_type == "lsgan" || o.gan_type == "vanilla", "train: CycleGANModel's gan_type must be lsgan or vanilla, got '", o.gan_type, "'");
    SR_CHECK(o.ema_decay == 0 && !o.perceptual && o.grad_clip == 0 && o.weight_decay == 0 && o.optimizer == "Adam",
             "train: CycleGANModel has the reference's losses and plain Adam only: no ema_decay, perceptual_opt, grad_clip or weight_decay");
    SR_CHECK(o.lambda_a >= 0 && o.lambda_b >= 0 && o.lambda_identity >= 0 && o.pool_size >= 0,
             "train: lambda_A, lambda_B, lambda_identity and pool_size must be >= 0");
    SR_CHECK(o.patch % 4 == 0, "train: CycleGANModel's crops (gt_size ", o.patch, ") must be multiples of 4 (the generator's two strides of 2)");
}

}  // namespace

void check_options(const TrainOptions& o) {
    const std::set<std::string> types = {"SRModel", "SRGANModel", "ESRGANModel", "RealESRNetModel", "RealESRGANModel", "CycleGANModel"};
    SR_CHECK(types.count(o.model_type),
             "train: model_type must be SRModel, SRGANModel, ESRGANModel, RealESRNetModel, RealESRGANModel or CycleGANModel, got '", o.model_type, "'");
    const bool needs_d = o.model_type != "SRModel" && o.model_type != "RealESRNetModel";
    SR_CHECK(needs_d == o.gan(), "train: model_type ", o.model_type,
             needs_d ? " needs a network_d (--model-d)" : " trains no discriminator, but network_d is given");
    SR_CHECK(o.total_iter >= 1 && o.val_freq >= 1 && o.print_freq >= 1 && o.save_freq >= 1,
             "train: total_iter, val_freq, print_freq and save_freq must be >= 1");
    SR_CHECK(!o.name.empty() && o.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos &&
                 o.name[0] != '.',
             "train: the run name '", o.name, "' must be letters, digits, '_', '-' and '.' (it names the run folder)");
    SR_CHECK(o.scale >= 1 && o.patch >= 1 && o.batch >= 1, "train: scale, patch and batch must be >= 1");
    SR_CHECK(o.optimizer == "Adam" || o.optimizer == "AdamW", "train: optimizer must be Adam or AdamW, got '", o.optimizer, "'");
    SR_CHECK(o.schedule.base > 0, "train: the learning rate must be > 0, got ", o.schedule.base);
    SR_CHECK(o.net_d_iters >= 1 && o.net_d_init_iters >= 0, "train: net_d_iters must be >= 1 and net_d_init_iters >= 0");
    SR_CHECK(!o.gan() || o.lr_d > 0, "train: the discriminator's learning rate must be > 0, got ", o.lr_d);
    SR_CHECK(o.precision == "fp32" || o.precision == "tf32" || o.precision == "bf16", "train: precision must be fp32, tf32 or bf16, got '",
             o.precision, "'");
    SR_CHECK(o.device.is_cuda() || o.precision != "tf32", "train: precision tf32 needs --device cuda (the CPU has fp32 and bf16)");
    if (o.unpaired()) return check_unpaired_options(o);
    SR_CHECK(o.train_set.type != "UnpairedImageDataset", "train: UnpairedImageDataset is CycleGANModel's data, not ", o.model_type, "'s");
    SR_CHECK(!o.train_set.dataroot.empty() || !o.train_set.dataroot_gt.empty(),
             "train: no data: give --data DIR or an option file with datasets.train.dataroot_gt (see --help)");
    if (o.synthetic()) check_options(o.degradation);
}

}  // namespace sr
