"""A verified model directory → a torch module: safetensors in, ``LoadedModel`` out (and the reverse).

Weights are data, not code: only safetensors are read (never pickle). Everything about the directory that
needs no torch (the format, ``read_config``, file names, SHA-256 verification, the model's identity) is
:mod:`scenegen.model.directory`; every file is verified there before a byte of it is parsed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from ..errors import ScenegenError
from ..fsutil import atomic_write_bytes, atomic_write_text, sha256_bytes
from .config import ModelConfig
from .directory import CONFIG_FILE, FORMAT, FORMAT_VERSION, WEIGHT_FILES, ModelInfo, inspect, read_config, read_verified, weights_hash
from .vae import VAE

__all__ = ["FORMAT", "FORMAT_VERSION", "WEIGHT_FILES", "LoadedModel", "load_model_dir", "read_config", "save_model_dir"]


@dataclass
class LoadedModel:
    """A verified model directory, ready for inference."""

    path: Path
    config: ModelConfig
    vae: VAE
    prior: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)
    info: ModelInfo | None = None  # the verified directory it was loaded from

    @property
    def model_hash(self) -> str:
        """The reported hash of the weights: SHA-256 over the recorded file hashes (``ModelInfo.model_hash``)."""
        return weights_hash(self.meta["files"])

    @property
    def identity(self) -> str:
        """What cache keys hold (``ModelInfo.identity``: SHA-256 of config.json)."""
        if self.info is None:
            raise ValueError("a model built in memory has no directory identity")
        return self.info.identity

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes


def save_model_dir(
    directory: str | Path,
    vae: VAE,
    prior: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write weights and prior as safetensors, then config.json recording their hashes."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    blobs = {
        "model.safetensors": save_safetensors_bytes({k: v.contiguous() for k, v in vae.state_dict().items()}),
        "prior.safetensors": save_safetensors_bytes({k: v.contiguous() for k, v in prior.items()}),
    }
    for name, blob in blobs.items():
        atomic_write_bytes(out / name, blob)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": vae.cfg.to_dict(),
        **(extra or {}),
        "files": {name: sha256_bytes(blob) for name, blob in blobs.items()},
    }
    atomic_write_text(out / "config.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def _tensors(info: ModelInfo, name: str) -> dict[str, torch.Tensor]:
    path = info.path / name
    blob = read_verified(info, name)
    try:
        return load_safetensors_bytes(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ScenegenError(f"{path}: not a valid safetensors file ({str(exc)[:120]})") from None


def load_model_dir(directory: str | Path, info: ModelInfo | None = None) -> LoadedModel:
    """Verify and load a model directory (``info``: its :func:`~scenegen.model.directory.inspect`, if taken
    already). Any mismatch is a ScenegenError, never a traceback."""
    root = Path(directory)
    if info is None:
        info = inspect(root, verify=False)  # the files are verified as they are read, below
    meta = info.meta
    try:
        cfg = ModelConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenegenError(f"{root / CONFIG_FILE}: invalid 'model' section ({exc})") from None
    state = _tensors(info, "model.safetensors")
    prior = _tensors(info, "prior.safetensors")
    vae = VAE(cfg)
    try:
        vae.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ScenegenError(f"{root}: weights do not match the recorded architecture ({first[:160]})") from None
    vae.eval()
    for param in vae.parameters():
        param.requires_grad_(False)
    return LoadedModel(path=root, config=cfg, vae=vae, prior=prior, meta=meta, info=info)
