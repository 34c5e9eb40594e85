"""PyTorch definitions of the networks srforge implements, written for the parity fixtures from the
published architectures (BasicSR's EDSR, RRDBNet, MSRResNet, VGGStyleDiscriminator and
UNetDiscriminatorSN; EDSR-PyTorch's RDN; idealo ISR's RDN and RRDN, re-expressed in PyTorch with
TensorFlow's depth_to_space; the SRGAN SRResNet as Lornatang/SRGAN-PyTorch names it; torchvision's
VGG19 features; SwinIR in transformers.py). Parameter names are the reference implementations', so state dicts are
interchangeable with srforge's models. `build(spec)` takes srforge's spec strings.
"""
import math
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transformers  # noqa: E402  (SwinIR, beside this file)


def conv(i, o, k=3, stride=1, bias=True):
    return nn.Conv2d(i, o, k, stride, k // 2 if stride == 1 else 1, bias=bias)


# ---- BasicSR EDSR ---------------------------------------------------------------------------------
class ResidualBlockNoBN(nn.Module):
    def __init__(self, nf, res_scale=1.0):
        super().__init__()
        self.res_scale = res_scale
        self.conv1, self.conv2 = conv(nf, nf), conv(nf, nf)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale


class Upsample(nn.Sequential):
    def __init__(self, scale, nf):
        m = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                m += [conv(nf, 4 * nf), nn.PixelShuffle(2)]
        else:
            m += [conv(nf, 9 * nf), nn.PixelShuffle(3)]
        super().__init__(*m)


class EDSR(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4, res_scale=1.0, img_range=255.0,
                 rgb_mean=(0.4488, 0.4371, 0.4040)):
        super().__init__()
        self.img_range = img_range
        self.mean = torch.tensor(rgb_mean).view(1, 3, 1, 1)
        self.conv_first = conv(num_in_ch, num_feat)
        self.body = nn.Sequential(*[ResidualBlockNoBN(num_feat, res_scale) for _ in range(num_block)])
        self.conv_after_body = conv(num_feat, num_feat)
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = conv(num_feat, num_out_ch)

    def forward(self, x):
        mean = self.mean.to(x)
        x = self.conv_first((x - mean) * self.img_range)
        res = self.conv_after_body(self.body(x)) + x
        return self.conv_last(self.upsample(res)) / self.img_range + mean


# ---- EDSR-PyTorch RDN (and ISR's upsampler variant) ------------------------------------------------
class RDBConv(nn.Module):
    def __init__(self, cin, g):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, g, 3, padding=1), nn.ReLU())

    def forward(self, x):
        return torch.cat((x, self.conv(x)), 1)


class RDB(nn.Module):
    def __init__(self, g0, g, c):
        super().__init__()
        self.convs = nn.Sequential(*[RDBConv(g0 + i * g, g) for i in range(c)])
        self.LFF = nn.Conv2d(g0 + c * g, g0, 1)

    def forward(self, x):
        return self.LFF(self.convs(x)) + x


def depth_to_space(x, r):
    """TensorFlow's order: y[n, c, h r + i, w r + j] = x[n, (i r + j) C + c, h, w]."""
    n, crr, h, w = x.shape
    c = crr // (r * r)
    return x.view(n, r, r, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c, h * r, w * r)


