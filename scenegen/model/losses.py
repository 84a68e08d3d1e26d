"""Training losses that fight VAE blur: L1, focal-frequency, random-feature Gram, and a light KL.

Training crops are not periodic but the texture decoder wraps around, so every image loss is taken
on the crop's centre only (``margin`` pixels dropped on each side): border effects never count.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def centre(x: torch.Tensor, margin: int) -> torch.Tensor:
    """Drop ``margin`` pixels on each side of a B×C×H×W batch."""
    return x[..., margin : x.shape[-2] - margin, margin : x.shape[-1] - margin] if margin > 0 else x


def focal_frequency_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Focal frequency loss (Jiang et al., 2021): spectrum error weighted towards hard frequencies."""
    fp = torch.fft.rfft2(pred, norm="ortho")
    ft = torch.fft.rfft2(target, norm="ortho")
    dist = (fp - ft).abs() ** 2
    weight = dist.detach().sqrt() ** alpha
    weight = weight / weight.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8)
    return (weight * dist).mean()


class RandomFeatureGram(nn.Module):
    """Fixed random conv features (k = 3, 5, 7) at two scales; Gram-matrix distance between batches.

    The network of the gram_dist figure (:func:`scenegen.metrics.gram_weights`: the same weights), batched and
    differentiable, used here as a loss.
    """

    def __init__(self) -> None:
        super().__init__()
        from ..metrics import GRAM_KERNEL_SIZES, gram_weights

        for k, weight in zip(GRAM_KERNEL_SIZES, gram_weights()):
            self.register_buffer(f"w{k}", weight.clone())

    def grams(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = image[:, :3] - 0.5
        out = []
        for scaled in (x, F.avg_pool2d(x, 2)):
            for k in (3, 5, 7):
                feat = F.relu(F.conv2d(scaled, getattr(self, f"w{k}"), padding=k // 2)).flatten(2)
                feat = feat - feat.mean(dim=2, keepdim=True)
                out.append(feat @ feat.transpose(1, 2) / feat.shape[2])
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses = []
        for gp, gt in zip(self.grams(pred), self.grams(target)):
            losses.append((gp - gt).flatten(1).norm(dim=1) / gt.flatten(1).norm(dim=1).clamp_min(1e-6))
        return torch.stack(losses).mean()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, 1)), averaged over latent elements."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def premultiply(image: torch.Tensor) -> torch.Tensor:
    """RGBA → premultiplied RGB + alpha, so colour only counts where alpha > 0."""
    if image.shape[1] != 4:
        return image
    return torch.cat([image[:, :3] * image[:, 3:4], image[:, 3:4]], dim=1)


def vae_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mean: torch.Tensor,
    logvar: torch.Tensor,
    *,
    margin: int,
    kl_weight: float,
    fft_weight: float,
    gram_weight: float,
    gram: RandomFeatureGram | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (as floats for logging)."""
    pred = centre(premultiply(recon), margin)
    true = centre(premultiply(target), margin)
    l1 = (pred - true).abs().mean()
    fft = focal_frequency_loss(pred, true)
    kl = kl_divergence(mean, logvar)
    total = l1 + fft_weight * fft + kl_weight * kl
    parts = {"l1": l1.item(), "fft": fft.item(), "kl": kl.item()}
    if gram is not None and gram_weight > 0:
        g = gram(pred, true)
        total = total + gram_weight * g
        parts["gram"] = g.item()
    parts["total"] = total.item()
    return total, parts


class PatchDiscriminator(nn.Module):
    """A PatchGAN critic (Isola et al. 2017, as in taming-transformers): one real/fake score per ~30-px patch.

    Spectrally normalised convolutions with leaky ReLU, no normalisation layers (batches are small);
    it only exists during training and is never shipped with a model.
    """

    def __init__(self, channels: int, width: int = 32, seed: int = 0) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        widths = (width, 2 * width, 4 * width)
        layers: list[nn.Module] = []
        cin = channels
        with torch.random.fork_rng(devices=[]):  # seeded weights; the caller's RNG stream is left as it was
            torch.manual_seed(seed)
            for i, w in enumerate(widths):
                layers += [sn(nn.Conv2d(cin, w, 4, stride=2 if i < 2 else 1, padding=1)), nn.LeakyReLU(0.2)]
                cin = w
            layers.append(sn(nn.Conv2d(cin, 1, 4, stride=1, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image * 2.0 - 1.0)


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the critic (Lim & Ye 2017)."""
    return 0.5 * (F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean())


def adaptive_adv_weight(rec_loss: torch.Tensor, adv_loss: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
    """Balance the adversarial term against reconstruction by their gradient norms at the decoder's last layer
    (Esser et al. 2021, taming-transformers): the critic sharpens without overpowering the image losses."""
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    adv_grad = torch.autograd.grad(adv_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (adv_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()
