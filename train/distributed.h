// Data-parallel training over MPI, as PyTorch's DistributedDataParallel and BasicSR's distributed
// mode do it: N processes (ranks), started by `mpirun -np N train_sr ...`, each hold the whole
// model, train on their own share of every iteration's batch and average their gradients before
// each optimiser step, so every rank applies the same update and the weights stay identical.
//
//   iteration i, on rank r of N, batch_size_per_gpu B:
//     crops:     samples r B .. r B + B - 1 of the iteration's global batch of N B samples
//                (train/data.h first_sample): the crops one process of batch N B would draw
//     backward:  g_r, the gradient of the mean loss over this rank's B samples
//     all-reduce g = (g_0 + ... + g_{N-1}) / N, the gradient of the mean over all N B samples
//     step:      the same Adam update on every rank
//   rank 0 alone logs, validates, draws samples and writes checkpoints; a checkpoint does not
//   depend on N, so a run may resume with another number of ranks.
//
// A process started without mpirun is a world of one and never initialises MPI. Gradients are
// summed with MPI_Allreduce (Open MPI, Debian's libopenmpi-dev) on CPU memory; CUDA tensors pass
// through host memory.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sr {

class ProcessGroup {
public:
    // The processes of this job; the first call initialises MPI when mpirun started the process.
    static ProcessGroup& world();
    ~ProcessGroup();
    ProcessGroup(const ProcessGroup&) = delete;
    ProcessGroup& operator=(const ProcessGroup&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool is_root() const { return rank_ == 0; }
    int local_size() const { return local_size_; }  // ranks on this machine, which share its cores
    int local_rank() const { return local_rank_; }  // this rank among them: its GPU with --device cuda

    // Each tensor summed over the ranks and divided by size(), in place. The sum of two ranks is
    // the same bits on both (a + b = b + a); MPI's reduction order decides beyond that.
    void average(const std::vector<Tensor>& tensors) const;
    // Each value summed over the ranks.
    std::vector<double> sum(std::vector<double> values) const;
    // Ends every rank of the job with `code` (a rank that fails must not leave the others waiting
    // in an all-reduce that never completes).
    [[noreturn]] void abort(int code) const;

private:
    ProcessGroup();
    int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0;
    bool mpi_ = false;
};

}  // namespace sr
