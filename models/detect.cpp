#include "models/detect.h"

#include <map>
#include <optional>
#include <regex>

#include "models/spec.h"

namespace sr {

namespace {

// The file's tensor shapes by name, with the counting the detectors need.
class Shapes {
public:
    explicit Shapes(const NamedTensors& tensors) {
        for (const auto& [name, t] : tensors) shapes_[name] = t.shape();
    }
    bool has(const std::string& name) const { return shapes_.count(name) > 0; }
    // Dimension d of a tensor the family must have (an error naming it if it is missing or flat).
    int64_t dim(const std::string& name, size_t d) const {
        auto it = shapes_.find(name);
        SR_CHECK(it != shapes_.end() && it->second.size() > d, "detect: expected a tensor '", name, "' with at least ", d + 1, " dimensions");
        return it->second[d];
    }
    // How many of pattern(first), pattern(first + 1), ... exist in a row ("body.%.conv1.weight").
    int64_t count(const std::string& pattern, int64_t first = 0) const {
        int64_t n = 0;
        while (has(at(pattern, first + n))) ++n;
        return n;
    }
    static std::string at(const std::string& pattern, int64_t i) {
        const size_t p = pattern.find('%');
        return pattern.substr(0, p) + std::to_string(i) + pattern.substr(p + 1);
    }

private:
    std::map<std::string, Shape> shapes_;
};

std::string arg(const char* key, int64_t v) { return std::string(key) + "=" + std::to_string(v); }

std::optional<DetectedNetwork> rrdbnet(const Shapes& s) {
    if (!s.has("conv_first.weight") || !s.has("body.0.rdb1.conv1.weight")) return std::nullopt;
    const int64_t in = s.dim("conv_first.weight", 1), out = s.dim("conv_last.weight", 0);
    // Below x4 the input is pixel-unshuffled first: x2 gives 4 times the channels, x1 16 times.
    const int64_t scale = in == out ? 4 : in == 4 * out ? 2 : in == 16 * out ? 1 : 0;
    SR_CHECK(scale, "detect: an RRDBNet whose first convolution reads ", in, " channels for ", out, " output channels: not x1, x2 or x4");
    return DetectedNetwork{"rrdbnet:" + arg("num_in_ch", out) + "," + arg("num_out_ch", out) + "," + arg("num_feat", s.dim("conv_first.weight", 0)) +
                               "," + arg("num_block", s.count("body.%.rdb1.conv1.weight")) + "," +
                               arg("num_grow_ch", s.dim("body.0.rdb1.conv1.weight", 0)) + "," + arg("scale", scale),
                           {}, ""};
}

// The upsampler's scale from its convolutions: one with 9x the features is x3, else each
// convolution with 4x the features doubles ("upsample.%.weight" at every other index).
int64_t shuffle_scale(const Shapes& s, const std::string& first, int64_t features, const std::string& pattern_every_other) {
    if (s.dim(first, 0) == 9 * features) return 3;
    int64_t n = 0;
    while (s.has(Shapes::at(pattern_every_other, 2 * n))) ++n;
    return int64_t(1) << n;
}

std::optional<DetectedNetwork> edsr(const Shapes& s) {
    if (!s.has("conv_first.weight") || !s.has("conv_after_body.weight") || !s.has("upsample.0.weight")) return std::nullopt;
    const int64_t nf = s.dim("conv_first.weight", 0);
    DetectedNetwork d{"edsr:" + arg("num_in_ch", s.dim("conv_first.weight", 1)) + "," + arg("num_out_ch", s.dim("conv_last.weight", 0)) + "," +
                          arg("num_feat", nf) + "," + arg("num_block", s.count("body.%.conv1.weight")) + "," +
                          arg("upscale", shuffle_scale(s, "upsample.0.weight", nf, "upsample.%.weight")),
                      {}, ""};
    // The residual scaling is a constant, not a weight: the published models use 0.1 at 256 features.
    if (nf == 256) d.spec += ",res_scale=0.1";
    d.note = "res_scale is not stored in weights: " + std::string(nf == 256 ? "0.1 (EDSR-L's)" : "1 (EDSR-M's)") +
             " assumed; give --model to say otherwise";
    return d;
}

std::optional<DetectedNetwork> msrresnet(const Shapes& s) {
    if (!s.has("conv_first.weight") || !s.has("upconv1.weight") || !s.has("body.0.conv1.weight")) return std::nullopt;
    const int64_t nf = s.dim("conv_first.weight", 0);
    const int64_t scale = s.has("upconv2.weight") ? 4 : s.dim("upconv1.weight", 0) == 9 * nf ? 3 : 2;
    return DetectedNetwork{"msrresnet:" + arg("num_in_ch", s.dim("conv_first.weight", 1)) + "," + arg("num_out_ch", s.dim("conv_last.weight", 0)) +
                               "," + arg("num_feat", nf) + "," + arg("num_block", s.count("body.%.conv1.weight")) + "," + arg("upscale", scale),
                           {}, ""};
}

std::optional<DetectedNetwork> srresnet(const Shapes& s) {
    if (!s.has("conv1.0.weight") || !s.has("trunk.0.rcb.0.weight")) return std::nullopt;
    return DetectedNetwork{"srresnet:" + arg("in_channels", s.dim("conv1.0.weight", 1)) + "," + arg("out_channels", s.dim("conv3.weight", 0)) + "," +
                               arg("channels", s.dim("conv1.0.weight", 0)) + "," + arg("num_rcb", s.count("trunk.%.rcb.0.weight")) + "," +
                               arg("upscale_factor", int64_t(1) << s.count("upsampling.%.upsample_block.0.weight")),
                           {}, ""};
}

std::optional<DetectedNetwork> rdn(const Shapes& s) {
    if (!s.has("SFENet1.weight") || !s.has("RDBs.0.convs.0.conv.0.weight")) return std::nullopt;
    const int64_t G0 = s.dim("SFENet1.weight", 0), G = s.dim("RDBs.0.convs.0.conv.0.weight", 0), colors = s.dim("SFENet1.weight", 1);
    std::string spec = "rdn:" + arg("D", s.count("RDBs.%.LFF.weight")) + "," + arg("C", s.count("RDBs.0.convs.%.conv.0.weight")) + "," +
                       arg("G", G) + "," + arg("G0", G0) + "," + arg("RDNkSize", s.dim("SFENet1.weight", 2));
    if (s.has("UPN3.weight")) {  // idealo ISR: UPN1-3 then SR; "ups" when SR reads the upscaled channels
        const int64_t r2 = s.dim("UPN3.weight", 0) / colors, r = r2 == 4 ? 2 : r2 == 9 ? 3 : r2 == 16 ? 4 : 0;
        SR_CHECK(r, "detect: an ISR RDN whose UPN3 gives ", s.dim("UPN3.weight", 0), " channels: not x2, x3 or x4");
        spec += ",variant=isr," + arg("scale", r) + (s.dim("SR.weight", 1) == s.dim("SR.weight", 0) ? ",upscaling=shuffle" : "");
        return DetectedNetwork{spec + "," + arg("n_colors", colors), {}, ""};
    }
    const int64_t scale = s.has("UPNet.4.weight") ? 4 : s.dim("UPNet.0.weight", 0) == 9 * G ? 3 : 2;  // EDSR-PyTorch's UPNet
    return DetectedNetwork{spec + "," + arg("scale", scale) + "," + arg("n_colors", colors), {}, ""};
}

std::optional<DetectedNetwork> rrdn(const Shapes& s) {
    if (!s.has("Pre_blocks_conv.weight") || !s.has("F_1_1_1.weight")) return std::nullopt;
    const int64_t colors = s.dim("SR.weight", 0), r2 = s.dim("PreShuffle.weight", 0) / colors;
    const int64_t x = r2 == 4 ? 2 : r2 == 9 ? 3 : r2 == 16 ? 4 : 0;
    SR_CHECK(x, "detect: an RRDN whose PreShuffle gives ", s.dim("PreShuffle.weight", 0), " channels: not x2, x3 or x4");
    // ISR numbers its layers from 1: F_{block}_{dense block}_{conv}.
    return DetectedNetwork{"rrdn:" + arg("C", s.count("F_1_1_%.weight", 1)) + "," + arg("D", s.count("F_1_%_1.weight", 1)) + "," +
                               arg("G", s.dim("F_1_1_1.weight", 0)) + "," + arg("G0", s.dim("Pre_blocks_conv.weight", 0)) + "," +
                               arg("T", s.count("F_%_1_1.weight", 1)) + "," + arg("x", x) + "," + arg("c_dim", colors),
                           {}, ""};
}

// Real-ESRGAN's compact network: body.0 a convolution, body.1 its PReLU (one slope per feature)
// or, for relu/leakyrelu, nothing; the last body convolution gives num_out_ch x upscale^2.
std::optional<DetectedNetwork> srvgg_compact(const Shapes& s) {
    if (!s.has("body.0.weight") || s.has("body.0.conv1.weight") || s.has("conv_first.weight")) return std::nullopt;
    const int64_t nf = s.dim("body.0.weight", 0), in = s.dim("body.0.weight", 1);
    const bool prelu = s.has("body.1.weight");
    int64_t last = 0;  // the convolutions sit at the even indices; the last gives the upscaled channels
    for (int64_t i = 0; s.has(Shapes::at("body.%.weight", i)); i += 2) last = i;
    const int64_t num_conv = last / 2 - 1, out = in, r2 = s.dim(Shapes::at("body.%.weight", last), 0) / out;
    const int64_t upscale = r2 == 1 ? 1 : r2 == 4 ? 2 : r2 == 9 ? 3 : r2 == 16 ? 4 : 0;
    SR_CHECK(upscale, "detect: a compact network whose last convolution gives ", s.dim(Shapes::at("body.%.weight", last), 0), " channels");
    DetectedNetwork d{"srvgg_compact:" + arg("num_in_ch", in) + "," + arg("num_out_ch", out) + "," + arg("num_feat", nf) + "," +
                          arg("num_conv", num_conv) + "," + arg("upscale", upscale) + (prelu ? "" : ",act_type=leakyrelu"),
                      {}, ""};
    if (!prelu) d.note = "relu or leakyrelu is not stored in weights: leakyrelu (0.1) assumed; give --model to say otherwise";
    return d;
}

// The network the spec builds must have the file's names and shapes, all of them.
void prove(const DetectedNetwork& d) {
    std::shared_ptr<Network> net = make_model(d.spec);
    std::map<std::string, Shape> mine;
    for (const auto& [name, t] : net->state_dict()) mine[name] = t.shape();
    size_t matched = 0;
    for (const auto& [name, t] : d.tensors) {
        if (name.ends_with("num_batches_tracked")) continue;
        auto it = mine.find(name);
        SR_CHECK(it != mine.end(), "detect: the weights look like '", d.spec, "', but that network has no tensor '", name, "'");
        SR_CHECK(it->second == t.shape(), "detect: the weights look like '", d.spec, "', but its '", name, "' is ", it->second, ", the file's ",
                 t.shape());
        ++matched;
    }
    SR_CHECK(matched == mine.size(), "detect: the weights look like '", d.spec, "', but they lack ", mine.size() - matched, " of its tensors");
}

std::string esrgan_name(const std::string& name) {
    static const std::regex rrdb(R"(^RRDB_trunk\.(\d+)\.RDB([123])\.)");
    static const std::map<std::string, std::string> renames = {
        {"trunk_conv.", "conv_body."}, {"upconv1.", "conv_up1."}, {"upconv2.", "conv_up2."}, {"HRconv.", "conv_hr."}};
    std::string n = std::regex_replace(name, rrdb, "body.$1.rdb$2.");
    for (const auto& [old_prefix, new_prefix] : renames)
        if (n.rfind(old_prefix, 0) == 0) n = new_prefix + n.substr(old_prefix.size());
    return n;
}

// `blocks`: body.{blocks} is the convolution after the body. "" for the mean shifts, which are an
// argument of BasicSR's EDSR.
std::string edsr_pytorch_name(const std::string& n, int64_t blocks) {
    static const std::regex block(R"(^body\.(\d+)\.body\.([02])\.)"), after(R"(^body\.(\d+)\.)"), tail_up(R"(^tail\.0\.(\d+)\.)");
    if (n.rfind("sub_mean.", 0) == 0 || n.rfind("add_mean.", 0) == 0) return "";
    std::smatch m;
    if (n.rfind("head.0.", 0) == 0) return "conv_first." + n.substr(7);
    if (std::regex_search(n, m, block)) return "body." + m[1].str() + (m[2] == "0" ? ".conv1." : ".conv2.") + m.suffix().str();
    if (std::regex_search(n, m, after) && std::stoll(m[1].str()) == blocks) return "conv_after_body." + m.suffix().str();
    if (std::regex_search(n, m, tail_up)) return "upsample." + m[1].str() + "." + m.suffix().str();
    if (n.rfind("tail.1.", 0) == 0) return "conv_last." + n.substr(7);
    return n;
}

// idealo ISR's RDN (Keras layer names, core/keras.h) to EDSR-PyTorch's, which rdn:variant=isr uses:
// F_m1, F_0 -> SFENet1, SFENet2; F_{d}_{c} -> RDBs.{d-1}.convs.{c-1}.conv.0; LFF_{d} -> RDBs.{d-1}.LFF;
// GFF_1, GFF_2 -> GFF.0, GFF.1; UPN1-3 and SR keep their names.
std::string isr_rdn_name(const std::string& n) {
    static const std::regex conv(R"(^F_(\d+)_(\d+)\.)"), lff(R"(^LFF_(\d+)\.)");
    static const std::map<std::string, std::string> renames = {
        {"F_m1.", "SFENet1."}, {"F_0.", "SFENet2."}, {"GFF_1.", "GFF.0."}, {"GFF_2.", "GFF.1."}};
    for (const auto& [old_prefix, new_prefix] : renames)
        if (n.rfind(old_prefix, 0) == 0) return new_prefix + n.substr(old_prefix.size());
    std::smatch m;
    if (std::regex_search(n, m, conv))
        return "RDBs." + std::to_string(std::stoll(m[1].str()) - 1) + ".convs." + std::to_string(std::stoll(m[2].str()) - 1) + ".conv.0." +
               m.suffix().str();
    if (std::regex_search(n, m, lff)) return "RDBs." + std::to_string(std::stoll(m[1].str()) - 1) + ".LFF." + m.suffix().str();
    return n;
}

}  // namespace

NamedTensors with_basicsr_names(const NamedTensors& tensors) {
    const Shapes s(tensors);
    const bool esrgan = s.has("RRDB_trunk.0.RDB1.conv1.weight"), edsr_pytorch = s.has("head.0.weight") && s.has("tail.0.0.weight"),
               isr_rdn = s.has("F_m1.weight") && s.has("LFF_1.weight");
    if (!esrgan && !edsr_pytorch && !isr_rdn) return tensors;
    const int64_t blocks = s.count("body.%.body.0.weight");
    NamedTensors out;
    for (const auto& [name, t] : tensors) {
        const std::string n = esrgan ? esrgan_name(name) : edsr_pytorch ? edsr_pytorch_name(name, blocks) : isr_rdn_name(name);
        if (!n.empty()) out.emplace_back(n, t);
    }
    return out;
}

DetectedNetwork detect_network(const NamedTensors& tensors) {
    NamedTensors named = with_basicsr_names(tensors);
    const Shapes s(named);
    for (auto* family : {rrdbnet, msrresnet, edsr, srresnet, rdn, rrdn, srvgg_compact}) {
        std::optional<DetectedNetwork> d = family(s);
        if (!d) continue;
        d->tensors = std::move(named);
        prove(*d);
        return *d;
    }
    std::string first;
    for (size_t i = 0; i < tensors.size() && i < 5; ++i) first += (i ? ", " : "") + tensors[i].first;
    fail("detect: not a network srforge knows by its tensor names; looked for RRDBNet (conv_first, body.N.rdb1), the original "
         "ESRGAN (RRDB_trunk), EDSR (conv_after_body, upsample), EDSR-PyTorch (head, body, tail), MSRResNet (upconv1), SRResNet "
         "(conv1.0, trunk), RDN (SFENet1, RDBs), RRDN (Pre_blocks_conv) and SRVGGNetCompact (body.N only); the file starts with ",
         first.empty() ? "no tensors" : first, ". Give --model");
}

}  // namespace sr
