"""Training the conditional diffusion model: step loop, one checkpoint dict, resumable."""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from aggregation.schema import TaskTree
from ml.checkpoint import new_training_state, resume, save_progress
from ml.data import dihedral, load_images, to_float
from ml.device import Runtime, runtime
from ml.diffusion.conditions import check_condition
from ml.diffusion.config import DiffusionConfig
from ml.diffusion.model import DiffusionModel, attach_ema, noise_scheduler
from ml.engine import cycle, train_steps, warmup_cosine

KIND = "diffusion"


def train_diffusion(cfg: DiffusionConfig, *, images: Sequence[Path], conditions: np.ndarray, tree: TaskTree,
                    progress: bool = True) -> dict:
    """Train a DDPM (Ho et al. 2020) on confident subjects and their answer fractions.

    The network predicts ``v = sqrt(a_t) eps - sqrt(1 - a_t) x0`` (Salimans & Ho 2022; or
    ``eps`` itself with ``cfg.prediction_type = "epsilon"``), with ``t`` uniform over the
    training timesteps, and the squared error is weighted by min-SNR-gamma (Hang et al.
    2023; :func:`snr_weights`).  A ``cfg.cond_dropout`` share of
    the images is given the null condition, so one network learns the conditional
    and the unconditional model that classifier-free guidance combines.  Images are
    randomly rotated and flipped (a galaxy's morphology does not depend on its
    orientation on the sky).

    Parameters
    ----------
    cfg : DiffusionConfig
        Settings (e.g. :func:`ml.diffusion.config.preset`); ``cfg.out_dir`` receives
        ``checkpoint.pt`` every ``checkpoint_every`` steps and at the end.
    images : sequence of Path
        ``N`` image files, resized to ``cfg.image_size``.
    conditions : numpy.ndarray
        ``(N, A)`` answer fractions over ``tree`` (:mod:`ml.diffusion.conditions`).
    tree : aggregation.schema.TaskTree
        The workflow, stored in the checkpoint so generation speaks the same answers.

    Returns
    -------
    dict
        ``{"checkpoint": Path, "metrics": {"train_loss", "train_images_per_s", "step"}, "n_train", "steps",
        "cpu_seconds"}``.
    """
    cfg.check()
    conditions = np.asarray(conditions, dtype=np.float32)
    check_condition(conditions, tree)
    if len(conditions) != len(images):
        raise ValueError(f"{len(images)} images but {len(conditions)} conditions")
    x, _ = load_images(list(images), cfg.image_size, progress=progress)
    return fit_diffusion(cfg, x, torch.from_numpy(conditions), tree, progress=progress)


def fit_diffusion(cfg: DiffusionConfig, x: torch.Tensor, conditions: torch.Tensor, tree: TaskTree, *,
                  progress: bool = True) -> dict:
    """:func:`train_diffusion` on loaded images: ``(N, 3, S, S)`` uint8 and ``(N, A)`` float conditions."""
    rt = runtime()
    torch.manual_seed(cfg.seed)
    state = _training_state(cfg, conditions.shape[1], rt)
    mean = to_float(x).mean(0) * 2 - 1  # the same on a resumed run over the same images
    for net in (state["model"].net, state["model"].ema.module):
        net.data_mean.copy_(mean.to(net.data_mean.device))
    sampler = WeightedRandomSampler(balance_weights(conditions, cfg.balance), num_samples=len(x),
                                    generator=torch.Generator().manual_seed(cfg.seed))
    loader = DataLoader(TensorDataset(x, conditions), batch_size=cfg.batch_size, sampler=sampler,
                        pin_memory=rt.pin_memory)
    scheduler = noise_scheduler(cfg)
    weights = snr_weights(scheduler.alphas_cumprod, gamma=cfg.snr_gamma, prediction_type=cfg.prediction_type)
    gen = torch.Generator().manual_seed(cfg.seed + 1 + state["step"])  # a resumed run draws fresh noise
    start = time.process_time()

    def loss_fn(m, batch):
        x0 = to_float(batch[0])
        x0 = torch.stack([dihedral(img, int(k)) for img, k in zip(x0, torch.randint(0, 8, (len(x0),),
                                                                                    generator=gen))])
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, cfg.train_timesteps, (len(x0),), generator=gen)
        null = torch.rand(len(x0), generator=gen) < cfg.cond_dropout
        x0 = x0 * 2 - 1
        noisy = scheduler.add_noise(x0, noise, t)
        target = noise if cfg.prediction_type == "epsilon" else scheduler.get_velocity(x0, noise, t)
        pred = m.net(rt.to_device(noisy), t.to(rt.device), batch[1].to(rt.device), null.to(rt.device))
        per_image = F.mse_loss(pred.float(), target.to(rt.device), reduction="none").mean(dim=(1, 2, 3))
        return (per_image * weights[t].to(rt.device)).mean()

    def checkpoint(metrics: dict) -> None:
        save_progress(state, {**metrics, "step": state["step"]}, score=None, out_dir=Path(cfg.out_dir),
                      config=cfg, tree=tree.to_dict(), kind=KIND)

    train_steps(state, cycle(loader), loss_fn, total_steps=cfg.steps, every=cfg.checkpoint_every,
                on_checkpoint=checkpoint, rt=rt, progress=progress, desc="diffusion steps", grad_clip=1.0)
    return {"checkpoint": Path(cfg.out_dir) / "checkpoint.pt", "metrics": state["metrics"], "n_train": len(x),
            "steps": state["step"], "cpu_seconds": time.process_time() - start}