class RDN(nn.Module):
    def __init__(self, scale=4, G0=64, RDNkSize=3, RDNconfig="B", D=None, C=None, G=None, n_colors=3, rgb_range=None,
                 variant="edsr", upscaling="ups"):
        super().__init__()
        d, c, g = {"A": (20, 6, 32), "B": (16, 8, 64)}[RDNconfig]
        D, C, G = D or d, C or c, G or g
        k = RDNkSize
        self.isr, self.scale, self.upscaling = variant == "isr", scale, upscaling
        self.rgb_range = rgb_range if rgb_range is not None else (1.0 if self.isr else 255.0)
        self.SFENet1 = nn.Conv2d(n_colors, G0, k, padding=k // 2)
        self.SFENet2 = nn.Conv2d(G0, G0, k, padding=k // 2)
        self.RDBs = nn.ModuleList([RDB(G0, G, C) for _ in range(D)])
        self.GFF = nn.Sequential(nn.Conv2d(D * G0, G0, 1), nn.Conv2d(G0, G0, k, padding=k // 2))
        if self.isr:
            self.UPN1 = nn.Conv2d(G0, 64, 5, padding=2)
            self.UPN2 = nn.Conv2d(64, 32, 3, padding=1)
            self.UPN3 = nn.Conv2d(32, n_colors * scale * scale, 3, padding=1)
            self.SR = nn.Conv2d(n_colors * scale * scale if upscaling == "ups" else n_colors, n_colors, 3, padding=1)
        elif scale == 4:
            self.UPNet = nn.Sequential(nn.Conv2d(G0, G * 4, k, padding=k // 2), nn.PixelShuffle(2),
                                       nn.Conv2d(G, G * 4, k, padding=k // 2), nn.PixelShuffle(2),
                                       nn.Conv2d(G, n_colors, k, padding=k // 2))
        else:
            self.UPNet = nn.Sequential(nn.Conv2d(G0, G * scale * scale, k, padding=k // 2), nn.PixelShuffle(scale),
                                       nn.Conv2d(G, n_colors, k, padding=k // 2))

    def forward(self, x):
        f1 = self.SFENet1(x * self.rgb_range)
        x = self.SFENet2(f1)
        outs = []
        for rdb in self.RDBs:
            x = rdb(x)
            outs.append(x)
        x = self.GFF(torch.cat(outs, 1)) + f1
        if self.isr:
            y = self.UPN3(F.relu(self.UPN2(F.relu(self.UPN1(x)))))
            y = F.interpolate(y, scale_factor=self.scale, mode="nearest") if self.upscaling == "ups" else depth_to_space(y, self.scale)
            y = self.SR(y)
        else:
            y = self.UPNet(x)
        return y / self.rgb_range


# ---- idealo ISR RRDN, in PyTorch with ISR's layer names ---------------------------------------------
class RRDN(nn.Module):
    def __init__(self, C=4, D=3, G=32, G0=32, T=10, x=4, beta=0.2, c_dim=3, kernel_size=3):
        super().__init__()
        self.C, self.D, self.T, self.scale, self.beta = C, D, T, x, beta
        k = kernel_size
        self.Pre_blocks_conv = nn.Conv2d(c_dim, G0, k, padding=k // 2)
        for t in range(1, T + 1):
            for d in range(1, D + 1):
                for c in range(1, C + 1):
                    setattr(self, f"F_{t}_{d}_{c}", nn.Conv2d(G0 + (c - 1) * G, G, k, padding=k // 2))
                setattr(self, f"LFF_{t}_{d}", nn.Conv2d(G0 + C * G, G0, 3, padding=1))
        self.post_blocks_conv = nn.Conv2d(G0, G0, k, padding=k // 2)
        self.PreShuffle = nn.Conv2d(G0, c_dim * x * x, k, padding=k // 2)
        self.SR = nn.Conv2d(c_dim, c_dim, k, padding=k // 2)

    def forward(self, inp):
        pre = self.Pre_blocks_conv(inp)
        x = pre
        for t in range(1, self.T + 1):
            block_in = x
            for d in range(1, self.D + 1):
                y = x
                for c in range(1, self.C + 1):
                    y = torch.cat((y, F.relu(getattr(self, f"F_{t}_{d}_{c}")(y))), 1)
                x = x + self.beta * getattr(self, f"LFF_{t}_{d}")(y)
            x = block_in + self.beta * x
        x = self.post_blocks_conv(x) + pre
        return self.SR(depth_to_space(self.PreShuffle(x), self.scale))


# ---- BasicSR RRDBNet --------------------------------------------------------------------------------
class ResidualDenseBlock(nn.Module):
    def __init__(self, nf, g):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = conv(nf, g), conv(nf + g, g), conv(nf + 2 * g, g)
        self.conv4, self.conv5 = conv(nf + 3 * g, g), conv(nf + 4 * g, nf)

    def forward(self, x):
        x1 = F.leaky_relu(self.conv1(x), 0.2)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), 0.2)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), 0.2)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), 0.2)
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf, g):
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = ResidualDenseBlock(nf, g), ResidualDenseBlock(nf, g), ResidualDenseBlock(nf, g)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.scale = scale
        cin = num_in_ch * {1: 16, 2: 4, 4: 1}[scale]
        self.conv_first = conv(cin, num_feat)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body, self.conv_up1, self.conv_up2, self.conv_hr = (conv(num_feat, num_feat) for _ in range(4))
        self.conv_last = conv(num_feat, num_out_ch)

    def forward(self, x):
        feat = F.pixel_unshuffle(x, 2) if self.scale == 2 else F.pixel_unshuffle(x, 4) if self.scale == 1 else x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


# ---- BasicSR MSRResNet and the SRGAN SRResNet -------------------------------------------------------
class MSRResNet(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4):
        super().__init__()
        self.upscale = upscale
        self.conv_first = conv(num_in_ch, num_feat)
        self.body = nn.Sequential(*[ResidualBlockNoBN(num_feat) for _ in range(num_block)])
        if upscale == 4:
            self.upconv1, self.upconv2 = conv(num_feat, num_feat * 4), conv(num_feat, num_feat * 4)
        else:
            self.upconv1 = conv(num_feat, num_feat * upscale * upscale)
        self.conv_hr, self.conv_last = conv(num_feat, num_feat), conv(num_feat, num_out_ch)

    def forward(self, x):
        lrelu = lambda t: F.leaky_relu(t, 0.1)
        out = self.body(lrelu(self.conv_first(x)))
        if self.upscale == 4:
            out = lrelu(F.pixel_shuffle(self.upconv1(out), 2))
            out = lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        else:
            out = lrelu(F.pixel_shuffle(self.upconv1(out), self.upscale))
        out = self.conv_last(lrelu(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)


class ResidualConvBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.rcb = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.PReLU(),
                                 nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        return self.rcb(x) + x


class UpsampleBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.upsample_block = nn.Sequential(nn.Conv2d(ch, ch * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())

    def forward(self, x):
        return self.upsample_block(x)


class SRResNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, channels=64, num_rcb=16, upscale_factor=4):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, channels, 9, 1, 4), nn.PReLU())
        self.trunk = nn.Sequential(*[ResidualConvBlock(channels) for _ in range(num_rcb)])
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        self.upsampling = nn.Sequential(*[UpsampleBlock(channels) for _ in range(int(math.log2(upscale_factor)))])
        self.conv3 = nn.Conv2d(channels, out_channels, 9, 1, 4)

    def forward(self, x):
        out1 = self.conv1(x)
        out = out1 + self.conv2(self.trunk(out1))
        return torch.clamp(self.conv3(self.upsampling(out)), 0.0, 1.0)


# ---- BasicSR discriminators -------------------------------------------------------------------------
class VGGStyleDiscriminator(nn.Module):
    def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
        super().__init__()
        self.input_size = input_size
        nf = num_feat
        widths = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf, 8 * nf][: 5 if input_size == 128 else 6]
        self.conv0_0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1, bias=True)
        self.stages = []
        cin = nf
        for i, w in enumerate(widths):
            for j in (0, 1):
                if i == 0 and j == 0:
                    continue
                c = nn.Conv2d(cin, w, 3 if j == 0 else 4, 1 if j == 0 else 2, 1, bias=False)
                b = nn.BatchNorm2d(w, affine=True)
                setattr(self, f"conv{i}_{j}", c)
                setattr(self, f"bn{i}_{j}", b)
                self.stages.append((f"conv{i}_{j}", f"bn{i}_{j}"))
                cin = w
        self.linear1 = nn.Linear(nf * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(self, x):
        feat = F.leaky_relu(self.conv0_0(x), 0.2)
        for c, b in self.stages:
            feat = F.leaky_relu(getattr(self, b)(getattr(self, c)(feat)), 0.2)
        feat = feat.view(feat.size(0), -1)
        return self.linear2(F.leaky_relu(self.linear1(feat), 0.2))


class UNetDiscriminatorSN(nn.Module):
    def __init__(self, num_in_ch=3, num_feat=64, skip_connection=True):
        super().__init__()
        self.skip = skip_connection
        sn = torch.nn.utils.spectral_norm
        nf = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x):
        lrelu = lambda t: F.leaky_relu(t, 0.2)
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)
        x0 = lrelu(self.conv0(x))
        x1 = lrelu(self.conv1(x0))
        x2 = lrelu(self.conv2(x1))
        x3 = lrelu(self.conv3(x2))
        x4 = lrelu(self.conv4(up(x3)))
        if self.skip:
            x4 = x4 + x2
        x5 = lrelu(self.conv5(up(x4)))
        if self.skip:
            x5 = x5 + x1
        x6 = lrelu(self.conv6(up(x5)))
        if self.skip:
            x6 = x6 + x0
        return self.conv9(lrelu(self.conv8(lrelu(self.conv7(x6)))))


# ---- torchvision VGG19 features ---------------------------------------------------------------------
VGG_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def vgg_layer_names():
    names, block, i = [], 1, 1
    for v in VGG_CONFIG:
        if v == "M":
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            i += 1
    return names


class VGG19Features(nn.Module):
    def __init__(self, use_input_norm=True, range_norm=False, layer_name_list="conv5_4"):
        super().__init__()
        self.layers = layer_name_list.split("/")
        names = vgg_layer_names()
        self.deepest = max(names.index(n) for n in self.layers)
        modules, cin = [], 3
        for v in VGG_CONFIG:
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*modules[: self.deepest + 1])
        self.names = names[: self.deepest + 1]
        self.use_input_norm, self.range_norm = use_input_norm, range_norm

    def forward(self, x):
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            mean = torch.tensor([0.485, 0.456, 0.406], dtype=x.dtype).view(1, 3, 1, 1)
            std = torch.tensor([0.229, 0.224, 0.225], dtype=x.dtype).view(1, 3, 1, 1)
            x = (x - mean) / std
        out = {}
        for name, layer in zip(self.names, self.features):
            x = layer(x)
            out[name] = x
        return out[self.layers[-1]]


# ---- srforge spec strings -----------------------------------------------------------------------------
def _value(text):
    if text.startswith("[") and text.endswith("]"):
        return [_value(part) for part in text[1:-1].split(",")]
    if text in ("true", "false"):
        return text == "true"
    if "/" in text and all(part.replace(".", "").replace("-", "").isdigit() for part in text.split("/")):
        return tuple(float(p) for p in text.split("/"))
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact network (realesrgan/archs/srvgg_arch.py): convolutions at the input's
    resolution, a pixel shuffle at the end, and the nearest-upsampled input added."""

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"):
        super().__init__()
        self.upscale = upscale

        def activation():
            if act_type == "prelu":
                return nn.PReLU(num_parameters=num_feat)
            return nn.ReLU() if act_type == "relu" else nn.LeakyReLU(negative_slope=0.1)

        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), activation()])
        for _ in range(num_conv):
            self.body.extend([nn.Conv2d(num_feat, num_feat, 3, 1, 1), activation()])
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def norm_choice(norm):
    """The reference's get_norm_layer and use_bias: instance norm without affine parameters after
    convolutions with a bias, or ('none') an Identity after convolutions without one."""
    if norm == "instance":
        return True, nn.InstanceNorm2d
    assert norm == "none", norm
    return False, lambda channels: nn.Identity()


class ResnetBlock(nn.Module):
    """CycleGAN's residual block (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py), with
    reflection padding, instance norm without affine parameters, no dropout (CycleGAN's default)."""

    def __init__(self, dim, norm="instance"):
        super().__init__()
        bias, norm_layer = norm_choice(norm)
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(dim), nn.ReLU(True),
                                        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: a 7x7 stem, n_downsampling stride-2 convolutions (the reference's fixed
    2), n_blocks ResnetBlocks, as many transposed convolutions (stride 2, output_padding 1), a 7x7
    convolution and tanh."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=9, n_downsampling=2, norm="instance"):
        super().__init__()
        bias, norm_layer = norm_choice(norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 2 ** n_downsampling, norm) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias), norm_layer(c // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The PatchGAN discriminator (--netD basic is n_layers 3, the 70x70 PatchGAN); 4x4 convolutions
    with padding 1, LeakyReLU 0.2, instance norm after all but the first and the last."""

    def __init__(self, input_nc=3, ndf=64, n_layers=3):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            nxt = min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * mult, ndf * nxt, 4, stride=2 if n < n_layers else 1, padding=1), nn.InstanceNorm2d(ndf * nxt),
                       nn.LeakyReLU(0.2, True)]
            mult = nxt
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def build(spec):
    name, _, rest = spec.partition(":")
    items = re.findall(r"([^,=]+)=(\[[^\]]*\]|[^,]*)", rest)  # commas inside [...] belong to a list
    kwargs = {k: _value(v) for k, v in items}
    classes = {"edsr": EDSR, "rdn": RDN, "rrdn": RRDN, "rrdbnet": RRDBNet, "msrresnet": MSRResNet, "srresnet": SRResNet,
               "srvgg_compact": SRVGGNetCompact,
               "vgg_discriminator": VGGStyleDiscriminator, "unet_discriminator_sn": UNetDiscriminatorSN, "vgg19": VGG19Features,
               "resnet_generator": ResnetGenerator, "patchgan_discriminator": NLayerDiscriminator,
               "swinir": transformers.SwinIR, "hat": transformers.HAT, "drct": transformers.DRCT}
    if name == "rrdn" and "scale" in kwargs:
        kwargs["x"] = kwargs.pop("scale")
    return classes[name](**kwargs)


def save_io(model, path, spec, shape, seed):
    """A parity fixture: a random input of `shape`, the model's output (eval mode) and the spec."""
    import safetensors_np  # beside this file

    torch.manual_seed(seed)
    x = torch.rand(shape)
    model.eval()
    with torch.no_grad():
        y = model(x)
    safetensors_np.save(path, {"input": x.numpy(), "output": y.numpy()}, {"spec": spec})
