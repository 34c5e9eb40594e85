#!/usr/bin/python3
"""Writes tests/fixtures/ops.safetensors: PyTorch's float64 results for srforge's ops.

For every case: the inputs, PyTorch's outputs, an output gradient, and the gradients PyTorch's
autograd computes for every input; for ops with state (batch-norm running statistics, spectral
norm's u and v) also the state after the call. tests/test_reference.cpp runs the same cases
through srforge and requires the same numbers. Keys: "<case>.in.<i>", "<case>.out.<k>",
"<case>.gout.<k>", "<case>.grad.<i>" (absent when the input takes no gradient), "<case>.state.<j>".

Run with Debian's python3-torch:  /usr/bin/python3 tools/reference/make_op_fixtures.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

torch.manual_seed(0)
gen = torch.Generator().manual_seed(1234)
cases = {}


def rand(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=gen, dtype=torch.float64) * (hi - lo) + lo


def case(name, inputs, fn, grad=None, state=()):
    """inputs: list of tensors; fn(*inputs) -> tensor or tuple; grad: which inputs get a gradient."""
    grad = grad if grad is not None else [True] * len(inputs)
    leaves = [t.clone().requires_grad_(g) for t, g in zip(inputs, grad)]
    outs = fn(*leaves)
    outs = outs if isinstance(outs, tuple) else (outs,)
    gouts = [rand(*o.shape) for o in outs]
    torch.autograd.backward(outs, gouts)
    entry = {}
    for i, t in enumerate(inputs):
        entry[f"{name}.in.{i}"] = t.numpy()
    for k, (o, g) in enumerate(zip(outs, gouts)):
        entry[f"{name}.out.{k}"] = o.detach().numpy()
        entry[f"{name}.gout.{k}"] = g.numpy()
    for i, leaf in enumerate(leaves):
        if grad[i]:
            entry[f"{name}.grad.{i}"] = leaf.grad.numpy()
    for j, s in enumerate(state):
        entry[f"{name}.state.{j}"] = s.detach().numpy()
    cases.update(entry)


# ---- convolution and linear ----
case("conv2d_k3_s2_p1_bias", [rand(2, 3, 5, 7), rand(4, 3, 3, 3), rand(4)],
     lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1))
case("conv2d_k5x3_s2x1_p2x1", [rand(2, 3, 5, 7), rand(2, 3, 5, 3)],
     lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(2, 1)))
case("conv2d_k3_d2_p2_groups3", [rand(2, 3, 5, 7), rand(6, 1, 3, 3), rand(6)],
     lambda x, w, b: F.conv2d(x, w, b, padding=2, dilation=2, groups=3))
case("linear", [rand(2, 3, 5), rand(4, 5), rand(4)], lambda x, w, b: F.linear(x, w, b))

# ---- layout ----
case("pixel_shuffle_r2", [rand(2, 12, 3, 5)], lambda x: F.pixel_shuffle(x, 2))
case("pixel_shuffle_r3", [rand(1, 18, 2, 3)], lambda x: F.pixel_shuffle(x, 3))
case("pixel_unshuffle_r2", [rand(2, 3, 4, 6)], lambda x: F.pixel_unshuffle(x, 2))
case("concat_channels", [rand(2, 3, 5, 7), rand(2, 2, 5, 7)], lambda a, b: torch.cat([a, b], 1))
case("upsample_nearest_x3", [rand(2, 3, 4, 5)], lambda x: F.interpolate(x, scale_factor=3, mode="nearest"))
for label, kwargs in [("x2", dict(scale_factor=2)), ("x1_5", dict(scale_factor=1.5)),
                      ("size_4x9", dict(size=(4, 9))), ("x0_5", dict(scale_factor=0.5))]:
    case(f"upsample_bilinear_{label}", [rand(2, 3, 6, 7)],
         lambda x, kw=kwargs: F.interpolate(x, mode="bilinear", align_corners=False, **kw))

# ---- activations ----
case("leaky_relu_0_2", [rand(2, 3, 5, 7)], lambda x: F.leaky_relu(x, 0.2))
case("prelu", [rand(2, 3, 5, 7), rand(3)], lambda x, w: F.prelu(x, w))
case("clamp", [rand(2, 3, 5, 7)], lambda x: torch.clamp(x, -0.5, 0.25))
case("sigmoid", [rand(2, 3, 5, 7) * 6], lambda x: torch.sigmoid(x))
case("tanh", [rand(2, 3, 5, 7) * 3], lambda x: torch.tanh(x))

# ---- normalisation ----
for training in (True, False):
    rm, rv = rand(3), rand(3, lo=0.5, hi=2.0)
    state_m, state_v = rm.clone(), rv.clone()
    name = "batch_norm2d_" + ("train" if training else "eval")
    case(name, [rand(2, 3, 5, 7) * 2 + 0.5, rand(3), rand(3)],
         lambda x, w, b, m=state_m, v=state_v, t=training: F.batch_norm(x, m, v, w, b, training=t, momentum=0.1, eps=1e-5),
         state=(state_m, state_v))
    cases[f"{name}.init.0"], cases[f"{name}.init.1"] = rm.numpy(), rv.numpy()


def spectral_norm_case(name, weight_shape, training):
    weight, u0, v0 = rand(*weight_shape), rand(weight_shape[0]), rand(int(np.prod(weight_shape[1:])))
    u0, v0 = F.normalize(u0, dim=0), F.normalize(v0, dim=0)
    conv = torch.nn.Conv2d(weight_shape[1], weight_shape[0], weight_shape[2], bias=False).double()
    conv = torch.nn.utils.spectral_norm(conv)
    holder = {}

    def fn(w):
        with torch.no_grad():
            conv.weight_u.copy_(u0)
            conv.weight_v.copy_(v0)
        del conv.weight_orig
        conv.weight_orig = torch.nn.Parameter(w.detach().clone())
        conv.train(training)
        # The forward pre-hook computes conv.weight = weight_orig / sigma (with one power
        # iteration in training mode); take the gradient back to weight_orig.
        conv(torch.zeros(1, weight_shape[1], weight_shape[2], weight_shape[3], dtype=torch.float64))
        holder["orig"] = conv.weight_orig
        return conv.weight

    leaf = weight.clone()
    out = fn(leaf)
    gout = rand(*out.shape)
    out.backward(gout)
    cases.update({f"{name}.in.0": weight.numpy(), f"{name}.in.1": u0.numpy(), f"{name}.in.2": v0.numpy(),
                  f"{name}.out.0": out.detach().numpy(), f"{name}.gout.0": gout.numpy(),
                  f"{name}.grad.0": holder["orig"].grad.numpy(),
                  f"{name}.state.0": conv.weight_u.numpy(), f"{name}.state.1": conv.weight_v.numpy()})


spectral_norm_case("spectral_norm_train", (4, 3, 3, 3), True)
spectral_norm_case("spectral_norm_eval", (5, 2, 3, 3), False)


# ---- residual dense block, as composition ----
def dense_block(x, *params, slope, scale):
    n_layers = (len(params) - 2) // 2
    feats = [x]
    for i in range(n_layers):
        w, b = params[i], params[n_layers + i]
        y = F.conv2d(torch.cat(feats, 1), w, b, padding=w.shape[-1] // 2)
        feats.append(F.leaky_relu(y, slope) if slope > 0 else F.relu(y))
    wf, bf = params[-2], params[-1]
    return F.conv2d(torch.cat(feats, 1), wf, bf, padding=wf.shape[-1] // 2) * scale + x


def dense_case(name, G0, G, L, fk, slope, scale):
    ins = [rand(2, G0, 5, 6)] + [rand(G, G0 + i * G, 3, 3) * 0.5 for i in range(L)] + [rand(G) for _ in range(L)]
    ins += [rand(G0, G0 + L * G, fk, fk) * 0.5, rand(G0)]
    case(name, ins, lambda *a: dense_block(*a, slope=slope, scale=scale))


dense_case("dense_block_rdn", 3, 2, 3, 1, 0.0, 1.0)
dense_case("dense_block_esrgan", 4, 3, 4, 3, 0.2, 0.2)

# ---- losses ----
x, y = rand(2, 3, 5, 7), rand(2, 3, 5, 7)
case("l1_loss", [x, y], lambda a, b: F.l1_loss(a, b))
case("mse_loss", [x, y], lambda a, b: F.mse_loss(a, b))
case("charbonnier_loss", [x, y], lambda a, b: torch.sqrt((a - b) ** 2 + 1e-12).mean())  # BasicSR's definition
case("bce_with_logits", [x * 4, rand(2, 3, 5, 7, lo=0.0, hi=1.0)], lambda a, b: F.binary_cross_entropy_with_logits(a, b))


def ssim_reference(a, b, data_range=1.0):
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5 ** 2))
    g = g / g.sum()
    window = torch.outer(g, g).expand(a.shape[1], 1, 11, 11).contiguous()
    filt = lambda t: F.conv2d(t, window, groups=a.shape[1])
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b, cov = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2, filt(a * b) - mu_a * mu_b
    return (((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))).mean()


img = rand(2, 3, 14, 16, lo=0.0, hi=1.0)
case("ssim", [img, (img * 0.8 + rand(2, 3, 14, 16, lo=0.0, hi=0.2)).clamp(0, 1)], ssim_reference)

# ---- CycleGAN's building blocks (appended last: the cases above keep their random inputs) ----
case("reflection_pad2d_3", [rand(2, 3, 5, 6)], lambda x: F.pad(x, (3, 3, 3, 3), mode="reflect"))
case("reflection_pad2d_uneven", [rand(1, 2, 4, 5)], lambda x: F.pad(x, (0, 2, 1, 3), mode="reflect"))
case("instance_norm2d", [rand(2, 3, 5, 7) * 2 + 0.5], lambda x: F.instance_norm(x, eps=1e-5))
case("instance_norm2d_affine", [rand(2, 3, 4, 5) * 2 + 0.5, rand(3), rand(3)],
     lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-5))
case("conv_transpose2d_s2_p1_op1_bias", [rand(2, 3, 4, 5), rand(3, 2, 3, 3), rand(2)],
     lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1))
case("conv_transpose2d_k4_s2x3_groups2", [rand(1, 4, 3, 4), rand(4, 1, 4, 4)],
     lambda x, w: F.conv_transpose2d(x, w, None, stride=(2, 3), padding=(1, 0), groups=2))

# ---- transformer ops (SwinIR, HAT, DRCT), appended last for the same reason ----
case("gelu", [rand(2, 3, 5, 7) * 3], lambda x: F.gelu(x))  # exact (erf) form, as nn.GELU()
case("layer_norm", [rand(2, 5, 7) * 2 + 0.3, rand(7), rand(7)], lambda x, w, b: F.layer_norm(x, (7,), w, b, eps=1e-5))
case("layer_norm_no_affine", [rand(3, 6)], lambda x: F.layer_norm(x, (6,), eps=1e-5))
case("softmax", [rand(2, 3, 4, 9) * 3], lambda x: torch.softmax(x, -1))
case("matmul_batched", [rand(2, 3, 4, 5), rand(2, 3, 5, 6)], lambda a, b: a @ b)
case("roll_hw", [rand(2, 5, 6, 3)], lambda x: torch.roll(x, shifts=(-2, 3), dims=(1, 2)))
case("index_select_rows", [rand(5, 3)], lambda t: t[torch.tensor([4, 0, 2, 0, 1, 4, 4, 2])])


def window_partition(x, w):  # SwinIR's, followed by the .view(-1, w * w, C) of its callers
    B, H, W, C = x.shape
    return x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, w * w, C)


def window_reverse(windows, w, H, W):
    B = windows.shape[0] // ((H // w) * (W // w))
    return windows.view(B, H // w, W // w, w, w, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


case("window_partition_2", [rand(2, 6, 4, 3)], lambda x: window_partition(x, 2))
case("window_reverse_2", [rand(12, 4, 3)], lambda x: window_reverse(x, 2, 6, 4))


def swin_attention(q, k, v, bias, mask, scale):  # SwinIR's WindowAttention.forward after the qkv split
    attn = (q * scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)
    if mask is not None:
        B_, heads, N, _ = attn.shape
        nW = mask.shape[0]
        attn = (attn.view(B_ // nW, nW, heads, N, N) + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, N, N)
    return torch.softmax(attn, -1) @ v


shifted_mask = torch.zeros(4, 6, 6, dtype=torch.float64)
shifted_mask[1:, :3, 3:] = -100.0
shifted_mask[1:, 3:, :3] = -100.0
case("window_attention", [rand(8, 2, 6, 3), rand(8, 2, 6, 3), rand(8, 2, 6, 3), rand(2, 6, 6)],
     lambda q, k, v, b: swin_attention(q, k, v, b, None, 3 ** -0.5))
case("window_attention_masked", [rand(8, 2, 6, 3), rand(8, 2, 6, 3), rand(8, 2, 6, 3), rand(2, 6, 6), shifted_mask],
     lambda q, k, v, b, m: swin_attention(q, k, v, b, m, 3 ** -0.5), grad=[True, True, True, True, False])



def hat_kv_windows(x, w, size):  # HAT's OCAB: nn.Unfold on [B, C, H, W], rearranged to (b nw) (owh oww) ch
    B, H, W, C = x.shape
    cols = F.unfold(x.permute(0, 3, 1, 2), kernel_size=size, stride=w, padding=(size - w) // 2)  # B, C*size*size, nw
    return cols.view(B, C, size * size, -1).permute(0, 3, 2, 1).reshape(-1, size * size, C)


case("overlapping_windows_2_4", [rand(2, 4, 6, 3)], lambda x: hat_kv_windows(x, 2, 4))
case("window_attention_rectangular", [rand(6, 2, 4, 3), rand(6, 2, 9, 3), rand(6, 2, 9, 3), rand(2, 4, 9)],
     lambda q, k, v, b: swin_attention(q, k, v, b, None, 0.6))


def hat_channel_attention(x, w1, b1, w2, b2):  # HAT's ChannelAttention
    return x * torch.sigmoid(F.conv2d(F.relu(F.conv2d(F.adaptive_avg_pool2d(x, 1), w1, b1)), w2, b2))


case("channel_attention", [rand(2, 6, 3, 5), rand(2, 6, 1, 1), rand(2) * 0.5 + 0.5, rand(6, 2, 1, 1), rand(6)],
     hat_channel_attention)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "ops.safetensors")
safetensors_np.save(os.path.normpath(out), cases, {"generator": "tools/reference/make_op_fixtures.py",
                                                   "torch": torch.__version__})
print(f"wrote {len(cases)} tensors to {os.path.normpath(out)}")