def snr_weights(alphas_cumprod: torch.Tensor, *, gamma: float, prediction_type: str) -> torch.Tensor:
    """``(T,)`` min-SNR-gamma loss weights per timestep (Hang et al. 2023, arXiv:2303.09556).

    With ``SNR_t = a_t / (1 - a_t)``, the weight that turns each prediction's squared
    error into ``min(SNR_t, gamma) |x0 - x0_hat|^2`` is ``min(SNR_t, gamma) / (SNR_t + 1)``
    for v and ``min(SNR_t, gamma) / SNR_t`` for eps: the nearly clean steps, where the
    task is easy and the error tiny, stop taking the gradient from the noisy steps that
    decide the shape.  ``gamma = 0`` gives every step weight 1.

    Examples
    --------
    >>> w = snr_weights(torch.tensor([0.9, 0.5, 0.1]), gamma=5.0, prediction_type="v_prediction")
    >>> [round(v, 3) for v in w.tolist()]  # SNR 9 is clipped to 5: 5 / 10; SNR 1: 1 / 2; SNR 1/9: 0.1
    [0.5, 0.5, 0.1]
    """
    if gamma == 0:
        return torch.ones_like(alphas_cumprod, dtype=torch.float32)
    snr = (alphas_cumprod / (1 - alphas_cumprod)).double()
    clipped = snr.clamp(max=gamma)
    weights = clipped / (snr + 1) if prediction_type == "v_prediction" else clipped / snr
    return weights.float()


def balance_weights(conditions: torch.Tensor, balance: float) -> torch.Tensor:
    """``(N,)`` sampling weights ``n_c ** -balance``, ``n_c`` the number of images sharing image ``i``'s condition.

    Examples
    --------
    >>> balance_weights(torch.tensor([[1.0], [1.0], [1.0], [1.0], [0.0]]), 0.5).tolist()
    [0.5, 0.5, 0.5, 0.5, 1.0]
    """
    _, inverse, counts = torch.unique(conditions, dim=0, return_inverse=True, return_counts=True)
    return counts[inverse].double() ** -float(balance)


def _training_state(cfg: DiffusionConfig, n_conditions: int, rt: Runtime) -> dict:
    """Model (with its EMA), AdamW, warmup-cosine schedule and counters: fresh or resumed."""
    model = DiffusionModel(cfg, n_conditions).to(rt.device)
    optimizer = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    attach_ema(model, optimizer)
    factor = warmup_cosine(cfg.steps, warmup_steps=min(cfg.warmup_steps, cfg.steps // 2), floor=cfg.lr_floor)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=False)  # bf16 autocast needs no loss scaling
    state = new_training_state(model, optimizer, lr_scheduler, scaler)
    if cfg.resume:
        resume(state, Path(cfg.out_dir) / "checkpoint.pt", kind=KIND)
    return state
