#include "models/onnx_export.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <functional>
#include <unordered_map>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/factory.h"

namespace sr {

namespace {

constexpr int64_t kOpset = 17;

std::vector<float> to_floats(const Tensor& t);

class Exporter {
public:
    Exporter(onnx::GraphProto* graph, const Network& net);
    void add_input(const Tensor& x, const std::string& name);
    void add_op(const TraceRecord& r);
    void add_output(const Tensor& y);

private:
    using Attrs = std::function<void(onnx::NodeProto*)>;
    std::string name_of(const Tensor& t);
    void add_floats(const std::string& name, const std::vector<float>& values, const Shape& dims);
    std::string floats(const std::vector<float>& values, const Shape& dims, const std::string& hint);
    std::string constant(const Tensor& t, const Shape& dims, const std::string& hint);
    std::string scalar(double v) { return floats({float(v)}, {}, "scalar"); }
    std::string node(const char* op, const std::vector<std::string>& inputs, const Attrs& attrs = {});
    void bind(const Tensor& t, const std::string& name) { names_[t.identity()] = name; }
    std::string conv(const std::string& x, const Tensor& w, const Tensor& b, int64_t pad_h, int64_t pad_w, int64_t stride_h,
                     int64_t stride_w, int64_t dilation_h, int64_t dilation_w, int64_t groups);
    std::string activation(const std::string& x, int kind, double slope);
    void dense_block(const TraceRecord& r);
    void instance_norm(const TraceRecord& r);
    void conv_transpose(const TraceRecord& r);
    void pixel_unshuffle(const TraceRecord& r);
    void resize(const TraceRecord& r, bool linear);

    onnx::GraphProto* g_;
    std::unordered_map<const void*, std::string> names_;    // tensors already in the graph
    std::unordered_map<const void*, std::string> weights_;  // the network's parameters and buffers, not yet added
    std::unordered_map<const void*, Tensor> weight_tensors_;
    int64_t counter_ = 0;
};

Exporter::Exporter(onnx::GraphProto* graph, const Network& net) : g_(graph) {
    for (const auto& [name, t] : net.state_dict()) {
        weights_[t.identity()] = name;
        weight_tensors_[t.identity()] = t;
    }
}

void set_type(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims, int64_t channels) {
    v->set_name(name);
    auto* tensor = v->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    for (size_t i = 0; i < dims.size(); ++i) {
        auto* d = tensor->mutable_shape()->add_dim();
        if (i == 1) d->set_dim_value(channels);
        else d->set_dim_param(dims[i]);
    }
}

void Exporter::add_input(const Tensor& x, const std::string& name) {
    set_type(g_->add_input(), name, {"batch", "", "height", "width"}, x.size(1));
    bind(x, name);
}

void Exporter::add_output(const Tensor& y) {
    auto* n = g_->add_node();
    n->set_op_type("Identity");
    n->set_name("output");
    n->add_input(name_of(y));
    n->add_output("output");
    set_type(g_->add_output(), "output", {"batch", "", "out_height", "out_width"}, y.size(1));
}

std::vector<float> to_floats(const Tensor& t) {
    std::vector<float> values;
    for (double v : to_vector(t)) values.push_back(float(v));
    return values;
}

void Exporter::add_floats(const std::string& name, const std::vector<float>& values, const Shape& dims) {
    auto* init = g_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) init->add_dims(d);
    init->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

std::string Exporter::floats(const std::vector<float>& values, const Shape& dims, const std::string& hint) {
    const std::string name = hint + "_" + std::to_string(counter_++);
    add_floats(name, values, dims);
    return name;
}

// A float32 initializer holding a floating tensor's values, with `dims` as its shape.
std::string Exporter::constant(const Tensor& t, const Shape& dims, const std::string& hint) { return floats(to_floats(t), dims, hint); }

std::string int64_constant(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& values) {
    auto* init = g->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::INT64);
    init->add_dims(int64_t(values.size()));
    init->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 8));
    return name;
}

