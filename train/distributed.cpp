#include "train/distributed.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "autograd/node.h"
#include "core/error.h"
#include "ops/layout.h"

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

void ProcessGroup::average(const std::vector<Tensor>& tensors) const {
    if (size_ == 1) return;
    NoGradGuard no_grad;
    for (const Tensor& t : tensors) {
        SR_CHECK(t.defined() && (t.dtype() == DType::F32 || t.dtype() == DType::F64), "distributed: only F32/F64 tensors are averaged");
        Tensor host = t.to(Device::cpu()).contiguous();
        if (host.identity() == t.identity()) host = t;  // already a contiguous CPU tensor: reduce in place
        const bool f32 = t.dtype() == DType::F32;
        void* data = f32 ? static_cast<void*>(host.data<float>()) : static_cast<void*>(host.data<double>());
        check(MPI_Allreduce(MPI_IN_PLACE, data, int(host.numel()), f32 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        copy_(t, host * (1.0 / double(size_)));
    }
}

std::vector<double> ProcessGroup::sum(std::vector<double> values) const {
    if (size_ > 1) check(MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    return values;
}

void ProcessGroup::abort(int code) const {
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

}  // namespace sr
