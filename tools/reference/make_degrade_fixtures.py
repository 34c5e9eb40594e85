#!/usr/bin/python3
"""Writes tests/fixtures/degrade.safetensors for tests/test_degrade.cpp: the deterministic parts of
Real-ESRGAN's degradation pipeline (train/degrade.cpp), computed here independently:

  kernel.*   the blur kernels of basicsr/data/degradations.py (bivariate Gaussian, generalized
             Gaussian, plateau, iso and aniso; circular_lowpass_kernel), re-implemented in float64 numpy
             with BasicSR's own steps (np.linalg.inv of the rotated covariance, np.meshgrid, np.fromfunction)
             and a numpy Bessel J1 (scipy is not needed: the trapezoidal rule on Bessel's integral, checked
             against the power series in exact rational arithmetic; torch.special.bessel_j1 of torch 1.13
             is off by up to 4e-7 near x = 5, so it is not used). Each has a params row [size, pad_to, sigma_x, sigma_y, theta,
             beta, omega_c].
  filter.*   BasicSR's filter2D: F.pad(mode='reflect') + F.conv2d (grouped, one kernel per image, or one
             kernel for the batch), kernels rounded to float32 as Real-ESRGAN's torch.FloatTensor does.
  usm.*      BasicSR's USMSharp (cv2.getGaussianKernel(51, 0) written out in numpy), in torch float32.
  interp.*   torch.nn.functional.interpolate, modes area / bilinear / bicubic, align_corners=False, to
             sizes and with scale factors (PyTorch's own semantics for both).

Run:  /usr/bin/python3 tools/reference/make_degrade_fixtures.py
"""
import math
import os
import sys
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


# ---- kernels (basicsr/data/degradations.py) ------------------------------------------------------

def sigma_matrix2(sig_x, sig_y, theta):
    d = np.array([[sig_x**2, 0], [0, sig_y**2]])
    u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return u @ d @ u.T


