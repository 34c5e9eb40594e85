#!/usr/bin/python3
"""The same training run as train_sr, in PyTorch: for comparing learning curves (docs/RESULTS.md).

Given a train_sr run folder, it reads the options the run used (RUN/config.yaml) and the weights
it started from (RUN/net_g_init.safetensors), and trains the PyTorch definition of the same network
(tools/reference/models.py) with:
  - the very same batches: train/data.cpp's crops, flips and rotations, drawn from the same
    Philox4x32-10 words (key = seed, counter = (draw k, iteration)), re-implemented here in numpy;
  - torch.optim.Adam / AdamW, BasicSR's MultiStepLR / CosineAnnealingRestartLR and warm-up (the
    formulas of train/schedule.cpp), the EMA and gradient clipping when the run used them;
  - validation on the same whole images, scored with the numpy metrics of BasicSR's definitions
    (tools/reference/make_metric_fixtures.py), against the same bicubic baseline.
It writes OUT/metrics.csv in train_sr's format (iter,loss,lr,psnr_y,ssim_y,psnr_rgb,time_s), so
`tools/reference/compare_runs.py RUN OUT` can put the two curves side by side.

Needs Debian's python3-torch, python3-numpy and python3-yaml; CPU only.

Run:  /usr/bin/python3 tools/reference/train_reference.py runs/demo_edsr_x2 /tmp/demo_torch [--threads 2]
"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import torch
    import torch.nn.functional as F
    import yaml
except ImportError as e:
    sys.exit(f"train_reference.py needs Debian's python3-torch and python3-yaml ({e}); run it with /usr/bin/python3")

import make_metric_fixtures as metrics  # noqa: E402  (imresize, psnr_y, ssim_y, psnr_rgb)
import models  # noqa: E402
import png_np  # noqa: E402
import safetensors_np  # noqa: E402

MASK = 0xFFFFFFFF


# ---- the batches of train/data.cpp ------------------------------------------------------------------

def philox_first_word(seed, call, counters):
    """Word 0 of Philox4x32-10 for counters (i, call) under key seed: core/rng.h random_words."""
    i = counters.astype(np.uint64)
    c0, c1 = i & MASK, i >> np.uint64(32)
    c2 = np.full_like(c0, call & MASK)
    c3 = np.full_like(c0, (call >> 32) & MASK)
    k0, k1 = np.uint64(seed & MASK), np.uint64((seed >> 32) & MASK)
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    for _ in range(10):
        p0, p1 = m0 * c0, m1 * c2  # 32 x 32 -> 64 bits, exact in uint64
        hi0, lo0 = p0 >> np.uint64(32), p0 & np.uint64(MASK)
        hi1, lo1 = p1 >> np.uint64(32), p1 & np.uint64(MASK)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = np.uint64((int(k0) + 0x9E3779B9) & MASK)
        k1 = np.uint64((int(k1) + 0xBB67AE85) & MASK)
    return c0.astype(np.int64)


def patch(src, y0, x0, n, hflip, vflip, transpose):
    """train/data.cpp's crop: dst[i, j] = src[y0 + r, x0 + q] with r, q from the flips, in BasicSR's order."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r, q = (j, i) if transpose else (i, j)
    if vflip:
        r = n - 1 - r
    if hflip:
        q = n - 1 - q
    return src[:, y0 + r, x0 + q]


def make_batch(images, opt, iteration):
    b, p, s = opt["batch"], opt["patch"], opt["scale"]
    words = philox_first_word(opt["seed"], iteration, np.arange(8 * b))
    scale = np.float32(1.0 / 255.0)
    lrs, hrs = [], []
    for k in range(0, 8 * b, 8):
        lr8, hr8 = images[words[k] % len(images)]
        h, w = lr8.shape[1:]
        y, x = words[k + 1] % (h - p + 1), words[k + 2] % (w - p + 1)
        hflip = opt["hflip"] and bool(words[k + 3] & 1)
        vflip = opt["rotation"] and bool(words[k + 4] & 1)
        transpose = opt["rotation"] and bool(words[k + 5] & 1)
        lrs.append(patch(lr8, y, x, p, hflip, vflip, transpose).astype(np.float32) * scale)
        hrs.append(patch(hr8, y * s, x * s, p * s, hflip, vflip, transpose).astype(np.float32) * scale)
    return torch.from_numpy(np.stack(lrs)), torch.from_numpy(np.stack(hrs))


# ---- data, schedule, loss ------------------------------------------------------------------------------

def split_pairs(root, split, scale):
    """(name, HR uint8 [3, H, W], LR uint8 [3, h, w]) in train/pairs.cpp's order, DIV2K layout."""
    splits = ["train", "valid"] if split == "all" else [split]
    out = []
    for sp in splits:
        hr_dir = os.path.join(root, f"DIV2K_{sp}_HR")
        lr_dir = os.path.join(root, f"DIV2K_{sp}_LR_bicubic", f"X{scale}")
        for name in sorted(os.listdir(hr_dir)):
            stem, ext = os.path.splitext(name)
            hr = png_np.read_png(os.path.join(hr_dir, name))[..., :3].transpose(2, 0, 1)
            lr = png_np.read_png(os.path.join(lr_dir, f"{stem}x{scale}{ext}"))[..., :3].transpose(2, 0, 1)
            out.append((name, hr, lr))
    return out


