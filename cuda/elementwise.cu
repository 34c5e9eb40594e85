// The GPU instances of every elementwise functor (ops/functors.h), one line each. A functor used
// through ops/map.h on a CUDA tensor must be listed here; a missing one is a link error of the
// CUDA build, which CI compiles.
#include "cuda/map.cuh"
#include "ops/functors.h"

namespace sr::cuda {

using P = StridedPtr<float>;
#define SR_MAP1(F) template void map<F>(int, int64_t, const F&, P, P);
#define SR_MAP2(F) template void map<F>(int, int64_t, const F&, P, P, P);
#define SR_MAP3(F) template void map<F>(int, int64_t, const F&, P, P, P, P);

SR_MAP1(Identity)
SR_MAP1(Neg)
SR_MAP1(AddScalar)
SR_MAP1(MulScalar)
SR_MAP1(Relu)
SR_MAP1(LeakyRelu)
SR_MAP1(Sigmoid)
SR_MAP1(Tanh)
SR_MAP1(Gelu)
SR_MAP1(Clamp)

SR_MAP2(Add)
SR_MAP2(Sub)
SR_MAP2(Mul)
SR_MAP2(Div)
SR_MAP2(ReluGrad)
SR_MAP2(LeakyReluGrad)
SR_MAP2(SigmoidGrad)
SR_MAP2(TanhGrad)
SR_MAP2(GeluGrad)
SR_MAP2(ClampGrad)
SR_MAP2(PRelu)
SR_MAP2(PReluGradWeight)
SR_MAP2(AbsDiff)
SR_MAP2(SquaredDiff)
SR_MAP2(Charbonnier)
SR_MAP2(BceWithLogits)

SR_MAP3(DivGradB)
SR_MAP3(PReluGradInput)
SR_MAP3(AbsDiffGrad)
SR_MAP3(SquaredDiffGrad)
SR_MAP3(CharbonnierGrad)
SR_MAP3(BceWithLogitsGradInput)
SR_MAP3(BceWithLogitsGradTarget)
SR_MAP3(Swapped<AbsDiffGrad>)
SR_MAP3(Swapped<SquaredDiffGrad>)
SR_MAP3(Swapped<CharbonnierGrad>)

}  // namespace sr::cuda
