"""The Zoobot-style decision-tree classifier: encoder -> dropout -> Dirichlet concentrations.

One output unit per answer of every question; a question's units are a slice
of the output vector.  ``alpha = 1 + 100 * sigmoid(z)`` bounds the Dirichlet
concentrations to (1, 101) as in Zoobot (Walmsley et al. 2022): below 1 the
Dirichlet turns bimodal, far above 100 implausibly confident.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aggregation.schema import TaskTree
from ml.registry import build_encoder


@dataclass
class ClassifierConfig:
    """Settings of :func:`ml.classifier.train_classifier` (stored in the checkpoint)."""

    image_size: int = 64
    encoder: str = "small_cnn"  # a key of ml.registry.MODELS
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    dropout: float = 0.2
    n_ensemble: int = 2  # members trained side by side on the same batches
    mc_samples: int = 5  # dropout masks per member at prediction time
    max_rotation_deg: float = 15.0
    num_workers: int = 0
    seed: int = 0
    out_dir: str = "models/classifier"
    resume: bool = False  # continue from out_dir/checkpoint.pt
    init_checkpoint: str | None = None  # warm start: weights of an earlier classifier (e.g. synthetic-trained)

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        positive = {"image_size": self.image_size, "epochs": self.epochs, "batch_size": self.batch_size,
                    "lr": self.lr, "n_ensemble": self.n_ensemble, "mc_samples": self.mc_samples}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"ClassifierConfig.{name} must be > 0, got {value}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ClassifierConfig.dropout must lie in [0, 1), got {self.dropout}")


def question_slices(tree: TaskTree) -> dict[str, slice]:
    """``{question key: slice of the output vector}`` in ``tree.questions()`` order."""
    slices, start = {}, 0
    for task in tree.questions():
        slices[task.key] = slice(start, start + len(task.labels))
        start += len(task.labels)
    return slices


class TreeClassifier(nn.Module):
    """One encoder with a Dirichlet head over all answers of the tree."""

    def __init__(self, encoder: str, n_answers: int, dropout: float) -> None:
        super().__init__()
        self.encoder = build_encoder(encoder)
        self.dropout = dropout
        self.head = nn.Linear(self.encoder.out_dim, n_answers)

    def concentrations(self, features: torch.Tensor, *, mc_dropout: bool = False) -> torch.Tensor:
        """``(N, D)`` pooled features -> ``(N, A)`` concentrations; ``mc_dropout`` keeps dropout on in eval."""
        features = F.dropout(features, self.dropout, training=self.training or mc_dropout)
        return 1.0 + 100.0 * torch.sigmoid(self.head(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.concentrations(self.encoder(x))


class TreeEnsemble(nn.Module):
    """``n_ensemble`` independently initialised :class:`TreeClassifier` members.

    Trained jointly (the loss is the members' mean), so one optimizer and one
    checkpoint hold the whole ensemble; different initial weights and dropout
    masks make the members disagree where the data are ambiguous.
    """

    def __init__(self, cfg: ClassifierConfig, tree: TaskTree) -> None:
        super().__init__()
        n_answers = sum(len(t.labels) for t in tree.questions())
        if n_answers == 0:
            raise ValueError("the task tree has no questions to learn")
        self.members = nn.ModuleList([TreeClassifier(cfg.encoder, n_answers, cfg.dropout)
                                      for _ in range(cfg.n_ensemble)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(M, N, A)`` concentrations of every member."""
        return torch.stack([member(x) for member in self.members])
