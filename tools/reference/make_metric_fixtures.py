#!/usr/bin/python3
"""Writes tests/fixtures/metrics.safetensors for tests/test_metrics.cpp: MATLAB-style bicubic
`imresize` results and PSNR-Y / SSIM-Y / PSNR-RGB values, from a float64 numpy re-implementation of
BasicSR's definitions (basicsr/utils/matlab_functions.py `imresize`, basicsr/metrics/psnr_ssim.py
`calculate_psnr` / `calculate_ssim` with test_y_channel, basicsr/metrics/metric_util.py `to_y_channel`).

It is written apart from the C++ (train/imresize.cpp, train/metrics.cpp) on purpose, and differently:
here the borders are padded with explicit mirrored copies as BasicSR does and SSIM filters with the full
11x11 window; the C++ mirrors indices and filters separably. Only numpy (and png_np.py, zlib).

Run:  /usr/bin/python3 tools/reference/make_metric_fixtures.py
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png_np  # noqa: E402
import safetensors_np  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PHOTO = "/work/shared/data/div2k-mini/DIV2K_valid_HR/0801.png"


# ---- imresize -----------------------------------------------------------------------------------

def cubic(x):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax**3 - 2.5 * ax**2 + 1,
                    np.where(ax <= 2, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2, 0.0))


def weights_indices(in_len, out_len, scale):
    """BasicSR's calculate_weights_indices (antialiasing on), in float64.
    Returns weights [out_len, taps], 0-based indices into the padded line, and the pad lengths."""
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centres in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2)
    p = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(p)[None, :]
    d = u[:, None] - indices
    w = scale * cubic(d * scale) if scale < 1 else cubic(d)
    w = w / w.sum(axis=1, keepdims=True)
    # BasicSR drops the first / last column when it holds any exact zero.
    if (w[:, 0] == 0).any():
        indices, w = indices[:, 1:], w[:, 1:]
    if (w[:, -1] == 0).any():
        indices, w = indices[:, :-1], w[:, :-1]
    pad_start = int(-indices.min() + 1)
    pad_end = int(indices.max() - in_len)
    return w, (indices + pad_start - 1).astype(np.int64), pad_start, pad_end


def resize_axis(img, axis, out_len, scale):
    """Resizes one axis of a [C, H, W] array, padding it with mirrored copies of its edges."""
    in_len = img.shape[axis]
    w, idx, ps, pe = weights_indices(in_len, out_len, scale)
    a = np.moveaxis(img, axis, 0)
    padded = np.concatenate([a[:ps][::-1], a, a[in_len - pe:][::-1]], axis=0)
    out = np.einsum("ok,ok...->o...", w, padded[idx])
    return np.moveaxis(out, 0, axis)


def imresize(img, scale):
    """img [C, H, W] float64 -> [C, ceil(H scale), ceil(W scale)]: H first, then W, as BasicSR."""
    _, h, wd = img.shape
    out = resize_axis(img, 1, math.ceil(h * scale), scale)
    return resize_axis(out, 2, math.ceil(wd * scale), scale)


def quantize(x):
    """BasicSR's tensor2img on [0, 1] values: round(clip * 255) (numpy rounds half to even), / 255."""
    return np.round(np.clip(x, 0, 1) * 255) / 255


# ---- metrics (images [3, H, W] in [0, 1], 8-bit values) -------------------------------------------

def to_u8(x):
    return np.round(np.clip(x, 0, 1) * 255)


def y_channel(x):
    """MATLAB rgb2ycbcr's Y (BT.601) of [0, 255] RGB, unrounded, in [16, 235]."""
    r, g, b = to_u8(x)
    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255


def crop(a, c):
    return a[..., c:a.shape[-2] - c, c:a.shape[-1] - c]


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim_plane(a, b):
    """BasicSR's _ssim: 11x11 Gaussian window (sigma 1.5, normalised like cv2.getGaussianKernel),
    statistics only where the window lies inside the image, mean of the SSIM map."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    window = np.outer(g, g)

    def filt(img):
        views = np.lib.stride_tricks.sliding_window_view(img, (11, 11))
        return np.einsum("ijkl,kl->ij", views, window)

    mu1, mu2 = filt(a), filt(b)
    s11 = filt(a * a) - mu1**2
    s22 = filt(b * b) - mu2**2
    s12 = filt(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return m.mean()


def psnr_y(x, y, c):
    return psnr(crop(y_channel(x), c), crop(y_channel(y), c))


def ssim_y(x, y, c):
    return ssim_plane(crop(y_channel(x), c), crop(y_channel(y), c))


def psnr_rgb(x, y, c):
    return psnr(crop(to_u8(x), c), crop(to_u8(y), c))


# ---- the fixture ------------------------------------------------------------------------------------

def main():
    rng = np.random.default_rng(2024)
    out = {}
    # Inputs are stored as float32 and computed from those exact values in float64.
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731

    noise = f32(rng.uniform(0, 1, size=(3, 14, 17)))
    yy, xx = np.mgrid[0:11, 0:9].astype(np.float64)
    smooth = f32(np.stack([0.5 + 0.4 * np.sin(xx / 3 + c) * np.cos(yy / 4 - c) for c in range(3)]))
    out["noise"] = noise.astype(np.float32)
    out["smooth"] = smooth.astype(np.float32)
    scales = {"1_2": 1 / 2, "1_3": 1 / 3, "1_4": 1 / 4, "2": 2.0, "3": 3.0, "4": 4.0}
    for name, img in [("noise", noise), ("smooth", smooth)]:
        for label, s in scales.items():
            out[f"{name}.x{label}"] = imresize(img, s).astype(np.float32)
    # Scales that are not 1/integer or integer exercise the general weight computation.
    out["noise.x0.3"] = imresize(noise, 0.3).astype(np.float32)
    out["noise.x1.5"] = imresize(noise, 1.5).astype(np.float32)

    # Metrics on a crop (72 rows, 48 columns) of a real photograph: HR against its own bicubic round trip
    # (quantised LR, then quantised SR), as sr_eval measures, at scales 2, 3 and 4.
    photo = png_np.read_png(PHOTO)[300:372, 500:548, :3].transpose(2, 0, 1).astype(np.int64) / 255.0
    u8 = lambda a: np.round(a * 255).astype(np.uint8)  # noqa: E731 (8-bit images are stored exactly)
    out["photo"] = u8(photo)
    metrics = []
    for s in (2, 3, 4):
        lr = quantize(imresize(photo, 1 / s))
        sr = quantize(imresize(lr, s))
        out[f"photo.sr_x{s}"] = u8(sr)
        for c in (2, 3, 4):
            metrics.append([s, c, psnr_y(sr, photo, c), ssim_y(sr, photo, c), psnr_rgb(sr, photo, c)])
    # A noisy copy (values move by up to 20 levels, clipped): low PSNR, SSIM far from 1.
    noisy = quantize(photo + rng.integers(-20, 21, size=photo.shape) / 255.0)
    out["photo.noisy"] = u8(noisy)
    for c in (0, 2, 4):
        metrics.append([0, c, psnr_y(noisy, photo, c), ssim_y(noisy, photo, c), psnr_rgb(noisy, photo, c)])
    # Rows: [scale (0: the noisy copy), crop_border, PSNR-Y, SSIM-Y, PSNR-RGB], float64.
    out["metrics"] = np.array(metrics, np.float64)

    path = os.path.join(ROOT, "tests", "fixtures", "metrics.safetensors")
    safetensors_np.save(path, out, {"generator": "tools/reference/make_metric_fixtures.py", "numpy": np.__version__})
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