def learning_rate(o, it):
    lr = o["lr"]
    if o["scheduler"] == "MultiStepLR":
        lr *= o["gamma"] ** sum(1 for m in o["milestones"] if it >= m)
    elif o["scheduler"] == "CosineAnnealingRestartLR":
        start, k, periods = 0, 0, o["periods"]
        while k + 1 < len(periods) and it > start + periods[k]:
            start += periods[k]
            k += 1
        weight = o["restart_weights"][k] if k < len(o["restart_weights"]) else 1.0
        t = min(max(it - start, 0), periods[k])
        lr = o["eta_min"] + weight * (o["lr"] - o["eta_min"]) * 0.5 * (1 + math.cos(math.pi * t / periods[k]))
    if o["warmup"] > 0 and it < o["warmup"]:
        lr = o["lr"] * it / o["warmup"]
    return lr


def pixel_loss(spec, sr, hr):
    total = 0
    for term in spec.split("+"):
        kind, _, weight = term.partition(":")
        weight = float(weight) if weight else 1.0
        if kind == "l1":
            value = F.l1_loss(sr, hr)
        elif kind == "mse":
            value = F.mse_loss(sr, hr)
        elif kind == "charbonnier":
            value = torch.sqrt((sr - hr) ** 2 + 1e-12).mean()
        else:
            sys.exit(f"train_reference.py: loss term '{kind}' is not implemented here")
        total = total + weight * value
    return total


NETWORK_NAMES = {"EDSR": "edsr", "RDN": "rdn", "RRDN": "rrdn", "RRDBNet": "rrdbnet", "MSRResNet": "msrresnet",
                 "SRResNet": "srresnet"}
PIXEL_LOSSES = {"L1Loss": "l1", "MSELoss": "mse", "CharbonnierLoss": "charbonnier"}


def spec_from_network(n):
    """network_g: {type: EDSR, num_feat: 64, rgb_mean: [...]} -> 'edsr:num_feat=64,rgb_mean=a/b/c' (train/options.cpp)."""
    if isinstance(n, str):
        return n
    text = lambda v: "[" + ",".join(str(x) for x in v) + "]" if isinstance(v, list) else ("true" if v is True else "false" if v is False else str(v))
    args = ",".join(f"{k}={text(v)}" for k, v in n.items() if k != "type")
    return NETWORK_NAMES.get(n["type"], n["type"].lower()) + ":" + args


def loss_spec(p):
    if isinstance(p, str):
        return p
    return f"{PIXEL_LOSSES[p.get('type', 'L1Loss')]}:{float(p.get('loss_weight', 1.0))}"


def dataset_root(d, split):
    """A DIV2K-layout root and split from srforge's dataroot, or from a PairedImageDataset's DIV2K_{split}_HR folder."""
    if "dataroot" in d:
        return d["dataroot"], d.get("split", split)
    gt = os.path.normpath(d["dataroot_gt"])
    name = os.path.basename(gt)
    if not (name.startswith("DIV2K_") and name.endswith("_HR")):
        sys.exit(f"train_reference.py: needs DIV2K's layout, got dataroot_gt '{gt}'")
    return os.path.dirname(gt), name[len("DIV2K_"):-len("_HR")]


def options(config):
    """The options of a run from its config.yaml (BasicSR's layout, as train_sr writes it)."""
    c = yaml.safe_load(open(config))
    tr, ds, sched = c["train"], c["datasets"], c["train"]["scheduler"]
    num = lambda v: float(v)  # PyYAML reads 1e-06 (no '.') as a string
    train_root, train_split = dataset_root(ds["train"], "train")
    val = ds.get("val", {"dataroot": train_root, "split": "valid"})
    val_root, val_split = dataset_root(val, "valid")
    return {
        "model": spec_from_network(c["network_g"]), "scale": int(c["scale"]), "seed": int(c["manual_seed"]),
        "data": train_root, "train_split": train_split, "val_data": val_root, "val_split": val_split,
        "val_images": int(val.get("max_images", 0)),
        "patch": int(ds["train"]["gt_size"]) // int(c["scale"]), "batch": int(ds["train"]["batch_size_per_gpu"]),
        "hflip": bool(ds["train"].get("use_hflip", True)), "rotation": bool(ds["train"].get("use_rot", True)),
        "total_iter": int(tr["total_iter"]), "warmup": int(tr.get("warmup_iter", 0)), "ema": num(tr.get("ema_decay", 0)),
        "grad_clip": num(tr.get("grad_clip", 0)), "optimizer": tr["optim_g"]["type"], "lr": num(tr["optim_g"]["lr"]),
        "weight_decay": num(tr["optim_g"].get("weight_decay", 0)), "betas": [num(b) for b in tr["optim_g"]["betas"]],
        "scheduler": sched["type"], "milestones": [int(m) for m in sched.get("milestones", [])],
        "gamma": num(sched.get("gamma", 0.5)), "periods": [int(p) for p in sched.get("periods", [])],
        "restart_weights": [num(w) for w in sched.get("restart_weights", [])], "eta_min": num(sched.get("eta_min", 0)),
        "loss": loss_spec(tr["pixel_opt"]), "val_freq": int(c["val"]["val_freq"]), "print_freq": int(c["logger"]["print_freq"]),
    }


