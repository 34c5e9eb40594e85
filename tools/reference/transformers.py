"""PyTorch definitions of srforge's transformer SR networks, for fixtures and baselines only.

Written from the published architecture (JingyunLiang/SwinIR models/network_swinir.py) with the
same module and parameter names, so state dicts are interchangeable with the official ones; the
official class was run beside this one on the same weights when it was written (outputs equal).
Only what srforge supports: patch size 1, no absolute position embedding, no dropout.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def windows_of(x, w):
    """[B, H, W, C] -> [B * H/w * W/w, w*w, C], windows row by row, tokens row by row."""
    B, H, W, C = x.shape
    return x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, C)


def image_of(windows, w, H, W):
    B = windows.shape[0] // ((H // w) * (W // w))
    return windows.view(B, H // w, W // w, w, w, -1).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


def relative_index(w):
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    pos = torch.stack([ys.flatten(), xs.flatten()])          # 2, N
    rel = (pos[:, :, None] - pos[:, None, :]) + (w - 1)       # 2, N, N, each in [0, 2w - 2]
    return rel[0] * (2 * w - 1) + rel[1]


def shift_mask(H, W, w, s):
    region = torch.zeros(1, H, W, 1)
    bands = ((0, H - w), (H - w, H - s), (H - s, H)), ((0, W - w), (W - w, W - s), (W - s, W))
    for i, (h0, h1) in enumerate(bands[0]):
        for j, (w0, w1) in enumerate(bands[1]):
            region[:, h0:h1, w0:w1, :] = 3 * i + j
    ids = windows_of(region, w).squeeze(-1)                   # windows, N
    diff = ids.unsqueeze(1) - ids.unsqueeze(2)
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


def init_transformer(model):
    """The official _init_weights: Linear weights trunc_normal_(std=0.02) and zero biases, LayerNorm 1 and 0."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias) if m.bias is not None else None
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight), nn.init.zeros_(m.bias)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    def __init__(self, dim, w, heads, qkv_bias=True, qk_scale=None):
        super().__init__()
        self.w, self.heads = w, heads
        self.scale = qk_scale or (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_index(w))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x, mask):
        B_, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B_, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1).permute(2, 0, 1)
        attn = (q * self.scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = (attn.view(B_ // nW, nW, self.heads, N, N) + mask[None, :, None]).view(B_, self.heads, N, N)
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(B_, N, C))


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, resolution, heads, w, shift, mlp_ratio, qkv_bias, qk_scale):
        super().__init__()
        if resolution <= w:
            w, shift = resolution, 0
        self.w, self.shift, self.resolution = w, shift, resolution
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, w, heads, qkv_bias, qk_scale)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", shift_mask(resolution, resolution, w, shift) if shift else None)

    def forward(self, x, size):
        H, W = size
        B, L, C = x.shape
        h = self.norm1(x).view(B, H, W, C)
        if self.shift:
            h = torch.roll(h, (-self.shift, -self.shift), (1, 2))
        mask = None
        if self.shift:
            mask = self.attn_mask if size == (self.resolution, self.resolution) else shift_mask(H, W, self.w, self.shift).to(x)
        h = image_of(self.attn(windows_of(h, self.w), mask), self.w, H, W)
        if self.shift:
            h = torch.roll(h, (self.shift, self.shift), (1, 2))
        x = x + h.reshape(B, L, C)
        return x + self.mlp(self.norm2(x))


def residual_conv(dim, kind):
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(nn.Conv2d(dim, dim // 4, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(dim // 4, dim // 4, 1),
                         nn.LeakyReLU(0.2), nn.Conv2d(dim // 4, dim, 3, 1, 1))


class BasicLayer(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


def to_image(t, size):
    return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], *size)


class RSTB(nn.Module):
    def __init__(self, dim, resolution, depth, heads, w, mlp_ratio, qkv_bias, qk_scale, resi_connection):
        super().__init__()
        self.residual_group = BasicLayer([SwinTransformerBlock(dim, resolution, heads, w, 0 if i % 2 == 0 else w // 2,
                                                               mlp_ratio, qkv_bias, qk_scale) for i in range(depth)])
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x, size):
        t = x
        for block in self.residual_group.blocks:
            t = block(t, size)
        return self.conv(to_image(t, size)).flatten(2).transpose(1, 2) + x


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)


class Upsample(nn.Sequential):
    def __init__(self, scale, nf):
        m = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                m += [nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2)]
        else:
            m += [nn.Conv2d(nf, 9 * nf, 3, 1, 1), nn.PixelShuffle(3)]
        super().__init__(*m)


