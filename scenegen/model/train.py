"""Training: deterministic batches, atomic checkpoints, resume after a kill, optional DDP (gloo).

Each step's batch and noise come from generators seeded by (seed, step, rank), and the learning-rate
schedule is a function of the step, so `--resume` after `kill -9` continues exactly where the last
checkpoint left off, and the same seed reproduces a run.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from ..data.patches import PatchSet, load_patch_set, sample_batch
from ..errors import ScenegenError
from ..fsutil import atomic_write_bytes, atomic_write_text, sha256_bytes
from ..imaging import save_png
from ..metrics import seam_ratio
from .config import SPRITE_ARCHITECTURE, TEXTURE_ARCHITECTURE, ModelConfig, TrainConfig
from .losses import PatchDiscriminator, RandomFeatureGram, adaptive_adv_weight, centre, hinge_d_loss, premultiply, vae_loss
from .palette import colour_stats, decoded_palette_key, palette_key
from .prior import bank_key, periodic_key
from .sprite_prior import fit_sprite_prior
from .vae import VAE, parameter_count
from .weights import save_model_dir

BANK_IMAGES = 48  # images per class the grain profile is fitted on
BANK_SOURCES = 16  # latent sources per class the texture prior keeps
BANK_SIZE = 256
PERIODIC_SEAM = 1.3  # an image whose wrap-around step is at most this × its interior step is tileable
KEEP_CHECKPOINTS = 2
ADV_WARMUP = 100  # steps the critic trains alone before the decoder feels it


def _dist_info() -> tuple[int, int]:
    """(rank, world size); joins the gloo process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up over 50 steps, then cosine decay to 5 % of the peak."""
    warm = min(50, max(1, cfg.steps // 10))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = (step - warm) / max(1, cfg.steps - warm)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


# --- checkpoints ------------------------------------------------------------------------------

Trainable = tuple[torch.nn.Module, torch.optim.Optimizer]


def _opt_prefix(prefix: str) -> str:
    """Key prefix of a part's optimiser state: "opt." for the VAE (the format of earlier checkpoints), else
    "<part>opt." (e.g. "discopt.")."""
    return "opt." if prefix == "model" else f"{prefix}opt."


def _checkpoint_tensors(parts: dict[str, Trainable]) -> dict[str, torch.Tensor]:
    """Weights and optimiser state of each (module, optimiser) pair, prefixed by its name ("model", "disc")."""
    tensors: dict[str, torch.Tensor] = {}
    for prefix, (module, opt) in parts.items():
        tensors.update({f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
        for index, state in opt.state_dict()["state"].items():
            for name, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"{_opt_prefix(prefix)}{index}.{name}"] = value.detach().cpu().reshape(value.shape).contiguous().clone()
    return tensors


def save_checkpoint(folder: Path, step: int, parts: dict[str, Trainable], info: dict[str, Any]) -> None:
    """Write checkpoints/step-N.safetensors then step-N.json (which records the tensor file's hash)."""
    folder.mkdir(parents=True, exist_ok=True)
    blob = save_safetensors_bytes(_checkpoint_tensors(parts))
    stem = folder / f"step-{step:07d}"
    atomic_write_bytes(stem.with_suffix(".safetensors"), blob)
    atomic_write_text(stem.with_suffix(".json"), json.dumps({**info, "step": step, "sha256": sha256_bytes(blob)}, indent=1))
    for old in sorted(folder.glob("step-*.json"))[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)
        old.with_suffix(".safetensors").unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """The newest checkpoint whose tensor file matches its recorded hash (a torn write is skipped)."""
    for meta_path in sorted(folder.glob("step-*.json"), reverse=True):
        try:
            meta = json.loads(meta_path.read_text())
            blob = meta_path.with_suffix(".safetensors").read_bytes()
        except (OSError, json.JSONDecodeError):
            continue
        if sha256_bytes(blob) == meta.get("sha256"):
            return meta, load_safetensors_bytes(blob)
    return None


def _restore(parts: dict[str, Trainable], tensors: dict[str, torch.Tensor], opt_step: int) -> None:
    for prefix, (module, opt) in parts.items():
        opt_prefix = _opt_prefix(prefix)
        weights = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        if not weights:
            continue  # e.g. a critic switched on for a resumed run: it starts fresh
        module.load_state_dict(weights)
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(opt_prefix):
                index, name = key[len(opt_prefix):].split(".", 1)
                state.setdefault(int(index), {})[name] = value
        for entry in state.values():
            entry.setdefault("step", torch.tensor(float(opt_step)))
        saved = opt.state_dict()
        saved["state"] = state
        opt.load_state_dict(saved)


# --- the loop ---------------------------------------------------------------------------------

def _labels_with_dropout(labels: np.ndarray, cfg: ModelConfig, tcfg: TrainConfig, step: int, rank: int) -> torch.Tensor:
    rng = np.random.default_rng([tcfg.seed, step, rank, 1])
    dropped = rng.random(len(labels)) < tcfg.class_dropout
    return torch.from_numpy(np.where(dropped, cfg.any_class, labels))


def _to_batch(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops.transpose(0, 3, 1, 2).copy())


def _training_batch(patches: PatchSet, cfg: ModelConfig, batch: int, seed: int, step: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Texture mode: crops with flips, rotations and colour jitter. Sprite mode: upright crops (sprites
    stand on their foot), mirrored left-right at random only."""
    if cfg.mode == "texture":
        return sample_batch(patches, batch, cfg.crop_size, seed, step, rank)
    crops, labels = sample_batch(patches, batch, cfg.crop_size, seed, step, rank, augment=False)
    flip = np.random.default_rng([seed, step, rank, 2]).random(batch) < 0.5
    crops[flip] = crops[flip][:, :, ::-1]
    return crops, labels


def _sample_grid(vae: VAE, patches: PatchSet, cfg: ModelConfig, seed: int) -> np.ndarray:
    """Rows: real crops, their reconstructions (a quick visual check written during training)."""
    crops, labels = sample_batch(patches, 8, cfg.crop_size, seed, 2**31 - 1, augment=False)
    device = next(vae.parameters()).device
    vae.eval()
    with torch.no_grad():
        mean, _ = vae.encoder(_to_batch(crops).to(device))
        cond = vae.decoder.condition_map(torch.from_numpy(labels).to(device), mean.shape[2], mean.shape[3])
        recon = vae.decoder(mean, cond).permute(0, 2, 3, 1).cpu().numpy()
    vae.train()
    rows = [np.concatenate(list(crops), axis=1), np.concatenate(list(recon), axis=1)]
    grid = np.concatenate(rows, axis=0)
    if grid.shape[2] == 4:  # sprites: show over a mid grey
        grid = grid[..., :3] * grid[..., 3:] + 0.5 * (1 - grid[..., 3:])
    return grid


def build_latent_bank(vae: VAE, patches: PatchSet, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Per class, the encoder means of up to BANK_SOURCES whole images (float16) and their periodicity flags.

    Tileable images (the built-in corpus) are encoded whole with circular padding: an exact latent torus.
    Where a class has tileable images, only those are kept; otherwise centre crops of its images are encoded
    as they are (non-periodic sources: the sampler keeps its patches inside them).
    """
    bank: dict[str, torch.Tensor] = {}
    vae.eval()
    for index in range(len(cfg.classes)):
        images = patches.by_class(index)
        tileable = [img for img in images if _is_tileable(img, cfg.scale)]
        periodic = bool(tileable)
        picked = _spread(tileable if periodic else images, BANK_SOURCES)
        side = (min(BANK_SIZE, min(min(img.shape[:2]) for img in picked)) // cfg.scale) * cfg.scale
        if periodic and any(img.shape[:2] != (side, side) for img in picked):
            periodic = False  # cropping a tileable image breaks its periodicity
        crops = np.stack([_centre_crop(img, side) for img in picked])
        with torch.no_grad():
            means = [vae.encoder(_to_batch(crops[i : i + 4]), periodic=periodic)[0] for i in range(0, len(crops), 4)]
        bank[bank_key(index)] = torch.cat(means).to(torch.float16)
        bank[palette_key(index)] = torch.from_numpy(np.stack([colour_stats(c) for c in crops]))
        bank[decoded_palette_key(index)] = torch.from_numpy(
            _decoded_stats(vae, bank[bank_key(index)].float(), index, periodic))
        bank[periodic_key(index)] = torch.full((len(crops),), int(periodic), dtype=torch.uint8)
    return bank


def _decoded_stats(vae: VAE, means: torch.Tensor, index: int, periodic: bool) -> np.ndarray:
    """Colour statistics of the decode of each source (as the sampler will decode it, from the float16 bank);
    a non-periodic source's wrapped edges are left out."""
    stats = []
    with torch.no_grad():
        for grid in means:
            cond = vae.decoder.condition_map(torch.tensor([index]), grid.shape[1], grid.shape[2])
            image = vae.decoder(grid[None], cond)[0].permute(1, 2, 0).numpy()
            m = 0 if periodic else min(16, image.shape[0] // 4)
            stats.append(colour_stats(image[m : image.shape[0] - m, m : image.shape[1] - m]))
    return np.stack(stats)


def _is_tileable(image: np.ndarray, scale: int) -> bool:
    h, w = image.shape[:2]
    return h == w and h % scale == 0 and seam_ratio(image) <= PERIODIC_SEAM


def _spread(items: list[np.ndarray], count: int) -> list[np.ndarray]:
    picks = np.linspace(0, len(items) - 1, num=min(count, len(items))).round().astype(int)
    return [items[i] for i in picks]


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    y, x = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[y : y + side, x : x + side]


def fit_grain_profiles(vae: VAE, patches: PatchSet, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Per class, the grain its reconstructions miss (see :mod:`scenegen.model.grain`), as prior tensors."""
    from .grain import fit_grain, profile_tensors

    margin = cfg.loss_margin
    tensors: dict[str, torch.Tensor] = {}
    vae.eval()
    for index in range(len(cfg.classes)):
        crops = _class_crops(patches, index, cfg.crop_size + 2 * margin, cfg.scale)
        side = crops.shape[1]
        with torch.no_grad():
            mean, _ = vae.encoder(_to_batch(crops))
            cond = vae.decoder.condition_map(torch.full((len(crops),), index), mean.shape[2], mean.shape[3])
            recon = vae.decoder(mean, cond).permute(0, 2, 3, 1).numpy()
        inner = (slice(None), slice(margin, side - margin), slice(margin, side - margin))
        profile = fit_grain(crops[inner], recon[inner])
        tensors.update({k: torch.from_numpy(v) for k, v in profile_tensors(index, profile).items()})
    return tensors


def _class_crops(patches: PatchSet, index: int, max_side: int, scale: int) -> np.ndarray:
    """Centre crops (≤ max_side, a multiple of ``scale``) of up to BANK_IMAGES images spread over a class."""
    images = _spread(patches.by_class(index), BANK_IMAGES)
    side = (min(max_side, min(min(img.shape[:2]) for img in images)) // scale) * scale
    return np.stack([_centre_crop(img, side) for img in images])


def heldout_psnr(vae: VAE, patches: PatchSet, cfg: ModelConfig, seed: int) -> float:
    """Reconstruction PSNR (dB) on 32 un-augmented crops drawn with a seed training never uses."""
    crops, labels = sample_batch(patches, 32, cfg.crop_size, seed + 999_983, 0, augment=False)
    vae.eval()
    with torch.no_grad():
        mean, _ = vae.encoder(_to_batch(crops))
        cond = vae.decoder.condition_map(torch.from_numpy(labels), mean.shape[2], mean.shape[3])
        recon = vae.decoder(mean, cond)
    m = cfg.loss_margin
    err = ((centre(premultiply(recon) - premultiply(_to_batch(crops)), m)) ** 2).mean().item()
    return float(10 * math.log10(1.0 / max(err, 1e-12)))


ARCHITECTURE_KEYS = ("latent_channels", "encoder_widths", "decoder_widths", "cond_channels", "loss_margin", "upsample",
                     "decoder_blocks")


def _source_architecture(source: Path) -> dict[str, Any]:
    """The architecture fields of the model directory ``source`` (what a fine-tune must keep), from its
    config.json alone (the weights are loaded and verified once, by :func:`_initialise_from`)."""
    from .weights import read_config

    cfg = ModelConfig.from_dict(read_config(source)["model"])
    return {k: getattr(cfg, k) for k in ARCHITECTURE_KEYS}


def _initialise_from(vae: VAE, cfg: ModelConfig, source: Path) -> None:
    """Copy the weights of the model directory ``source`` into ``vae`` (same mode and widths).

    Classes are matched by name: a class both models know keeps its embedding, a new class starts from the
    source's 'any' condition (what it uses for photos), so a user's folder fine-tunes the default model.
    A run with more ``decoder_blocks`` than the source grows its decoder: each new residual block starts as the
    identity (last convolution zero), so training starts from exactly the source's output.
    """
    from .weights import load_model_dir

    loaded = load_model_dir(source)
    theirs, ours = loaded.config, cfg
    differing = [k for k in ("mode", *ARCHITECTURE_KEYS) if k not in ("upsample", "decoder_blocks")
                 and getattr(theirs, k) != getattr(ours, k)]
    if ours.decoder_blocks < theirs.decoder_blocks:
        differing.append("decoder_blocks")
    if differing:
        raise ScenegenError(f"{source}: cannot start from this model, its {', '.join(differing)} differ from this run's")
    state = dict(loaded.vae.state_dict())
    table = state.pop("decoder.embedding.weight")
    rows = [table[loaded.config.classes.index(c)] if c in loaded.config.classes else table[loaded.config.any_class]
            for c in cfg.classes] + [table[loaded.config.any_class]]
    state["decoder.embedding.weight"] = torch.stack(rows)
    new = {k: v for k, v in vae.state_dict().items() if k not in state}
    with torch.no_grad():
        for key, value in new.items():
            if ".conv2." in key:  # the new blocks' last convolutions: x + 0 = x
                value.zero_()
    vae.load_state_dict({**state, **new})


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    mode: str = "texture",
    tcfg: TrainConfig = TrainConfig(),
    resume: bool = False,
    crop_size: int = 128,
    upsample: str | None = None,
    init_from: str | Path | None = None,
    architecture: dict[str, Any] | None = None,
    command: str = "",
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    device: str = "cpu",
) -> Path:
    """Train a VAE on ``data_dir`` (one sub-folder per class) and write a model directory to ``out_dir``.

    ``upsample`` defaults to bilinear for textures and nearest for sprites; ``init_from`` starts from the
    weights of an existing model directory (fine-tuning: its architecture is kept, classes matched by name);
    ``architecture`` overrides fields of the default architecture of the mode (``TEXTURE_ARCHITECTURE``,
    ``SPRITE_ARCHITECTURE``) for a model trained from scratch. ``device`` ("cpu", "cuda", "cuda:1" …) runs the
    steps there (a GPU run is not bit-identical to a CPU run; checkpoints and the model directory are the same
    format, so either resumes or fine-tunes the other); the prior is fitted on the CPU.
    """
    rank, world = _dist_info()
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    channels = 3 if mode == "texture" else 4
    patches = load_patch_set(data_dir, channels=channels, min_size=crop_size)
    arch = {**(SPRITE_ARCHITECTURE if mode == "sprite" else TEXTURE_ARCHITECTURE), **(architecture or {})}
    arch["upsample"] = upsample or arch.get("upsample") or ("bilinear" if mode == "texture" else "nearest")
    if init_from is not None:
        grow = {k: v for k, v in (architecture or {}).items() if k == "decoder_blocks"}
        arch = {**_source_architecture(Path(init_from)), **({"upsample": upsample} if upsample else {}), **grow}
    cfg = ModelConfig(mode=mode, classes=patches.classes, crop_size=crop_size, **arch)  # type: ignore[arg-type]
    if 2 ** len(cfg.encoder_widths) != cfg.scale:
        raise ScenegenError(f"the decoder needs one width more than the encoder ({len(cfg.encoder_widths)} encoder widths, "
                            f"{len(cfg.decoder_widths)} decoder widths)")
    if tcfg.batch % world:
        raise ScenegenError(f"--batch {tcfg.batch} must be divisible by the {world} processes")
    run_on = _device(device, world)
    torch.manual_seed(tcfg.seed)
    vae = VAE(cfg)
    if init_from is not None:
        _initialise_from(vae, cfg, Path(init_from))
    vae.to(run_on)
    opt = torch.optim.Adam(vae.parameters(), lr=tcfg.lr, betas=(0.9, 0.99))
    parts_to_save: dict[str, Trainable] = {"model": (vae, opt)}
    disc: PatchDiscriminator | None = None
    if tcfg.adv_weight > 0:
        disc = PatchDiscriminator(cfg.image_channels, seed=tcfg.seed).to(run_on)
        dopt = torch.optim.Adam(disc.parameters(), lr=tcfg.lr, betas=(0.5, 0.9))
        parts_to_save["disc"] = (disc, dopt)
    start, history, elapsed = 0, [], 0.0
    found = latest_checkpoint(ckpt_dir) if ckpt_dir.is_dir() else None
    if found and not resume:
        raise ScenegenError(f"{out}: holds checkpoints of an earlier run; pass --resume to continue it or choose another --out")
    if found:
        meta, tensors = found
        if meta.get("model") != cfg.to_dict():
            raise ScenegenError(f"{out}: checkpoint was made with other data classes or settings; cannot resume")
        _restore(parts_to_save, tensors, meta["step"])
        start, history, elapsed = meta["step"], meta.get("history", []), meta.get("elapsed_s", 0.0)
    model: torch.nn.Module = vae
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(vae)
    gram = RandomFeatureGram().to(run_on) if tcfg.gram_weight > 0 else None
    per_rank = tcfg.batch // world
    vae.train()
    session_start = time.perf_counter()
    parts: dict[str, float] = {}
    for step in range(start, tcfg.steps):
        for _, optimiser in parts_to_save.values():
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, tcfg)
        crops, labels = _training_batch(patches, cfg, per_rank, tcfg.seed, step, rank)
        images = _to_batch(crops).to(run_on)
        noise_gen = torch.Generator().manual_seed(tcfg.seed * 1_000_003 + step * world + rank)
        recon, mean, logvar = model(images, _labels_with_dropout(labels, cfg, tcfg, step, rank).to(run_on), noise_gen)
        loss, parts = vae_loss(
            recon, images, mean, logvar, margin=cfg.loss_margin, kl_weight=tcfg.kl_weight,
            fft_weight=tcfg.fft_weight, gram_weight=tcfg.gram_weight, gram=gram,
        )
        critic_on = disc is not None and step >= tcfg.adv_start
        if critic_on and step >= tcfg.adv_start + ADV_WARMUP:
            fake_scores = disc(centre(premultiply(recon), cfg.loss_margin))
            adv = -fake_scores.mean()
            weight = adaptive_adv_weight(loss, adv, vae.decoder.conv_out.weight) * tcfg.adv_weight
            loss = loss + weight * adv
            parts.update(adv=adv.item(), adv_w=weight.item())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if critic_on:
            real = centre(premultiply(images), cfg.loss_margin)
            fake = centre(premultiply(recon.detach()), cfg.loss_margin)
            d_loss = hinge_d_loss(disc(real), disc(fake))
            dopt.zero_grad(set_to_none=True)
            d_loss.backward()
            dopt.step()
            parts["d_loss"] = d_loss.item()
        done = step + 1
        session_s = time.perf_counter() - session_start
        parts["patches_per_s"] = (done - start) * tcfg.batch / max(session_s, 1e-9)
        if progress and rank == 0:
            progress(done, tcfg.steps, parts)
        if rank == 0 and (done % tcfg.sample_every == 0 or done == tcfg.steps):
            save_png(out / "samples" / f"step-{done:07d}.png", _sample_grid(vae, patches, cfg, tcfg.seed))
        if rank == 0 and (done % tcfg.checkpoint_every == 0 or done == tcfg.steps):
            total_s = elapsed + session_s
            history.append({"step": done, "elapsed_s": round(total_s, 2), **{k: round(v, 5) for k, v in parts.items()}})
            save_checkpoint(ckpt_dir, done, parts_to_save, {"model": cfg.to_dict(), "history": history, "elapsed_s": total_s})
    if world > 1:
        dist.barrier()
    if rank == 0:
        vae.to("cpu")
        _finish(out, vae, patches, cfg, tcfg, history, elapsed + time.perf_counter() - session_start, world, command)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


def _device(name: str, world: int) -> torch.device:
    """The torch device a run's steps take; ScenegenError (one line) for one this machine does not have."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ScenegenError(f"--device: unknown device {name[:40]!r} (cpu, cuda, cuda:N, mps)") from None
    if device.type == "cpu":
        return device
    if world > 1:
        raise ScenegenError("--device: several processes (torchrun) train on the CPU only")
    available = {"cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise ScenegenError(f"--device {name[:40]}: not available on this machine (this torch sees "
                            f"{torch.cuda.device_count()} CUDA device(s)); use --device cpu")
    return device


def fit_prior(vae: VAE, patches: PatchSet, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The prior tensors of a trained VAE: latent bank, palettes and grain (textures) or anchors (sprites)."""
    if cfg.mode == "texture":
        return {**build_latent_bank(vae, patches, cfg), **fit_grain_profiles(vae, patches, cfg)}
    return fit_sprite_prior(vae, patches, cfg)


def refit_prior(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path) -> Path:
    """Write ``model_dir`` again to ``out_dir`` with its prior rebuilt from ``data_dir`` by this version's
    :func:`fit_prior` (the weights and the training record are kept as they are)."""
    from .weights import load_model_dir, read_config

    loaded = load_model_dir(model_dir)
    cfg = loaded.config
    patches = load_patch_set(data_dir, channels=cfg.image_channels, min_size=cfg.crop_size)
    if patches.classes != cfg.classes:
        raise ScenegenError(f"{data_dir}: classes {', '.join(patches.classes)} differ from the model's")
    extra = {k: v for k, v in read_config(model_dir).items() if k not in ("format", "format_version", "model", "files")}
    return save_model_dir(out_dir, loaded.vae, fit_prior(loaded.vae, patches, cfg), extra)


def _finish(out: Path, vae: VAE, patches: PatchSet, cfg: ModelConfig, tcfg: TrainConfig,
            history: list[dict[str, Any]], elapsed: float, world: int, command: str) -> None:
    prior = fit_prior(vae, patches, cfg)
    summary = {
        "steps": tcfg.steps, "batch": tcfg.batch, "seed": tcfg.seed, "processes": world,
        "images": len(patches.images), "skipped": len(patches.skipped),
        "wall_s": round(elapsed, 1), "history": history[-5:], "settings": asdict(tcfg),
    }
    metrics = {"heldout_psnr_db": round(heldout_psnr(vae, patches, cfg, tcfg.seed), 2)}
    extra = {"training": summary, "command": command, "metrics": metrics, "parameters": parameter_count(vae)}
    save_model_dir(out, vae, prior, extra)
