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
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("classes", "encoder_widths", "decoder_widths"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


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
    checkpoint_every: int = 100
    sample_every: int = 100
    extra: dict[str, Any] = field(default_factory=dict)


#: Architecture of sprite-mode models (texture mode keeps the ModelConfig defaults): a light decoder so a
#: batch of 256² sprites decodes in well under 20 ms each on two CPU cores, and no loss margin (nothing wraps,
#: the sprite's frame is part of the picture).
SPRITE_ARCHITECTURE: dict[str, Any] = {
    "encoder_widths": (16, 32, 64),
    "decoder_widths": (48, 24, 12, 8),
    "loss_margin": 0,
}
