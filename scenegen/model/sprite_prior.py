"""The sprite prior: per class, a Gaussian mixture over the PCA coordinates of whole latent grids.

A sprite is one object in its frame, so (unlike a texture) its latent grid cannot be quilted from pieces:
the whole grid must be drawn at once. After training, every training sprite of a class (and its mirror
image) is encoded; the flattened encoder means are reduced by PCA to ``DIMS`` dimensions, and a Gaussian
mixture is fitted there. Two fits are available:

* ``components=None`` (the default, used for the shipped model): a kernel mixture, one component per
  training sprite, centred on its PCA coordinates, all sharing the class covariance scaled by Silverman's
  bandwidth. Draws keep the variety of the training set (whole layouts: several stems, a lopsided crown);
  the temperature sets how far a draw strays from the sprite it starts from (0: that sprite's PCA image).
* ``components=k``: k full-covariance components fitted by a small deterministic EM (k-means++ seeding
  from a fixed seed). Its draws regress to a few class averages: on the shipped model's flowers it measured
  diversity_ratio 0.33–0.42 (4 or 8 components, 32 or 64 dimensions, temperature 0.8–1.0) against 0.62 for
  the kernel mixture under the same conditions (0.64 as shipped; benchmarks/sprites.py).

Sampling picks a component, draws its Gaussian with a temperature (< 1 stays nearer the data), maps back
through the PCA basis, and adds the per-element residual the PCA left out, scaled by the same temperature.
Stored as plain tensors (``sprite.<class>.<name>``) in prior.safetensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import ScenegenError

PREFIX = "sprite."
GRID_KEY = "sprite.grid"
DIMS = 64
EM_ITERATIONS = 60
FIT_SEED = 0
_FIELDS = ("mean", "basis", "residual_std", "weights", "means", "chol")


@dataclass(frozen=True)
class ClassPrior:
    """One class's prior over flattened latent grids of shape ``grid`` (L, h, w)."""

    grid: tuple[int, int, int]
    mean: np.ndarray  # D: mean latent
    basis: np.ndarray  # d×D: orthonormal PCA directions
    residual_std: np.ndarray  # D: std of what the PCA leaves out, per latent element
    weights: np.ndarray  # K: mixture weights
    means: np.ndarray  # K×d: component means in PCA coordinates
    chol: np.ndarray  # K×d×d (or 1×d×d, shared): lower Cholesky factors of the component covariances

    def to_tensors(self, class_index: int) -> dict[str, torch.Tensor]:
        return {f"{PREFIX}{class_index}.{name}": torch.from_numpy(np.ascontiguousarray(getattr(self, name), np.float32))
                for name in _FIELDS}


def has_sprite_prior(tensors: dict[str, torch.Tensor], class_index: int) -> bool:
    return GRID_KEY in tensors and all(f"{PREFIX}{class_index}.{name}" in tensors for name in _FIELDS)


def load_class_prior(tensors: dict[str, torch.Tensor], class_index: int) -> ClassPrior:
    """The prior of one class from prior.safetensors tensors; ScenegenError when it is missing."""
    if not has_sprite_prior(tensors, class_index):
        raise ScenegenError(f"the model has no sprite prior for class index {class_index} (was it trained with --mode sprite?)")
    grid = tuple(int(v) for v in tensors[GRID_KEY].tolist())
    fields = {name: tensors[f"{PREFIX}{class_index}.{name}"].float().numpy().astype(np.float64) for name in _FIELDS}
    return ClassPrior(grid=grid, **fields)  # type: ignore[arg-type]


def prior_tensors(priors: Sequence[ClassPrior]) -> dict[str, torch.Tensor]:
    """All classes' priors as one flat dict of tensors (plus the latent grid shape)."""
    if not priors:
        return {}
    out = {GRID_KEY: torch.tensor(list(priors[0].grid), dtype=torch.int64)}
    for index, prior in enumerate(priors):
        out.update(prior.to_tensors(index))
    return out


