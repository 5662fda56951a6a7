"""Embeddings: the classifier encoder's pooled features, one unit vector per galaxy.

Each ensemble member's encoder gives a ``(D,)`` feature vector; it is averaged over the
dihedral views (rotations and flips, Dieleman et al. 2015, MNRAS 450, 1441) so that a
galaxy and its rotated copy embed alike, normalised, and the members' vectors are
concatenated and normalised again. Members are trained from different starts, so their
feature spaces differ: concatenating unit vectors makes the cosine similarity of two
embeddings the mean of the members' cosine similarities, instead of mixing unrelated axes.
This is the representation Walmsley et al. 2022 (MNRAS 513, 1581) search with.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ml.classifier.predict import load_classifier
from ml.data import dihedral, load_images, to_float
from ml.device import runtime
from ml.represent.index import normalise_rows


def encoders_from_checkpoint(checkpoint: Path) -> tuple[list[nn.Module], int]:
    """The encoders of a classifier checkpoint's members (eval mode) and its training image size."""
    model, cfg, _ = load_classifier(Path(checkpoint))
    return [member.encoder.eval() for member in model.members], cfg.image_size


@torch.no_grad()
def embed_tensor(encoders: Sequence[nn.Module], images: torch.Tensor, *, views: int = 4, batch_size: int = 128,
                 progress: bool = False) -> np.ndarray:
    """Embed uint8 images with one or more encoders.

    Parameters
    ----------
    encoders : sequence of torch.nn.Module
        ``M`` encoders, each mapping ``(B, 3, H, W)`` floats in [0, 1] to ``(B, D_m)``.
    images : torch.Tensor
        ``(N, 3, H, W)`` uint8.
    views : int
        How many of the 8 dihedral views to average (1--8).

    Returns
    -------
    numpy.ndarray
        ``(N, sum D_m)`` float32, rows of unit length.
    """
    if not 1 <= views <= 8:
        raise ValueError(f"views must lie in 1..8, got {views}")
    rt = runtime()
    chunks = []
    for start in tqdm(range(0, len(images), batch_size), desc="embed", disable=not progress):
        x = rt.to_device(to_float(images[start:start + batch_size]))
        parts = []
        for encoder in encoders:
            encoder.to(rt.device).eval()
            with rt.autocast():
                f = torch.stack([encoder(dihedral(x, k)).float() for k in range(views)]).mean(0)
            parts.append(normalise_rows(f.cpu().numpy()))
        chunks.append(normalise_rows(np.concatenate(parts, axis=1)))
    return np.concatenate(chunks) if chunks else np.empty((0, 0), np.float32)


def embed_images(checkpoint: Path, *, images: Sequence[Path], views: int = 4, batch_size: int = 128,
                 progress: bool = False) -> np.ndarray:
    """Embed image files with a classifier checkpoint's encoders.

    Parameters
    ----------
    checkpoint : Path
        A classifier ``best.pt`` (see :func:`ml.classifier.train_classifier`).
    images : sequence of Path
        ``N`` image files, resized to the checkpoint's training size.

    Returns
    -------
    numpy.ndarray
        ``(N, n_ensemble * encoder.out_dim)`` float32 unit rows (see :func:`embed_tensor`).
    """
    encoders, size = encoders_from_checkpoint(checkpoint)
    x, _ = load_images(list(images), size, progress=progress)
    return embed_tensor(encoders, x, views=views, batch_size=batch_size, progress=progress)
