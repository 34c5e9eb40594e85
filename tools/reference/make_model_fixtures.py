#!/usr/bin/python3
"""Writes tests/fixtures/models/*.safetensors: small configurations of every network srforge has,
run in PyTorch (tools/reference/models.py) in float64 on float32-representable weights and inputs.

Each file holds the spec (metadata "spec", "mode"), the weights ("param.<name>", "buffer.<name>"),
"input", "output", an output gradient "grad_output", the gradients of the input ("grad.input") and
of every parameter ("grad.<name>") for sum(output * grad_output), and in train mode the buffers
after the forward pass ("state.<name>": batch-norm running statistics, spectral-norm u and v).
Everything is stored as float32. tests/test_models.cpp requires srforge to match to 1e-5.

Run with Debian's python3-torch:  /usr/bin/python3 tools/reference/make_model_fixtures.py
"""
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import safetensors_np  # noqa: E402

CASES = [
    ("edsr_x2", "edsr:num_feat=8,num_block=2,upscale=2", (2, 3, 6, 5), "eval"),
    ("edsr_x3", "edsr:num_feat=8,num_block=2,upscale=3", (2, 3, 5, 4), "eval"),
    ("edsr_x4_res0.1", "edsr:num_feat=8,num_block=1,upscale=4,res_scale=0.1", (1, 3, 4, 5), "eval"),
    ("rdn_x2", "rdn:scale=2,G0=8,D=2,C=2,G=4", (2, 3, 5, 6), "eval"),
    ("rdn_x3", "rdn:scale=3,G0=8,D=2,C=3,G=4", (1, 3, 4, 5), "eval"),
    ("rdn_x4", "rdn:scale=4,G0=8,D=3,C=2,G=4", (1, 3, 4, 4), "eval"),
    ("rdn_isr_ups_x2", "rdn:scale=2,G0=8,D=2,C=2,G=4,variant=isr", (2, 3, 5, 4), "eval"),
    ("rdn_isr_shuffle_x3", "rdn:scale=3,G0=8,D=2,C=2,G=4,variant=isr,upscaling=shuffle", (1, 3, 4, 5), "eval"),
    ("rrdn_x2", "rrdn:C=2,D=2,G=4,G0=8,T=2,x=2", (1, 3, 5, 4), "eval"),
    ("rrdn_x4", "rrdn:C=3,D=1,G=4,G0=6,T=2,x=4", (2, 3, 3, 4), "eval"),
    ("rrdbnet_x4", "rrdbnet:num_feat=8,num_block=2,num_grow_ch=4,scale=4", (2, 3, 5, 4), "eval"),
    ("rrdbnet_x2", "rrdbnet:num_feat=8,num_block=1,num_grow_ch=4,scale=2", (2, 3, 6, 4), "eval"),
    ("rrdbnet_x1", "rrdbnet:num_feat=8,num_block=1,num_grow_ch=4,scale=1", (1, 3, 8, 12), "eval"),
    ("msrresnet_x2", "msrresnet:num_feat=8,num_block=2,upscale=2", (2, 3, 5, 6), "eval"),
    ("msrresnet_x3", "msrresnet:num_feat=8,num_block=2,upscale=3", (1, 3, 4, 5), "eval"),
    ("msrresnet_x4", "msrresnet:num_feat=8,num_block=1,upscale=4", (2, 3, 4, 4), "eval"),
    ("srresnet_x2_eval", "srresnet:channels=8,num_rcb=2,upscale_factor=2", (2, 3, 6, 5), "eval"),
    ("srresnet_x2_train", "srresnet:channels=8,num_rcb=2,upscale_factor=2", (2, 3, 6, 5), "train"),
    ("srresnet_x4_eval", "srresnet:channels=8,num_rcb=1,upscale_factor=4", (1, 3, 4, 4), "eval"),
    ("vgg_discriminator_128_eval", "vgg_discriminator:num_feat=4", (1, 3, 128, 128), "eval"),
    ("srvgg_compact_x4", "srvgg_compact:num_feat=8,num_conv=2,upscale=4", (2, 3, 5, 4), "eval"),
    ("srvgg_compact_x2_lrelu", "srvgg_compact:num_feat=6,num_conv=1,upscale=2,act_type=leakyrelu", (1, 3, 4, 6), "eval"),
    ("vgg_discriminator_128_train", "vgg_discriminator:num_feat=4", (2, 3, 128, 128), "train"),
    ("vgg_discriminator_256_eval", "vgg_discriminator:num_feat=2,input_size=256", (1, 3, 256, 256), "eval"),
    ("unet_discriminator_sn_eval", "unet_discriminator_sn:num_feat=4", (2, 3, 16, 24), "eval"),
    ("unet_discriminator_sn_train", "unet_discriminator_sn:num_feat=4", (2, 3, 16, 24), "train"),
    ("unet_discriminator_sn_noskip", "unet_discriminator_sn:num_feat=4,skip_connection=false", (1, 3, 8, 16), "eval"),
    ("vgg19_conv2_1", "vgg19:layer_name_list=conv2_1", (1, 3, 12, 10), "eval"),
    ("vgg19_relu1_2_range_norm", "vgg19:layer_name_list=relu1_2,range_norm=true", (2, 3, 7, 9), "eval"),
    ("resnet_generator_train", "resnet_generator:ngf=4,n_blocks=2", (2, 3, 8, 12), "train"),
    ("resnet_generator_eval_1ch", "resnet_generator:input_nc=1,output_nc=3,ngf=3,n_blocks=1", (1, 1, 12, 8), "eval"),
    ("resnet_generator_full_res", "resnet_generator:ngf=4,n_blocks=2,n_downsampling=0", (2, 3, 6, 9), "train"),
    ("resnet_generator_down1", "resnet_generator:ngf=3,n_blocks=1,n_downsampling=1", (1, 3, 6, 8), "train"),
    ("resnet_generator_no_norm", "resnet_generator:ngf=4,n_blocks=2,n_downsampling=0,norm=none", (2, 3, 7, 6), "train"),
    ("patchgan_discriminator_train", "patchgan_discriminator:ndf=4,n_layers=3", (2, 3, 48, 40), "train"),
    ("patchgan_discriminator_n2", "patchgan_discriminator:ndf=3,n_layers=2", (1, 3, 20, 24), "eval"),
    # SwinIR: an input of img_size (the blocks use their attn_mask buffers), others not multiples of
    # the window (reflect-padded, masks computed for the padded size), every upsampler.
    ("swinir_classical_x2", "swinir:upscale=2,img_size=8,window_size=4,embed_dim=12,depths=[2,2],num_heads=[3,2],"
     "mlp_ratio=2,drop_path_rate=0,upsampler=pixelshuffle", (2, 3, 8, 8), "train"),
    ("swinir_lightweight_x3_odd", "swinir:upscale=3,img_size=8,window_size=4,embed_dim=8,depths=[3],num_heads=[2],"
     "mlp_ratio=1.5,drop_path_rate=0,upsampler=pixelshuffledirect", (1, 3, 7, 10), "eval"),
    ("swinir_real_x4_3conv", "swinir:upscale=4,img_size=8,window_size=4,embed_dim=8,depths=[2],num_heads=[2],"
     "drop_path_rate=0,upsampler=nearest+conv,resi_connection=3conv", (1, 3, 6, 5), "eval"),
    ("swinir_denoise_gray", "swinir:upscale=1,in_chans=1,img_size=8,window_size=4,embed_dim=8,depths=[2],num_heads=[2],"
     "drop_path_rate=0,img_range=255", (1, 1, 9, 8), "eval"),
    # HAT: the OCA index's wrapped entries, OCAB's unmasked zero border, CAB; DRCT: the dense groups
    # with their varying widths and heads.
    ("hat_x2", "hat:upscale=2,img_size=16,window_size=4,embed_dim=12,depths=[2,2],num_heads=[3,2],mlp_ratio=2,"
     "compress_ratio=3,squeeze_factor=4,drop_path_rate=0", (2, 3, 8, 8), "train"),
    ("hat_x3_identity_odd", "hat:upscale=3,img_size=8,window_size=4,embed_dim=8,depths=[1],num_heads=[2],compress_ratio=2,"
     "squeeze_factor=2,conv_scale=0.5,resi_connection=identity,drop_path_rate=0", (1, 3, 7, 10), "eval"),
    ("drct_x2", "drct:upscale=2,img_size=16,window_size=4,embed_dim=12,depths=[2,2],num_heads=[3,2],mlp_ratio=2,gc=4,"
     "drop_path_rate=0", (2, 3, 8, 8), "train"),
    ("drct_x4_gray_odd", "drct:upscale=4,in_chans=1,img_size=8,window_size=4,embed_dim=6,depths=[6],num_heads=[3],gc=2,"
     "drop_path_rate=0", (1, 1, 6, 9), "eval"),
]