# ----------------------------------------------------------------------------------------------------------- fitting
def fit_class_prior(latents: np.ndarray, *, dims: int = DIMS, components: int | None = None,
                    iterations: int = EM_ITERATIONS, seed: int = FIT_SEED) -> ClassPrior:
    """Fit a class prior to ``latents`` (N×L×h×w encoder means). Deterministic for the same input.

    ``components=None``: a kernel mixture (one component per latent, shared Silverman-scaled covariance);
    ``components=k``: k full-covariance components by EM (see the module docstring).
    """
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 4 or len(latents) < 2:
        raise ScenegenError(f"a sprite prior needs at least 2 latent grids of one shape, got {latents.shape}")
    n = len(latents)
    flat = latents.reshape(n, -1)
    mean = flat.mean(axis=0)
    centred = flat - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    d = max(1, min(dims, n - 1, vt.shape[0]))
    basis = _fix_signs(vt[:d])
    coords = centred @ basis.T
    residual_std = (centred - coords @ basis).std(axis=0)
    if components is None:
        weights, means, chol = _kernel_mixture(coords)
    else:
        k = max(1, min(components, n // (2 * d + 2)))
        weights, means, covs = _em(coords, k, iterations, np.random.default_rng(seed))
        chol = np.linalg.cholesky(covs)
    return ClassPrior(grid=tuple(latents.shape[1:]), mean=mean, basis=basis, residual_std=residual_std,  # type: ignore[arg-type]
                      weights=weights, means=means, chol=chol)


def _kernel_mixture(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal weights, one component per point, shared covariance h²·Σ with Silverman's h for d dimensions."""
    n, d = coords.shape
    h = (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    cov = np.atleast_2d(np.cov(coords, rowvar=False))
    floor = 1e-6 * float(np.trace(cov)) / d + 1e-12
    chol = np.linalg.cholesky(_regularise(cov, floor)) * h
    return np.full(n, 1.0 / n), coords.copy(), chol[None]


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each row so its largest-magnitude entry is positive (SVD signs are arbitrary)."""
    pivots = np.abs(vectors).argmax(axis=1)
    return vectors * np.sign(vectors[np.arange(len(vectors)), pivots])[:, None]


def _regularise(cov: np.ndarray, floor: float) -> np.ndarray:
    return cov + np.eye(cov.shape[0]) * floor


def _em(x: np.ndarray, k: int, iterations: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian mixture (full covariances) by EM, seeded by k-means++; returns weights, means, covariances."""
    n, d = x.shape
    floor = 1e-3 * float(x.var(axis=0).mean()) + 1e-8
    means = _kmeans_pp(x, k, rng)
    resp = np.zeros((n, k))
    resp[np.arange(n), ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)] = 1.0
    for _ in range(iterations):
        weights, means, covs = _m_step(x, resp, floor)
        resp = _e_step(x, weights, means, covs)
    return _m_step(x, resp, floor)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[int(rng.integers(len(x)))]]
    for _ in range(1, k):
        dist = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        total = dist.sum()
        pick = int(rng.choice(len(x), p=dist / total)) if total > 0 else int(rng.integers(len(x)))
        centres.append(x[pick])
    return np.array(centres)


def _m_step(x: np.ndarray, resp: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, d = x.shape
    mass = resp.sum(axis=0) + 1e-10
    weights = mass / n
    means = (resp.T @ x) / mass[:, None]
    covs = np.empty((len(mass), d, d))
    for j in range(len(mass)):
        diff = x - means[j]
        covs[j] = _regularise((resp[:, j, None] * diff).T @ diff / mass[j], floor)
    return weights, means, covs


def _e_step(x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    logp = np.empty((len(x), len(weights)))
    for j in range(len(weights)):
        chol = np.linalg.cholesky(covs[j])
        solved = np.linalg.solve(chol, (x - means[j]).T)
        logp[:, j] = (np.log(weights[j] + 1e-300) - np.log(np.diag(chol)).sum() - 0.5 * (solved**2).sum(0))
    logp -= logp.max(axis=1, keepdims=True)
    resp = np.exp(logp)
    return resp / resp.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------- sampling
def sample_latent(prior: ClassPrior, rng: np.random.Generator, temperature: float = 0.8,
                  residual: float = 1.0) -> np.ndarray:
    """One latent grid (L×h×w float32) drawn from ``prior`` with ``rng``.

    ``temperature`` scales the spread of the chosen mixture component and of the residual noise;
    ``residual`` additionally scales the residual noise (0 = the PCA reconstruction only).
    """
    j = int(rng.choice(len(prior.weights), p=prior.weights / prior.weights.sum()))
    eps = rng.standard_normal(prior.means.shape[1])
    coords = prior.means[j] + temperature * (prior.chol[min(j, len(prior.chol) - 1)] @ eps)
    noise = rng.standard_normal(prior.mean.shape[0]) * prior.residual_std * (temperature * residual)
    flat = prior.mean + coords @ prior.basis + noise
    return flat.reshape(prior.grid).astype(np.float32)


@torch.no_grad()
def encode_class_latents(vae: torch.nn.Module, images: Sequence[np.ndarray], size: int, mirror: bool = True) -> np.ndarray:
    """Encoder means (N×L×h×w) of square ``size``² versions of ``images`` (and their mirror images)."""
    from ..imaging import resize

    batch = [img if img.shape[:2] == (size, size) else resize(img, size, size) for img in images]
    if mirror:
        batch += [img[:, ::-1] for img in batch]
    array = np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32)
    means = [vae.encoder(torch.from_numpy(array[i:i + 32]))[0] for i in range(0, len(array), 32)]
    return torch.cat(means).numpy()


def fit_sprite_prior(vae: torch.nn.Module, patches, cfg) -> dict[str, torch.Tensor]:
    """Encode every class's training sprites (at the crop size) and fit one ClassPrior each: the tensors
    that go into prior.safetensors. ``patches`` is a scenegen.data.patches.PatchSet."""
    was_training = vae.training
    vae.eval()
    priors = [fit_class_prior(encode_class_latents(vae, patches.by_class(index), cfg.crop_size))
              for index in range(len(cfg.classes))]
    vae.train(was_training)
    return prior_tensors(priors)