class SwinIR(nn.Module):
    def __init__(self, img_size=64, patch_size=1, in_chans=3, embed_dim=96, depths=(6, 6, 6, 6), num_heads=(6, 6, 6, 6),
                 window_size=7, mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_path_rate=0.1, patch_norm=True, upscale=2,
                 img_range=1.0, upsampler="", resi_connection="1conv"):
        super().__init__()
        assert patch_size == 1, "patch size 1 only"  # drop_path_rate: no stochastic depth here (fixtures run without it)
        nf, self.w, self.upscale, self.img_range, self.upsampler = 64, window_size, upscale, img_range, upsampler
        self.mean = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1) if in_chans == 3 else torch.zeros(1, 1, 1, 1)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim) if patch_norm else None
        self.layers = nn.ModuleList([RSTB(embed_dim, img_size, d, h, window_size, mlp_ratio, qkv_bias, qk_scale or None,
                                          resi_connection) for d, h in zip(depths, num_heads)])
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        if upsampler in ("pixelshuffle", "nearest+conv"):
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, nf, 3, 1, 1), nn.LeakyReLU())
        if upsampler == "pixelshuffle":
            self.upsample, self.conv_last = Upsample(upscale, nf), nn.Conv2d(nf, in_chans, 3, 1, 1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, upscale ** 2 * in_chans, 3, 1, 1), nn.PixelShuffle(upscale))
        elif upsampler == "nearest+conv":
            self.conv_up1, self.conv_up2, self.conv_hr = (nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(3))
            self.conv_last = nn.Conv2d(nf, in_chans, 3, 1, 1)
        else:
            self.upscale, self.conv_last = 1, nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        init_transformer(self)

    def forward(self, x):
        H, W = x.shape[2:]
        x = F.pad(x, (0, (self.w - W % self.w) % self.w, 0, (self.w - H % self.w) % self.w), mode="reflect")
        mean = self.mean.to(x)
        x = (x - mean) * self.img_range
        f = self.conv_first(x)
        size = tuple(f.shape[2:])
        t = f.flatten(2).transpose(1, 2)
        if self.patch_embed is not None:
            t = self.patch_embed.norm(t)
        for layer in self.layers:
            t = layer(t, size)
        res = self.conv_after_body(to_image(self.norm(t), size)) + f
        if self.upsampler == "pixelshuffle":
            y = self.conv_last(self.upsample(self.conv_before_upsample(res)))
        elif self.upsampler == "pixelshuffledirect":
            y = self.upsample(res)
        elif self.upsampler == "nearest+conv":
            lrelu = lambda t: F.leaky_relu(t, 0.2)
            h = self.conv_before_upsample(res)
            h = lrelu(self.conv_up1(F.interpolate(h, scale_factor=2, mode="nearest")))
            h = lrelu(self.conv_up2(F.interpolate(h, scale_factor=2, mode="nearest")))
            y = self.conv_last(lrelu(self.conv_hr(h)))
        else:
            y = x + self.conv_last(res)
        return (y / self.img_range + mean)[:, :, :H * self.upscale, :W * self.upscale]


# ---- HAT (XPixelGroup/HAT hat/archs/hat_arch.py) ---------------------------------------------------------
def overlap_index(w, ow):
    """OCAB's (w*w, ow*ow) index into a (w + ow - 1)^2 table; negative entries are left as the official
    code leaves them (PyTorch's indexing wraps them around the table)."""
    yq, xq = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    yk, xk = torch.meshgrid(torch.arange(ow), torch.arange(ow), indexing="ij")
    dy = yk.flatten()[None, :] - yq.flatten()[:, None] + (w - ow + 1)
    dx = xk.flatten()[None, :] - xq.flatten()[:, None] + (w - ow + 1)
    return dy * (w + ow - 1) + dx