def f32(t):
    """float64 with float32 values."""
    return t.float().double()


def make(name, spec, shape, mode, out_dir):
    torch.manual_seed(sum(map(ord, name)))
    model = models.build(spec)
    with torch.no_grad():  # non-trivial values everywhere, all exactly representable in float32
        for n, p in model.named_parameters():
            p.copy_(f32(p + 0.05 * torch.randn_like(p)) if "weight" not in n or p.dim() <= 1 else f32(p))
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    model = model.double()
    model.train(mode == "train")
    # The state as loaded (spectral norm's parametrisation keeps weight_orig as the parameter).
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")}
    x = f32(torch.rand(shape, dtype=torch.float64)).requires_grad_()
    y = model(x)
    gy = f32(torch.randn_like(y))
    y.backward(gy)
    out = {"input": x.detach(), "output": y.detach(), "grad_output": gy, "grad.input": x.grad}
    for n, p in params.items():
        out["param." + n] = p
    for n, b in buffers.items():
        out["buffer." + n] = b
    for n, p in model.named_parameters():
        out["grad." + n] = p.grad
    if mode == "train":
        for n, b in model.named_buffers():
            if not n.endswith("num_batches_tracked"):
                out["state." + n] = b.detach()
    tensors = {k: v.float().numpy() for k, v in out.items()}
    safetensors_np.save(os.path.join(out_dir, name + ".safetensors"), tensors,
                        {"spec": spec, "mode": mode, "generator": "tools/reference/make_model_fixtures.py",
                         "torch": torch.__version__})


def main():
    out_dir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "models"))
    os.makedirs(out_dir, exist_ok=True)
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    for name, spec, shape, mode in CASES:
        if re.search(only, name):
            make(name, spec, shape, mode, out_dir)
            print("wrote", name)


if __name__ == "__main__":
    main()
