#!/usr/bin/python3
"""Writes tests/fixtures/optim.safetensors: parameters after each of 4 steps of torch.optim.Adam and
AdamW on fixed gradients, for tests/test_train.cpp.  Run: /usr/bin/python3 tools/reference/make_optim_fixtures.py"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

gen = torch.Generator().manual_seed(5)
p0 = torch.rand((3, 4), generator=gen, dtype=torch.float64) * 2 - 1
grads = [torch.rand((3, 4), generator=gen, dtype=torch.float64) * 2 - 1 for _ in range(4)]
out = {"p0": p0.numpy()}
for i, g in enumerate(grads):
    out[f"grad.{i}"] = g.numpy()
for name, cls, kwargs in [("adam", torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)),
                          ("adamw", torch.optim.AdamW, dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1))]:
    p = torch.nn.Parameter(p0.clone())
    opt = cls([p], **kwargs)
    for i, g in enumerate(grads):
        p.grad = g.clone()
        opt.step()
        out[f"{name}.{i}"] = p.detach().numpy().copy()
path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "optim.safetensors"))
safetensors_np.save(path, out, {"generator": "tools/reference/make_optim_fixtures.py", "torch": torch.__version__})
print("wrote", path)
