#!/usr/bin/python3
"""PyTorch's side of sr_bench: the same rows, timed the same way (median of --repeat runs after
--warmup runs, FLOPs = 2 x multiply-adds of the GEMMs/convolutions, a training step counting 3 x
its forward convolutions), printed as the same JSON lines.

Needs Debian's python3-torch: run with /usr/bin/python3 (the python3 first on PATH may be
another interpreter without torch).  Usually run through tools/bench/compare.sh.
With --device cuda (PyTorch eager with cuDNN; exact FP32, no TF32, as sr_bench's default) the rows
of sr_bench --device cuda: the clock reads after torch.cuda.synchronize(), and each row also gives
images/s and the peak of torch.cuda.max_memory_allocated().
With --precision bf16 every warm-up and timed run is under torch.autocast(dtype=torch.bfloat16)
(convolutions and matrix products on bfloat16 operands, float weights), as sr_bench --precision
bf16 compares with.
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("bench_torch.py needs PyTorch: run it with /usr/bin/python3 (Debian python3-torch)")


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import transformers  # noqa: E402  (tools/reference: SwinIR as srforge's models/ builds it)

# sr_bench's kSwinIRLight.
SWINIR_LIGHT = dict(upscale=4, img_size=64, window_size=8, embed_dim=60, depths=[6] * 4, num_heads=[6] * 4, mlp_ratio=2,
                    upsampler="pixelshuffledirect", drop_path_rate=0.0)
# sr_bench's kDrct.
DRCT = dict(upscale=4, img_size=64, window_size=16, embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, mlp_ratio=2,
            drop_path_rate=0.0)


class Counter:
    """Counts forward FLOPs with hooks on the first call: convolutions, linear layers and window
    attention's two products, as srforge's FlopCounter."""

    def __init__(self, model):
        self.flops = 0
        kinds = (nn.Conv2d, nn.Linear, transformers.WindowAttention)
        self.handles = [m.register_forward_hook(self.hook) for m in model.modules() if isinstance(m, kinds)]

    def hook(self, m, inputs, out):
        x = inputs[0]
        if isinstance(m, nn.Linear):
            self.flops += 2 * x.numel() * m.out_features
        elif isinstance(m, transformers.WindowAttention):
            self.flops += 4 * x.shape[0] * x.shape[1] * x.shape[1] * x.shape[2]
        else:
            self.flops += 2 * x.shape[0] * m.out_channels * out.shape[2] * out.shape[3] * m.in_channels * m.kernel_size[0] * m.kernel_size[1]

    def remove(self):
        for h in self.handles:
            h.remove()


def conv(i, o, k=3):
    return nn.Conv2d(i, o, k, padding=k // 2)


class EDSR(nn.Module):  # BasicSR EDSR, as tools/bench_nets.h
    def __init__(self, feat=64, blocks=16, scale=4):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1))  # moves with .to()
        self.conv_first = conv(3, feat)
        self.body = nn.ModuleList(nn.ModuleList([conv(feat, feat), conv(feat, feat)]) for _ in range(blocks))
        self.conv_after_body = conv(feat, feat)
        self.up = nn.ModuleList(conv(feat, 4 * feat) for _ in range(int(math.log2(scale))))
        self.conv_last = conv(feat, 3)

    def forward(self, x):
        h = self.conv_first((x - self.mean) * 255.0)
        res = h
        for c1, c2 in self.body:
            res = res + c2(F.relu(c1(res)))
        res = self.conv_after_body(res) + h
        for c in self.up:
            res = F.pixel_shuffle(c(res), 2)
        return self.conv_last(res) / 255.0 + self.mean


class RDB(nn.Module):
    def __init__(self, G0, G, C):
        super().__init__()
        self.convs = nn.ModuleList(conv(G0 + c * G, G) for c in range(C))
        self.lff = conv(G0 + C * G, G0, 1)

    def forward(self, x):
        feats = [x]
        for c in self.convs:
            feats.append(F.relu(c(torch.cat(feats, 1))))
        return self.lff(torch.cat(feats, 1)) + x


class RDN(nn.Module):  # EDSR-PyTorch RDN, scale 2
    def __init__(self, G0=32, D=4, C=4, G=32):
        super().__init__()
        self.sfe1, self.sfe2 = conv(3, G0), conv(G0, G0)
        self.rdbs = nn.ModuleList(RDB(G0, G, C) for _ in range(D))
        self.gff = nn.Sequential(conv(D * G0, G0, 1), conv(G0, G0))
        self.up, self.last = conv(G0, G * 4), conv(G, 3)

    def forward(self, x):
        f1 = self.sfe1(x)
        h = self.sfe2(f1)
        outs = []
        for r in self.rdbs:
            h = r(h)
            outs.append(h)
        h = self.gff(torch.cat(outs, 1)) + f1
        return self.last(F.pixel_shuffle(self.up(h), 2))


class ESRGAN_RDB(nn.Module):
    def __init__(self, feat, grow):
        super().__init__()
        self.convs = nn.ModuleList(conv(feat + i * grow, grow) for i in range(4))
        self.conv5 = conv(feat + 4 * grow, feat)

    def forward(self, x):
        feats = [x]
        for c in self.convs:
            feats.append(F.leaky_relu(c(torch.cat(feats, 1)), 0.2))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDBNet(nn.Module):  # BasicSR RRDBNet, scale 4
    def __init__(self, feat=64, blocks=23, grow=32):
        super().__init__()
        self.conv_first = conv(3, feat)
        self.body = nn.ModuleList(nn.ModuleList(ESRGAN_RDB(feat, grow) for _ in range(3)) for _ in range(blocks))
        self.conv_body, self.conv_up1, self.conv_up2 = conv(feat, feat), conv(feat, feat), conv(feat, feat)
        self.conv_hr, self.conv_last = conv(feat, feat), conv(feat, 3)

    def forward(self, x):
        feat = self.conv_first(x)
        h = feat
        for rrdb in self.body:
            inp = h
            for rdb in rrdb:
                h = rdb(h)
            h = h * 0.2 + inp
        h = self.conv_body(h) + feat
        h = F.leaky_relu(self.conv_up1(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
        h = F.leaky_relu(self.conv_up2(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(h), 0.2))


def benchmarks(dev):
    rows = []
    rand = lambda *shape: torch.rand(*shape, device=dev)  # noqa: E731
    for n in (1024, 2048):
        def setup(n=n):
            a, b = rand(n, n) * 2 - 1, rand(n, n) * 2 - 1
            return 2.0 * n ** 3, lambda: torch.mm(a, b)
        rows.append((f"sgemm_{n}", setup))

    def conv_fwd():
        x, w, b = rand(1, 64, 128, 128) * 2 - 1, rand(64, 64, 3, 3) * 0.1 - 0.05, rand(64) * 0.1 - 0.05

        def run():
            with torch.no_grad():
                F.conv2d(x, w, b, padding=1)
        return 2.0 * 64 * 64 * 9 * 128 * 128, run
    rows.append(("conv3x3_64_fwd", conv_fwd))

    def conv_bwd():
        x = (rand(1, 64, 128, 128) * 2 - 1).requires_grad_()
        w = (rand(64, 64, 3, 3) * 0.1 - 0.05).requires_grad_()
        b = (rand(64) * 0.1 - 0.05).requires_grad_()
        g = rand(1, 64, 128, 128) * 2 - 1
        graph = {}

        def before_each():  # a fresh forward graph for each timed backward
            for t in (x, w, b):
                t.grad = None
            graph["y"] = F.conv2d(x, w, b, padding=1)

        def run():
            graph["y"].backward(g)
        return 2 * 2.0 * 64 * 64 * 9 * 128 * 128, run, before_each
    rows.append(("conv3x3_64_bwd", conv_bwd))

    train_rows = [("edsr_baseline_x4_train", lambda: EDSR(64, 16, 4), 16, 48, 4),
                  ("rdn_tiny_x2_train", lambda: RDN(32, 4, 4, 32), 8, 24, 2),
                  ("rrdbnet_x4_train", lambda: RRDBNet(64, 23, 32), 4, 32, 4),
                  ("swinir_light_x4_train", lambda: transformers.SwinIR(**SWINIR_LIGHT), 4, 32, 4),
                  ("drct_x4_train", lambda: transformers.DRCT(**DRCT), 1, 32, 4)]
    if dev.type == "cuda":  # the papers' networks with their published batch and LR patch sizes
        train_rows += [("rdn_x2_paper_train", lambda: RDN(64, 16, 8, 64), 16, 32, 2),
                       ("rrdbnet_x4_paper_train", lambda: RRDBNet(64, 23, 32), 16, 32, 4)]
    for name, make, batch, patch, scale in train_rows:
        def setup(make=make, batch=batch, patch=patch, scale=scale):
            model = make().to(dev)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
            lr, hr = rand(batch, 3, patch, patch), rand(batch, 3, patch * scale, patch * scale)
            counter = Counter(model)
            with torch.no_grad():
                model(lr)
            counter.remove()

            def step():
                opt.zero_grad()
                F.l1_loss(model(lr), hr).backward()
                opt.step()
            return 3 * counter.flops, step, (lambda: None), batch
        rows.append((name, setup))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores, as srforge)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: under torch.autocast(bfloat16)")
    args = ap.parse_args()
    bf16 = args.precision == "bf16"
    precision = (lambda: torch.autocast(args.device, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    dev = torch.device(args.device)
    gpu = dev.type == "cuda"
    if gpu:
        if not torch.cuda.is_available():
            sys.exit("bench_torch.py: --device cuda, but this PyTorch sees no GPU")
        torch.backends.cuda.matmul.allow_tf32 = False  # exact FP32, as srforge's default
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # algorithms found once per shape, as srforge
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    if args.repeat < 5:
        sys.exit("--repeat must be at least 5")
    torch.set_num_threads(args.threads)  # Debian's build defaults to one thread
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    header = {"machine": "pytorch " + torch.__version__, "threads": threads, "mkldnn": torch.backends.mkldnn.is_available(),
              "precision": args.precision}
    if gpu:
        header.update(device=torch.cuda.get_device_name(dev), cudnn=torch.backends.cudnn.version())
    print(json.dumps(header), flush=True)
    for name, setup in benchmarks(dev):
        if args.only not in name:
            continue
        flops, run, *rest = setup()
        before_each = rest[0] if rest else (lambda: None)
        images = rest[1] if len(rest) > 1 else 0
        for _ in range(args.warmup):
            with precision():
                before_each()
                run()
        sync()
        if gpu:
            torch.cuda.reset_peak_memory_stats(dev)
        times = []
        for _ in range(args.repeat):
            with precision():
                before_each()
                sync()
                t0 = time.perf_counter()
                run()
                sync()
            times.append((time.perf_counter() - t0) * 1e3)
        median = statistics.median(times)
        row = {"name": name, "median_ms": round(median, 3), "gflops": round(flops / (median * 1e-3) / 1e9, 2), "threads": threads}
        if gpu:
            row.update(images_per_s=round(images / (median * 1e-3), 1) if images else 0,
                       peak_mib=round(torch.cuda.max_memory_allocated(dev) / 1048576, 1))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
