"""How good the generated galaxies are: KID, Fréchet distance and conditional accuracy.

Both distances compare features of the project's own galaxy encoder (a trained
classifier's, :func:`encoder_features`), not Inception's: these are the features
that decide what the classifier sees, and no weights are downloaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy import linalg

from aggregation.schema import TaskTree
from ml.data import to_float


@torch.no_grad()
def encoder_features(checkpoint: Path, images: torch.Tensor, *, batch_size: int = 128) -> np.ndarray:
    """``(N, 3, S, S)`` uint8 images -> ``(N, D)`` pooled features of the classifier's first member's encoder."""
    from ml.classifier import load_classifier

    model, cfg, _ = load_classifier(checkpoint)
    encoder = model.members[0].encoder.eval()
    if images.shape[-1] != cfg.image_size:
        images = torch.nn.functional.interpolate(images.float(), size=cfg.image_size, mode="bilinear").round().byte()
    return torch.cat([encoder(to_float(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]).numpy()


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, *, subsets: int = 50, subset_size: int = 100,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018, ICLR): the unbiased squared MMD with kernel ``(x.y / d + 1)^3``.

    Averaged over ``subsets`` random subsets of ``min(subset_size, len(a), len(b))`` rows of each set;
    returns ``(mean, standard deviation over subsets)``.  Unlike the Fréchet distance it is unbiased, so
    small sets (a few hundred images) compare fairly.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    >>> abs(kernel_inception_distance(x, y)[0]) < 0.05, kernel_inception_distance(x, y + 1.0)[0] > 0.5
    (True, True)
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m, d = min(subset_size, len(a), len(b)), a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        off = ~np.eye(m, dtype=bool)
        values.append(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, FID's formula).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> abs(frechet_distance(rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)) + [3.0, 0.0]) - 9.0) < 0.3
    True
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def copy_and_noise(images: torch.Tensor, n: int, *, sigma: float = 0.05, seed: int = 0) -> torch.Tensor:
    """The baseline generator: ``n`` training images drawn at random, plus Gaussian noise ``sigma`` (in [0, 1]).

    A generator that memorised its training set would score like this; a useful one should come close.
    """
    gen = torch.Generator().manual_seed(seed)
    picked = to_float(images[torch.randint(0, len(images), (n,), generator=gen)])
    noisy = picked + sigma * torch.randn(picked.shape, generator=gen)
    return (noisy.clamp(0, 1) * 255).round().to(torch.uint8)


def conditional_accuracy(probs: dict[str, np.ndarray], conditions: np.ndarray, tree: TaskTree) -> np.ndarray:
    """``(N,)`` bool: the classifier's argmax agrees with every answer the condition fixes (one-hot blocks).

    ``probs`` is ``{question: (N, K) predicted fractions}`` (e.g. :func:`ml.classifier.predict`'s ``probs``).
    """
    hit, start = np.ones(len(conditions), dtype=bool), 0
    for task in tree.questions():
        block = conditions[:, start:start + len(task.labels)]
        start += len(task.labels)
        fixed = block.max(1) >= 1.0
        hit &= ~fixed | (probs[task.key].argmax(1) == block.argmax(1))
    return hit