class ChannelAttention(nn.Module):
    def __init__(self, dim, squeeze):
        super().__init__()
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, dim // squeeze, 1), nn.ReLU(),
                                       nn.Conv2d(dim // squeeze, dim, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.attention(x)


class CAB(nn.Module):
    def __init__(self, dim, compress, squeeze):
        super().__init__()
        self.cab = nn.Sequential(nn.Conv2d(dim, dim // compress, 3, 1, 1), nn.GELU(), nn.Conv2d(dim // compress, dim, 3, 1, 1),
                                 ChannelAttention(dim, squeeze))

    def forward(self, x):
        return self.cab(x)


class SharedIndexAttention(WindowAttention):
    """HAT's window attention: the relative-position index is the network's, passed in."""

    def __init__(self, dim, w, heads, qkv_bias, qk_scale):
        super().__init__(dim, w, heads, qkv_bias, qk_scale)
        del self.relative_position_index


class HAB(nn.Module):
    def __init__(self, dim, heads, w, shift, compress, squeeze, conv_scale, mlp_ratio, qkv_bias, qk_scale):
        super().__init__()
        self.w, self.shift, self.conv_scale = w, shift, conv_scale
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SharedIndexAttention(dim, w, heads, qkv_bias, qk_scale)
        self.conv_block = CAB(dim, compress, squeeze)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, size, rpi, mask):
        H, W = size
        B, L, C = x.shape
        h = self.norm1(x).view(B, H, W, C)
        conv_x = self.conv_block(h.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(B, L, C)
        if self.shift:
            h = torch.roll(h, (-self.shift, -self.shift), (1, 2))
        self.attn.relative_position_index = rpi
        h = image_of(self.attn(windows_of(h, self.w), mask if self.shift else None), self.w, H, W)
        if self.shift:
            h = torch.roll(h, (self.shift, self.shift), (1, 2))
        x = x + h.reshape(B, L, C) + conv_x * self.conv_scale
        return x + self.mlp(self.norm2(x))


class OCAB(nn.Module):
    def __init__(self, dim, w, overlap_ratio, heads, qkv_bias, qk_scale, mlp_ratio):
        super().__init__()
        self.w, self.ow, self.heads = w, int(w * overlap_ratio) + w, heads
        self.scale = qk_scale or (dim // heads) ** -0.5
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((w + self.ow - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, size, rpi):
        H, W = size
        B, L, C = x.shape
        w, ow, d = self.w, self.ow, C // self.heads
        qkv = self.qkv(self.norm1(x)).view(B, H, W, 3 * C)
        q = windows_of(qkv[..., :C], w)
        kv = F.unfold(qkv[..., C:].permute(0, 3, 1, 2), kernel_size=ow, stride=w, padding=(ow - w) // 2)  # B, 2C*ow*ow, nw
        kv = kv.view(B, 2, C, ow * ow, -1).permute(1, 0, 4, 3, 2).reshape(2, -1, ow * ow, C)
        heads = lambda t: t.reshape(t.shape[0], t.shape[1], self.heads, d).transpose(1, 2)
        bias = self.relative_position_bias_table[rpi.view(-1)].view(w * w, ow * ow, -1).permute(2, 0, 1)
        attn = (heads(q) * self.scale) @ heads(kv[0]).transpose(-2, -1) + bias.unsqueeze(0)
        out = (attn.softmax(-1) @ heads(kv[1])).transpose(1, 2).reshape(-1, w * w, C)
        x = self.proj(image_of(out, w, H, W).reshape(B, L, C)) + x
        return x + self.mlp(self.norm2(x))


class AttenBlocks(nn.Module):
    def __init__(self, blocks, ocab):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.overlap_attn = ocab


class RHAG(nn.Module):
    def __init__(self, blocks, ocab, resi_connection):
        super().__init__()
        self.residual_group = AttenBlocks(blocks, ocab)
        self.conv = nn.Conv2d(blocks[0].norm1.normalized_shape[0], blocks[0].norm1.normalized_shape[0], 3, 1, 1) \
            if resi_connection == "1conv" else nn.Identity()

    def forward(self, x, size, rpi_sa, rpi_oca, mask):
        t = x
        for block in self.residual_group.blocks:
            t = block(t, size, rpi_sa, mask)
        t = self.residual_group.overlap_attn(t, size, rpi_oca)
        return self.conv(to_image(t, size)).flatten(2).transpose(1, 2) + x


class WindowTransformerSR(nn.Module):
    """The frame SwinIR, HAT and DRCT share (pixelshuffle reconstruction only, as HAT and DRCT)."""

    def frame(self, in_chans, embed_dim, patch_norm, window_size, upscale, img_range, resi_connection):
        nf, self.w, self.upscale, self.img_range = 64, window_size, upscale, img_range
        self.mean = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1) if in_chans == 3 else torch.zeros(1, 1, 1, 1)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim) if patch_norm else None

    def tail(self, in_chans, embed_dim, upscale, resi_connection):
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1) if resi_connection == "1conv" else nn.Identity()
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, 64, 3, 1, 1), nn.LeakyReLU())
        self.upsample, self.conv_last = Upsample(upscale, 64), nn.Conv2d(64, in_chans, 3, 1, 1)
        init_transformer(self)

    def forward(self, x):
        H, W = x.shape[2:]
        x = F.pad(x, (0, (self.w - W % self.w) % self.w, 0, (self.w - H % self.w) % self.w), mode="reflect")
        mean = self.mean.to(x)
        f = self.conv_first((x - mean) * self.img_range)
        size = tuple(f.shape[2:])
        t = f.flatten(2).transpose(1, 2)
        if self.patch_embed is not None:
            t = self.patch_embed.norm(t)
        t = self.body(t, size)
        res = self.conv_after_body(to_image(self.norm(t), size)) + f
        y = self.conv_last(self.upsample(self.conv_before_upsample(res)))
        return (y / self.img_range + mean)[:, :, :H * self.upscale, :W * self.upscale]


