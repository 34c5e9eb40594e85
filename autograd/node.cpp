#include "autograd/node.h"

#include <atomic>
#include <vector>

namespace sr {

namespace {
std::atomic<uint64_t> next_seq{1};
std::atomic<int64_t> live_nodes{0};
thread_local bool grad_mode = true;
}  // namespace

Node::Node() { ++live_nodes; }

// Destroying the last reference to a node would release its inputs' nodes recursively, one stack
// frame per node: a long graph (a loss summed over many iterations without detach) would overflow
// the stack. Instead, nodes that only this one keeps alive are moved to a local list and released
// one at a time.
Node::~Node() {
    --live_nodes;
    std::vector<std::shared_ptr<Node>> orphans;
    auto collect = [&](std::vector<Edge>& edges) {
        for (Edge& e : edges)
            if (e.node && e.node.use_count() == 1) orphans.push_back(std::move(e.node));
    };
    collect(edges_);
    while (!orphans.empty()) {
        std::shared_ptr<Node> n = std::move(orphans.back());
        orphans.pop_back();
        collect(n->edges_);
    }  // n is destroyed here, with no private inputs left to release
}
int64_t Node::live_count() { return live_nodes.load(); }

bool grad_enabled() { return grad_mode; }
NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }

bool needs_grad(const std::vector<Tensor>& inputs) {
    if (!grad_mode) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}
bool needs_grad(std::initializer_list<Tensor> inputs) { return needs_grad(std::vector<Tensor>(inputs)); }

void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs) {
    node->seq_ = next_seq++;
    node->num_outputs_ = static_cast<int>(outputs.size());
    node->edges_.clear();
    for (const Tensor& in : inputs) {
        Edge e;
        if (in.defined() && in.requires_grad()) {
            if (in.grad_fn()) {
                e.node = in.grad_fn();
                e.output_nr = in.output_nr();
            } else {
                e.leaf = in.impl();
            }
            e.shape = in.shape();
        }
        node->edges_.push_back(std::move(e));
    }
    for (size_t k = 0; k < outputs.size(); ++k) outputs[k].set_grad_fn(node, static_cast<int>(k));
}

}  // namespace sr
