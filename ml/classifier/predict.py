"""Predictions with rotation averaging, MC dropout and the ensemble."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from aggregation.schema import TaskTree
from ml.active import bald_score, entropy
from ml.checkpoint import config_from, load_checkpoint
from ml.classifier.chirality import mirror_labels, mirror_permutation
from ml.classifier.model import ClassifierConfig, TreeEnsemble, question_slices
from ml.data import dihedral, load_images, to_float
from ml.device import Runtime, runtime


def load_classifier(checkpoint: Path) -> tuple[TreeEnsemble, ClassifierConfig, TaskTree]:
    """Rebuild the ensemble, its config and its tree from a classifier checkpoint (on the CPU)."""
    state = load_checkpoint(checkpoint, kind="classifier")
    cfg = config_from(ClassifierConfig, state["config"])
    tree = TaskTree.from_dict(state["tree"])
    model = TreeEnsemble(cfg, tree)
    model.load_state_dict(state["model"])
    return model.eval(), cfg, tree


def predict(checkpoint: Path, *, images: Sequence[Path], progress: bool = False, views: int = 8,
            batch_size: int = 128) -> dict[str, dict]:
    """Predicted answer fractions and their uncertainty for every question of the tree.

    Each sample is one ensemble member with one dropout mask, averaged over the
    8 rotations and flips of the image (Dieleman et al. 2015, MNRAS 450, 1441);
    there are ``n_ensemble x mc_samples`` samples (Walmsley et al. 2020).  The
    encoder runs once per view: dropout acts only on the pooled features, so the
    MC samples reuse it.

    Parameters
    ----------
    checkpoint : Path
        A ``best.pt`` or ``checkpoint.pt`` written by :func:`train_classifier`.
    images : sequence of Path
        ``N`` image files (resized to the training size).
    views : int
        How many of the 8 rotations/flips to average (1--8); fewer is faster.

    Returns
    -------
    dict
        ``{question key: {"probs": (N, K) mean expected vote fractions,
        "bald": (N,) mutual information (nats), "entropy": (N,) entropy of probs}}``.
    """
    if not 1 <= views <= 8:
        raise ValueError(f"views must lie in 1..8, got {views}")
    model, cfg, tree = load_classifier(checkpoint)
    rt = runtime()
    model.to(rt.device)
    x, _ = load_images(list(images), cfg.image_size, progress=progress)
    slices = question_slices(tree)
    devices = [torch.cuda.current_device()] if rt.device.type == "cuda" else []
    # Fixed dropout masks make the same images give the same scores; fork_rng leaves
    # the caller's random state (e.g. a long-lived worker's) untouched.
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        chunks = [_sample_fractions(model, x[i:i + batch_size], cfg.mc_samples, slices, rt, views, tree)
                  for i in tqdm(range(0, len(x), batch_size), desc="predict", disable=not progress)]
    samples = torch.cat(chunks, dim=1).numpy()  # (S, N, A)
    out = {}
    for key, s in slices.items():
        per_question = samples[..., s]
        probs = per_question.mean(axis=0)
        out[key] = {"probs": probs, "bald": bald_score(per_question), "entropy": entropy(probs)}
    return out


@torch.no_grad()
def _sample_fractions(model: TreeEnsemble, images: torch.Tensor, mc_samples: int, slices: dict[str, slice],
                      rt: Runtime, views: int, tree: TaskTree) -> torch.Tensor:
    """``(B, 3, H, W)`` uint8 -> ``(M * mc_samples, B, A)`` expected vote fractions, view-averaged."""
    x = rt.to_device(to_float(images))
    perm = mirror_permutation(tree)
    flips = [torch.full((x.shape[0],), k >= 4) for k in range(views)]
    samples = []
    for member in model.members:
        with rt.autocast():
            features = [member.encoder(dihedral(x, k)).float() for k in range(views)]
        for _ in range(mc_samples):
            # Views k >= 4 are mirrored: their chiral answers are swapped back before averaging.
            alpha = torch.stack([mirror_labels(member.concentrations(f, mc_dropout=True), flips[k], perm)
                                 for k, f in enumerate(features)])  # (V, B, A)
            samples.append(alpha)
    alpha = torch.stack(samples)  # (S, V, B, A)
    # E[fraction] = alpha_a / sum of alpha over the question's own answers.
    fractions = torch.cat([alpha[..., s] / alpha[..., s].sum(-1, keepdim=True) for s in slices.values()], dim=-1)
    return fractions.mean(dim=1).cpu()
