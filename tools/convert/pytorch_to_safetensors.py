#!/usr/bin/python3
"""Converts a PyTorch checkpoint to safetensors for srforge.

Understands plain state dicts and the usual wrappers: BasicSR's {"params": ..., "params_ema": ...}
(params_ema is taken when present, as Real-ESRGAN releases use it; --key chooses), {"state_dict": ...}
(Lornatang/SRGAN-PyTorch), {"model": ...}; strips "module." and "_orig_mod." prefixes; drops
batch norm's num_batches_tracked (an integer counter srforge does not keep). Optional renames:
  --from esrgan        the original ESRGAN names (RRDB_trunk, trunk_conv, upconv1/2, HRconv) to BasicSR's
  --from edsr-pytorch  EDSR-PyTorch's EDSR names (head, body, tail) to BasicSR's EDSR (its fixed
                       sub_mean/add_mean layers are dropped: the mean is an EDSR argument)
  --from torchvision-vgg19   keeps only `features.*` of torchvision's vgg19 (the classifier is unused)
The tensors are written as float32 (integers and half precision are converted).

Needs Debian's python3-torch:  /usr/bin/python3 tools/convert/pytorch_to_safetensors.py IN.pth OUT.safetensors
"""
import argparse
import os
import re
import sys

try:
    import numpy as np
    import torch
except ImportError:
    sys.exit("pytorch_to_safetensors.py needs PyTorch and numpy: run it with /usr/bin/python3 (Debian python3-torch)")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_np  # noqa: E402


def unwrap(obj, key):
    if key:
        if key not in obj:
            sys.exit(f"checkpoint has no key '{key}' (it has: {', '.join(map(str, obj.keys()))})")
        return obj[key]
    for k in ("params_ema", "params", "state_dict", "model"):
        if isinstance(obj, dict) and k in obj and isinstance(obj[k], dict):
            return obj[k]
    return obj


def rename_esrgan(name):
    name = re.sub(r"^RRDB_trunk\.(\d+)\.RDB([123])\.", lambda m: f"body.{m.group(1)}.rdb{m.group(2)}.", name)
    for old, new in (("trunk_conv.", "conv_body."), ("upconv1.", "conv_up1."), ("upconv2.", "conv_up2."), ("HRconv.", "conv_hr.")):
        if name.startswith(old):
            name = new + name[len(old):]
    return name


def rename_edsr_pytorch(name, num_block):
    if name.startswith(("sub_mean.", "add_mean.")):
        return None  # fixed mean shifts: BasicSR's EDSR takes the mean from its arguments
    m = re.match(r"^head\.0\.(.*)$", name)
    if m:
        return "conv_first." + m.group(1)
    m = re.match(r"^body\.(\d+)\.body\.([02])\.(.*)$", name)
    if m:
        return f"body.{m.group(1)}.conv{1 if m.group(2) == '0' else 2}.{m.group(3)}"
    m = re.match(r"^body\.(\d+)\.(weight|bias)$", name)
    if m and int(m.group(1)) == num_block:
        return "conv_after_body." + m.group(2)
    m = re.match(r"^tail\.0\.(\d+)\.(.*)$", name)
    if m:
        return f"upsample.{m.group(1)}.{m.group(2)}"
    m = re.match(r"^tail\.1\.(.*)$", name)
    if m:
        return "conv_last." + m.group(1)
    return name


def convert(state, source):
    out = {}
    num_block = None
    if source == "edsr-pytorch":
        blocks = [int(m.group(1)) for k in state for m in [re.match(r"^body\.(\d+)\.body\.", k)] if m]
        num_block = max(blocks) + 1 if blocks else 0
    for name, value in state.items():
        if not torch.is_tensor(value):
            continue
        for prefix in ("module.", "_orig_mod."):
            while name.startswith(prefix):
                name = name[len(prefix):]
        if name.endswith("num_batches_tracked"):
            continue
        if source == "esrgan":
            name = rename_esrgan(name)
        elif source == "edsr-pytorch":
            name = rename_edsr_pytorch(name, num_block)
            if name is None:
                continue
        elif source == "torchvision-vgg19" and not name.startswith("features."):
            continue
        out[name] = value.detach().float().cpu().numpy().astype(np.float32)
    return out


def main():
    ap = argparse.ArgumentParser(description="PyTorch checkpoint (.pth) to safetensors for srforge")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--key", help="the checkpoint entry holding the weights (default: params_ema, params, state_dict, model)")
    ap.add_argument("--from", dest="source", choices=["basicsr", "esrgan", "edsr-pytorch", "torchvision-vgg19"], default="basicsr")
    args = ap.parse_args()
    if not os.path.exists(args.input):
        sys.exit(f"no such file: {args.input}")
    obj = torch.load(args.input, map_location="cpu")
    state = unwrap(obj, args.key)
    if not isinstance(state, dict) or not state:
        sys.exit(f"{args.input}: no state dict found")
    tensors = convert(state, args.source)
    safetensors_np.save(args.output + ".tmp", tensors, {"converted_from": os.path.basename(args.input), "source": args.source})
    os.replace(args.output + ".tmp", args.output)
    print(f"wrote {len(tensors)} tensors to {args.output}")


if __name__ == "__main__":
    main()
