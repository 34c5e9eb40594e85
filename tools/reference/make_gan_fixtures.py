#!/usr/bin/python3
"""Writes tests/fixtures/gan.safetensors: BasicSR's GAN losses (vanilla, lsgan, hinge; plain and ESRGAN's
relativistic form with BasicSR's detach pattern) and its PerceptualLoss on VGG19, with the gradients,
for tests/test_gan.cpp.  Run: /usr/bin/python3 tools/reference/make_gan_fixtures.py

ImageNet VGG19 weights cannot be downloaded here, so the VGG has "hash weights" that the C++ test
makes the same way (tests/test_gan.cpp, hash_fill): element i of conv number L (0..15) is
    u = ((i * 2654435761 + (L + 1) * 40503) mod 2^32) / 2^32,   w = (2u - 1) sqrt(6 / fan_in)
and bias j is (2u' - 1) / 100 with u' from (j * 2654435761 + (L + 1) * 7919 + 12345) mod 2^32.
The losses are written here from BasicSR's definitions (basicsr/losses/basic_loss.py, gan_loss.py,
basicsr/models/esrgan_model.py), not imported.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def hash_uniform(n, offset):
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761) + np.uint64(offset)) % np.uint64(2 ** 32)).astype(np.float64) / 2.0 ** 32


def vgg_weights():
    ws, cin = [], 3
    for c in CFG:
        if c == "M":
            continue
        L = len(ws)
        fan_in = cin * 9
        w = (2 * hash_uniform(c * cin * 9, (L + 1) * 40503) - 1) * np.sqrt(6.0 / fan_in)
        b = (2 * hash_uniform(c, (L + 1) * 7919 + 12345) - 1) / 100
        ws.append((torch.tensor(w.astype(np.float32).reshape(c, cin, 3, 3)), torch.tensor(b.astype(np.float32))))
        cin = c
    return ws


def vgg_features(x, ws, layers):
    """torchvision vgg19().features, recording convX_Y (before ReLU), reluX_Y and poolX outputs."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    out, block, conv, k = {}, 1, 1, 0
    for c in CFG:
        if c == "M":
            x = F.max_pool2d(x, 2, 2)
            out[f"pool{block}"] = x
            block, conv = block + 1, 1
            continue
        x = F.conv2d(x, ws[k][0], ws[k][1], padding=1)
        k += 1
        out[f"conv{block}_{conv}"] = x
        x = F.relu(x)
        out[f"relu{block}_{conv}"] = x
        conv += 1
    return {name: out[name] for name in layers}


def gram(f):
    n, c, h, w = f.size()
    m = f.view(n, c, h * w)
    return m.bmm(m.transpose(1, 2)) / (c * h * w)


def perceptual(x, gt, ws, layer_weights, criterion, perceptual_weight, style_weight):
    crit = {"l1": F.l1_loss, "l2": F.mse_loss}[criterion]
    fx = vgg_features(x, ws, list(layer_weights))
    fy = vgg_features(gt.detach(), ws, list(layer_weights))
    percep = sum(crit(fx[k], fy[k].detach()) * w for k, w in layer_weights.items()) * perceptual_weight
    style = sum(crit(gram(fx[k]), gram(fy[k].detach())) * w for k, w in layer_weights.items()) * style_weight
    return percep, style


def gan(x, kind, target_is_real, is_disc):
    if kind == "hinge":
        if not is_disc:
            return -x.mean()
        return F.relu(1 - x).mean() if target_is_real else F.relu(1 + x).mean()
    label = torch.full_like(x, 1.0 if target_is_real else 0.0)
    return F.binary_cross_entropy_with_logits(x, label) if kind == "vanilla" else F.mse_loss(x, label)


def main():
    gen = torch.Generator().manual_seed(11)
    out = {}
    real = (torch.rand((2, 1, 4, 5), generator=gen, dtype=torch.float64) * 6 - 3)
    fake = (torch.rand((2, 1, 4, 5), generator=gen, dtype=torch.float64) * 6 - 3)
    out["logits.real"], out["logits.fake"] = real.numpy(), fake.numpy()
    for kind in ["vanilla", "lsgan", "hinge"]:
        for target_is_real in [True, False]:
            for is_disc in [True, False]:
                x = real.clone().requires_grad_(True)
                loss = gan(x, kind, target_is_real, is_disc)
                loss.backward()
                key = f"{kind}.{'real' if target_is_real else 'fake'}.{'d' if is_disc else 'g'}"
                out[key + ".loss"] = loss.detach().numpy().reshape(1)
                out[key + ".grad"] = x.grad.numpy()
        # ESRGAN (BasicSR ESRGANModel.optimize_parameters): generator, with real logits fixed ...
        r, f = real.clone(), fake.clone().requires_grad_(True)
        l_g = (gan(r - f.mean(), kind, False, False) + gan(f - r.mean(), kind, True, False)) / 2
        l_g.backward()
        out[f"ragan.{kind}.g.loss"], out[f"ragan.{kind}.g.grad_fake"] = l_g.detach().numpy().reshape(1), f.grad.numpy()
        # ... and the discriminator, each half against the other kind's detached logits.
        r, f = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
        l_d = gan(r - f.detach().mean(), kind, True, True) * 0.5 + gan(f - r.detach().mean(), kind, False, True) * 0.5
        l_d.backward()
        out[f"ragan.{kind}.d.loss"] = l_d.detach().numpy().reshape(1)
        out[f"ragan.{kind}.d.grad_real"], out[f"ragan.{kind}.d.grad_fake"] = r.grad.numpy(), f.grad.numpy()

    ws = vgg_weights()
    x0 = torch.rand((2, 3, 32, 32), generator=gen)
    gt = torch.rand((2, 3, 32, 32), generator=gen)
    out["percep.x"], out["percep.gt"] = x0.numpy(), gt.numpy()
    cases = {
        # Real-ESRGAN's layers, L1, with a style term as well.
        "realesrgan": ({"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}, "l1", 1.0, 0.5),
        # SRGAN's VGG54 after the ReLU, MSE.
        "srgan": ({"relu5_4": 1.0}, "l2", 1.0, 0.0),
    }
    for name, (layers, crit, pw, sw) in cases.items():
        x = x0.clone().requires_grad_(True)
        percep, style = perceptual(x, gt, ws, layers, crit, pw, sw)
        (percep + style).backward()
        out[f"percep.{name}.percep"] = percep.detach().numpy().reshape(1)
        out[f"percep.{name}.style"] = torch.as_tensor(style).detach().numpy().reshape(1).astype(np.float32)
        out[f"percep.{name}.grad"] = x.grad.numpy()
    path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures",
                                         "gan.safetensors"))
    safetensors_np.save(path, out, {"generator": "tools/reference/make_gan_fixtures.py", "torch": torch.__version__})
    print("wrote", path)


if __name__ == "__main__":
    main()
