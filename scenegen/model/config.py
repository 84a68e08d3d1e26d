"""Architecture settings of a scenegen VAE, stored in a model directory's config.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["texture", "sprite"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network (no weights).

    ``texture`` mode: RGB, circular padding in every decoder convolution (periodic output).
    ``sprite`` mode: RGBA, zero padding (objects in a frame, nothing wraps).
    """

    mode: Mode = "texture"
    classes: tuple[str, ...] = ()
    latent_channels: int = 8
    encoder_widths: tuple[int, ...] = (32, 64, 128)
    decoder_widths: tuple[int, ...] = (128, 64, 32, 16)
    cond_channels: int = 16
    crop_size: int = 128
    loss_margin: int = 16
    #: "nearest" or "bilinear" (texture mode wraps the image before interpolating, so it stays periodic).
    upsample: str = "nearest"
    #: residual blocks per decoder level (0.6.0; config.json omits the default, so older models read unchanged)
    decoder_blocks: int = 1

    @property
    def image_channels(self) -> int:
        return 3 if self.mode == "texture" else 4

    @property
    def scale(self) -> int:
        """Pixels per latent cell."""
        return 2 ** (len(self.decoder_widths) - 1)

    @property
    def num_conditions(self) -> int:
        """Classes plus one 'any' condition (class dropout) used for photos and blends."""
        return len(self.classes) + 1

    @property
    def any_class(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["classes"] = list(self.classes)
        data["encoder_widths"] = list(self.encoder_widths)
        data["decoder_widths"] = list(self.decoder_widths)
        if self.decoder_blocks == 1:
            del data["decoder_blocks"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Rebuild from config.json's ``model`` section; ValueError (one line) for anything a CPU cannot build."""
        if not isinstance(data, dict):
            raise ValueError("the model section must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("classes", "encoder_widths", "decoder_widths"):
            if key in kwargs:
                if not isinstance(kwargs[key], (list, tuple)):
                    raise ValueError(f"{key} must be a list")
                kwargs[key] = tuple(kwargs[key])
        for key, (low, high) in _BOUNDS.items():
            values = kwargs.get(key, ())
            for value in values if isinstance(values, tuple) else (values,):
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise ValueError(f"{key} must hold integers from {low} to {high}, got {str(value)[:40]}")
        for key in ("encoder_widths", "decoder_widths"):
            if key in kwargs and not 1 <= len(kwargs[key]) <= 8:
                raise ValueError(f"{key} must list 1 to 8 widths, got {len(kwargs[key])}")
        if any(not isinstance(c, str) or not c for c in kwargs.get("classes", ())):
            raise ValueError("classes must be non-empty strings")
        if kwargs.get("mode", "texture") not in ("texture", "sprite"):
            raise ValueError(f"mode must be 'texture' or 'sprite', got {str(kwargs['mode'])[:40]}")
        return cls(**kwargs)


_BOUNDS = {"latent_channels": (1, 256), "encoder_widths": (1, 4096), "decoder_widths": (1, 4096),
           "cond_channels": (1, 1024), "crop_size": (8, 8192), "loss_margin": (0, 4096), "decoder_blocks": (1, 8)}


@dataclass
class TrainConfig:
    """Optimisation settings of one training run."""

    steps: int = 2000
    batch: int = 8
    lr: float = 2e-3
    seed: int = 0
    kl_weight: float = 1e-3
    fft_weight: float = 4.0
    gram_weight: float = 0.25
    class_dropout: float = 0.15
    #: weight of the patch-adversarial term (0 = off; balanced adaptively, see losses.adaptive_adv_weight)
    adv_weight: float = 0.0
    #: step at which the critic starts training; the decoder feels it 100 steps later
    adv_start: int = 0
    checkpoint_every: int = 100
    sample_every: int = 100
    extra: dict[str, Any] = field(default_factory=dict)


#: Architecture of texture-mode models trained from scratch (0.4.0): one latent cell per 4×4 pixels with 12
#: channels (4:1 compression; the 8-px, 8-channel grid of 0.3.0 kept 20 dB and lost brick courses), a decoder
#: sized so a 512² decode stays well under half a second on two CPU cores, and a near-zero KL weight (the prior
#: is non-parametric: quilted encoder means, so the latent need not match N(0, 1)).
TEXTURE_ARCHITECTURE: dict[str, Any] = {
    "latent_channels": 12,
    "encoder_widths": (32, 64),
    "decoder_widths": (96, 48, 24),
}

#: Architecture of sprite-mode models (0.4.0): 256² sprites decoded natively from a 32² grid of 12 channels.
#: Training runs on 128² crops of the 256² sprites (the network is fully convolutional, so it learns the same
#: mapping at a quarter of the cost) with an 8-px loss margin where a crop cuts through the object; the prior
#: encodes whole 256² sprites. A 64/48/32/16 decoder keeps leaf clumps and blades and decodes a batch of 256²
#: sprites at well over 50 per second on two CPU cores.
SPRITE_ARCHITECTURE: dict[str, Any] = {
    "latent_channels": 12,
    "encoder_widths": (24, 48, 96),
    "decoder_widths": (64, 48, 32, 16),
    "loss_margin": 8,
}
