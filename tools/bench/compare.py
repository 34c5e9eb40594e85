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
    gpu_rows = [(n, r, theirs[n]) for n, r in ours.items() if "peak_mib" in r and n in theirs]
    if gpu_rows:
        print()
        print(f"| {'benchmark':<24} | {'srforge img/s':>13} | {'PyTorch img/s':>13} | {'srforge MiB':>11} | {'PyTorch MiB':>11} | {'memory':>6} |")
        print(f"|{'-' * 26}|{'-' * 15}|{'-' * 15}|{'-' * 13}|{'-' * 13}|{'-' * 8}|")
        for n, r, t in gpu_rows:
            mem = r["peak_mib"] / t["peak_mib"] if t.get("peak_mib") else float("nan")
            print(f"| {n:<24} | {r.get('images_per_s', 0):>13.1f} | {t.get('images_per_s', 0):>13.1f} | "
                  f"{r['peak_mib']:>11.1f} | {t.get('peak_mib', 0):>11.1f} | {mem:>6.2f} |")
        print()
        print("memory = srforge peak / PyTorch peak (allocated bytes): below 1.00 srforge needs less.")
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
