"""The Zoobot-style decision-tree classifier: encoder -> dropout -> Dirichlet concentrations.

One output unit per answer of every question; a question's units are a slice
of the output vector.  The loss is Zoobot's Dirichlet--Multinomial over vote
counts (Walmsley et al. 2022, MNRAS 509, 3966); the head that produces the
concentrations is described in :class:`TreeClassifier`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aggregation.schema import TaskTree
from ml.registry import build_encoder

ALPHA_SCALE = 10.0
ALPHA_EPS = 1e-3  # keeps every concentration > 0 however negative the pre-activation


@dataclass
class ClassifierConfig:
    """Settings of :func:`ml.classifier.train_classifier` (stored in the checkpoint)."""

    image_size: int = 64
    encoder: str = "small_cnn"  # a key of ml.registry.MODELS
    # Budgets in optimizer steps (see ml.engine): the same training whatever the number of labels.
    # A fresh model takes max(steps, min_steps).  The floor exists because callers scale `steps`
    # with the survey: 200 steps of batch 64 is ~10k images, ~2 CPU-minutes for small_cnn with
    # 2 members on a quiet 2-core machine, and 100 synthetic galaxies then reach 100% T0 accuracy
    # on 300 held-out ones (benchmarks/ml/bench_early_trainer.py); fewer leaves it near its prior.
    steps: int = 300
    min_steps: int = 200
    # A warm start (init_checkpoint) refines: fewer steps at a lower peak learning rate.
    finetune_steps: int = 100
    finetune_lr_factor: float = 0.3
    warmup_steps: int = 10  # linear warmup, then cosine decay to lr_floor * peak (never to zero)
    lr_floor: float = 0.1
    checkpoint_every: int = 50  # steps between checkpoint.pt writes (and validations)
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
    # Issue #18: a folder of diffusion-generated galaxies (ml/diffusion/augment.py); the classes rare in the
    # labelled set get round(generated_ratio x their real count) of them.
    generated_dir: str | None = None
    generated_ratio: float = 1.0

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        positive = ("image_size", "steps", "min_steps", "finetune_steps", "checkpoint_every", "batch_size", "lr",
                    "n_ensemble", "mc_samples")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"ClassifierConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("dropout", "lr_floor"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ClassifierConfig.{name} must lie in [0, 1), got {getattr(self, name)}")
        if self.generated_ratio < 0:
            raise ValueError(f"ClassifierConfig.generated_ratio must be >= 0, got {self.generated_ratio}")
        if not 0.0 < self.finetune_lr_factor <= 1.0 or self.warmup_steps < 0:
            raise ValueError("ClassifierConfig needs 0 < finetune_lr_factor <= 1 and warmup_steps >= 0")

    def schedule(self) -> tuple[int, float]:
        """``(total optimizer steps, peak learning rate)``: fine-tuning when warm-started, else fresh."""
        if self.init_checkpoint:
            return self.finetune_steps, self.lr * self.finetune_lr_factor
        return max(self.steps, self.min_steps), self.lr


def vote_prior(counts: np.ndarray, slices: dict[str, slice]) -> dict[str, torch.Tensor]:
    """Marginal vote fractions per question, with one pseudo-vote per answer (Laplace's rule).

    ``counts`` is ``(N, A)`` in :func:`question_slices` order; a question nobody
    answered gets the uniform prior.  The pseudo-votes keep rare answers above zero
    (the head's bias is the inverse softplus of the prior, which needs it positive).
    """
    totals = np.asarray(counts, dtype=np.float64).sum(axis=0)
    return {key: torch.from_numpy((totals[s] + 1.0) / (totals[s].sum() + (s.stop - s.start)))
            for key, s in slices.items()}


def question_slices(tree: TaskTree) -> dict[str, slice]:
    """``{question key: slice of the output vector}`` in ``tree.questions()`` order."""
    slices, start = {}, 0
    for task in tree.questions():
        slices[task.key] = slice(start, start + len(task.labels))
        start += len(task.labels)
    return slices


class TreeClassifier(nn.Module):
    """One encoder with a Dirichlet head over all answers of the tree.

    ``alpha = eps + scale * softplus(W f + b)``.  Zoobot bounds the concentrations
    with ``1 + 100 * sigmoid(z)`` (Walmsley et al. 2022); from a random start that
    head gives every answer nearly the same alpha, so an untrained model says 1/3
    to every question, and the sigmoid's flat tails slow the first hundred steps.
    Here instead:

    * ``W`` starts at zero and ``b`` at ``softplus^-1(K p_a / scale)``, where ``p``
      is the training set's marginal vote fractions (:meth:`TreeEnsemble.set_prior`):
      the untrained model predicts the prior ``E[fraction_a] = p_a`` with total
      concentration ``K`` per question (``Dirichlet(1, ..., 1)`` when ``p`` is
      uniform).  For small arguments ``softplus^-1(y) ~ log y``, so this is the
      log-marginal bias of Lin et al. 2017 (ICCV, RetinaNet, Sec. 4.1).
    * A zero ``W`` does not stall learning: Adam's first update moves each weight
      by about the learning rate whatever the gradient's size, and the gradient is
      not zero (it is the features times the loss's slope).
    * ``scale = 10`` lets a pre-activation change of a few units span alpha from
      ~0.1 to ~100, the range the Dirichlet--Multinomial needs for 5--40 votes;
      softplus is linear above zero, so confident answers keep a gradient.
    """

    def __init__(self, encoder: str, n_answers: int, dropout: float) -> None:
        super().__init__()
        self.encoder = build_encoder(encoder)
        self.dropout = dropout
        self.head = nn.Linear(self.encoder.out_dim, n_answers)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def concentrations(self, features: torch.Tensor, *, mc_dropout: bool = False) -> torch.Tensor:
        """``(N, D)`` pooled features -> ``(N, A)`` concentrations; ``mc_dropout`` keeps dropout on in eval."""
        features = F.dropout(features, self.dropout, training=self.training or mc_dropout)
        return ALPHA_EPS + ALPHA_SCALE * F.softplus(self.head(features))

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
        self.set_prior({key: torch.full((s.stop - s.start,), 1.0 / (s.stop - s.start))
                        for key, s in question_slices(tree).items()}, tree)

    @torch.no_grad()
    def set_prior(self, fractions: dict[str, torch.Tensor], tree: TaskTree) -> None:
        """Set every member's head bias so that, with zero weights, it predicts ``fractions``.

        Parameters
        ----------
        fractions : dict of str to torch.Tensor
            ``{question key: (K,) positive fractions summing to 1}`` (e.g. :func:`vote_prior`).
        """
        bias = torch.zeros(self.members[0].head.bias.shape)
        for key, s in question_slices(tree).items():
            target = fractions[key].double() * (s.stop - s.start) - ALPHA_EPS  # total concentration K
            if (target <= 0).any():
                raise ValueError(f"the prior for {key!r} needs fractions > {ALPHA_EPS}")
            # softplus^-1(y) = log(expm1(y)), the exact inverse of the head's activation.
            bias[s] = torch.log(torch.expm1(target / ALPHA_SCALE)).float()
        for member in self.members:
            member.head.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(M, N, A)`` concentrations of every member."""
        return torch.stack([member(x) for member in self.members])
