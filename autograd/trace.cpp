#include "autograd/trace.h"

namespace sr {

namespace {
thread_local Trace* active_trace = nullptr;
}  // namespace

Trace::Trace() {
    SR_CHECK(active_trace == nullptr, "trace: a trace is already capturing on this thread");
    active_trace = this;
}

Trace::~Trace() { active_trace = nullptr; }

TracedOp::TracedOp(const char* op) : op_(op), trace_(active_trace), outermost_(trace_ && trace_->depth_ == 0) {
    if (trace_) ++trace_->depth_;
}

TracedOp::~TracedOp() {
    if (trace_) --trace_->depth_;
}

Tensor TracedOp::result(Tensor output, std::vector<Tensor> inputs, std::map<std::string, double> attrs) {
    if (outermost_) trace_->records_.push_back({op_, std::move(inputs), output, std::move(attrs)});
    return output;
}

}  // namespace sr
