#!/usr/bin/python3
"""Writes data/demo/: the small dataset train_sr's demo trains on, cut from div2k-mini.

Every image of div2k-mini (16 train, 4 valid) gives one 288x288 HR crop at (360, 192) (left, top),
and its LR partners are the aligned crops of div2k-mini's own LR files: X{s}/NAMEx{s}.png cut at
(360/s, 192/s), 288/s pixels wide (offsets and size are multiples of 12, so s = 2, 3, 4 all align).
The layout and names are DIV2K's. Only numpy and zlib are used.

Run:  /usr/bin/python3 tools/reference/make_demo_data.py [DIV2K_MINI_ROOT]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png_np  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/div2k-mini"
OUT = os.path.join(ROOT, "data", "demo")
SIZE, LEFT, TOP = 288, 360, 192


def main():
    for split in ("train", "valid"):
        hr_dir = os.path.join(SOURCE, f"DIV2K_{split}_HR")
        for name in sorted(os.listdir(hr_dir)):
            stem = os.path.splitext(name)[0]
            hr = png_np.read_png(os.path.join(hr_dir, name))
            out = os.path.join(OUT, f"DIV2K_{split}_HR", name)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            png_np.write_png(out, hr[TOP:TOP + SIZE, LEFT:LEFT + SIZE, :3])
            for s in (2, 3, 4):
                lr = png_np.read_png(os.path.join(SOURCE, f"DIV2K_{split}_LR_bicubic", f"X{s}", f"{stem}x{s}.png"))
                assert lr.shape[0] * s == hr.shape[0] and lr.shape[1] * s == hr.shape[1]
                out = os.path.join(OUT, f"DIV2K_{split}_LR_bicubic", f"X{s}", f"{stem}x{s}.png")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                t, l, n = TOP // s, LEFT // s, SIZE // s
                png_np.write_png(out, lr[t:t + n, l:l + n, :3])
            print(split, name)


if __name__ == "__main__":
    main()