def mesh_grid(k):
    ax = np.arange(-k // 2 + 1.0, k // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    return np.stack([xx, yy], axis=-1)  # [k, k, 2]: (x, y) = (column, row) coordinates


def quadratic_form(k, sig_x, sig_y, theta, isotropic):
    sigma = np.array([[sig_x**2, 0], [0, sig_x**2]]) if isotropic else sigma_matrix2(sig_x, sig_y, theta)
    inv = np.linalg.inv(sigma)
    grid = mesh_grid(k)
    return np.sum(np.dot(grid, inv) * grid, 2)


def normalised(kernel):
    return kernel / np.sum(kernel)


def gaussian(k, sx, sy, theta, isotropic):
    return normalised(np.exp(-0.5 * quadratic_form(k, sx, sy, theta, isotropic)))


def generalized(k, sx, sy, theta, beta, isotropic):
    return normalised(np.exp(-0.5 * np.power(quadratic_form(k, sx, sy, theta, isotropic), beta)))


def plateau(k, sx, sy, theta, beta, isotropic):
    return normalised(np.reciprocal(np.power(quadratic_form(k, sx, sy, theta, isotropic), beta) + 1))


def bessel_j1(x):
    """J1(x) = (1 / 2 pi) * integral over [0, 2 pi) of cos(t - x sin t) dt: the trapezoidal rule on this
    periodic analytic integrand converges geometrically; 256 points are exact in double for x < 60."""
    t = np.arange(256) * (2 * np.pi / 256)
    x = np.asarray(x, np.float64)
    return np.mean(np.cos(t - x[..., None] * np.sin(t)), axis=-1)


def bessel_j1_series(x):
    """J1 from its power series sum (-1)^m (x/2)^(2m+1) / (m! (m+1)!), in exact rational arithmetic
    (the terms cancel far too much for floating point at x = 40). A check of bessel_j1."""
    x, total, m = Fraction(x), Fraction(0), 0
    term = x / 2
    while m <= x or abs(term) > Fraction(1, 10**30):
        total += term
        m += 1
        term = -term * (x / 2) ** 2 / (m * (m + 1))
    return float(total)


def circular_lowpass_kernel(cutoff, k, pad_to=0):
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.fromfunction(
            lambda x, y: cutoff * bessel_j1(cutoff * np.sqrt((x - (k - 1) / 2) ** 2 + (y - (k - 1) / 2) ** 2))
            / (2 * np.pi * np.sqrt((x - (k - 1) / 2) ** 2 + (y - (k - 1) / 2) ** 2)), [k, k])
    kernel[(k - 1) // 2, (k - 1) // 2] = cutoff**2 / (4 * np.pi)
    kernel = normalised(kernel)
    if pad_to > k:
        p = (pad_to - k) // 2
        kernel = np.pad(kernel, ((p, p), (p, p)))
    return kernel


def pad(kernel, size):
    p = (size - kernel.shape[0]) // 2
    return np.pad(kernel, ((p, p), (p, p)))


# name -> (size, pad_to, sigma_x, sigma_y, theta, beta, omega_c); the family is the name's prefix.
KERNELS = {
    "iso": (21, 0, 2.3, 2.3, 0.0, 1.0, 0.0),
    "iso_narrow": (7, 21, 0.2, 0.2, 0.0, 1.0, 0.0),
    "aniso": (15, 0, 2.7, 0.6, 0.7, 1.0, 0.0),
    "generalized_iso": (13, 0, 1.5, 1.5, 0.0, 0.6, 0.0),
    "generalized_aniso": (21, 0, 3.0, 1.1, -2.0, 3.5, 0.0),
    "plateau_iso": (11, 0, 1.2, 1.2, 0.0, 1.7, 0.0),
    "plateau_aniso": (19, 21, 0.9, 2.4, 2.9, 1.3, 0.0),
    "sinc": (13, 21, 0.0, 0.0, 0.0, 1.0, 1.1),
    "sinc_full": (21, 0, 0.0, 0.0, 0.0, 1.0, math.pi / 5),
    "sinc_nyquist": (7, 0, 0.0, 0.0, 0.0, 1.0, math.pi),
}


def make_kernel(name, size, pad_to, sx, sy, theta, beta, omega):
    iso = name.startswith("iso") or name.endswith("_iso")
    if name.startswith("sinc"):
        return circular_lowpass_kernel(omega, size, pad_to)
    if name.startswith("generalized"):
        k = generalized(size, sx, sy, theta, beta, iso)
    elif name.startswith("plateau"):
        k = plateau(size, sx, sy, theta, beta, iso)
    else:
        k = gaussian(size, sx, sy, theta, iso)
    return pad(k, pad_to) if pad_to > size else k


# ---- image operations (basicsr/utils/img_process_util.py, PyTorch) ---------------------------------

def filter2d(img, kernel):
    """BasicSR's filter2D: img [b, c, h, w], kernel [b, k, k] or [1, k, k]."""
    k = kernel.size(-1)
    b, c, h, w = img.size()
    img = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode="reflect")
    ph, pw = img.size()[-2:]
    if kernel.size(0) == 1:
        return F.conv2d(img.view(b * c, 1, ph, pw), kernel.view(1, 1, k, k)).view(b, c, h, w)
    kernel = kernel.view(b, 1, k, k).repeat(1, c, 1, 1).view(b * c, 1, k, k)
    return F.conv2d(img.view(1, b * c, ph, pw), kernel, groups=b * c).view(b, c, h, w)


def cv2_gaussian_kernel(n):
    """cv2.getGaussianKernel(n, 0) for n > 7: sigma = 0.3 ((n - 1) / 2 - 1) + 0.8, normalised, float64."""
    sigma = 0.3 * ((n - 1) * 0.5 - 1) + 0.8
    x = np.arange(n) - (n - 1) * 0.5
    g = np.exp(-0.5 / (sigma * sigma) * x * x)
    return (g / g.sum()).reshape(n, 1)


def usm_sharp(img, weight=0.5, threshold=10):
    """BasicSR's USMSharp.forward (radius 50 -> 51); also returns |residual| * 255 for the margin check."""
    g = cv2_gaussian_kernel(51)
    kernel = torch.FloatTensor(np.dot(g, g.T)).unsqueeze(0)
    blur = filter2d(img, kernel)
    residual = img - blur
    mask = (torch.abs(residual) * 255 > threshold).float()
    soft = filter2d(mask, kernel)
    sharp = torch.clip(img + weight * residual, 0, 1)
    return soft * sharp + (1 - soft) * img, torch.abs(residual) * 255


# Output sizes and scale factors for interpolate: test_degrade.cpp reads the same lists.
SIZES = [(7, 23), (13, 17), (30, 5), (1, 1)]
SCALES = [0.37, 1.3, 0.15, 1.5, 1.0]


def main():
    rng = np.random.default_rng(2021)
    out = {}

    # Kernels.
    for name, params in KERNELS.items():
        out[f"kernel.{name}"] = make_kernel(name, *params).astype(np.float64)
        out[f"kernel.{name}.params"] = np.array(params, np.float64)
    for x in (0.7, 3.2, 5.045, 11.9, 27.3, 44.4):  # up to pi * 10 sqrt(2), the farthest 21x21 tap at cutoff pi
        assert abs(bessel_j1(x) - bessel_j1_series(x)) < 1e-13, x

    # filter2D: one kernel per image (a padded aniso Gaussian and a padded sinc), and one for all.
    images = rng.uniform(0, 1, size=(2, 3, 17, 23)).astype(np.float32)
    kernels = np.stack([out["kernel.plateau_aniso"], out["kernel.sinc"]])
    single = generalized(7, 1.4, 0.5, 0.3, 2.0, False)
    out["filter.input"] = images
    out["filter.kernels"] = kernels
    out["filter.output"] = filter2d(torch.from_numpy(images), torch.from_numpy(kernels).float()).numpy()
    out["filter.single_kernel"] = single
    out["filter.single_output"] = filter2d(torch.from_numpy(images), torch.from_numpy(single).float()[None]).numpy()

    # USM: a smooth picture with edges and a little noise, so that the mask has both values. The residual
    # must stay away from the threshold (10 / 255), where the mask jumps: float rounding in the C++ blur
    # would otherwise be allowed to flip a pixel.
    yy, xx = np.mgrid[0:40, 0:44].astype(np.float64)
    for attempt in range(100):
        base = np.stack([0.5 + 0.3 * np.sin(xx / 5 + c) * np.cos(yy / 7 - c) for c in range(3)])
        base += 0.25 * ((xx > 20 + 3 * np.arange(3)[:, None, None]) & (yy < 30)) - 0.1 * (yy > 33)
        base += rng.normal(0, 0.01, size=base.shape)
        usm_in = np.clip(base, 0, 1)[None].astype(np.float32)
        usm_out, residual = usm_sharp(torch.from_numpy(usm_in))
        if torch.min(torch.abs(residual - 10)).item() > 1e-3:
            break
    else:
        raise RuntimeError("no USM input with a clear margin from the threshold")
    mask_fraction = (residual > 10).float().mean().item()
    assert 0.05 < mask_fraction < 0.95, mask_fraction
    out["usm.input"] = usm_in
    out["usm.output"] = usm_out.numpy()

    # F.interpolate. A smooth-plus-noise input; bicubic may overshoot [0, 1], as in PyTorch.
    yy, xx = np.mgrid[0:13, 0:17].astype(np.float64)
    smooth = np.stack([0.5 + 0.4 * np.sin(xx / 3 + c) * np.cos(yy / 4 - c) for c in range(3)])
    interp_in = np.stack([smooth, rng.uniform(0, 1, size=smooth.shape)]).astype(np.float32)
    out["interp.input"] = interp_in
    x = torch.from_numpy(interp_in)
    for mode in ("area", "bilinear", "bicubic"):
        corners = {} if mode == "area" else {"align_corners": False}
        for h, w in SIZES:
            out[f"interp.{mode}.size_{h}x{w}"] = F.interpolate(x, size=(h, w), mode=mode, **corners).numpy()
        for s in SCALES:
            out[f"interp.{mode}.scale_{s}"] = F.interpolate(x, scale_factor=s, mode=mode, **corners).numpy()

    path = os.path.join(ROOT, "tests", "fixtures", "degrade.safetensors")
    safetensors_np.save(path, out, {"generator": "tools/reference/make_degrade_fixtures.py", "torch": torch.__version__,
                                    "numpy": np.__version__})
    print("wrote", path, os.path.getsize(path), "bytes; USM mask covers", round(mask_fraction, 3), "of the pixels")


if __name__ == "__main__":
    main()
