#!/usr/bin/python3
"""Writes tests/fixtures/basicsr_runs/: two small BasicSR experiment folders, stopped mid-run, in
the layout BasicSR's save_network and save_training_state write, for srforge's resume of a
BasicSR run (train/basicsr_state.cpp). Run once; the files are committed, so the tests need no
PyTorch.

  edsr/    a PSNR run with EMA, stopped after iteration 3:
             models/net_g_3.pth          {"params": net_g, "params_ema": net_g_ema}
             training_states/3.state     {"epoch", "iter": 3, "optimizers": [Adam], "schedulers": [MultiStepLR]}
             next_step.safetensors       for each parameter: "grad.NAME", a gradient, and "after.NAME",
                                         the parameter after one more torch.optim.Adam step with it
  esrgan/  a GAN run (generator and discriminator), stopped after iteration 2, whose Adam steps are
           Python ints, as PyTorch before 1.12 wrote them, and whose betas are a list, as BasicSR's
           option files give them:
             models/net_g_2.pth, models/net_d_2.pth, training_states/2.state,
             next_step.safetensors       "g.grad.NAME", "g.after.NAME", "d.grad.NAME", "d.after.NAME"

Needs Debian's python3-torch:  /usr/bin/python3 tools/reference/make_basicsr_state_fixtures.py
"""
import copy
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402
import safetensors_np  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "basicsr_runs")
BETAS = (0.9, 0.99)  # BasicSR's option files use these


def l1_step(net, optimizer, x, y):
    optimizer.zero_grad()
    torch.nn.functional.l1_loss(net(x), y).backward()
    optimizer.step()


def ema_update(ema, net, decay):
    """BasicSR's model_ema: parameters only."""
    with torch.no_grad():
        for e, p in zip(ema.parameters(), net.parameters()):
            e.mul_(decay).add_(p, alpha=1 - decay)


def save_networks(folder, iteration, nets):
    """nets: {"net_g": {"params": module, ...}, ...} -> models/net_g_N.pth, as BasicSR's save_network."""
    os.makedirs(os.path.join(folder, "models"), exist_ok=True)
    for label, by_key in nets.items():
        torch.save({key: net.state_dict() for key, net in by_key.items()}, os.path.join(folder, "models", f"{label}_{iteration}.pth"))


def training_state(iteration, optimizers, schedulers, epoch=0):
    """What BasicSR's save_training_state writes to training_states/N.state."""
    return {"epoch": epoch, "iter": iteration, "optimizers": [o.state_dict() for o in optimizers],
            "schedulers": [s.state_dict() for s in schedulers]}


def save_state(folder, iteration, state):
    os.makedirs(os.path.join(folder, "training_states"), exist_ok=True)
    torch.save(state, os.path.join(folder, "training_states", f"{iteration}.state"))


def next_step(net, optimizer, prefix, seed):
    """A gradient for every parameter and the parameters after one Adam step with it."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    optimizer.zero_grad()
    for name, p in net.named_parameters():
        p.grad = torch.rand(p.shape, generator=g) - 0.5
        out[prefix + "grad." + name] = p.grad.numpy().copy()
    optimizer.step()
    for name, p in net.named_parameters():
        out[prefix + "after." + name] = p.detach().numpy().copy()
    return out


def edsr_run():
    torch.manual_seed(1)
    net = models.EDSR(num_feat=8, num_block=1, upscale=2)
    ema = copy.deepcopy(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, betas=BETAS)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[4], gamma=0.5)
    for _ in range(3):
        l1_step(net, optimizer, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16))
        scheduler.step()
        ema_update(ema, net, 0.5)
    folder = os.path.join(OUT, "edsr")
    save_networks(folder, 3, {"net_g": {"params": net, "params_ema": ema}})
    save_state(folder, 3, training_state(3, [optimizer], [scheduler]))
    safetensors_np.save(os.path.join(folder, "next_step.safetensors"), next_step(net, optimizer, "", 11))


def esrgan_run():
    torch.manual_seed(2)
    net_g = models.EDSR(num_feat=8, num_block=1, upscale=2)
    net_d = models.UNetDiscriminatorSN(num_feat=4)
    # BasicSR passes its YAML options through: betas arrive as the list [0.9, 0.99], and stay one.
    optimizer_g = torch.optim.Adam(net_g.parameters(), lr=1e-2, betas=list(BETAS))
    optimizer_d = torch.optim.Adam(net_d.parameters(), lr=5e-3, betas=list(BETAS))
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, milestones=[10, 20], gamma=0.5) for o in (optimizer_g, optimizer_d)]
    for _ in range(2):
        x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
        l1_step(net_g, optimizer_g, x, y)
        optimizer_d.zero_grad()
        (net_d(y).mean() - net_d(net_g(x).detach()).mean()).backward()
        optimizer_d.step()
        for s in schedulers:
            s.step()
    folder = os.path.join(OUT, "esrgan")
    save_networks(folder, 2, {"net_g": {"params": net_g}, "net_d": {"params": net_d}})
    state = copy.deepcopy(training_state(2, [optimizer_g, optimizer_d], schedulers, epoch=1))  # not the live optimisers' dicts
    for o in state["optimizers"]:
        for per_param in o["state"].values():
            per_param["step"] = int(per_param["step"])  # as PyTorch before 1.12 stored it
    save_state(folder, 2, state)
    tensors = next_step(net_g, optimizer_g, "g.", 12)
    tensors.update(next_step(net_d, optimizer_d, "d.", 13))
    safetensors_np.save(os.path.join(folder, "next_step.safetensors"), tensors)


def main():
    edsr_run()
    esrgan_run()
    for root, _, files in os.walk(OUT):
        for f in sorted(files):
            print(os.path.relpath(os.path.join(root, f), OUT))


if __name__ == "__main__":
    main()
