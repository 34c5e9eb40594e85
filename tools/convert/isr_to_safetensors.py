#!/usr/bin/python3
"""Converts idealo ISR (image-super-resolution) Keras weights (.hdf5 from `save_weights`) to
safetensors for srforge's `rdn:variant=isr` and `rrdn` models.

Keras stores each layer's kernel as [kh, kw, in, out]; srforge (as PyTorch) wants [out, in, kh, kw].
RDN layers are renamed to EDSR-PyTorch's names (F_m1 -> SFENet1, F_0 -> SFENet2,
F_{d}_{c} -> RDBs.{d-1}.convs.{c-1}.conv.0, LFF_{d} -> RDBs.{d-1}.LFF, GFF_1/2 -> GFF.0/1; UPN1-3
and SR keep their names); RRDN layers keep ISR's names. The model spec to use is printed.

Needs Debian's python3-h5py:  /usr/bin/python3 tools/convert/isr_to_safetensors.py IN.hdf5 OUT.safetensors
"""
import os
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    sys.exit("isr_to_safetensors.py needs h5py and numpy: run it with /usr/bin/python3 (Debian python3-h5py)")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_np  # noqa: E402

RDN_NAMES = [(r"^F_m1$", "SFENet1"), (r"^F_0$", "SFENet2"), (r"^GFF_1$", "GFF.0"), (r"^GFF_2$", "GFF.1")]


def layer_weights(f):
    """{layer name: {"kernel": array, "bias": array}} from a Keras save_weights file."""
    root = f["model_weights"] if "model_weights" in f else f
    names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs.get("layer_names", list(root.keys()))]
    layers = {}
    for layer in names:
        group = root[layer]
        weight_names = [w.decode() if isinstance(w, bytes) else w for w in group.attrs.get("weight_names", [])]
        for w in weight_names:
            kind = w.split("/")[-1].split(":")[0]  # kernel or bias
            layers.setdefault(layer, {})[kind] = np.array(group[w])
    return layers


def torch_name(layer, rdn):
    if not rdn:
        return layer
    for pattern, new in RDN_NAMES:
        if re.match(pattern, layer):
            return new
    m = re.match(r"^F_(\d+)_(\d+)$", layer)
    if m:
        return f"RDBs.{int(m.group(1)) - 1}.convs.{int(m.group(2)) - 1}.conv.0"
    m = re.match(r"^LFF_(\d+)$", layer)
    if m:
        return f"RDBs.{int(m.group(1)) - 1}.LFF"
    return layer  # UPN1, UPN2, UPN3, SR


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: isr_to_safetensors.py IN.hdf5 OUT.safetensors")
    src, dst = sys.argv[1:]
    if not os.path.exists(src):
        sys.exit(f"no such file: {src}")
    with h5py.File(src, "r") as f:
        layers = layer_weights(f)
    if not layers:
        sys.exit(f"{src}: no layer weights found (is it a Keras save_weights file?)")
    rdn = "F_m1" in layers
    if not rdn and "Pre_blocks_conv" not in layers:
        sys.exit(f"{src}: neither an ISR RDN (F_m1) nor an RRDN (Pre_blocks_conv)")
    tensors = {}
    for layer, w in layers.items():
        name = torch_name(layer, rdn)
        tensors[name + ".weight"] = np.ascontiguousarray(w["kernel"].transpose(3, 2, 0, 1)).astype(np.float32)
        tensors[name + ".bias"] = w["bias"].astype(np.float32)
    safetensors_np.save(dst + ".tmp", tensors, {"converted_from": os.path.basename(src)})
    os.replace(dst + ".tmp", dst)
    if rdn:
        D = sum(1 for l in layers if re.match(r"^LFF_\d+$", l))
        C = sum(1 for l in layers if re.match(r"^F_1_\d+$", l))
        G0 = layers["F_m1"]["kernel"].shape[3]
        G = layers["F_1_1"]["kernel"].shape[3]
        ups = layers["SR"]["kernel"].shape[2] != layers["SR"]["kernel"].shape[3]  # SR reads 3 x^2 channels after 'ups'
        scale = int(round((layers["UPN3"]["kernel"].shape[3] / 3) ** 0.5))
        spec = f"rdn:variant=isr,scale={scale},D={D},C={C},G={G},G0={G0}" + ("" if ups else ",upscaling=shuffle")
    else:
        T = len({m.group(1) for l in layers for m in [re.match(r"^F_(\d+)_\d+_\d+$", l)] if m})
        D = len({m.group(1) for l in layers for m in [re.match(r"^F_1_(\d+)_\d+$", l)] if m})
        C = len({m.group(1) for l in layers for m in [re.match(r"^F_1_1_(\d+)$", l)] if m})
        G0 = layers["Pre_blocks_conv"]["kernel"].shape[3]
        G = layers["F_1_1_1"]["kernel"].shape[3]
        scale = int(round((layers["PreShuffle"]["kernel"].shape[3] / 3) ** 0.5))
        spec = f"rrdn:C={C},D={D},G={G},G0={G0},T={T},x={scale}"
    print(f"wrote {len(tensors)} tensors to {dst}; model spec: {spec}")


if __name__ == "__main__":
    main()
