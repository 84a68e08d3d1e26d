"""A class-conditional convolutional VAE with a spatial latent grid.

Decoder: every convolution pads circularly in texture mode, and upsampling either repeats pixels
(nearest) or interpolates bilinearly after a one-pixel wrap-around pad (never clamped at a border),
so a periodic latent grid decodes to a periodic image of any size (8 px per latent cell). Bilinear
upsampling leaves no 8-px cell pattern for the wrap edge (always a cell boundary) to show.
The class enters as a spatial conditioning map (an embedding broadcast over the grid and injected
at every scale): the global component that keeps a class's structure, and spatially blendable.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


_CACHE_LOCK = threading.Lock()


def _conv(cin: int, cout: int, padding_mode: str, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, padding_mode=padding_mode)


def upsample2x(x: torch.Tensor, mode: str, periodic: bool) -> torch.Tensor:
    """Double the resolution; with ``periodic`` the bilinear kernel reads across the wrap-around edge."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    if not periodic:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    wrapped = F.pad(x, (1, 1, 1, 1), mode="circular")
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        wrapped = wrapped.contiguous(memory_format=torch.channels_last)  # the pad returns NCHW: keep the NHWC kernel
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
        if cfg.decoder_blocks > 1:  # a module only when used: older models' weight files hold no such keys
            self.more_blocks = nn.ModuleList(
                nn.ModuleList(ResBlock(w, pad) for _ in range(cfg.decoder_blocks - 1)) for w in widths)
        self.conv_out = _conv(widths[-1], cfg.image_channels, pad)
        self.upsample_mode, self.periodic = cfg.upsample, cfg.mode == "texture"

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """One ×2 step of the decoder's upsampling (see :func:`upsample2x`)."""
        return upsample2x(x, self.upsample_mode, self.periodic)

    def level_blocks(self, level: int) -> list[ResBlock]:
        """The residual blocks of ``level``, in order (``blocks[level]``, then any of ``more_blocks[level]``)."""
        more = getattr(self, "more_blocks", None)
        return [self.blocks[level], *(more[level] if more is not None else ())]

    def condition_map(self, labels: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Per-image class labels (B,) → a constant B×C×h×w conditioning map."""
        emb = self.embedding(labels)[:, :, None, None]
        return emb.expand(-1, -1, height, width)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Decode ``z`` (B×L×h×w) under ``cond`` (B×C×h×w, e.g. from ``condition_map``)."""
        x = self.conv_in(torch.cat([z, cond], dim=1))
        for level in range(len(self.blocks)):
            if level > 0:
                x = self.upsample(x)
                cond = self.upsample(cond)
                x = F.silu(self.up_convs[level - 1](x))
            x = x + self.cond_proj[level](cond)
            for block in self.level_blocks(level):
                x = block(x)
        return torch.sigmoid(self.conv_out(F.silu(x)))

    # ---- inference fast path (texture models): the same numbers as forward, without padding copies

    def class_patterns(self, index: int, cells_y: int, cells_x: int) -> list[torch.Tensor] | None:
        """What ``cond_proj[level](cond)`` adds at each level in :meth:`forward` on a cells_y×cells_x grid
        conditioned on one class everywhere, as 1×C×2^l×2^l tensors (phase 0 at a cell boundary).

        A constant map does not stay constant through the wrapped bilinear upsampling (rounding): level l's term
        is 2^l-periodic. It is computed here by the modules :meth:`forward` runs, on a grid of the same size (the
        1×1 convolution's kernel and rounding depend on the pixel count, and on the thread count: call this
        single-threaded, as the decodes run). None if the term is not periodic. Cached per (class, size).
        """
        with _CACHE_LOCK:
            cache = self.__dict__.setdefault("_class_patterns", {})
        key = (index, cells_y, cells_x)
        if key not in cache:
            with _CACHE_LOCK:
                while len(cache) >= 64:
                    cache.pop(next(iter(cache)))
            with torch.no_grad():
                c = self.embedding.weight[index][None, :, None, None].expand(1, -1, cells_y, cells_x).contiguous()
                patterns: list[torch.Tensor] | None = []
                for level, proj in enumerate(self.cond_proj):
                    if level > 0:
                        c = self.upsample(c)
                    term, p = proj(c), 2**level
                    if term.shape[2] % p or term.shape[3] % p or not torch.equal(
                            term, term[:, :, :p, :p].repeat(1, 1, term.shape[2] // p, term.shape[3] // p)):
                        patterns = None
                        break
                    patterns.append(term[:, :, :p, :p].clone())
            cache[key] = patterns
        return cache[key]

    def forward_valid(self, z: torch.Tensor, cond: torch.Tensor,
                      patterns: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, int]:
        """:meth:`forward` of a window of a periodic latent grid, before the final sigmoid: every convolution
        unpadded ('valid'), upsampling without the wrap-around pad (texture models only).

        ``z``, ``cond``: B×L×h×w and B×C×h×w, a window with a margin of context on every side; with ``patterns``
        (:meth:`class_patterns`: one class on the whole grid) ``cond`` enters only the first convolution and no
        map is upsampled or projected. Returns (logits, offset): output pixel (i, j) is pixel (offset + i, offset + j) of the
        window at image scale; with a margin of :func:`receptive_halo` cells the window's core is inside it.
        The pixels equal :meth:`forward`'s (bit for bit) where forward's convolutions run through oneDNN
        (inputs over 20,480 values or a batch, which every tile is), and its elementwise operations take the
        vectorised path (their tails fall in the halo): the same kernels on the same values, and no padding copy.
        """
        if not self.periodic:
            raise ValueError("forward_valid is for periodic (texture) decoders")

        def conv(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(x, module.weight, module.bias)  # forward's call after its circular pad

        def up(x: torch.Tensor) -> torch.Tensor:  # forward's wrapped upsampling minus the pad and crop
            if self.upsample_mode == "nearest":
                return F.interpolate(x, scale_factor=2.0, mode="nearest")
            return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

        x = conv(self.conv_in, torch.cat([z, cond], dim=1))
        offset, cond_offset = 1, 0  # pixels of the current level from the window's origin
        for level in range(len(self.blocks)):
            if level > 0:
                x, offset = up(x), 2 * offset
                if patterns is None:
                    cond, cond_offset = up(cond), 2 * cond_offset
                x = F.silu(conv(self.up_convs[level - 1], x), inplace=True)
                offset += 1
            if patterns is None:
                d = offset - cond_offset
                x.add_(conv(self.cond_proj[level], cond)[:, :, d : d + x.shape[2], d : d + x.shape[3]])
            else:
                x.add_(self._pattern_map(patterns[level], x, offset))
            for res in self.level_blocks(level):
                h = conv(res.conv2, F.silu(conv(res.conv1, F.silu(x)), inplace=True))
                x = h.add_(x[:, :, 2:-2, 2:-2])  # forward's x + conv2(...): a sum, the same in either order
                offset += 2
        return conv(self.conv_out, F.silu(x, inplace=True)), offset + 1

    def _pattern_map(self, pattern: torch.Tensor, x: torch.Tensor, offset: int) -> torch.Tensor:
        """``pattern`` (1×C×p×p, phase 0 at pixel 0) laid over x's pixels, which start ``offset`` px in (the
        last few maps are kept: a canvas's tiles share a handful of sizes)."""
        p = pattern.shape[2]
        if p == 1:
            return pattern
        phase, key = offset % p, (id(pattern), offset % p, x.shape[2], x.shape[3])
        with _CACHE_LOCK:  # tiles run on several threads
            maps = self.__dict__.setdefault("_pattern_maps", {})
            entry = maps.get(key)
        if entry is None or entry[0] is not pattern:
            reps_y, reps_x = -(-(x.shape[2] + phase) // p), -(-(x.shape[3] + phase) // p)
            tiled = pattern.repeat(1, 1, reps_y, reps_x)[:, :, phase : phase + x.shape[2], phase : phase + x.shape[3]]
            entry = (pattern, tiled)
            with _CACHE_LOCK:
                while len(maps) >= 8:
                    maps.pop(next(iter(maps)), None)
                maps[key] = entry
        return entry[1]


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
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)  # drawn on the CPU
        z = mean + noise * torch.exp(0.5 * logvar)
        cond = self.decoder.condition_map(labels, z.shape[2], z.shape[3])
        return self.decoder(z, cond), mean, logvar


def receptive_halo(cfg: ModelConfig) -> int:
    """Latent cells of context the decoder needs on each side for an exact tiled decode."""
    cells = 0.0
    for level in range(len(cfg.decoder_widths)):
        convs = 2 * cfg.decoder_blocks + 1  # res blocks + (up conv | conv_in)
        cells += convs / (2**level)
    cells += 1 / cfg.scale  # conv_out
    return int(cells) + 2


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters())
