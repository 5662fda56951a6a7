"""A new question from few labels: a head on the frozen encoder, or the encoder fine-tuned.

* :class:`FewLabelHead`: a bootstrap ensemble of logistic regressions on the embeddings (the
  encoder stays frozen, so it trains in a second on a CPU). The members' spread is the
  uncertainty, as for deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017, NeurIPS).
* :func:`finetune`: the encoder and a linear head trained end to end with cross-entropy, for a
  fixed number of optimizer steps: from the galaxy-trained encoder (fine-tuning, as Walmsley et
  al. 2022, MNRAS 513, 1581, Sec. 6 do for ring galaxies) or from a fresh one (from scratch).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.checkpoint import new_training_state
from ml.data import augment, to_float
from ml.device import runtime
from ml.engine import train_steps, warmup_cosine


class FewLabelHead:
    """``n_members`` L2-regularised logistic regressions, each on a bootstrap resample of the labels.

    Parameters
    ----------
    n_members : int
        Ensemble size.
    c : float
        Inverse regularisation strength of each member (scikit-learn's ``C``).
    random_state : int
        Seeds the resamples.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.vstack([rng.normal(-1, 0.3, (10, 2)), rng.normal(1, 0.3, (10, 2))])
    >>> head = FewLabelHead(n_members=5).fit(x, np.repeat([0, 1], 10), n_classes=2)
    >>> probs, std = head.predict(np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))
    >>> probs[:2].argmax(1).tolist(), bool(std[2] > std[0])
    ([0, 1], True)
    """

    def __init__(self, n_members: int = 10, c: float = 1.0, random_state: int = 0):
        self.n_members = n_members
        self.c = c
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: np.ndarray, *, n_classes: int):
        """Fit on ``x`` ``(L, D)`` and answers ``y`` ``(L,)`` in ``0..n_classes-1`` (at least two distinct)."""
        from sklearn.linear_model import LogisticRegression

        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
        if len(np.unique(y)) < 2:
            raise ValueError("the labels need at least two different answers")
        rng = np.random.default_rng(self.random_state)
        self.n_classes_, self.members_ = n_classes, []
        for _ in range(self.n_members):
            idx = rng.integers(0, len(y), len(y))
            while len(np.unique(y[idx])) < 2:  # a resample with one answer cannot fit a classifier
                idx = rng.integers(0, len(y), len(y))
            model = LogisticRegression(C=self.c, max_iter=1000, class_weight="balanced").fit(x[idx], y[idx])
            self.members_.append(model)
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, D)`` -> ``(probs (N, n_classes) ensemble mean, std (N,) spread of the top answer's probability)``."""
        samples = np.zeros((self.n_members, len(x), self.n_classes_))
        for m, model in enumerate(self.members_):
            samples[m][:, model.classes_] = model.predict_proba(np.asarray(x, dtype=np.float64))
        probs = samples.mean(axis=0)
        top = probs.argmax(axis=1)
        return probs, samples[:, np.arange(len(x)), top].std(axis=0)


@dataclass
class FinetuneConfig:
    """Settings of :func:`finetune` (budgets in optimizer steps, see :mod:`ml.engine`)."""

    steps: int = 150
    batch_size: int = 32
    lr: float = 1e-3
    encoder_lr_factor: float = 0.3  # a pretrained encoder moves more slowly than the new head
    weight_decay: float = 0.01
    warmup_steps: int = 10
    seed: int = 0


class _Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder, self.head = encoder, nn.Linear(encoder.out_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def finetune(encoder: nn.Module, images: torch.Tensor, labels: np.ndarray, *, n_classes: int,
             cfg: FinetuneConfig = FinetuneConfig()) -> nn.Module:
    """Train a copy of ``encoder`` plus a linear head on ``images`` ``(L, 3, H, W)`` uint8 and ``labels`` ``(L,)``.

    Rotations and flips augment every batch (a galaxy's class does not depend on them). Returns
    the trained model, mapping ``(N, 3, H, W)`` floats in [0, 1] to ``(N, n_classes)`` logits.
    """
    rt = runtime()
    torch.manual_seed(cfg.seed)
    model = _Classifier(copy.deepcopy(encoder), n_classes).to(rt.device)
    optimizer = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": cfg.lr * cfg.encoder_lr_factor},
                                   {"params": model.head.parameters(), "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(cfg.steps, warmup_steps=cfg.warmup_steps,
                                                                          floor=0.1))
    state = new_training_state(model, optimizer, schedule, torch.amp.GradScaler(enabled=False))
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    generator = torch.Generator().manual_seed(cfg.seed)
    # Balanced batches: each class is drawn equally often, so a rare answer is not ignored.
    weights = (1.0 / torch.bincount(y, minlength=n_classes).clamp(min=1).float())[y]

    def batches():
        while True:
            idx = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=generator)
            yield augment(to_float(images[idx]), generator)[0], y[idx]

    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        x, target = batch
        return F.cross_entropy(m(rt.to_device(x)), target.to(rt.device))

    train_steps(state, batches(), loss_fn, total_steps=cfg.steps, every=cfg.steps, on_checkpoint=lambda _: None,
                rt=rt)
    return model.eval()


@torch.no_grad()
def finetuned_probs(model: nn.Module, images: torch.Tensor, *, views: int = 4, batch_size: int = 128) -> np.ndarray:
    """``(N, 3, H, W)`` uint8 -> ``(N, n_classes)`` class probabilities, averaged over ``views`` dihedral views."""
    from ml.data import dihedral

    rt = runtime()
    out = []
    for start in range(0, len(images), batch_size):
        x = rt.to_device(to_float(images[start:start + batch_size]))
        out.append(torch.stack([F.softmax(model(dihedral(x, k)), -1) for k in range(views)]).mean(0).cpu())
    return torch.cat(out).numpy()
