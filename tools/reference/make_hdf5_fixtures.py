#!/usr/bin/python3
"""Writes tests/fixtures/hdf5/: idealo ISR's Keras weights in the layout Keras' save_weights writes,
made by h5py, for srforge's HDF5 and Keras readers (core/hdf5.cpp, core/keras.cpp). Run once; the
files are committed, so the tests need no Python.

  isr_rdn.hdf5     RDN, as ISR's 2019 releases were written (h5py 2: fixed-length name strings)
  isr_rdn_shuffle.hdf5  RDN with upscaling=shuffle (SR reads the pixel-shuffled image)
  isr_rrdn.hdf5    RRDN, as h5py 3 writes the same calls (variable-length strings in the global heap),
                   saved by model.save (under "model_weights") with layer_names split in chunks
                   (layer_names0, layer_names1), as Keras does for long lists
  each with NAME.io.safetensors: a random input, PyTorch's output, and the spec as metadata
  refused, one clear error each:
    chunked.hdf5   a dataset stored in compressed chunks
    latest.hdf5    libver="latest": superblock version 3, object headers version 2
    not_keras.hdf5 an HDF5 file with no layer_names

Needs Debian's python3-torch and python3-h5py:  /usr/bin/python3 tools/reference/make_hdf5_fixtures.py
"""
import os
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "hdf5")


def names(strings, fixed):
    """What h5py stores: fixed-length strings for a numpy 'S' array (h5py 2 made those of a list of
    bytes), variable-length ones for a list of bytes under h5py 3."""
    return np.array([s.encode() for s in strings], dtype="S") if fixed else [s.encode() for s in strings]


def save_keras(path, layers, fixed, model_save=False, chunks=1):
    """Keras' save_weights layout: root attribute layer_names; per layer a group whose attribute
    weight_names gives the datasets "LAYER/kernel:0" ([kh, kw, in, out]) and "LAYER/bias:0"."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_save else f
        layer_names = ["LR"] + list(layers)
        if chunks == 1:
            root.attrs["layer_names"] = names(layer_names, fixed)
        else:
            for i, part in enumerate(np.array_split(np.array(layer_names), chunks)):
                root.attrs[f"layer_names{i}"] = names(list(part), fixed)
        root.attrs["backend"] = b"tensorflow"
        root.create_group("LR").attrs["weight_names"] = []  # the input layer: no weights (an empty float array)
        for name, conv in layers.items():
            g = root.create_group(name)
            g.attrs["weight_names"] = names([f"{name}/kernel:0", f"{name}/bias:0"], fixed)
            g.create_dataset(f"{name}/kernel:0", data=conv.weight.detach().numpy().transpose(2, 3, 1, 0))
            g.create_dataset(f"{name}/bias:0", data=conv.bias.detach().numpy())


def save_io(model, name, spec, shape, seed):
    models.save_io(model, os.path.join(OUT, name + ".io.safetensors"), spec, shape, seed)


def rdn_layers(m):
    layers = {"F_m1": m.SFENet1, "F_0": m.SFENet2}
    for d, rdb in enumerate(m.RDBs, 1):
        for c, rc in enumerate(rdb.convs, 1):
            layers[f"F_{d}_{c}"] = rc.conv[0]
        layers[f"LFF_{d}"] = rdb.LFF
    layers.update({"GFF_1": m.GFF[0], "GFF_2": m.GFF[1], "UPN1": m.UPN1, "UPN2": m.UPN2, "UPN3": m.UPN3, "SR": m.SR})
    return layers


def networks():
    for name, spec, seed in [("isr_rdn", "rdn:variant=isr,scale=2,D=2,C=3,G=4,G0=8", 1),
                             ("isr_rdn_shuffle", "rdn:variant=isr,scale=3,D=2,C=2,G=4,G0=6,upscaling=shuffle", 2)]:
        torch.manual_seed(seed)
        m = models.build(spec)
        save_keras(os.path.join(OUT, name + ".hdf5"), rdn_layers(m), fixed=True)
        save_io(m, name, spec, (1, 3, 5, 6), 10 + seed)
    spec = "rrdn:C=2,D=2,G=4,G0=8,T=2,x=4"
    torch.manual_seed(3)
    m = models.build(spec)
    save_keras(os.path.join(OUT, "isr_rrdn.hdf5"), dict(m.named_children()), fixed=False, model_save=True, chunks=2)
    save_io(m, "isr_rrdn", spec, (1, 3, 4, 4), 13)


def refused():
    with h5py.File(os.path.join(OUT, "chunked.hdf5"), "w") as f:
        f.attrs["layer_names"] = names(["c"], True)
        g = f.create_group("c")
        g.attrs["weight_names"] = names(["c/kernel:0"], True)
        g.create_dataset("c/kernel:0", data=np.ones((3, 3, 3, 4), np.float32), chunks=(3, 3, 3, 2), compression="gzip")
    with h5py.File(os.path.join(OUT, "latest.hdf5"), "w", libver="latest") as f:
        f.attrs["layer_names"] = names(["c"], True)
        f.create_group("c").create_dataset("w", data=np.ones(4, np.float32))
    with h5py.File(os.path.join(OUT, "not_keras.hdf5"), "w") as f:
        f.create_dataset("data", data=np.arange(6, dtype=np.float32).reshape(2, 3))


def main():
    os.makedirs(OUT, exist_ok=True)
    networks()
    refused()
    print("wrote", ", ".join(sorted(os.listdir(OUT))))


if __name__ == "__main__":
    main()
