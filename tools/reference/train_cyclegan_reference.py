#!/usr/bin/python3
"""The CycleGAN recipe of a train_sr CycleGANModel run, trained in PyTorch, to compare learning
curves (docs/RESULTS.md): the networks of tools/reference/models.py (pytorch-CycleGAN-and-pix2pix's
ResnetGenerator and NLayerDiscriminator, instance norm without affine parameters), init_weights
normal 0.02, LSGAN, cycle x lambda, identity x lambda_identity, image pools, Adam with the run's
betas and LinearDecayLR, random crops with horizontal flips. The crops are PyTorch's own draws, so
the curves can be compared in distribution, not value by value (tests/test_gan.cpp checks three
steps value by value).

  /usr/bin/python3 tools/reference/train_cyclegan_reference.py runs/NAME/config.yaml OUT.csv [--iters N]

Writes OUT.csv with the mean of each loss over every print_freq iterations (train_sr's metrics.csv
columns l_g_A ... l_d_B). Needs Debian's python3-torch and python3-yaml.
"""
import argparse
import csv
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402
import png_np  # noqa: E402
from make_cyclegan_fixtures import init_normal, lsgan  # noqa: E402

NAMES = ["l_g_A", "l_g_B", "l_cycle_A", "l_cycle_B", "l_idt_A", "l_idt_B", "l_d_A", "l_d_B"]


def spec(node, names):
    args = ",".join(f"{k}={v}" for k, v in node.items() if k != "type")
    return f"{names[node['type']]}:{args}"


def load_folder(path):
    images = []
    for name in sorted(os.listdir(path)):
        if name.lower().endswith(".png"):
            x = png_np.read_png(os.path.join(path, name))[..., :3].astype(np.float32) / 255.0
            images.append(torch.from_numpy(x.transpose(2, 0, 1).copy()) * 2 - 1)
    return images


def crop(images, size, flip, rng):
    x = images[rng.randrange(len(images))]
    top, left = rng.randrange(x.shape[1] - size + 1), rng.randrange(x.shape[2] - size + 1)
    x = x[:, top:top + size, left:left + size]
    if flip and rng.random() < 0.5:
        x = x.flip(2)
    return x


class ImagePool:  # util/image_pool.py
    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, batch):
        if self.size == 0:
            return batch
        shown = []
        for image in batch.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                shown.append(image)
            elif random.random() > 0.5:
                k = random.randrange(self.size)
                shown.append(self.images[k].clone())
                self.images[k] = image
            else:
                shown.append(image)
        return torch.cat(shown, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=0, help="0: the run's total_iter")
    args = ap.parse_args()
    o = yaml.safe_load(open(args.config))
    t, data = o["train"], o["datasets"]["train"]
    torch.manual_seed(o.get("manual_seed", 0))
    rng = random.Random(o.get("manual_seed", 0))
    names = {"ResnetGenerator": "resnet_generator", "NLayerDiscriminator": "patchgan_discriminator"}
    g_spec, d_spec = spec(o["network_g"], names), spec(o["network_d"], names)
    nets = [models.build(g_spec), models.build(g_spec), models.build(d_spec), models.build(d_spec)]
    for n in nets:
        init_normal(n)
    betas = tuple(t["optim_g"]["betas"])
    opt_g = torch.optim.Adam(list(nets[0].parameters()) + list(nets[1].parameters()), lr=t["optim_g"]["lr"], betas=betas)
    opt_d = torch.optim.Adam(list(nets[2].parameters()) + list(nets[3].parameters()), lr=t["optim_d"]["lr"], betas=betas)
    sched = t["scheduler"]
    total = args.iters or t["total_iter"]
    root = data.get("dataroot")
    folder_a = data.get("dataroot_a") or os.path.join(root, "trainA")
    folder_b = data.get("dataroot_b") or os.path.join(root, "trainB")
    images_a, images_b = load_folder(folder_a), load_folder(folder_b)
    size, batch, flip = data["gt_size"], data["batch_size_per_gpu"], data.get("use_hflip", True)
    lam_a, lam_b, lam_idt = t.get("lambda_A", 10), t.get("lambda_B", 10), t.get("lambda_identity", 0.5)
    pool_a, pool_b = ImagePool(t.get("pool_size", 50)), ImagePool(t.get("pool_size", 50))
    g_a, g_b, d_a, d_b = nets
    every = o.get("logger", {}).get("print_freq", 20)
    sums, rows = np.zeros(len(NAMES)), []
    for it in range(1, total + 1):
        k = min(max(it - sched["constant_iter"], 0), sched["decay_iter"])
        for opt, base in ((opt_g, t["optim_g"]["lr"]), (opt_d, t["optim_d"]["lr"])):
            for group in opt.param_groups:
                group["lr"] = base * (1 - k / (sched["decay_iter"] + 1))
        real_a = torch.stack([crop(images_a, size, flip, rng) for _ in range(batch)])
        real_b = torch.stack([crop(images_b, size, flip, rng) for _ in range(batch)])
        fake_b, fake_a = g_a(real_a), g_b(real_b)
        rec_a, rec_b = g_b(fake_b), g_a(fake_a)
        for d in (d_a, d_b):
            d.requires_grad_(False)
        opt_g.zero_grad()
        losses = [lsgan(d_a(fake_b), True), lsgan(d_b(fake_a), True), F.l1_loss(rec_a, real_a) * lam_a, F.l1_loss(rec_b, real_b) * lam_b,
                  F.l1_loss(g_a(real_b), real_b) * lam_b * lam_idt, F.l1_loss(g_b(real_a), real_a) * lam_a * lam_idt]
        sum(losses).backward()
        opt_g.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        opt_d.zero_grad()
        loss_d_a = (lsgan(d_a(real_b), True) + lsgan(d_a(pool_b.query(fake_b)), False)) * 0.5
        loss_d_b = (lsgan(d_b(real_a), True) + lsgan(d_b(pool_a.query(fake_a)), False)) * 0.5
        (loss_d_a + loss_d_b).backward()
        opt_d.step()
        sums += [x.item() for x in losses + [loss_d_a, loss_d_b]]
        if it % every == 0:
            rows.append([it] + list(sums / every))
            sums[:] = 0
            print(f"iter {it}: " + " ".join(f"{n} {v:.4f}" for n, v in zip(NAMES, rows[-1][1:])), flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iter"] + NAMES)
        w.writerows(rows)


if __name__ == "__main__":
    main()
