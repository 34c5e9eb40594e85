// NCCL, for data-parallel training on GPU ranks (train/distributed.h): one communicator per
// process, over every rank's GPU, and in-place sums on the default stream. The unique id is made
// by rank 0 and shared by the caller (over MPI), as NCCL's own examples do.
#include <nccl.h>

#include <cstring>
#include <memory>

#include "core/gpu.h"
#include "cuda/check.h"

namespace sr::gpu {

namespace {

void check_nccl(ncclResult_t r, const char* call) {
    if (r != ncclSuccess) fail("NCCL error '", ncclGetErrorString(r), "' in ", call);
}

struct Communicator {
    ncclComm_t comm = nullptr;
    int device = -1;
    ~Communicator() {
        if (comm) ncclCommDestroy(comm);
    }
};

std::unique_ptr<Communicator>& communicator() {
    static std::unique_ptr<Communicator> c;
    return c;
}

}  // namespace

std::string nccl_unique_id() {
    ncclUniqueId id;
    check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    static_assert(sizeof(id.internal) == kNcclIdBytes, "NCCL's unique id changed size");
    return std::string(id.internal, sizeof(id.internal));
}

void nccl_init(const std::string& id_bytes, int rank, int size, int device) {
    SR_CHECK(id_bytes.size() == kNcclIdBytes, "nccl: the unique id must be ", kNcclIdBytes, " bytes");
    ncclUniqueId id;
    std::memcpy(id.internal, id_bytes.data(), kNcclIdBytes);
    cuda::DeviceGuard guard(device);
    auto c = std::make_unique<Communicator>();
    c->device = device;
    check_nccl(ncclCommInitRank(&c->comm, size, id, rank), "ncclCommInitRank");
    communicator() = std::move(c);
}

void nccl_all_reduce_sum(float* data, int64_t n, int device) {
    const auto& c = communicator();
    SR_CHECK(c && c->device == device, "nccl: no communicator for GPU ", device, " (nccl_init first)");
    cuda::DeviceGuard guard(device);
    check_nccl(ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, c->comm, nullptr), "ncclAllReduce");
}

}  // namespace sr::gpu
