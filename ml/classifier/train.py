"""Training the decision-tree classifier on volunteer vote counts."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from aggregation.schema import TaskTree
from ml.checkpoint import load_checkpoint, new_training_state, resume, save_progress
from ml.classifier.chirality import mirror_labels, mirror_permutation
from ml.classifier.model import ClassifierConfig, TreeEnsemble, question_slices, vote_prior
from ml.data import augment, load_images, split_indices, to_float
from ml.device import Runtime, runtime
from ml.engine import cycle, evaluate, train_steps, warmup_cosine
from ml.losses import dirichlet_multinomial_nll


def train_classifier(cfg: ClassifierConfig, *, images: Sequence[Path], vote_counts: dict[str, np.ndarray],
                     tree: TaskTree, val_fraction: float = 0.2, progress: bool = True) -> dict:
    """Train an ensemble of Dirichlet--Multinomial classifiers, one head per question.

    The model is Zoobot's (Walmsley et al. 2022, MNRAS 509, 3966): a CNN encoder,
    dropout and one concentration per answer; the loss sums, over the tree's
    questions, the Dirichlet--Multinomial negative log-likelihood of the votes.
    Galaxies with no votes for a question add nothing to that question's loss.

    Parameters
    ----------
    cfg : ClassifierConfig
        Hyperparameters; :meth:`ClassifierConfig.schedule` sets the step budget (fresh or
        fine-tune).  ``cfg.out_dir`` receives ``checkpoint.pt`` (every ``checkpoint_every``
        steps) and ``best.pt`` (lowest validation loss; the last model when ``val_fraction=0``).
    images : sequence of Path
        ``N`` image files.
    vote_counts : dict of str to numpy.ndarray
        ``{question key: (N, K_question) vote counts}``; a missing key means no votes.
    tree : aggregation.schema.TaskTree
        The workflow; stored in the checkpoint so predictions name the same answers.
    val_fraction : float
        Share of galaxies held out (seeded by ``cfg.seed``) for validation and ``best.pt``;
        0 trains on everything (the caller then judges versions on its own held-out set,
        e.g. with :func:`ml.classifier.evaluate_checkpoint`).

    Returns
    -------
    dict
        ``{"checkpoint": Path of best.pt, "metrics": {"train_loss", "train_images_per_s", "step",
        "val_loss", "val_accuracy_<key>", ...}, "n_train": int, "n_val": int, "steps": int}``
        (``val_*`` only when ``val_fraction > 0``).  Accuracy compares the argmax of the
        predicted fractions with the plurality vote, on galaxies with votes.
    """
    cfg.check()
    counts = stack_vote_counts(tree, vote_counts, len(images))
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    x, _ = load_images(list(images), cfg.image_size, progress=progress)
    rt = runtime()
    torch.manual_seed(cfg.seed)
    train_idx, val_idx = split_indices(len(images), val_fraction, cfg.seed)
    state = _training_state(cfg, tree, rt, prior=vote_prior(counts[train_idx], question_slices(tree)))
    x, counts, train_idx, n_generated = _add_generated(cfg, x, counts, train_idx, tree)  # after the real prior
    loaders = _loaders(x, counts, train_idx, val_idx, cfg, rt)
    _fit(state, loaders, cfg, tree, rt, progress)
    return {"checkpoint": Path(cfg.out_dir) / "best.pt", "metrics": state["metrics"], "n_generated": n_generated,
            "n_train": int(train_idx.size) - n_generated, "n_val": int(val_idx.size), "steps": state["step"]}


def _add_generated(cfg: ClassifierConfig, x: torch.Tensor, counts: np.ndarray, train_idx: np.ndarray,
                   tree: TaskTree) -> tuple[torch.Tensor, np.ndarray, np.ndarray, int]:
    """Issue #18: generated galaxies for the classes rare in the training set (:mod:`ml.diffusion.augment`)."""
    if not cfg.generated_dir:
        return x, counts, train_idx, 0
    from ml.diffusion.augment import with_generated

    return with_generated(x, counts, train_idx, tree=tree, folder=Path(cfg.generated_dir), ratio=cfg.generated_ratio)


