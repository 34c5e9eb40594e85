#include "models/detect.h"

#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

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

// ---- window-attention transformers (SwinIR, HAT, DRCT) --------------------------------------

std::string number(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
}

std::string list(const std::vector<int64_t>& values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
    return out + "]";
}

// r when rows = r^2, else 0 (bias tables have (2 w - 1)^2 rows, HAT's OCAB (w + ow - 1)^2).
int64_t side_of_square(int64_t rows) {
    const auto r = static_cast<int64_t>(std::llround(std::sqrt(double(rows))));
    return r * r == rows ? r : 0;
}

// What the three families share, read off the shapes: input channels, embedding width, window
// (from the first table: (2 w - 1)^2 rows), heads per group (each group's table has one column
// per head), MLP ratio, biases and patch norm, the residual convolution and the upsampler.
// `table` is the pattern of each group's first bias table, `fc1` the first MLP's first layer.
// The spec is assembled in the official constructors' order: upscale first, upsampler last.
struct TransformerArgs {
    std::string upscale, shape, tail;  // "upscale=..,in_chans=..", "window_size=..,embed_dim=..", "upsampler=.."
    int64_t window = 0;
    std::string spec(const std::string& family, const std::string& size_and_depths, const std::string& extra) const {
        return family + ":" + upscale + "," + size_and_depths + "," + shape + extra + "," + tail;
    }
};

std::string upsampler_of(const Shapes& s) {
    if (s.has("conv_up1.weight")) return "upsampler=nearest+conv";
    if (s.has("conv_before_upsample.0.weight")) return "upsampler=pixelshuffle";
    if (s.has("upsample.0.weight")) return "upsampler=pixelshuffledirect";
    return "";  // none: SwinIR's denoising and JPEG networks
}

int64_t transformer_upscale(const Shapes& s, int64_t in) {
    if (s.has("conv_up1.weight")) return 4;
    if (s.has("conv_before_upsample.0.weight"))
        return shuffle_scale(s, "upsample.0.weight", s.dim("conv_before_upsample.0.weight", 0), "upsample.%.weight");
    if (s.has("upsample.0.weight")) {  // one convolution to in_chans x upscale^2, then the shuffle
        const int64_t r = side_of_square(s.dim("upsample.0.weight", 0) / in);
        SR_CHECK(r > 0, "detect: a one-step upsampler giving ", s.dim("upsample.0.weight", 0), " channels for ", in, " colours");
        return r;
    }
    return 1;  // SwinIR's denoising and JPEG networks: no upsampler
}

TransformerArgs transformer_args(const Shapes& s, const std::string& table, const std::string& fc1) {
    const int64_t embed = s.dim("conv_first.weight", 0), in = s.dim("conv_first.weight", 1);
    const int64_t groups = s.count(table), side = side_of_square(s.dim(Shapes::at(table, 0), 0));
    SR_CHECK(groups > 0 && side % 2 == 1, "detect: a window transformer whose bias table has ", s.dim(Shapes::at(table, 0), 0),
             " rows, not (2 w - 1)^2");
    TransformerArgs a;
    a.window = (side + 1) / 2;
    a.upscale = arg("upscale", transformer_upscale(s, in)) + "," + arg("in_chans", in);
    std::vector<int64_t> heads;
    for (int64_t g = 0; g < groups; ++g) heads.push_back(s.dim(Shapes::at(table, g), 1));
    a.shape = arg("window_size", a.window) + "," + arg("embed_dim", embed) + ",num_heads=" + list(heads) +
              ",mlp_ratio=" + number(double(s.dim(fc1, 0)) / double(embed));
    if (!s.has(fc1.substr(0, fc1.find("mlp.fc1")) + "attn.qkv.bias")) a.shape += ",qkv_bias=false";
    if (!s.has("patch_embed.norm.weight")) a.shape += ",patch_norm=false";
    a.tail = s.has("conv_after_body.weight") ? "resi_connection=1conv" : s.has("conv_after_body.0.weight") ? "resi_connection=3conv"
                                                                                                          : "resi_connection=identity";
    const std::string up = upsampler_of(s);
    if (!up.empty()) a.tail = up + "," + a.tail;
    return a;
}

// img_size: the training size the attention masks were built for, (img_size / window)^2 windows
// in the first shifted block's attn_mask; without one no block shifts (img_size <= window).
int64_t trained_size(const Shapes& s, const std::string& mask, int64_t window) {
    if (!s.has(mask)) return window;
    const int64_t per_side = side_of_square(s.dim(mask, 0));
    SR_CHECK(per_side > 0, "detect: an attn_mask of ", s.dim(mask, 0), " windows, not a square number");
    return per_side * window;
}

