"""Training the decision-tree classifier on volunteer vote counts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from aggregation.schema import TaskTree
from ml.checkpoint import load_checkpoint, save_checkpoint
from ml.classifier.model import ClassifierConfig, TreeEnsemble, question_slices
from ml.data import augment, load_images, to_float
from ml.device import Runtime, runtime
from ml.engine import evaluate, train_one_epoch
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
        Hyperparameters; ``cfg.out_dir`` receives ``checkpoint.pt`` (every epoch) and ``best.pt``.
    images : sequence of Path
        ``N`` image files.
    vote_counts : dict of str to numpy.ndarray
        ``{question key: (N, K_question) vote counts}``; a missing key means no votes.
    tree : aggregation.schema.TaskTree
        The workflow; stored in the checkpoint so predictions name the same answers.
    val_fraction : float
        Share of galaxies held out (seeded by ``cfg.seed``) for validation and ``best.pt``.

    Returns
    -------
    dict
        ``{"checkpoint": Path of best.pt, "metrics": {"val_loss", "val_accuracy_<key>", ...},
        "n_train": int, "n_val": int}``.  Accuracy compares the argmax of the
        predicted fractions with the plurality vote, on galaxies with votes.
    """
    cfg.check()
    counts = stack_vote_counts(tree, vote_counts, len(images))
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    x, _ = load_images(list(images), cfg.image_size, progress=progress)
    rt = runtime()
    torch.manual_seed(cfg.seed)
    train_idx, val_idx = _split(len(images), val_fraction, cfg.seed)
    state = _training_state(cfg, tree, rt)
    loaders = _loaders(x, counts, train_idx, val_idx, cfg, rt)
    _fit(state, loaders, cfg, tree, rt, progress)
    return {"checkpoint": Path(cfg.out_dir) / "best.pt", "metrics": state["metrics"],
            "n_train": int(train_idx.size), "n_val": int(val_idx.size)}


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


def _split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction)
    if n - n_val < 1:
        raise ValueError(f"{n} images leave nothing to train on with val_fraction={val_fraction}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _loaders(x: torch.Tensor, counts: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
             cfg: ClassifierConfig, rt: Runtime) -> tuple[DataLoader, DataLoader | None]:
    c = torch.from_numpy(counts)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)
    common = {"batch_size": cfg.batch_size, "num_workers": cfg.num_workers, "pin_memory": rt.pin_memory}
    train = DataLoader(TensorDataset(x[train_idx], c[train_idx]), shuffle=True, generator=shuffle_gen, **common)
    val = DataLoader(TensorDataset(x[val_idx], c[val_idx]), **common) if val_idx.size else None
    return train, val


def _training_state(cfg: ClassifierConfig, tree: TaskTree, rt: Runtime) -> dict:
    """Model, optimizer, schedule and counters: fresh, warm-started or resumed."""
    model = TreeEnsemble(cfg, tree)
    if cfg.init_checkpoint:
        _warm_start(model, Path(cfg.init_checkpoint), tree)
    model.to(rt.device)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=False)  # bf16 autocast needs no loss scaling
    state = {"model": model, "optimizer": optimizer, "lr_scheduler": scheduler, "scaler": scaler,
             "epoch": 0, "best_metric": float("inf"), "metrics": {}}
    if cfg.resume:
        _resume(state, Path(cfg.out_dir) / "checkpoint.pt")
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


def _resume(state: dict, path: Path) -> None:
    saved = load_checkpoint(path, kind="classifier")
    for key in ("model", "optimizer", "lr_scheduler", "scaler"):
        state[key].load_state_dict(saved[key])
    state["epoch"], state["best_metric"] = saved["epoch"], saved["best_metric"]
    state["metrics"] = saved.get("extra", {}).get("metrics", {})


def _fit(state: dict, loaders: tuple, cfg: ClassifierConfig, tree: TaskTree, rt: Runtime, progress: bool) -> None:
    train_loader, val_loader = loaders
    slices = question_slices(tree)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    model = state["model"]

    def loss_fn(m, batch):
        images, counts = rt.to_device(to_float(batch[0])), batch[1].to(rt.device)
        if m.training:
            images = augment(images, aug_gen, cfg.max_rotation_deg)
        return tree_loss(m(images).float(), counts, slices)

    for epoch in range(state["epoch"], cfg.epochs):
        stats = train_one_epoch(model, train_loader, state["optimizer"], loss_fn, rt=rt, scaler=state["scaler"],
                                progress=progress, desc=f"classifier epoch {epoch + 1}/{cfg.epochs}")
        state["lr_scheduler"].step()
        metrics = {"train_loss": stats["loss"], "train_images_per_s": stats["n_images"] / max(stats["seconds"], 1e-9)}
        if val_loader is not None:
            metrics.update(_validate(model, val_loader, loss_fn, slices, rt))
        state["epoch"] = epoch + 1
        _save(state, metrics, cfg, tree)


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


def _save(state: dict, metrics: dict, cfg: ClassifierConfig, tree: TaskTree) -> None:
    score = metrics.get("val_loss", metrics["train_loss"])
    improved = score < state["best_metric"]
    if improved:
        state["best_metric"], state["metrics"] = score, metrics
    out = Path(cfg.out_dir)
    ckpt = {"model": state["model"].state_dict(), "optimizer": state["optimizer"].state_dict(),
            "lr_scheduler": state["lr_scheduler"].state_dict(), "scaler": state["scaler"].state_dict(),
            "epoch": state["epoch"], "best_metric": state["best_metric"], "config": asdict(cfg),
            "tree": tree.to_dict(), "kind": "classifier", "extra": {"metrics": state["metrics"], "last": metrics}}
    save_checkpoint(out / "checkpoint.pt", ckpt)
    if improved:
        save_checkpoint(out / "best.pt", ckpt)
