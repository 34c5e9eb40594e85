// Window self-attention with a relative-position bias, as one op (Swin Transformer, SwinIR):
// for every window b and head h,
//
//   O[b, h] = softmax((scale Q[b, h]) K[b, h]^T + bias[h] + mask[b mod windows]) V[b, h]
//
//   q       [B_, heads, Nq, d]  B_ = images x windows, Nq query tokens per window, d per head
//   k, v    [B_, heads, Nk, d]  Nk = Nq for self-attention; HAT's OCAB has more keys than queries
//   bias    [heads, Nq, Nk]     gathered from the learned table (ops/index_select.h)
//   mask    [windows, Nq, Nk]   the shifted windows' mask (0 or -100), a constant; or undefined
//   -> O    [B_, heads, Nq, d]
//
// window_attention_reference is the textbook composition (matmul, add, softmax, matmul); the
// fused op computes the same in three steps (a batched GEMM, a row softmax with the bias and
// mask added in place, a batched GEMM) and keeps for backward only what the formulas need: the
// scaled Q, K, V and the probabilities P. With dS the softmax's input gradient:
//   dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),
//   dQ = scale dS K,  dK = dS^T (scale Q),  dbias[h] = sum over b of dS[b, h].
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor window_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& mask, double scale);
Tensor window_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& mask,
                                  double scale);

}  // namespace sr
