#!/usr/bin/python3
"""End-to-end check of the converter that remains in Python: idealo ISR's Keras .hdf5 weights for RDN
and RRDN, written in save_weights' layout, converted, run with build/tools/sr_forward and compared
with PyTorch. (PyTorch checkpoints are read natively and tested without Python.)

Run by CTest (test_converters) when /usr/bin/python3 has torch and h5py; exits 77 (skipped) otherwise.
  /usr/bin/python3 tools/convert/test_converters.py build/tools/sr_forward
"""
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print(f"test_converters: SKIPPED: {e} (needs Debian's python3-torch and python3-h5py)")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import models  # noqa: E402
import safetensors_np  # noqa: E402

SR_FORWARD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build", "tools", "sr_forward")
TMP = tempfile.mkdtemp(prefix="srforge_convert_")
failures = []


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def check(name, spec, model, checkpoint_path, convert_args, shape, strict=True):
    """Converts checkpoint_path, runs sr_forward on a random input, compares with model(input).
    strict=False for a network built only part of the way (VGG19 features up to a layer)."""
    converted = os.path.join(TMP, name + ".safetensors")
    run([sys.executable, os.path.join(HERE, "isr_to_safetensors.py"), checkpoint_path, converted] + convert_args)
    x = torch.rand(shape)
    io = os.path.join(TMP, name + "_io.safetensors")
    out = os.path.join(TMP, name + "_out.safetensors")
    safetensors_np.save(io, {"input": x.numpy()})
    run([SR_FORWARD, "--model", spec, "--weights", converted, "--input", io, "--output", out] + ([] if strict else ["--non-strict"]))
    got = safetensors_np.load(out)["output"]
    model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    err = float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-6)
    status = "ok" if err < 1e-5 else "FAIL"
    print(f"{status:4} {name:32} {spec:58} relative error {err:.1e}")
    if status != "ok":
        failures.append(name)


# PyTorch checkpoints need no converter: core/pth.cpp reads them (tests/test_pth.cpp, test_detect.cpp).

# idealo ISR Keras weights, written in the layout of Keras' save_weights.
def save_keras(path, layers):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in ["LR"] + list(layers)]
        f.create_group("LR").attrs["weight_names"] = []
        for name, conv in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            g.create_dataset(f"{name}/kernel:0", data=conv.weight.detach().numpy().transpose(2, 3, 1, 0))
            g.create_dataset(f"{name}/bias:0", data=conv.bias.detach().numpy())


spec = "rdn:variant=isr,scale=2,D=2,C=3,G=4,G0=8"
m = models.build(spec)
layers = {"F_m1": m.SFENet1, "F_0": m.SFENet2}
for d, rdb in enumerate(m.RDBs, 1):
    for c, rc in enumerate(rdb.convs, 1):
        layers[f"F_{d}_{c}"] = rc.conv[0]
    layers[f"LFF_{d}"] = rdb.LFF
layers.update({"GFF_1": m.GFF[0], "GFF_2": m.GFF[1], "UPN1": m.UPN1, "UPN2": m.UPN2, "UPN3": m.UPN3, "SR": m.SR})
path = os.path.join(TMP, "isr_rdn.hdf5")
save_keras(path, layers)
check("isr_rdn_hdf5", spec, m, path, [], (1, 3, 5, 6))

spec = "rrdn:C=2,D=2,G=4,G0=8,T=2,x=4"
m = models.build(spec)
path = os.path.join(TMP, "isr_rrdn.hdf5")
save_keras(path, {n: mod for n, mod in m.named_children()})
check("isr_rrdn_hdf5", spec, m, path, [], (1, 3, 4, 4))

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("all converters ok")
