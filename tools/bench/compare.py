#!/usr/bin/env python3
"""Joins sr_bench --json and bench_torch.py output (JSON lines files) into one table.

compare.sh runs the two sides in alternating rounds (srforge, PyTorch, srforge, PyTorch, ...), one
file per side and round. This machine's speed drifts by tens of percent over minutes, so the ratio
of a row is taken within each round (srforge's median / PyTorch's median of the same round, run
back to back) and the table reports the median of those per-round ratios and their range; the
times shown are the medians over rounds. Standard library only.

  compare.py --ours R1.jsonl [R2.jsonl ...] --torch T1.jsonl [T2.jsonl ...] [--blas OPENBLAS.jsonl]
"""
import argparse
import json
import statistics


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


def load_rounds(paths):
    """The first file's header, and per row name the list of its records, one per round."""
    header, rounds = {}, {}
    for i, path in enumerate(paths):
        h, rows = load(path)
        header = header or h
        for name, r in rows.items():
            rounds.setdefault(name, [None] * len(paths))[i] = r
    return header, rounds


def median_of(records, key):
    values = [r[key] for r in records if r is not None and key in r]
    return statistics.median(values) if values else float("nan")


def paired_ratios(ours, theirs):
    """srforge / PyTorch time of each round both sides ran."""
    return [a["median_ms"] / b["median_ms"] for a, b in zip(ours, theirs) if a is not None and b is not None]


def print_time_table(ours, theirs):
    rounds = max((len(r) for r in ours.values()), default=0)
    print(f"| {'benchmark':<24} | {'srforge ms':>11} | {'GFLOP/s':>8} | {'PyTorch ms':>11} | {'GFLOP/s':>8} | "
          f"{'ratio':>6} | {'ratio range':>11} |")
    print(f"|{'-' * 26}|{'-' * 13}|{'-' * 10}|{'-' * 13}|{'-' * 10}|{'-' * 8}|{'-' * 13}|")
    for name, records in ours.items():
        ms, gf = median_of(records, "median_ms"), median_of(records, "gflops")
        t = theirs.get(name)
        ratios = paired_ratios(records, t) if t else []
        if not ratios:
            print(f"| {name:<24} | {ms:>11.2f} | {gf:>8.1f} | {'-':>11} | {'-':>8} | {'-':>6} | {'-':>11} |")
            continue
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"| {name:<24} | {ms:>11.2f} | {gf:>8.1f} | {median_of(t, 'median_ms'):>11.2f} | "
              f"{median_of(t, 'gflops'):>8.1f} | {statistics.median(ratios):>6.2f} | {spread:>11} |")
    print()
    print(f"ratio = median over {rounds} alternating round(s) of srforge's median / PyTorch's median (time) in "
          "the same round: below 1.00 srforge is faster.")


def print_memory_table(ours, theirs):
    has_memory = lambda records: any(r is not None and "peak_mib" in r for r in records)
    rows = [(n, r, theirs[n]) for n, r in ours.items() if n in theirs and has_memory(r)]
    if not rows:
        return
    print()
    print(f"| {'benchmark':<24} | {'srforge img/s':>13} | {'PyTorch img/s':>13} | {'srforge MiB':>11} | {'PyTorch MiB':>11} | {'memory':>6} |")
    print(f"|{'-' * 26}|{'-' * 15}|{'-' * 15}|{'-' * 13}|{'-' * 13}|{'-' * 8}|")
    for n, r, t in rows:
        ours_mib, torch_mib = median_of(r, "peak_mib"), median_of(t, "peak_mib")
        mem = ours_mib / torch_mib if torch_mib else float("nan")
        print(f"| {n:<24} | {median_of(r, 'images_per_s'):>13.1f} | {median_of(t, 'images_per_s'):>13.1f} | "
              f"{ours_mib:>11.1f} | {torch_mib:>11.1f} | {mem:>6.2f} |")
    print()
    print("memory = srforge peak / PyTorch peak (allocated bytes): below 1.00 srforge needs less.")


def print_blas_table(ours, blas_path):
    blas_h, blas = load(blas_path)
    print()
    print(f"GEMM yardstick: {blas_h.get('machine', '?')}, {blas_h.get('threads', '?')} threads")
    print()
    print(f"| {'benchmark':<24} | {'srforge GFLOP/s':>15} | {'OpenBLAS GFLOP/s':>16} | {'srforge / OpenBLAS':>18} |")
    print(f"|{'-' * 26}|{'-' * 17}|{'-' * 18}|{'-' * 20}|")
    for name, e in blas.items():
        if name in ours:
            gf = median_of(ours[name], "gflops")
            print(f"| {name:<24} | {gf:>15.1f} | {e['gflops']:>16.1f} | {gf / e['gflops']:>18.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", nargs="+", required=True, help="sr_bench --json output, one file per round")
    ap.add_argument("--torch", nargs="+", required=True, help="bench_torch.py output, one file per round")
    ap.add_argument("--blas", help="tools/bench/openblas_sgemm output")
    args = ap.parse_args()
    if len(args.ours) != len(args.torch):
        ap.error(f"--ours has {len(args.ours)} rounds and --torch {len(args.torch)}: they must pair up")
    ours_h, ours = load_rounds(args.ours)
    torch_h, theirs = load_rounds(args.torch)
    print(f"machine: {ours_h.get('machine', '?')}, {ours_h.get('threads', '?')} threads, srforge GEMM kernel "
          f"{ours_h.get('kernel', '?')}, measured {ours_h.get('precision', 'fp32')} peak {ours_h.get('peak_gflops', 0):.1f} GFLOP/s")
    print(f"baseline: {torch_h.get('machine', '?')}, {torch_h.get('threads', '?')} threads, "
          f"precision {torch_h.get('precision', 'fp32')}")
    print()
    print_time_table(ours, theirs)
    print_memory_table(ours, theirs)
    if args.blas:
        print_blas_table(ours, args.blas)


if __name__ == "__main__":
    main()
