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
//   depend on N, so a run may resume with another number of ranks. (Real-ESRGAN runs: each rank
//   also degrades with its own draws and keeps its own pair pool; the checkpoint holds them all.)
//
// A process started without mpirun is a world of one and never initialises MPI. CPU ranks sum
// gradients with MPI (Open MPI, Debian's libopenmpi-dev), GPU ranks with NCCL (from the CUDA
// toolkit; its unique id travels over MPI). GradientAverager overlaps that with backward, as
// DDP's buckets do.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "models/module.h"  // NamedTensors

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

    // Each value summed over the ranks.
    std::vector<double> sum(std::vector<double> values) const;
    // Every rank's `bytes`, in rank order, on rank 0 (a checkpoint of per-rank state); the other
    // ranks get an empty list. Every rank must call it.
    std::vector<std::string> gather_to_root(const std::string& bytes) const;
    // Ends every rank of the job with `code` (a rank that fails must not leave the others waiting
    // in an all-reduce that never completes).
    [[noreturn]] void abort(int code) const;

private:
    ProcessGroup();
    int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0;
    bool mpi_ = false;
};

// How the ranks on one machine share it: `threads` OpenMP threads each (0: the machine's cores
// divided among them), and with a CUDA `device` the k-th rank on the machine takes GPU k.
void share_machine(int threads, Device& device);

// The seed of a rank's own random draws where ranks draw independently of each other (Real-ESRGAN's
// degradations, the pools of training pairs or past fakes): rank 0 keeps `seed`, so a process
// started without mpirun is what it always was.
uint64_t rank_seed(uint64_t seed, int rank);

// Per-rank state in one checkpoint (the pools). gather_rank_states: on rank 0, every rank's `own`,
// rank r's names prefixed "rank<r>." (rank 0's unprefixed, as one process writes them); the other
// ranks get their own back. Every rank must call it. rank_state: rank r's part of such a list,
// unprefixed (empty when the list came from fewer ranks); ranks_in_state: how many ranks it holds.
NamedTensors gather_rank_states(const NamedTensors& own);
NamedTensors rank_state(const NamedTensors& every_rank, int rank);
int ranks_in_state(const NamedTensors& every_rank);

// backward() with the gradients of `params` averaged over the ranks, overlapped with it, as
// PyTorch's DistributedDataParallel: the parameters are cut into buckets of about bucket_mb (the
// first of 1 MB), in reverse order (the order backward completes them: the last layers first). The moment every
// gradient of a bucket is complete (autograd/backward.h GradReadyHook), the bucket is copied into
// one buffer and its all-reduce starts (MPI_Iallreduce) while backward goes on; after backward the
// rest is waited for and the averages are written back. Alone, it is plain backward(). A sum of
// two ranks is the same bits on both (a + b = b + a), so their weights stay identical; beyond two,
// MPI's reduction order decides. F32 gradients (any dtype alone).
//
//   textbook form, without overlap: backward(loss); world.average(every parameter's gradient)
class GradientAverager {
public:
    explicit GradientAverager(std::vector<Tensor> params, double bucket_mb = 25);
    ~GradientAverager();
    void backward(const Tensor& loss);

    // Seconds spent after backward waiting for all-reduces to finish, summed over the calls, and
    // the all-reduced bytes per call: how much of the communication backward did not hide.
    double exposed_seconds() const { return exposed_seconds_; }
    int64_t calls() const { return calls_; }
    int64_t bytes_per_call() const;
    // Bytes whose all-reduce had finished when backward did, summed over the calls (CPU ranks).
    int64_t hidden_bytes() const { return hidden_bytes_; }
    // One blocking all-reduce of all the gradient bytes, the median of `repeats`: the time the
    // overlap has to hide (what exposed_seconds would be per call without it).
    double blocking_seconds(int repeats = 5);

private:
    struct Bucket;
    void ready(const Tensor& leaf);
    void start(Bucket& bucket);
    void start_on_gpu(Bucket& bucket);
    std::vector<Tensor> params_;
    std::vector<std::unique_ptr<Bucket>> buckets_;
    std::unordered_map<const void*, size_t> bucket_of_;  // parameter (its TensorImpl) -> bucket
    double exposed_seconds_ = 0;
    int64_t calls_ = 0, hidden_bytes_ = 0;
    bool nccl_ready_ = false;
};

}  // namespace sr
