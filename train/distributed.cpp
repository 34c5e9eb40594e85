#include "train/distributed.h"

// The C API only: no MPI C++ bindings (deprecated, and noisy under -Wextra).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <omp.h>
#include <string>

#include "autograd/backward.h"
#include "core/error.h"
#include "core/factory.h"
#include "core/gpu.h"
#include "core/safetensors.h"

namespace sr {

namespace {

// mpirun (Open MPI) or a PMI launcher (Slurm's srun, MPICH's Hydra) says how many ranks there are.
int launched_size() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
        if (const char* v = std::getenv(var)) return std::atoi(v);
    return 1;
}

void check(int status, const char* call) {
    if (status == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, text, &length);
    throw Error(std::string("distributed: ") + call + " failed: " + std::string(text, size_t(length)));
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

ProcessGroup& ProcessGroup::world() {
    static ProcessGroup group;
    return group;
}

ProcessGroup::ProcessGroup() {
    if (launched_size() <= 1) return;
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    mpi_ = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);  // errors become sr::Error, then abort()
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    MPI_Comm local;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    check(MPI_Comm_size(local, &local_size_), "MPI_Comm_size");
    check(MPI_Comm_rank(local, &local_rank_), "MPI_Comm_rank");
    MPI_Comm_free(&local);
}

ProcessGroup::~ProcessGroup() {
    if (mpi_) MPI_Finalize();
}

std::vector<double> ProcessGroup::sum(std::vector<double> values) const {
    if (size_ > 1) check(MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    return values;
}

std::vector<std::string> ProcessGroup::gather_to_root(const std::string& bytes) const {
    if (size_ == 1) return {bytes};
    SR_CHECK(bytes.size() < size_t(std::numeric_limits<int>::max()), "distributed: ", bytes.size(),
             " bytes of per-rank state are more than one MPI message holds");
    constexpr int kTag = 17;
    if (!is_root()) {
        check(MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, 0, kTag, MPI_COMM_WORLD), "MPI_Send");
        return {};
    }
    std::vector<std::string> all{bytes};
    for (int r = 1; r < size_; ++r) {  // one message per rank: its size is read before it is received
        MPI_Status status;
        check(MPI_Probe(r, kTag, MPI_COMM_WORLD, &status), "MPI_Probe");
        int count = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
        std::string received(size_t(count), '\0');
        check(MPI_Recv(received.data(), count, MPI_BYTE, r, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
        all.push_back(std::move(received));
    }
    return all;
}

void ProcessGroup::abort(int code) const {
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

void share_machine(int threads, Device& device) {
    const ProcessGroup& world = ProcessGroup::world();
    if (threads > 0) omp_set_num_threads(threads);
    else if (world.local_size() > 1) omp_set_num_threads(std::max(1, omp_get_num_procs() / world.local_size()));
    if (world.local_size() > 1 && device.is_cuda()) device = Device::cuda(world.local_rank());
}

uint64_t rank_seed(uint64_t seed, int rank) {
    if (rank == 0) return seed;
    uint64_t z = seed + uint64_t(rank) * 0x9E3779B97F4A7C15ull;  // splitmix64's step and mix
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

NamedTensors gather_rank_states(const NamedTensors& own) {
    const ProcessGroup& world = ProcessGroup::world();
    if (world.size() == 1) return own;
    const std::vector<std::string> all = world.gather_to_root(serialize_safetensors(own));
    if (!world.is_root()) return own;
    NamedTensors out = own;
    for (size_t r = 1; r < all.size(); ++r)
        for (auto& [name, t] : parse_safetensors(all[r], "the state of rank " + std::to_string(r)).tensors)
            out.emplace_back("rank" + std::to_string(r) + "." + name, t);
    return out;
}

namespace {

bool is_rank_prefixed(const std::string& name) {
    return name.rfind("rank", 0) == 0 && name.size() > 4 && std::isdigit(static_cast<unsigned char>(name[4]));
}

// r of a "rank<r>." name (a checkpoint's names are untrusted: the digits are read with a bound).
int rank_of(const std::string& name) {
    int64_t r = 0;
    for (size_t i = 4; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && r < (1 << 24); ++i) r = r * 10 + (name[i] - '0');
    return static_cast<int>(std::min<int64_t>(r, 1 << 24));
}

}  // namespace

NamedTensors rank_state(const NamedTensors& every_rank, int rank) {
    const std::string prefix = "rank" + std::to_string(rank) + ".";
    NamedTensors out;
    for (const auto& [name, t] : every_rank) {
        if (rank == 0 && !is_rank_prefixed(name)) out.emplace_back(name, t);
        if (rank > 0 && name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
    }
    return out;
}

int ranks_in_state(const NamedTensors& every_rank) {
    int ranks = every_rank.empty() ? 0 : 1;
    for (const auto& [name, t] : every_rank)
        if (is_rank_prefixed(name)) ranks = std::max(ranks, 1 + rank_of(name));
    return ranks;
}

// ---- GradientAverager --------------------------------------------------------------------------

struct GradientAverager::Bucket {
    std::vector<size_t> members;   // indices into params_
    std::vector<size_t> offsets;   // where each member's gradient starts in the buffer
    std::vector<bool> had_grad;    // a parameter without a gradient keeps none (Adam skips it)
    size_t count = 0;              // gradient values in the bucket
    std::vector<float> buffer;     // CPU ranks: the bucket's gradients side by side, summed by MPI
    Tensor on_gpu;                 // GPU ranks: the same buffer on the GPU, summed by NCCL
    size_t waiting = 0;            // members whose gradient is not complete yet
    bool started = false;
    MPI_Request request = MPI_REQUEST_NULL;
};

GradientAverager::GradientAverager(std::vector<Tensor> params, double bucket_mb) : params_(std::move(params)) {
    if (ProcessGroup::world().size() == 1) return;  // backward() is plain backward: no buckets (any dtype)
    // As DDP: a small first bucket (1 MB), so that communication starts early, then bucket_mb.
    auto elements = [](double mb) { return size_t(std::max(1.0, mb * double(1 << 20) / sizeof(float))); };
    const size_t first_limit = std::min(elements(1), elements(bucket_mb)), limit = elements(bucket_mb);
    for (size_t k = params_.size(); k-- > 0;) {  // the last parameters first: backward completes them first
        SR_CHECK(params_[k].dtype() == DType::F32, "distributed: gradients are averaged in F32, parameter ", k, " is not");
        if (buckets_.empty() || buckets_.back()->count >= (buckets_.size() == 1 ? first_limit : limit))
            buckets_.push_back(std::make_unique<Bucket>());
        Bucket& b = *buckets_.back();
        b.members.push_back(k);
        b.offsets.push_back(b.count);
        b.count += size_t(params_[k].numel());
        bucket_of_[params_[k].impl().get()] = buckets_.size() - 1;
    }
    for (auto& b : buckets_)  // GPU ranks keep theirs on the GPU (start_on_gpu)
        if (params_[b->members[0]].device().is_cpu()) b->buffer.resize(b->count);
}

GradientAverager::~GradientAverager() = default;

int64_t GradientAverager::bytes_per_call() const {
    int64_t bytes = 0;
    for (const auto& b : buckets_) bytes += int64_t(b->count * sizeof(float));
    return bytes;
}

// A parameter's gradient is complete: its bucket starts when it was the last one missing. Each
// call also lets MPI move the reductions already started along.
void GradientAverager::ready(const Tensor& leaf) {
    auto it = bucket_of_.find(leaf.impl().get());
    if (it == bucket_of_.end()) return;  // a leaf of another network
    Bucket& b = *buckets_[it->second];
    if (--b.waiting == 0) start(b);
    for (const auto& other : buckets_) {
        int done = 0;
        if (other->started && other->request != MPI_REQUEST_NULL) MPI_Test(&other->request, &done, MPI_STATUS_IGNORE);
    }
}

// GPU ranks: the bucket's gradients side by side on the GPU, summed by NCCL on the stream the
// kernels run on (so in order with backward's kernels; the sum is waited for by what reads it).
// The communicator is made on first use: rank 0's unique id, broadcast over MPI.
void GradientAverager::start_on_gpu(Bucket& b) {
    const Device device = params_[b.members[0]].device();
    if (!nccl_ready_) {
        const ProcessGroup& world = ProcessGroup::world();
        std::string id = world.is_root() ? gpu::nccl_unique_id() : std::string(gpu::kNcclIdBytes, '\0');
        check(MPI_Bcast(id.data(), int(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
        gpu::nccl_init(id, world.rank(), world.size(), device.index);
        nccl_ready_ = true;
    }
    if (!b.on_gpu.defined()) b.on_gpu = zeros({int64_t(b.count)}, {DType::F32, device});
    float* base = b.on_gpu.data<float>();
    for (size_t m = 0; m < b.members.size(); ++m) {
        const Tensor& g = params_[b.members[m]].grad();
        b.had_grad[m] = g.defined();
        const size_t n = size_t(params_[b.members[m]].numel());
        if (g.defined()) {
            const Tensor c = g.contiguous();
            gpu::copy_device_to_device(base + b.offsets[m], c.data<float>(), n * sizeof(float), device.index);
        } else {
            gpu::fill(base + b.offsets[m], int64_t(n), 0.0f, device.index);
        }
    }
    gpu::nccl_all_reduce_sum(base, int64_t(b.count), device.index);
    b.started = true;
}

void GradientAverager::start(Bucket& b) {
    if (params_[b.members[0]].device().is_cuda()) return start_on_gpu(b);
    for (size_t m = 0; m < b.members.size(); ++m) {
        const Tensor& g = params_[b.members[m]].grad();
        b.had_grad[m] = g.defined();
        float* dst = b.buffer.data() + b.offsets[m];
        const size_t n = size_t(params_[b.members[m]].numel());
        if (!g.defined()) {
            std::fill(dst, dst + n, 0.0f);
            continue;
        }
        const Tensor host = g.to(Device::cpu()).contiguous();
        std::memcpy(dst, host.data<float>(), n * sizeof(float));
    }
    check(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), int(b.buffer.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &b.request),
          "MPI_Iallreduce");
    b.started = true;
}

void GradientAverager::backward(const Tensor& loss) {
    const ProcessGroup& world = ProcessGroup::world();
    if (world.size() == 1) return sr::backward(loss);
    for (auto& b : buckets_) {
        b->waiting = b->members.size();
        b->started = false;
        b->had_grad.assign(b->members.size(), false);
    }
    {
        GradReadyHook hook([this](const Tensor& leaf) { ready(leaf); });
        sr::backward(loss);
    }
    const double t0 = now();
    for (auto& b : buckets_) {  // the all-reduces that finished while backward ran: hidden by it
        int done = 0;
        if (b->started && !b->on_gpu.defined()) check(MPI_Test(&b->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) hidden_bytes_ += int64_t(b->count * sizeof(float));
    }
    for (auto& b : buckets_) {
        if (!b->started) start(*b);  // parameters the loss did not reach
        if (!b->on_gpu.defined()) check(MPI_Wait(&b->request, MPI_STATUS_IGNORE), "MPI_Wait");
    }
    exposed_seconds_ += now() - t0;
    ++calls_;
    const float scale = 1.0f / float(world.size());
    for (auto& b : buckets_)
        for (size_t m = 0; m < b->members.size(); ++m) {
            Tensor& p = params_[b->members[m]];
            if (!b->had_grad[m]) continue;
            if (b->on_gpu.defined()) {
                const int64_t at = int64_t(b->offsets[m]);
                p.set_grad((b->on_gpu.slice(0, at, at + p.numel()) * double(scale)).reshape(p.shape()));
                continue;
            }
            Tensor avg = Tensor::empty(p.shape(), DType::F32, Device::cpu());
            const float* src = b->buffer.data() + b->offsets[m];
            float* dst = avg.data<float>();
            for (int64_t i = 0; i < p.numel(); ++i) dst[i] = src[i] * scale;
            p.set_grad(avg.to(p.device()));
        }
}

double GradientAverager::blocking_seconds(int repeats) {
    std::vector<float> all(size_t(bytes_per_call()) / sizeof(float), 1.0f);
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = now();
        check(MPI_Allreduce(MPI_IN_PLACE, all.data(), int(all.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        times.push_back(now() - t0);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace sr
