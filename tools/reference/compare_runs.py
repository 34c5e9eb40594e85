#!/usr/bin/python3
"""Puts two runs' metrics.csv side by side: a train_sr run folder and the PyTorch re-run of it
(tools/reference/train_reference.py), as Markdown tables for docs/RESULTS.md.

Run:  /usr/bin/python3 tools/reference/compare_runs.py runs/demo_edsr_x2 /tmp/demo_torch [--every 100]
"""
import argparse
import csv
import os


def read(folder):
    with open(os.path.join(folder, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    losses = {int(r["iter"]): float(r["loss"]) for r in rows if r["loss"]}
    vals = {int(r["iter"]): (float(r["psnr_y"]), float(r["ssim_y"]), float(r["time_s"])) for r in rows if r["psnr_y"]}
    return losses, vals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("srforge")
    parser.add_argument("torch")
    parser.add_argument("--every", type=int, default=100, help="loss rows at multiples of this")
    args = parser.parse_args()
    (la, va), (lb, vb) = read(args.srforge), read(args.torch)
    print("| iteration | PSNR-Y srforge (dB) | PSNR-Y PyTorch (dB) | SSIM-Y srforge | SSIM-Y PyTorch |")
    print("|---|---|---|---|---|")
    for it in sorted(set(va) & set(vb)):
        print(f"| {it} | {va[it][0]:.4f} | {vb[it][0]:.4f} | {va[it][1]:.4f} | {vb[it][1]:.4f} |")
    print()
    print("| iteration | loss srforge (interval mean) | loss PyTorch | relative difference |")
    print("|---|---|---|---|")
    for it in sorted(set(la) & set(lb)):
        if it % args.every == 0:
            print(f"| {it} | {la[it]:.6f} | {lb[it]:.6f} | {abs(la[it] - lb[it]) / lb[it]:.2e} |")


if __name__ == "__main__":
    main()
