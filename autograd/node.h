// The autograd graph. An op that runs with grad mode on, on inputs of which at least one requires
// grad, records a Node: what it needs for backward (its saved tensors) and an Edge per input
// saying where that input's gradient goes. Outputs point back at the node through grad_fn.
//
//   Tensor relu(const Tensor& x) {
//       Tensor y = ...forward kernel...;
//       if (needs_grad({x})) {
//           auto node = std::make_shared<ReluBackward>();
//           node->y = y.detach();             // saved tensors are always detached (see below)
//           record(node, {x}, {y});
//       }
//       return y;
//   }
//
// Saved tensors are detached so that a node never holds a tensor whose grad_fn is the node
// itself: that would be a reference cycle, and the graph would never be freed.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace sr {

// Where the gradient of one node input goes: into output `output_nr` of `node` (the input was
// made by an op), into `leaf->grad` (a tensor marked requires_grad), or nowhere.
struct Edge {
    std::shared_ptr<Node> node;
    int output_nr = 0;
    std::shared_ptr<TensorImpl> leaf;
    Shape shape;  // the input's shape, which its gradient must have
};

class Node {
public:
    Node();
    virtual ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // The op's name as registered in ops/registry.h ("conv2d").
    virtual const char* name() const = 0;
    // grads[k] is dL/d(output k), undefined when no gradient reached that output. Returns
    // dL/d(input i) for each input, in the order given to record(); an entry may be undefined
    // when that input needs no gradient.
    virtual std::vector<Tensor> backward(const std::vector<Tensor>& grads) = 0;
    // Frees the saved tensors; called by the engine once backward() has run.
    virtual void release() = 0;

    uint64_t seq() const { return seq_; }           // creation order: a topological order
    int num_outputs() const { return num_outputs_; }
    const std::vector<Edge>& edges() const { return edges_; }
    bool released() const { return released_; }
    // Whether input i's gradient goes anywhere; backward() may skip computing it when not.
    bool input_needs_grad(size_t i) const { return edges_[i].node || edges_[i].leaf; }

    // Nodes alive in this process; tests use it to prove graphs are freed.
    static int64_t live_count();

private:
    friend void record(const std::shared_ptr<Node>&, const std::vector<Tensor>&, const std::vector<Tensor>&);
    friend void backward(const std::vector<Tensor>&, const std::vector<Tensor>&);
    uint64_t seq_ = 0;
    int num_outputs_ = 0;
    std::vector<Edge> edges_;
    bool released_ = false;
};

// Grad mode: on by default; NoGradGuard turns it off for a scope (validation, optimiser steps).
bool grad_enabled();
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// True when grad mode is on and any defined input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Connects `node` into the graph: one Edge per input, and each output's grad_fn set to the node.
void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs);

}  // namespace sr
