"""A class-conditional convolutional VAE with a spatial latent grid.

Decoder: every convolution pads circularly in texture mode, and upsampling either repeats pixels
(nearest) or interpolates bilinearly after a one-pixel wrap-around pad (never clamped at a border),
so a periodic latent grid decodes to a periodic image of any size (8 px per latent cell). Bilinear
upsampling leaves no 8-px cell pattern for the wrap edge (always a cell boundary) to show.
The class enters as a spatial conditioning map (an embedding broadcast over the grid and injected
at every scale): the global component that keeps a class's structure, and spatially blendable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


def _conv(cin: int, cout: int, padding_mode: str, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, padding_mode=padding_mode)


def upsample2x(x: torch.Tensor, mode: str, periodic: bool) -> torch.Tensor:
    """Double the resolution; with ``periodic`` the bilinear kernel reads across the wrap-around edge."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    if not periodic:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    wrapped = F.pad(x, (1, 1, 1, 1), mode="circular")
    return F.interpolate(wrapped, scale_factor=2.0, mode="bilinear", align_corners=False)[..., 2:-2, 2:-2]


class ResBlock(nn.Module):
    """Two 3×3 convolutions with a skip connection."""

    def __init__(self, channels: int, padding_mode: str) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, padding_mode)
        self.conv2 = _conv(channels, channels, padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    """Image → (mean, log-variance) of the latent grid, 1/scale the resolution."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        pad = "reflect" if cfg.mode == "texture" else "zeros"
        widths = cfg.encoder_widths
        self.conv_in = _conv(cfg.image_channels, widths[0], pad)
        blocks: list[nn.Module] = []
        cin = widths[0]
        for width in widths:
            blocks += [ResBlock(cin, pad), _conv(cin, width, pad, stride=2)]
            cin = width
        self.blocks = nn.ModuleList(blocks)
        self.conv_out = _conv(cin, 2 * cfg.latent_channels, pad)

    def forward(self, image: torch.Tensor, periodic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``periodic``: pad circularly (a tileable image gives an exact latent torus); else as trained."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d) and m.padding_mode != "zeros"]
        trained = [m.padding_mode for m in convs]
        if periodic:
            for m in convs:
                m.padding_mode = "circular"
        try:
            x = self.conv_in(image * 2.0 - 1.0)
            for block in self.blocks:
                x = block(x) if isinstance(block, ResBlock) else F.silu(block(x))
            mean, logvar = self.conv_out(x).chunk(2, dim=1)
        finally:
            for m, mode in zip(convs, trained):
                m.padding_mode = mode
        return mean, logvar.clamp(-12.0, 6.0)


class Decoder(nn.Module):
    """Latent grid + conditioning map → image in [0, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        pad = "circular" if cfg.mode == "texture" else "zeros"
        widths = cfg.decoder_widths
        self.embedding = nn.Embedding(cfg.num_conditions, cfg.cond_channels)
        self.conv_in = _conv(cfg.latent_channels + cfg.cond_channels, widths[0], pad)
        self.cond_proj = nn.ModuleList(nn.Conv2d(cfg.cond_channels, w, 1) for w in widths)
        self.up_convs = nn.ModuleList(_conv(widths[i - 1], widths[i], pad) for i in range(1, len(widths)))
        self.blocks = nn.ModuleList(ResBlock(w, pad) for w in widths)
        self.conv_out = _conv(widths[-1], cfg.image_channels, pad)
        self.upsample_mode, self.periodic = cfg.upsample, cfg.mode == "texture"

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """One ×2 step of the decoder's upsampling (see :func:`upsample2x`)."""
        return upsample2x(x, self.upsample_mode, self.periodic)

    def condition_map(self, labels: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Per-image class labels (B,) → a constant B×C×h×w conditioning map."""
        emb = self.embedding(labels)[:, :, None, None]
        return emb.expand(-1, -1, height, width)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Decode ``z`` (B×L×h×w) under ``cond`` (B×C×h×w, e.g. from ``condition_map``)."""
        x = self.conv_in(torch.cat([z, cond], dim=1))
        for level, block in enumerate(self.blocks):
            if level > 0:
                x = self.upsample(x)
                cond = self.upsample(cond)
                x = F.silu(self.up_convs[level - 1](x))
            x = block(x + self.cond_proj[level](cond))
        return torch.sigmoid(self.conv_out(F.silu(x)))


class VAE(nn.Module):
    """Encoder + decoder with the reparameterisation trick."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(
        self, image: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(image)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        z = mean + noise * torch.exp(0.5 * logvar)
        cond = self.decoder.condition_map(labels, z.shape[2], z.shape[3])
        return self.decoder(z, cond), mean, logvar


def receptive_halo(cfg: ModelConfig) -> int:
    """Latent cells of context the decoder needs on each side for an exact tiled decode."""
    cells = 0.0
    for level in range(len(cfg.decoder_widths)):
        convs = 2 + (1 if level > 0 else 1)  # res block + (up conv | conv_in)
        cells += convs / (2**level)
    cells += 1 / cfg.scale  # conv_out
    return int(cells) + 2


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters())