// Each group's block count: "layers.<g>.residual_group.blocks.<b>".
std::vector<int64_t> residual_group_depths(const Shapes& s, int64_t groups) {
    std::vector<int64_t> depths;
    for (int64_t g = 0; g < groups; ++g) depths.push_back(s.count("layers." + std::to_string(g) + ".residual_group.blocks.%.norm1.weight"));
    return depths;
}

const char* const kGroupTable = "layers.%.residual_group.blocks.0.attn.relative_position_bias_table";
const char* const kGroupFc1 = "layers.0.residual_group.blocks.0.mlp.fc1.weight";

std::optional<DetectedNetwork> swinir(const Shapes& s) {
    if (!s.has(Shapes::at(kGroupTable, 0)) || s.has("layers.0.residual_group.overlap_attn.qkv.weight")) return std::nullopt;
    const TransformerArgs a = transformer_args(s, kGroupTable, kGroupFc1);
    const int64_t img_size = trained_size(s, "layers.0.residual_group.blocks.1.attn_mask", a.window);
    DetectedNetwork d{a.spec("swinir", arg("img_size", img_size) + ",depths=" + list(residual_group_depths(s, s.count(kGroupTable))), ""), {}, ""};
    if (d.spec.find("upscale=1,") != std::string::npos)
        d.note = "img_range is not stored in weights: 1 (SwinIR's denoising networks) assumed; its JPEG networks use img_range=255: "
                 "give --model to say so";
    return d;
}

std::optional<DetectedNetwork> hat(const Shapes& s) {
    if (!s.has(Shapes::at(kGroupTable, 0)) || !s.has("layers.0.residual_group.overlap_attn.qkv.weight")) return std::nullopt;
    const TransformerArgs a = transformer_args(s, kGroupTable, kGroupFc1);
    const int64_t embed = s.dim("conv_first.weight", 0);
    // OCAB's table has (window + overlap window - 1)^2 rows. (img_size is not stored: HAT builds
    // its masks for each input, so the default does.)
    const int64_t overlap = side_of_square(s.dim("layers.0.residual_group.overlap_attn.relative_position_bias_table", 0)) + 1 - a.window;
    const std::string cab = "layers.0.residual_group.blocks.0.conv_block.cab.";
    const std::string extra = "," + arg("compress_ratio", embed / s.dim(cab + "0.weight", 0)) + "," +
                              arg("squeeze_factor", embed / s.dim(cab + "3.attention.1.weight", 0)) +
                              ",overlap_ratio=" + number(double(overlap - a.window) / double(a.window));
    return DetectedNetwork{a.spec("hat", "depths=" + list(residual_group_depths(s, s.count(kGroupTable))), extra), {},
                           "conv_scale is not stored in weights: 0.01 (every published HAT's) assumed; give --model to say otherwise"};
}

std::optional<DetectedNetwork> drct(const Shapes& s) {
    const std::string table = "layers.%.swin1.attn.relative_position_bias_table";
    if (!s.has(Shapes::at(table, 0)) || !s.has("layers.0.adjust1.weight")) return std::nullopt;
    const TransformerArgs a = transformer_args(s, table, "layers.0.swin1.mlp.fc1.weight");
    // Every dense group has five Swin layers whatever depths says: only its length matters.
    const std::vector<int64_t> depths(static_cast<size_t>(s.count(table)), 6);
    const int64_t img_size = trained_size(s, "layers.0.swin2.attn_mask", a.window);
    return DetectedNetwork{a.spec("drct", arg("img_size", img_size) + ",depths=" + list(depths), "," + arg("gc", s.dim("layers.0.adjust1.weight", 0))),
                           {}, ""};
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
    for (auto* family : {rrdbnet, msrresnet, swinir, hat, drct, edsr, srresnet, rdn, rrdn, srvgg_compact}) {
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
         "(conv1.0, trunk), RDN (SFENet1, RDBs), RRDN (Pre_blocks_conv), SwinIR (layers.N.residual_group.blocks), HAT (its "
         "overlap_attn), DRCT (layers.N.swin1, adjust1) and SRVGGNetCompact (body.N only); the file starts with ",
         first.empty() ? "no tensors" : first, ". Give --model");
}

}  // namespace sr
