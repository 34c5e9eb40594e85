#!/usr/bin/python3
"""Writes tests/fixtures/pth/: small PyTorch checkpoints in the shapes people download, made by
torch.save itself, for the C++ .pth reader's tests (core/pth.cpp). Run once; the files are committed,
so the tests need no PyTorch.

  networks, each with `<name>.io.safetensors` holding a random input and PyTorch's output:
    edsr_params_zip.pth       BasicSR: {"params": state dict}, "module." prefixes, zip format
    edsr_legacy.pth           a plain OrderedDict, legacy format (_use_new_zipfile_serialization=False)
    rrdbnet_ema_legacy.pth    Real-ESRGAN: {"params": A, "params_ema": B}, legacy; params_ema is B
    srresnet_state_dict.pth   Lornatang: {"state_dict": ..., "epoch": 7, "best_psnr": 28.5}, batch
                              norm with its I64 num_batches_tracked, "_orig_mod." prefixes
    srvgg_params.pth          Real-ESRGAN's compact network as realesr-general-x4v3 ships: {"params": ...}
    swinir_params.pth         SwinIR as its releases ship: {"params": ...}, with the I64
                              relative_position_index and the attn_mask buffers
  dtypes.pth      every storage type, a transposed view, two views of one storage, an offset
  malicious.pth   an object whose unpickling would call os.system: must be refused, never run
  model_object.pth  a whole pickled nn.Module (torch.save(model)): refused, with advice
  expanded.pth    a stride-0 view (one stored float as 1000): refused, as 8 bytes could claim terabytes

Needs Debian's python3-torch:  /usr/bin/python3 tools/reference/make_pth_fixtures.py
"""
import collections
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "pth")


def save(obj, name, legacy=False):
    torch.save(obj, os.path.join(OUT, name), _use_new_zipfile_serialization=not legacy)


def prefixed(state, prefix):
    return collections.OrderedDict((prefix + k, v) for k, v in state.items())


def save_io(model, name, spec, shape, seed):
    models.save_io(model, os.path.join(OUT, name + ".io.safetensors"), spec, shape, seed)


def randomise(model, seed):
    """Weights far from their initialisation (and batch-norm statistics away from 0 and 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            t.copy_(torch.rand(t.shape, generator=g) * 0.2 - 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            if name.endswith("num_batches_tracked"):
                b.fill_(1234)
    return model


def networks():
    edsr = randomise(models.EDSR(num_feat=8, num_block=2, upscale=2), 1)
    save({"params": prefixed(edsr.state_dict(), "module.")}, "edsr_params_zip.pth")
    save_io(edsr, "edsr_params_zip", "edsr:num_feat=8,num_block=2,upscale=2", (1, 3, 6, 5), 11)
    save(edsr.state_dict(), "edsr_legacy.pth", legacy=True)
    save_io(edsr, "edsr_legacy", "edsr:num_feat=8,num_block=2,upscale=2", (1, 3, 5, 7), 12)

    spec = "rrdbnet:num_feat=8,num_block=2,num_grow_ch=4,scale=4"
    ema = randomise(models.RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=4), 2)
    other = randomise(models.RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=4), 3)
    save({"params": other.state_dict(), "params_ema": ema.state_dict()}, "rrdbnet_ema_legacy.pth", legacy=True)
    save_io(ema, "rrdbnet_ema_legacy", spec, (1, 3, 4, 5), 13)
    save_io(other, "rrdbnet_params_legacy", spec, (1, 3, 4, 5), 13)

    srresnet = randomise(models.SRResNet(channels=8, num_rcb=2, upscale_factor=4), 4)
    save({"state_dict": prefixed(srresnet.state_dict(), "_orig_mod."), "epoch": 7, "best_psnr": 28.5}, "srresnet_state_dict.pth")
    save_io(srresnet, "srresnet_state_dict", "srresnet:channels=8,num_rcb=2,upscale_factor=4", (1, 3, 4, 4), 14)

    compact = randomise(models.SRVGGNetCompact(num_feat=8, num_conv=3, upscale=4), 5)
    save({"params": compact.state_dict()}, "srvgg_params.pth")
    save_io(compact, "srvgg_params", "srvgg_compact:num_feat=8,num_conv=3,upscale=4", (1, 3, 5, 4), 15)

    spec = "swinir:upscale=2,img_size=8,window_size=4,embed_dim=8,depths=[2],num_heads=[2],mlp_ratio=2,upsampler=pixelshuffle"
    swin = models.build(spec)
    masks = {n: b.clone() for n, b in swin.named_buffers() if n.endswith("attn_mask")}
    randomise(swin, 6)
    with torch.no_grad():  # the masks stay masks
        for n, b in swin.named_buffers():
            if n in masks:
                b.copy_(masks[n])
    save({"params": swin.state_dict()}, "swinir_params.pth")
    save_io(swin, "swinir_params", spec, (1, 3, 8, 8), 16)


def dtypes():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    shared = torch.arange(10, dtype=torch.float64)
    state = collections.OrderedDict()
    state["f32"] = base.clone()
    state["f64"] = shared.clone()
    state["f16"] = (base / 4).half()
    state["bf16"] = (base / 4).bfloat16()
    state["i64"] = torch.tensor([-3, 1 << 40], dtype=torch.int64)
    state["i32"] = torch.tensor([-7, 7], dtype=torch.int32)
    state["i16"] = torch.tensor([300], dtype=torch.int16)
    state["i8"] = torch.tensor([-128], dtype=torch.int8)
    state["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    state["bool"] = torch.tensor([True, False, True])
    state["transposed"] = base.clone().t()            # strides (1, 4)
    state["view_a"] = shared[2:5]                     # offset 2 into one storage ...
    state["view_b"] = shared[6:]                      # ... and offset 6 into the same
    state["scalar"] = torch.tensor(2.5)
    save(state, "dtypes.pth")
    save(state, "dtypes_legacy.pth", legacy=True)


class Pwn:
    def __reduce__(self):
        return (os.system, ("echo srforge-was-tricked > /tmp/srforge_pwned",))


def hostile():
    save({"params": collections.OrderedDict(w=torch.zeros(2)), "x": Pwn()}, "malicious.pth")
    save(models.EDSR(num_feat=4, num_block=1, upscale=2), "model_object.pth")
    save({"w": torch.ones(1).expand(1000)}, "expanded.pth")


def main():
    os.makedirs(OUT, exist_ok=True)
    networks()
    dtypes()
    hostile()
    print("wrote", ", ".join(sorted(os.listdir(OUT))))


if __name__ == "__main__":
    main()