def stack_vote_counts(tree: TaskTree, vote_counts: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Concatenate per-question counts into ``(n, A)`` in :func:`question_slices` order (missing = zeros)."""
    columns = []
    for task in tree.questions():
        k = len(task.labels)
        block = np.asarray(vote_counts.get(task.key, np.zeros((n, k))), dtype=np.float32)
        if block.shape != (n, k):
            raise ValueError(f"vote_counts[{task.key!r}] has shape {block.shape}, expected ({n}, {k})")
        if not np.all(np.isfinite(block)) or (block < 0).any():
            raise ValueError(f"vote_counts[{task.key!r}] must be finite and non-negative")
        columns.append(block)
    unknown = set(vote_counts) - {t.key for t in tree.questions()}
    if unknown:
        raise ValueError(f"vote_counts names tasks that are not questions of the tree: {sorted(unknown)}")
    return np.concatenate(columns, axis=1)


def _loaders(x: torch.Tensor, counts: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
             cfg: ClassifierConfig, rt: Runtime) -> tuple[DataLoader, DataLoader | None]:
    c = torch.from_numpy(counts)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)
    common = {"batch_size": cfg.batch_size, "num_workers": cfg.num_workers, "pin_memory": rt.pin_memory}
    train = DataLoader(TensorDataset(x[train_idx], c[train_idx]), shuffle=True, generator=shuffle_gen, **common)
    val = DataLoader(TensorDataset(x[val_idx], c[val_idx]), **common) if val_idx.size else None
    return train, val


def _training_state(cfg: ClassifierConfig, tree: TaskTree, rt: Runtime, *,
                    prior: dict[str, torch.Tensor] | None = None) -> dict:
    """Model, optimizer, schedule and counters: fresh (head at ``prior``), warm-started or resumed."""
    model = TreeEnsemble(cfg, tree)
    if prior is not None:
        model.set_prior(prior, tree)
    if cfg.init_checkpoint:
        _warm_start(model, Path(cfg.init_checkpoint), tree)
    model.to(rt.device)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    total, peak_lr = cfg.schedule()
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=cfg.weight_decay)
    factor = warmup_cosine(total, warmup_steps=min(cfg.warmup_steps, total // 2), floor=cfg.lr_floor)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=False)  # bf16 autocast needs no loss scaling
    state = new_training_state(model, optimizer, scheduler, scaler)
    if cfg.resume:
        resume(state, Path(cfg.out_dir) / "checkpoint.pt", kind="classifier")
    return state


def _warm_start(model: TreeEnsemble, path: Path, tree: TaskTree) -> None:
    """Copy encoders (and heads, when the trees match) from an earlier classifier checkpoint.

    Member ``i`` starts from saved member ``i mod n_saved``, so a larger ensemble can grow from a smaller one.
    """
    saved = load_checkpoint(path, kind="classifier")
    keep_heads = saved["tree"] == tree.to_dict()
    n_saved = int(saved["config"]["n_ensemble"])
    own = model.state_dict()
    for key in own:
        _, index, rest = key.split(".", 2)  # "members.<i>.<parameter>"
        source = saved["model"].get(f"members.{int(index) % n_saved}.{rest}")
        # A different tree changes the head: it starts fresh while the encoder carries over.
        if source is None or (rest.startswith("head.") and not keep_heads):
            continue
        if source.shape != own[key].shape:
            raise ValueError(f"{path} has a different encoder ({saved['config']['encoder']}) than this config")
        own[key] = source
    model.load_state_dict(own)


def _fit(state: dict, loaders: tuple, cfg: ClassifierConfig, tree: TaskTree, rt: Runtime, progress: bool) -> None:
    train_loader, val_loader = loaders
    slices = question_slices(tree)
    perm = mirror_permutation(tree)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    total, _ = cfg.schedule()

    def loss_fn(m, batch):
        images, counts = rt.to_device(to_float(batch[0])), batch[1].to(rt.device)
        if m.training:
            images, flipped = augment(images, aug_gen, cfg.max_rotation_deg)
            counts = mirror_labels(counts, flipped, perm)
        return tree_loss(m(images).float(), counts, slices)

    def checkpoint(metrics: dict) -> None:
        metrics = {**metrics, "step": state["step"]}
        if val_loader is not None:
            metrics.update(_validate(state["model"], val_loader, loss_fn, slices, rt))
        save_progress(state, metrics, score=metrics.get("val_loss"), out_dir=Path(cfg.out_dir), config=cfg,
                      tree=tree.to_dict(), kind="classifier")

    kind = "fine-tune" if cfg.init_checkpoint else "classifier"
    train_steps(state, cycle(train_loader), loss_fn, total_steps=total, every=cfg.checkpoint_every,
                on_checkpoint=checkpoint, rt=rt, progress=progress, desc=f"{kind} steps")


def tree_loss(alpha: torch.Tensor, counts: torch.Tensor, slices: dict[str, slice]) -> torch.Tensor:
    """Mean over members and galaxies of the summed per-question Dirichlet--Multinomial NLL.

    ``alpha`` is ``(M, N, A)``, ``counts`` ``(N, A)``; questions are treated as independent.
    """
    total = alpha.new_zeros(alpha.shape[:2])
    for s in slices.values():
        total = total + dirichlet_multinomial_nll(counts[None, :, s].expand_as(alpha[..., s]), alpha[..., s])
    return total.mean()


def _validate(model, loader, loss_fn, slices: dict[str, slice], rt: Runtime) -> dict[str, float]:
    def collect(m, batch):
        alpha = m(rt.to_device(to_float(batch[0]))).float()
        return alpha.cpu(), batch[1]

    val_loss, parts = evaluate(model, loader, loss_fn, rt=rt, collect=collect)
    alpha = torch.cat([p[0] for p in parts], dim=1)
    counts = torch.cat([p[1] for p in parts])
    metrics = {"val_loss": val_loss}
    for key, s in slices.items():
        fractions = (alpha[..., s] / alpha[..., s].sum(-1, keepdim=True)).mean(0)
        voted = counts[:, s].sum(1) > 0
        if voted.any():
            hits = fractions[voted].argmax(1) == counts[voted][:, s].argmax(1)
            metrics[f"val_accuracy_{key}"] = float(hits.float().mean())
    return metrics