# ---- the run ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a train_sr run folder (config.yaml, net_g_init.safetensors)")
    parser.add_argument("out", help="folder for metrics.csv and net_g_latest.safetensors")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--iters", type=int, default=0, help="stop early (0: the run's total_iter)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    o = options(os.path.join(args.run, "config.yaml"))
    total = args.iters or o["total_iter"]
    os.makedirs(args.out, exist_ok=True)

    net = models.build(o["model"])
    init = safetensors_np.load(os.path.join(args.run, "net_g_init.safetensors"))
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in init.items()})
    net.train()
    ema = [p.detach().clone() for p in net.state_dict().values()] if o["ema"] > 0 else None

    train_images = [(lr, hr) for _, hr, lr in split_pairs(o["data"], o["train_split"], o["scale"])]
    val = split_pairs(o["val_data"], o["val_split"], o["scale"])
    if o["val_images"] > 0:
        val = val[:o["val_images"]]
    val = [(name, hr.astype(np.float64) / 255, lr.astype(np.float64) / 255) for name, hr, lr in val]
    s = o["scale"]
    bicubic = np.mean([metrics.psnr_y(metrics.imresize(lr, s), hr, s) for _, hr, lr in val])
    print(f"{len(train_images)} training images, {len(val)} validation images; bicubic PSNR-Y {bicubic:.4f} dB")

    cls = torch.optim.AdamW if o["optimizer"] == "AdamW" else torch.optim.Adam
    opt = cls(net.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=1e-8, weight_decay=o["weight_decay"])
    rows, start, interval = [], time.time(), []

    def validate(it):
        model = net
        if ema is not None:
            model = models.build(o["model"])
            model.load_state_dict(dict(zip(net.state_dict().keys(), ema)))
        model.eval()
        scores = []
        with torch.no_grad():
            for _, hr, lr in val:
                x = torch.from_numpy(lr.astype(np.float32))[None]
                sr = model(x)[0].double().numpy()
                scores.append((metrics.psnr_y(sr, hr, s), metrics.ssim_y(sr, hr, s), metrics.psnr_rgb(sr, hr, s)))
        net.train()
        m = np.mean(scores, axis=0)
        rows.append([it, "", f"{learning_rate(o, it):.9f}", f"{m[0]:.4f}", f"{m[1]:.5f}", f"{m[2]:.4f}", f"{time.time() - start:.1f}"])
        print(f"iter {it}: PSNR-Y {m[0]:.4f} dB (bicubic {bicubic:.4f}), SSIM-Y {m[1]:.5f}", flush=True)

    for it in range(1, total + 1):
        lr_now = learning_rate(o, it)
        for g in opt.param_groups:
            g["lr"] = lr_now
        x, y = make_batch(train_images, o, it)
        opt.zero_grad()
        loss = pixel_loss(o["loss"], net(x), y)
        loss.backward()
        if o["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), o["grad_clip"])
        opt.step()
        if ema is not None:
            with torch.no_grad():
                params = {n for n, _ in net.named_parameters()}
                for e, (n, v) in zip(ema, net.state_dict().items()):
                    e.copy_(e * o["ema"] + v * (1 - o["ema"]) if n in params else v)
        interval.append(loss.item())
        if not math.isfinite(interval[-1]):
            sys.exit(f"train_reference.py: the loss is {interval[-1]} at iteration {it}")
        if it % o["print_freq"] == 0 or it == total:
            rows.append([it, f"{np.mean(interval):.6f}", f"{lr_now:.9f}", "", "", "", f"{time.time() - start:.1f}"])
            print(f"iter {it}/{total} loss {np.mean(interval):.5f} lr {lr_now:.2e} {it / (time.time() - start):.2f} it/s", flush=True)
            interval = []
        if it % o["val_freq"] == 0 or it == total:
            validate(it)

    with open(os.path.join(args.out, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iter", "loss", "lr", "psnr_y", "ssim_y", "psnr_rgb", "time_s"])
        w.writerows(rows)
    safetensors_np.save(os.path.join(args.out, "net_g_latest.safetensors"),
                        {k: v.detach().numpy() for k, v in net.state_dict().items()}, {"model": o["model"]})
    print(f"wrote {args.out}/metrics.csv")


if __name__ == "__main__":
    main()
