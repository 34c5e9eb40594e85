#include "autograd/backward.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/factory.h"

namespace sr {

namespace {

thread_local std::function<void(const Tensor&)>* grad_ready_hook = nullptr;

// For the hook: counts, for each leaf, the edges of the nodes about to run that still lead to it,
// and reports the leaf when the count reaches zero (or at the end, for edges that never ran).
class LeafReporter {
public:
    explicit LeafReporter(const std::vector<Node*>& order) {
        if (!grad_ready_hook) return;
        for (const Node* n : order)
            for (const Edge& e : n->edges())
                if (e.leaf) {
                    auto& [leaf, edges] = leaves_[e.leaf.get()];
                    leaf = e.leaf;
                    ++edges;
                }
    }
    void edge_done(const std::shared_ptr<TensorImpl>& leaf) {
        if (grad_ready_hook && --leaves_[leaf.get()].second == 0) (*grad_ready_hook)(Tensor(leaf));
    }
    void finish() {
        for (auto& [key, entry] : leaves_)
            if (entry.second > 0) {
                entry.second = 0;
                (*grad_ready_hook)(Tensor(entry.first));
            }
    }

private:
    std::unordered_map<TensorImpl*, std::pair<std::shared_ptr<TensorImpl>, int>> leaves_;
};

void check_grad_shape(const Tensor& g, const Shape& expected, const char* node) {
    SR_CHECK(g.shape() == expected, "backward: ", node, " returned a gradient of shape ", g.shape(),
             " for an input of shape ", expected);
}

// leaf.grad += g. The first gradient is copied, so that a leaf never shares its grad's memory
// with another tensor (in-place changes such as gradient clipping would otherwise leak).
void accumulate_into_leaf(const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    Tensor& grad = leaf->grad;
    grad = grad.defined() ? grad + g : g.clone();
}

// Every node `root` depends on, each once, via an explicit stack (no recursion: graphs of deep
// networks are thousands of nodes long).
std::vector<Node*> collect_graph(Node* root) {
    std::vector<Node*> nodes, stack{root};
    std::unordered_set<Node*> seen{root};
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        SR_CHECK(!n->released(), "backward: the graph through '", n->name(),
                 "' was already freed by an earlier backward(); run the forward pass again");
        nodes.push_back(n);
        for (const Edge& e : n->edges())
            if (e.node && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
    return nodes;
}

}  // namespace

GradReadyHook::GradReadyHook(std::function<void(const Tensor& leaf)> ready) {
    SR_CHECK(!grad_ready_hook, "GradReadyHook: another hook is active on this thread");
    grad_ready_hook = new std::function<void(const Tensor&)>(std::move(ready));
}

GradReadyHook::~GradReadyHook() {
    delete grad_ready_hook;
    grad_ready_hook = nullptr;
}

void backward(const Tensor& root, const Tensor& grad) { backward(std::vector<Tensor>{root}, std::vector<Tensor>{grad}); }

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads) {
    SR_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");
    NoGradGuard no_grad;  // the backward pass itself is not recorded

    // Gradients waiting for each node, one slot per output, summed as they arrive.
    std::unordered_map<Node*, std::vector<Tensor>> pending;
    std::vector<Node*> order;
    std::unordered_set<Node*> seen;
    for (size_t r = 0; r < roots.size(); ++r) {
        const Tensor& root = roots[r];
        SR_CHECK(root.defined() && root.requires_grad(),
                 "backward: the tensor does not require grad (no input of the ops that made it requires grad)");
        Tensor seed = grads[r];
        if (!seed.defined()) {
            SR_CHECK(root.numel() == 1, "backward: a gradient must be given for a non-scalar tensor of shape ",
                     root.shape());
            seed = ones(root.shape(), {root.dtype(), root.device()});
        }
        check_grad_shape(seed, root.shape(), "the root");
        if (root.is_leaf()) {
            accumulate_into_leaf(root.impl(), seed);
            continue;
        }
        Node* fn = root.grad_fn().get();
        for (Node* n : collect_graph(fn))
            if (seen.insert(n).second) order.push_back(n);
        std::vector<Tensor>& slot = pending[fn];
        if (slot.empty()) slot.resize(fn->num_outputs());
        Tensor& acc = slot[root.output_nr()];
        acc = acc.defined() ? acc + seed : seed;
    }
    std::sort(order.begin(), order.end(), [](Node* a, Node* b) { return a->seq() > b->seq(); });
    LeafReporter reporter(order);

    for (Node* node : order) {
        auto it = pending.find(node);
        if (it == pending.end()) continue;  // no gradient reached this node
        std::vector<Tensor> grads_out = std::move(it->second);
        pending.erase(it);
        std::vector<Tensor> input_grads = node->backward(grads_out);
        node->release();  // free saved activations as early as possible
        node->released_ = true;
        SR_CHECK(input_grads.size() == node->edges().size(), "backward: ", node->name(), " returned ",
                 input_grads.size(), " gradients for ", node->edges().size(), " inputs");
        for (size_t i = 0; i < input_grads.size(); ++i) {
            const Edge& e = node->edges()[i];
            const Tensor& g = input_grads[i];
            if (!g.defined() || (!e.node && !e.leaf)) {
                if (e.leaf) reporter.edge_done(e.leaf);
                continue;
            }
            check_grad_shape(g, e.shape, node->name());
            if (e.leaf) {
                accumulate_into_leaf(e.leaf, g);
                reporter.edge_done(e.leaf);
                continue;
            }
            std::vector<Tensor>& slot = pending[e.node.get()];
            if (slot.empty()) slot.resize(e.node->num_outputs());
            Tensor& acc = slot[e.output_nr];
            acc = acc.defined() ? acc + g : g;
        }
    }
    for (Node* node : order) {  // the nodes no gradient reached
        if (node->released_) continue;
        node->release();
        node->released_ = true;
    }
    reporter.finish();  // leaves behind nodes that no gradient reached are complete now
}

void zero_grad(const std::vector<Tensor>& params) {
    for (const Tensor& p : params) p.set_grad(Tensor());
}

}  // namespace sr
