#!/usr/bin/python3
"""Writes small PNG files that stb's writer cannot make (16-bit gray and RGB, 8-bit gray+alpha
and RGBA) to tests/fixtures/images/, with their expected pixel values in [0, 1] as
tests/fixtures/images/expected.safetensors ([C, H, W] per file). Only numpy, zlib and struct.

Run:  /usr/bin/python3 tools/reference/make_image_fixtures.py
"""
import os
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (gray, gray+alpha, RGB, RGBA)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, pixels, bits):
    """pixels: [H, W, C] unsigned integers."""
    h, w, c = pixels.shape
    dtype = ">u2" if bits == 16 else "u1"
    rows = b"".join(b"\x00" + pixels[y].astype(dtype).tobytes() for y in range(h))  # filter 0 per row
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, COLOR_TYPE[c], 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


rng = np.random.default_rng(7)
out_dir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "images"))
os.makedirs(out_dir, exist_ok=True)
expected = {}
for name, channels, bits in [("rgb16", 3, 16), ("gray16", 1, 16), ("gray_alpha8", 2, 8), ("rgba8", 4, 8)]:
    top = 65535 if bits == 16 else 255
    pixels = rng.integers(0, top + 1, size=(5, 7, channels))
    pixels[0, 0, :] = top  # make sure both extremes appear
    pixels[0, 1, :] = 0
    write_png(os.path.join(out_dir, name + ".png"), pixels, bits)
    expected[name] = (pixels.transpose(2, 0, 1) / top).astype(np.float64)
safetensors_np.save(os.path.join(out_dir, "expected.safetensors"), expected)
print("wrote", sorted(expected), "to", out_dir)
