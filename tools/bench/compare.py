#!/usr/bin/env python3
"""Joins sr_bench --json and bench_torch.py output (JSON lines files) into one table: per row the
two medians, GFLOP/s, and the ratio srforge / PyTorch (time; below 1 means srforge is faster).
Standard library only."""
import json
import sys


def load(path):
    header, rows = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            if "name" in d:
                rows[d["name"]] = d
            else:
                header = d
    return header, rows


def main(ours_path, torch_path, extra_path=None):
    ours_h, ours = load(ours_path)
    torch_h, theirs = load(torch_path)
    print(f"machine: {ours_h.get('machine', '?')}, {ours_h.get('threads', '?')} threads, srforge GEMM kernel "
          f"{ours_h.get('kernel', '?')}, measured fp32 peak {ours_h.get('peak_gflops', 0):.1f} GFLOP/s")
    print(f"baseline: {torch_h.get('machine', '?')}, {torch_h.get('threads', '?')} threads")
    print()
    print(f"| {'benchmark':<24} | {'srforge ms':>11} | {'GFLOP/s':>8} | {'PyTorch ms':>11} | {'GFLOP/s':>8} | {'ratio':>6} |")
    print(f"|{'-' * 26}|{'-' * 13}|{'-' * 10}|{'-' * 13}|{'-' * 10}|{'-' * 8}|")
    for name, r in ours.items():
        t = theirs.get(name)
        if t:
            print(f"| {name:<24} | {r['median_ms']:>11.2f} | {r['gflops']:>8.1f} | {t['median_ms']:>11.2f} | "
                  f"{t['gflops']:>8.1f} | {r['median_ms'] / t['median_ms']:>6.2f} |")
        else:
            print(f"| {name:<24} | {r['median_ms']:>11.2f} | {r['gflops']:>8.1f} | {'-':>11} | {'-':>8} | {'-':>6} |")
    print()
    print("ratio = srforge median / PyTorch median (time): below 1.00 srforge is faster.")
    if extra_path:
        blas_h, blas = load(extra_path)
        print()
        print(f"GEMM yardstick: {blas_h.get('machine', '?')}, {blas_h.get('threads', '?')} threads")
        print()
        print(f"| {'benchmark':<24} | {'srforge GFLOP/s':>15} | {'OpenBLAS GFLOP/s':>16} | {'srforge / OpenBLAS':>18} |")
        print(f"|{'-' * 26}|{'-' * 17}|{'-' * 18}|{'-' * 20}|")
        for name, e in blas.items():
            r = ours.get(name)
            if r:
                print(f"| {name:<24} | {r['gflops']:>15.1f} | {e['gflops']:>16.1f} | {r['gflops'] / e['gflops']:>18.2f} |")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: compare.py SRFORGE.jsonl TORCH.jsonl [OPENBLAS.jsonl]")
    main(*sys.argv[1:])
