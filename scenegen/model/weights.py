"""Model directories: config.json + model.safetensors + prior.safetensors, checked by SHA-256.

Weights are data, not code: only safetensors are read (never pickle), and every file must match
the SHA-256 recorded in config.json before a byte of it is parsed.
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
from .vae import VAE

FORMAT = "scenegen-vae"
FORMAT_VERSION = 1
WEIGHT_FILES = ("model.safetensors", "prior.safetensors")
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


@dataclass
class LoadedModel:
    """A verified model directory, ready for inference."""

    path: Path
    config: ModelConfig
    vae: VAE
    prior: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model_hash(self) -> str:
        """Identity of the weights: SHA-256 over the recorded file hashes."""
        files = self.meta["files"]
        return sha256_bytes("".join(files[name] for name in WEIGHT_FILES).encode())

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


def read_config(directory: str | Path) -> dict[str, Any]:
    """Parse and sanity-check a model directory's config.json."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ScenegenError(f"{directory}: not a scenegen model directory (no config.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenegenError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ScenegenError(f"{path}: not a scenegen model config (format must be '{FORMAT}')")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ScenegenError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
    files = meta.get("files")
    if not isinstance(files, dict) or any(not isinstance(files.get(n), str) for n in WEIGHT_FILES):
        raise ScenegenError(f"{path}: missing SHA-256 entries for {', '.join(WEIGHT_FILES)}")
    return meta


def _verified_tensors(path: Path, expected_sha: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ScenegenError(f"{path}: missing model file")
    blob = path.read_bytes()
    if blob.startswith(PICKLE_MAGIC):
        raise ScenegenError(f"{path}: pickle-format weights are refused; scenegen reads safetensors only")
    actual = sha256_bytes(blob)
    if actual != expected_sha:
        raise ScenegenError(
            f"{path}: SHA-256 mismatch (recorded {expected_sha[:12]}…, file {actual[:12]}…): tampered or truncated"
        )
    try:
        return load_safetensors_bytes(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ScenegenError(f"{path}: not a valid safetensors file ({exc})") from None


def load_model_dir(directory: str | Path) -> LoadedModel:
    """Verify and load a model directory. Any mismatch is a ScenegenError, never a traceback."""
    root = Path(directory)
    meta = read_config(root)
    try:
        cfg = ModelConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenegenError(f"{root / 'config.json'}: invalid 'model' section ({exc})") from None
    state = _verified_tensors(root / "model.safetensors", meta["files"]["model.safetensors"])
    prior = _verified_tensors(root / "prior.safetensors", meta["files"]["prior.safetensors"])
    vae = VAE(cfg)
    try:
        vae.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ScenegenError(f"{root}: weights do not match the recorded architecture ({first})") from None
    vae.eval()
    for param in vae.parameters():
        param.requires_grad_(False)
    return LoadedModel(path=root, config=cfg, vae=vae, prior=prior, meta=meta)