class HAT(WindowTransformerSR):
    def __init__(self, img_size=64, patch_size=1, in_chans=3, embed_dim=96, depths=(6, 6, 6, 6), num_heads=(6, 6, 6, 6),
                 window_size=7, compress_ratio=3, squeeze_factor=30, conv_scale=0.01, overlap_ratio=0.5, mlp_ratio=4.0,
                 qkv_bias=True, qk_scale=None, drop_path_rate=0.1, patch_norm=True, upscale=2, img_range=1.0,
                 upsampler="pixelshuffle", resi_connection="1conv"):
        super().__init__()
        assert patch_size == 1 and upsampler == "pixelshuffle"
        ow = int(window_size * overlap_ratio) + window_size
        self.register_buffer("relative_position_index_SA", relative_index(window_size))
        self.register_buffer("relative_position_index_OCA", overlap_index(window_size, ow))
        self.frame(in_chans, embed_dim, patch_norm, window_size, upscale, img_range, resi_connection)
        self.layers = nn.ModuleList([
            RHAG([HAB(embed_dim, h, window_size, 0 if i % 2 == 0 else window_size // 2, compress_ratio, squeeze_factor,
                      conv_scale, mlp_ratio, qkv_bias, qk_scale or None) for i in range(d)],
                 OCAB(embed_dim, window_size, overlap_ratio, h, qkv_bias, qk_scale or None, mlp_ratio), resi_connection)
            for d, h in zip(depths, num_heads)])
        self.tail(in_chans, embed_dim, upscale, resi_connection)

    def body(self, t, size):
        mask = shift_mask(size[0], size[1], self.w, self.w // 2).to(t)
        for layer in self.layers:
            t = layer(t, size, self.relative_position_index_SA, self.relative_position_index_OCA, mask)
        return t


# ---- DRCT (ming053l/DRCT drct/archs/DRCT_arch.py) ----------------------------------------------------------
class RDG(nn.Module):
    def __init__(self, dim, resolution, heads, w, mlp_ratio, qkv_bias, qk_scale, gc):
        super().__init__()
        for k in range(5):
            width = dim + k * gc
            self.add_module(f"swin{k + 1}", SwinTransformerBlock(width, resolution, heads - width % heads if k else heads, w, (k % 2) * (w // 2),
                                                                  mlp_ratio if k < 3 else 1, qkv_bias, qk_scale))
            self.add_module(f"adjust{k + 1}", nn.Conv2d(width, gc if k < 4 else dim, 1))

    def forward(self, x, size):
        feats = [x]
        for k in range(1, 6):
            h = getattr(self, f"swin{k}")(torch.cat(feats, -1), size)
            h = getattr(self, f"adjust{k}")(to_image(h, size))
            feats.append((F.leaky_relu(h, 0.2) if k < 5 else h).flatten(2).transpose(1, 2))
        return feats[-1] * 0.2 + x


class DRCT(WindowTransformerSR):
    def __init__(self, img_size=64, patch_size=1, in_chans=3, embed_dim=96, depths=(6, 6, 6, 6), num_heads=(6, 6, 6, 6),
                 window_size=7, mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_path_rate=0.1, patch_norm=True, upscale=2,
                 img_range=1.0, upsampler="pixelshuffle", resi_connection="1conv", gc=32, **ignored):
        super().__init__()
        assert patch_size == 1 and upsampler == "pixelshuffle"
        self.frame(in_chans, embed_dim, patch_norm, window_size, upscale, img_range, resi_connection)
        self.layers = nn.ModuleList([RDG(embed_dim, img_size, h, window_size, mlp_ratio, qkv_bias, qk_scale or None, gc)
                                     for h in num_heads])
        self.tail(in_chans, embed_dim, upscale, resi_connection)

    def body(self, t, size):
        for layer in self.layers:
            t = layer(t, size)
        return t