// A tensor's name in the graph: an op's output, the network's weight (added on first use), or a
// constant the forward pass made (stored with its value). A tensor that depends on the input but
// came from no traced op would be frozen to one input's value: an error instead.
std::string Exporter::name_of(const Tensor& t) {
    if (!t.defined()) return "";
    if (auto it = names_.find(t.identity()); it != names_.end()) return it->second;
    if (auto it = weights_.find(t.identity()); it != weights_.end()) {
        const Tensor& w = weight_tensors_.at(t.identity());
        add_floats(it->second, to_floats(w), w.shape());
        bind(t, it->second);
        return it->second;
    }
    SR_CHECK(!t.requires_grad(), "onnx export: a tensor of shape ", t.shape(),
             " comes from an op the exporter does not trace; add a TracedOp to that op (autograd/trace.h)");
    const std::string name = constant(t, t.shape(), "constant");
    bind(t, name);
    return name;
}

std::string Exporter::node(const char* op, const std::vector<std::string>& inputs, const Attrs& attrs) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(std::string(op) + "_" + std::to_string(counter_));
    for (const std::string& in : inputs) n->add_input(in);
    const std::string out = "t" + std::to_string(counter_++);
    n->add_output(out);
    if (attrs) attrs(n);
    return out;
}

void int_attr(onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

void ints_attr(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}

void float_attr(onnx::NodeProto* n, const char* name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(float(v));
}

void string_attr(onnx::NodeProto* n, const char* name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

std::string Exporter::conv(const std::string& x, const Tensor& w, const Tensor& b, int64_t pad_h, int64_t pad_w, int64_t stride_h,
                           int64_t stride_w, int64_t dilation_h, int64_t dilation_w, int64_t groups) {
    std::vector<std::string> inputs{x, name_of(w)};
    if (b.defined()) inputs.push_back(name_of(b));
    return node("Conv", inputs, [&](onnx::NodeProto* n) {
        ints_attr(n, "kernel_shape", {w.size(2), w.size(3)});
        ints_attr(n, "pads", {pad_h, pad_w, pad_h, pad_w});
        ints_attr(n, "strides", {stride_h, stride_w});
        ints_attr(n, "dilations", {dilation_h, dilation_w});
        int_attr(n, "group", groups);
    });
}

// Activation codes as ops/conv2d.h's enum: 0 none, 1 ReLU, 2 LeakyReLU.
std::string Exporter::activation(const std::string& x, int kind, double slope) {
    if (kind == 0) return x;
    if (kind == 1) return node("Relu", {x});
    return node("LeakyRelu", {x}, [&](onnx::NodeProto* n) { float_attr(n, "alpha", slope); });
}

// ops/dense_block.h: f_i = act(conv_i(concat(f_0..f_{i-1}))), y = residual_scale fusion(concat(f_0..f_L)) + x.
void Exporter::dense_block(const TraceRecord& r) {
    const int64_t L = int64_t(r.attrs.at("layers"));
    const double slope = r.attrs.at("slope"), scale = r.attrs.at("residual_scale");
    std::vector<std::string> features{name_of(r.inputs[0])};
    auto concat_all = [&] {
        return features.size() == 1 ? features[0] : node("Concat", features, [](onnx::NodeProto* n) { int_attr(n, "axis", 1); });
    };
    for (int64_t i = 0; i <= L; ++i) {
        const Tensor& w = r.inputs[size_t(i == L ? 1 + 2 * L : 1 + i)];
        const Tensor& b = r.inputs[size_t(i == L ? 2 + 2 * L : 1 + L + i)];
        const int64_t pad = w.size(2) / 2;
        const std::string y = conv(concat_all(), w, b, pad, pad, 1, 1, 1, 1, 1);
        if (i < L) features.push_back(activation(y, slope == 0 ? 1 : 2, slope));
        else {
            const std::string scaled = scale == 1 ? y : node("Mul", {y, scalar(scale)});
            bind(r.output, node("Add", {scaled, features[0]}));
        }
    }
}

// PyTorch's pixel_unshuffle puts block offset (i, j) of channel c at c r^2 + i r + j; ONNX's
// SpaceToDepth puts it at (i r + j) C + c. A Gather of the channels reorders one into the other.
void Exporter::pixel_unshuffle(const TraceRecord& r) {
    const int64_t block = int64_t(r.attrs.at("r")), C = r.inputs[0].size(1), rr = block * block;
    const std::string s2d = node("SpaceToDepth", {name_of(r.inputs[0])}, [&](onnx::NodeProto* n) { int_attr(n, "blocksize", block); });
    std::vector<int64_t> order(size_t(C * rr));
    for (int64_t j = 0; j < C * rr; ++j) order[size_t(j)] = (j % rr) * C + j / rr;
    const std::string indices = int64_constant(g_, "unshuffle_order_" + std::to_string(counter_++), order);
    bind(r.output, node("Gather", {s2d, indices}, [](onnx::NodeProto* n) { int_attr(n, "axis", 1); }));
}

// InstanceNormalization needs a scale and a bias: ones and zeros when the norm has none (CycleGAN's).
void Exporter::instance_norm(const TraceRecord& r) {
    const int64_t C = r.inputs[0].size(1);
    const bool affine = r.inputs[1].defined();
    const std::string scale = affine ? constant(r.inputs[1], {C}, "in_scale") : floats(std::vector<float>(size_t(C), 1.0f), {C}, "in_scale");
    const std::string bias = affine ? constant(r.inputs[2], {C}, "in_bias") : floats(std::vector<float>(size_t(C), 0.0f), {C}, "in_bias");
    bind(r.output, node("InstanceNormalization", {name_of(r.inputs[0]), scale, bias},
                        [&](onnx::NodeProto* n) { float_attr(n, "epsilon", r.attrs.at("eps")); }));
}

// ConvTranspose has PyTorch's weight layout [C_in, C_out / groups, kH, kW] and output_padding.
void Exporter::conv_transpose(const TraceRecord& r) {
    auto a = [&](const char* k) { return int64_t(r.attrs.at(k)); };
    const Tensor& w = r.inputs[1];
    std::vector<std::string> inputs{name_of(r.inputs[0]), name_of(w)};
    if (r.inputs[2].defined()) inputs.push_back(name_of(r.inputs[2]));
    bind(r.output, node("ConvTranspose", inputs, [&](onnx::NodeProto* n) {
        ints_attr(n, "kernel_shape", {w.size(2), w.size(3)});
        ints_attr(n, "pads", {a("pad_h"), a("pad_w"), a("pad_h"), a("pad_w")});
        ints_attr(n, "strides", {a("stride_h"), a("stride_w")});
        ints_attr(n, "dilations", {a("dilation_h"), a("dilation_w")});
        ints_attr(n, "output_padding", {a("output_pad_h"), a("output_pad_w")});
        int_attr(n, "group", r.attrs.count("groups") ? a("groups") : 1);
    }));
}

// upsample_nearest: floor(asymmetric) as PyTorch's nearest; upsample_bilinear: align_corners=False.
void Exporter::resize(const TraceRecord& r, bool linear) {
    const float f = float(linear ? r.attrs.at("factor") : r.attrs.at("r"));
    const std::string scales = floats({1, 1, f, f}, {4}, "scales");
    bind(r.output, node("Resize", {name_of(r.inputs[0]), "", scales}, [&](onnx::NodeProto* n) {
        string_attr(n, "mode", linear ? "linear" : "nearest");
        string_attr(n, "coordinate_transformation_mode", linear ? "pytorch_half_pixel" : "asymmetric");
        if (!linear) string_attr(n, "nearest_mode", "floor");
    }));
}

void Exporter::add_op(const TraceRecord& r) {
    const std::string& op = r.op;
    auto in = [&](size_t i) { return name_of(r.inputs[i]); };
    auto a = [&](const char* k) { return r.attrs.at(k); };
    auto simple = [&](const char* onnx_op, std::vector<std::string> inputs, const Attrs& attrs = {}) {
        bind(r.output, node(onnx_op, inputs, attrs));
    };
    if (op == "conv2d") {
        const std::string y = conv(in(0), r.inputs[1], r.inputs[2], int64_t(a("pad_h")), int64_t(a("pad_w")), int64_t(a("stride_h")),
                                   int64_t(a("stride_w")), int64_t(a("dilation_h")), int64_t(a("dilation_w")), int64_t(a("groups")));
        bind(r.output, activation(y, int(a("activation")), a("slope")));
    } else if (op == "add" || op == "sub" || op == "mul" || op == "div") {
        static const std::map<std::string, const char*> onnx_ops = {{"add", "Add"}, {"sub", "Sub"}, {"mul", "Mul"}, {"div", "Div"}};
        simple(onnx_ops.at(op), {in(0), in(1)});
    } else if (op == "add_scalar") simple("Add", {in(0), scalar(a("scalar"))});
    else if (op == "mul_scalar") simple("Mul", {in(0), scalar(a("scalar"))});
    else if (op == "neg") simple("Neg", {in(0)});
    else if (op == "relu") simple("Relu", {in(0)});
    else if (op == "sigmoid") simple("Sigmoid", {in(0)});
    else if (op == "tanh") simple("Tanh", {in(0)});
    else if (op == "leaky_relu") simple("LeakyRelu", {in(0)}, [&](onnx::NodeProto* n) { float_attr(n, "alpha", a("slope")); });
    else if (op == "clamp") simple("Clip", {in(0), scalar(a("lo")), scalar(a("hi"))});
    else if (op == "prelu") {
        const Tensor& w = r.inputs[1];  // [C] or [1], broadcast along the channels: [C, 1, 1] in ONNX
        simple("PRelu", {in(0), constant(w, {w.numel(), 1, 1}, "prelu_slope")});
    } else if (op == "concat") {
        std::vector<std::string> inputs;
        for (size_t i = 0; i < r.inputs.size(); ++i) inputs.push_back(in(i));
        simple("Concat", inputs, [&](onnx::NodeProto* n) { int_attr(n, "axis", int64_t(a("dim"))); });
    } else if (op == "pixel_shuffle" || op == "depth_to_space") {
        simple("DepthToSpace", {in(0)}, [&](onnx::NodeProto* n) {  // PyTorch's order is CRD, TensorFlow's DCR
            int_attr(n, "blocksize", int64_t(a("r")));
            string_attr(n, "mode", op == "pixel_shuffle" ? "CRD" : "DCR");
        });
    } else if (op == "pixel_unshuffle") pixel_unshuffle(r);
    else if (op == "upsample_nearest" || op == "upsample_bilinear") resize(r, op == "upsample_bilinear");
    else if (op == "batch_norm2d") {
        SR_CHECK(a("training") == 0, "onnx export: batch norm in training mode (export runs the network in eval mode)");
        simple("BatchNormalization", {in(0), in(1), in(2), in(3), in(4)}, [&](onnx::NodeProto* n) { float_attr(n, "epsilon", a("eps")); });
    } else if (op == "residual_dense_block") dense_block(r);
    else if (op == "reflection_pad2d") {  // ONNX pads: begin of each axis, then end of each axis
        const std::vector<int64_t> pads{0, 0, int64_t(a("top")), int64_t(a("left")), 0, 0, int64_t(a("bottom")), int64_t(a("right"))};
        simple("Pad", {in(0), int64_constant(g_, "pads_" + std::to_string(counter_++), pads)},
               [](onnx::NodeProto* n) { string_attr(n, "mode", "reflect"); });
    } else if (op == "instance_norm2d") instance_norm(r);
    else if (op == "conv_transpose2d") conv_transpose(r);
    else fail("onnx export: no ONNX form for op '", op, "' yet");
}

}  // namespace

std::string export_onnx(Network& net, const std::string& spec) {
    const bool was_training = net.is_training();
    net.eval();
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.set_producer_name("srforge");
    model.set_doc_string(spec);
    model.add_opset_import()->set_version(kOpset);
    auto* meta = model.add_metadata_props();
    meta->set_key("spec");
    meta->set_value(spec);
    onnx::GraphProto* graph = model.mutable_graph();
    graph->set_name(spec.substr(0, spec.find(':')));
    Exporter exporter(graph, net);
    // Grad mode stays on: a value derived from the input then requires grad, which is how the
    // exporter tells an untraced op's output from a constant.
    Tensor x = uniform(net.example_input(), 0, 1).set_requires_grad(true);
    exporter.add_input(x, "input");
    Tensor y;
    std::vector<TraceRecord> records;
    {
        Trace trace;
        y = net.forward(x);
        records = trace.records();
    }
    net.train(was_training);
    for (const TraceRecord& r : records) exporter.add_op(r);
    exporter.add_output(y);
    std::string bytes;
    SR_CHECK(model.SerializeToString(&bytes), "onnx export: the model could not be serialized");
    return bytes;
}

}  // namespace sr
