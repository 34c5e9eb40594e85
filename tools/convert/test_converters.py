#!/usr/bin/python3
"""End-to-end check of the converters: builds checkpoints in the formats people download (BasicSR
params/params_ema with "module." prefixes, Lornatang's state_dict with BatchNorm counters, the
original ESRGAN names, EDSR-PyTorch's names, torchvision's vgg19, idealo ISR's Keras .hdf5 for RDN
and RRDN), converts them, runs them with build/tools/sr_forward and compares with PyTorch.

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
    script = "isr_to_safetensors.py" if checkpoint_path.endswith(".hdf5") else "pytorch_to_safetensors.py"
    run([sys.executable, os.path.join(HERE, script), checkpoint_path, converted] + convert_args)
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


def randomize(model):
    torch.manual_seed(3)
    with torch.no_grad():
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    return model


# 1. BasicSR RRDBNet checkpoint: {"params": ..., "params_ema": ...}, keys with "module." (params_ema is taken).
spec = "rrdbnet:num_feat=8,num_block=2,num_grow_ch=4,scale=2"
m = models.build(spec)
decoy = {k: torch.zeros_like(v) for k, v in m.state_dict().items()}
path = os.path.join(TMP, "basicsr.pth")
torch.save({"params": decoy, "params_ema": {"module." + k: v for k, v in m.state_dict().items()}}, path)
check("basicsr_params_ema", spec, m, path, [], (1, 3, 8, 6))

# 2. Lornatang SRGAN-PyTorch: {"state_dict": ..., "epoch": ...} with BatchNorm num_batches_tracked.
spec = "srresnet:channels=8,num_rcb=2,upscale_factor=4"
m = randomize(models.build(spec))
path = os.path.join(TMP, "lornatang.pth.tar")
torch.save({"epoch": 3, "state_dict": m.state_dict()}, path)
check("lornatang_state_dict", spec, m, path, [], (1, 3, 5, 4))

# 3. The original ESRGAN names.
spec = "rrdbnet:num_feat=8,num_block=2,num_grow_ch=4,scale=4"
m = models.build(spec)
old = {}
for k, v in m.state_dict().items():
    k = k.replace("conv_body.", "trunk_conv.").replace("conv_up1.", "upconv1.").replace("conv_up2.", "upconv2.").replace("conv_hr.", "HRconv.")
    if k.startswith("body."):
        _, i, rdb, rest = k.split(".", 3)
        k = f"RRDB_trunk.{i}.RDB{rdb[-1]}.{rest}"
    old[k] = v
path = os.path.join(TMP, "esrgan_old.pth")
torch.save(old, path)
check("esrgan_old_names", spec, m, path, ["--from", "esrgan"], (1, 3, 4, 5))

# 4. EDSR-PyTorch's EDSR names (with its MeanShift layers, which are dropped).
spec = "edsr:num_feat=8,num_block=2,upscale=4"
m = models.build(spec)
edsr = {}
for k, v in m.state_dict().items():
    if k.startswith("conv_first."):
        k = "head.0." + k[len("conv_first."):]
    elif k.startswith("conv_after_body."):
        k = "body.2." + k[len("conv_after_body."):]
    elif k.startswith("body."):
        _, i, c, rest = k.split(".", 3)
        k = f"body.{i}.body.{0 if c == 'conv1' else 2}.{rest}"
    elif k.startswith("upsample."):
        k = "tail.0." + k[len("upsample."):]
    elif k.startswith("conv_last."):
        k = "tail.1." + k[len("conv_last."):]
    edsr[k] = v
edsr["sub_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
edsr["sub_mean.bias"] = torch.zeros(3)
path = os.path.join(TMP, "edsr_pytorch.pt")
torch.save(edsr, path)
check("edsr_pytorch_names", spec, m, path, ["--from", "edsr-pytorch"], (1, 3, 4, 4))

# 5. torchvision vgg19 (features + classifier); a model that stops at relu2_1 skips the rest (--non-strict).
spec = "vgg19:layer_name_list=relu2_1"
m = models.build(spec)
full = {("features." + k.split(".", 1)[1]): v for k, v in m.state_dict().items()}
full["features.7.weight"] = torch.zeros(128, 128, 3, 3)  # deeper layers the model does not have
full["classifier.0.weight"] = torch.zeros(4, 4)
path = os.path.join(TMP, "vgg19.pth")
torch.save(full, path)
check("torchvision_vgg19", spec, m, path, ["--from", "torchvision-vgg19"], (1, 3, 10, 12), strict=False)


# 6./7. idealo ISR Keras weights, written in the layout of Keras' save_weights.
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
