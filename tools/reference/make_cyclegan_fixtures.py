#!/usr/bin/python3
"""Writes tests/fixtures/cyclegan_steps.safetensors: three training steps of CycleGAN in PyTorch,
in float64, as pytorch-CycleGAN-and-pix2pix's CycleGANModel.optimize_parameters takes them (LSGAN,
cycle weight 10, identity 0.5, Adam 2e-4 with betas (0.5, 0.999), batch 1, so the image pools of 50
are still filling and show every fake as it is), for train/cyclegan.cpp's test.

  init.{g_a,g_b,d_a,d_b}.NAME   the networks before the first step (init_weights 'normal', 0.02)
  real_a.K, real_b.K            the unpaired batches of step K (values in [-1, 1])
  loss.K                        [8]: G_A, G_B, cycle_A, cycle_B, idt_A, idt_B, D_A, D_B of step K
  final.{g_a,g_b,d_a,d_b}.NAME  the networks after the third step
metadata: the specs of the generator and the discriminator.

Needs Debian's python3-torch:  /usr/bin/python3 tools/reference/make_cyclegan_fixtures.py
"""
import itertools
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402
import safetensors_np  # noqa: E402

G_SPEC = "resnet_generator:ngf=4,n_blocks=1"
D_SPEC = "patchgan_discriminator:ndf=4,n_layers=2"


def init_normal(net, gain=0.02):
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(m.weight, 0.0, gain)
            torch.nn.init.constant_(m.bias, 0.0)


def lsgan(logits, real):
    return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))


def step(nets, opt_g, opt_d, real_a, real_b, lambda_a=10.0, lambda_b=10.0, lambda_idt=0.5):
    g_a, g_b, d_a, d_b = nets
    fake_b = g_a(real_a)
    rec_a = g_b(fake_b)
    fake_a = g_b(real_b)
    rec_b = g_a(fake_a)
    for d in (d_a, d_b):
        for p in d.parameters():
            p.requires_grad_(False)
    opt_g.zero_grad()
    idt_a = F.l1_loss(g_a(real_b), real_b) * lambda_b * lambda_idt
    idt_b = F.l1_loss(g_b(real_a), real_a) * lambda_a * lambda_idt
    loss_g_a = lsgan(d_a(fake_b), True)
    loss_g_b = lsgan(d_b(fake_a), True)
    cycle_a = F.l1_loss(rec_a, real_a) * lambda_a
    cycle_b = F.l1_loss(rec_b, real_b) * lambda_b
    (loss_g_a + loss_g_b + cycle_a + cycle_b + idt_a + idt_b).backward()
    opt_g.step()
    for d in (d_a, d_b):
        for p in d.parameters():
            p.requires_grad_(True)
    opt_d.zero_grad()
    loss_d_a = (lsgan(d_a(real_b), True) + lsgan(d_a(fake_b.detach()), False)) * 0.5  # the pool, still filling, shows fake_B
    loss_d_a.backward()
    loss_d_b = (lsgan(d_b(real_a), True) + lsgan(d_b(fake_a.detach()), False)) * 0.5
    loss_d_b.backward()
    opt_d.step()
    return [t.item() for t in (loss_g_a, loss_g_b, cycle_a, cycle_b, idt_a, idt_b, loss_d_a, loss_d_b)]


def main():
    torch.manual_seed(5)
    nets = [models.build(G_SPEC), models.build(G_SPEC), models.build(D_SPEC), models.build(D_SPEC)]
    names = ["g_a", "g_b", "d_a", "d_b"]
    out = {}
    for name, net in zip(names, nets):
        init_normal(net)
        net.double()
        for n, p in net.state_dict().items():
            out[f"init.{name}.{n}"] = p.numpy().copy()
    opt_g = torch.optim.Adam(itertools.chain(nets[0].parameters(), nets[1].parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(itertools.chain(nets[2].parameters(), nets[3].parameters()), lr=2e-4, betas=(0.5, 0.999))
    for k in range(3):
        real_a = torch.rand(1, 3, 24, 20, dtype=torch.float64) * 2 - 1
        real_b = torch.rand(1, 3, 24, 20, dtype=torch.float64) * 2 - 1
        out[f"real_a.{k}"], out[f"real_b.{k}"] = real_a.numpy(), real_b.numpy()
        out[f"loss.{k}"] = torch.tensor(step(nets, opt_g, opt_d, real_a, real_b), dtype=torch.float64).numpy()
    for name, net in zip(names, nets):
        for n, p in net.state_dict().items():
            out[f"final.{name}.{n}"] = p.numpy().copy()
    path = os.path.join(HERE, "..", "..", "tests", "fixtures", "cyclegan_steps.safetensors")
    safetensors_np.save(os.path.normpath(path), out, {"generator": G_SPEC, "discriminator": D_SPEC, "torch": torch.__version__})
    print("wrote", os.path.normpath(path), "losses of step 0:", [round(v, 6) for v in out["loss.0"]])


if __name__ == "__main__":
    main()
