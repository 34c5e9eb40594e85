// Graph capture, for exporting a network (models/onnx_export.cpp). While a Trace is alive on a
// thread, each op called there appends one record: its name, its inputs, its output and the
// attributes that fix what it computed. The ops still compute, so a trace of forward() holds real
// values, and the exporter can check its graph against the output the network gave.
//
// An op marks itself with a TracedOp at its top and returns through it:
//
//   Tensor pixel_shuffle(const Tensor& x, int64_t r) {
//       TracedOp traced("pixel_shuffle");
//       ...
//       return traced.result(y, {x}, {{"r", double(r)}});
//   }
//
// Only the outermost op is recorded: an op built from other ops (a dense block from convolutions
// and concats, say) is one record, its inner ops none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr {

struct TraceRecord {
    std::string op;
    std::vector<Tensor> inputs;  // an undefined Tensor for an absent optional input (a conv's bias)
    Tensor output;
    std::map<std::string, double> attrs;
};

class Trace {
public:
    Trace();   // starts capturing this thread's ops; one at a time
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;
    const std::vector<TraceRecord>& records() const { return records_; }

private:
    friend class TracedOp;
    std::vector<TraceRecord> records_;
    int depth_ = 0;  // ops entered and not yet returned
};

class TracedOp {
public:
    explicit TracedOp(const char* op);
    ~TracedOp();
    TracedOp(const TracedOp&) = delete;
    TracedOp& operator=(const TracedOp&) = delete;
    Tensor result(Tensor output, std::vector<Tensor> inputs, std::map<std::string, double> attrs = {});

private:
    const char* op_;
    Trace* trace_;
    bool outermost_;
};

}  // namespace sr
