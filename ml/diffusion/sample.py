"""Generating galaxies from a trained model: DDIM with classifier-free guidance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from aggregation.schema import TaskTree
from ml.checkpoint import config_from, load_checkpoint
from ml.device import runtime
from ml.diffusion.conditions import check_condition
from ml.diffusion.config import DiffusionConfig
from ml.diffusion.marker import generated_pnginfo
from ml.diffusion.model import ConditionalUNet, DiffusionModel, sampling_scheduler


# What a checkpoint written before these settings existed was trained with (eps-prediction, added embedding).
BEFORE_V_PREDICTION = {"prediction_type": "epsilon", "resnet_time_scale_shift": "default", "snr_gamma": 0.0}


def load_diffusion(checkpoint: Path) -> tuple[ConditionalUNet, DiffusionConfig, TaskTree, int]:
    """The averaged (EMA) network, its config, its tree and its step count, from a checkpoint (on the CPU)."""
    state = load_checkpoint(checkpoint, kind="diffusion")
    cfg = config_from(DiffusionConfig, {**BEFORE_V_PREDICTION, **state["config"]})
    tree = TaskTree.from_dict(state["tree"])
    n_conditions = int(state["model"]["net.project.0.weight"].shape[1]) - 1
    model = DiffusionModel(cfg, n_conditions)
    saved = dict(state["model"])
    for prefix in ("net.", "ema.module."):  # checkpoints written before data_mean existed start from zeros
        saved.setdefault(f"{prefix}data_mean", torch.zeros(3, cfg.image_size, cfg.image_size))
    model.load_state_dict(saved)
    return model.ema.module.eval(), cfg, tree, int(state["step"])


@torch.no_grad()
def generate(net: ConditionalUNet, cfg: DiffusionConfig, conditions: np.ndarray, *, seed: int = 0,
             guidance_scale: float | None = None, steps: int | None = None, batch_size: int = 32,
             progress: bool = False) -> torch.Tensor:
    """Sample one image per condition with deterministic DDIM and classifier-free guidance.

    Sampling starts at ``t = cfg.sample_start x T`` from the training mean noised to that step
    (``sample_start = 1``, the default: from pure noise, the standard sampler).  The guided
    output (v or eps, as the model was trained) is ``out_u + w (out_c - out_u)`` (Ho & Salimans 2022):
    ``w = 0`` ignores the condition, ``w = 1`` is the plain conditional model, larger
    ``w`` trades diversity for images that fit the condition more clearly.

    Parameters
    ----------
    conditions : numpy.ndarray
        ``(N, A)`` answer fractions.
    seed : int
        The starting noise of image ``i`` is the ``i``-th draw of one generator seeded
        with ``seed``, so the same seed gives the same images whatever ``batch_size``.

    Returns
    -------
    torch.Tensor
        ``(N, 3, S, S)`` uint8 images.
    """
    w = cfg.guidance_scale if guidance_scale is None else float(guidance_scale)
    n_steps = cfg.sample_steps if steps is None else int(steps)
    if n_steps <= 0 or w < 0:
        raise ValueError(f"generation needs steps > 0 and guidance_scale >= 0 (got {n_steps}, {w})")
    cond = torch.as_tensor(np.asarray(conditions, dtype=np.float32))
    rt = runtime()
    net = net.to(rt.device).eval()
    noise = torch.randn((len(cond), 3, cfg.image_size, cfg.image_size), generator=torch.Generator().manual_seed(seed))
    out = [_denoise(net, cfg, noise[i:i + batch_size], cond[i:i + batch_size], w, n_steps)
           for i in tqdm(range(0, len(cond), batch_size), desc="generate", unit="batch", disable=not progress)]
    return torch.cat(out) if out else torch.zeros((0, 3, cfg.image_size, cfg.image_size), dtype=torch.uint8)


def _denoise(net: ConditionalUNet, cfg: DiffusionConfig, x: torch.Tensor, cond: torch.Tensor, w: float,
             n_steps: int) -> torch.Tensor:
    """One batch from noise ``x`` to uint8 images; the conditional and null passes share one forward."""
    rt = runtime()
    sched = sampling_scheduler(cfg, n_steps)
    timesteps = sched.timesteps[sched.timesteps <= round(cfg.sample_start * (cfg.train_timesteps - 1))]
    x, cond = x.to(rt.device), cond.to(rt.device)
    if len(timesteps) < len(sched.timesteps):  # truncated: the noised training mean at the first step
        x = sched.add_noise(net.data_mean.expand_as(x), x, timesteps[:1].expand(len(x)))
    both = torch.cat([cond, cond])
    null = torch.cat([torch.zeros(len(x), dtype=torch.bool), torch.ones(len(x), dtype=torch.bool)]).to(rt.device)
    for t in timesteps:
        with rt.autocast():
            out_c, out_u = net(torch.cat([x, x]), t.expand(2 * len(x)).to(rt.device), both, null).float().chunk(2)
        # Guidance is linear in the network's output, so it holds for v as for eps (both are linear in x0).
        x = sched.step(out_u + w * (out_c - out_u), t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_generated(images: torch.Tensor, conditions: np.ndarray, out_dir: Path, *, names: list[str],
                   meta: dict, tree: TaskTree) -> pd.DataFrame:
    """Write ``gen-<i>.png`` files, each carrying the generated marker, and ``manifest.csv``.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, 3, S, S)`` uint8.
    names : list of str
        ``N`` condition names (an answer name, or ``"custom"``), kept in the manifest's ``condition`` column.
    meta : dict
        Stored in every image's marker (e.g. ``{"model": ..., "step": ..., "seed": ..., "guidance": ...}``).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, file, condition, fractions`` (JSON list), ``generated`` (always true).
    """
    check_condition(np.asarray(conditions, dtype=np.float32), tree)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (img, vec, name) in enumerate(zip(images, conditions, names)):
        gen_id = f"gen-{i:05d}"
        fractions = [round(float(v), 4) for v in vec]
        info = generated_pnginfo({**meta, "index": i, "condition": name, "fractions": fractions})
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(out_dir / f"{gen_id}.png", pnginfo=info)
        rows.append({"id": gen_id, "file": f"{gen_id}.png", "condition": name, "fractions": json.dumps(fractions),
                     "generated": True})
    manifest = pd.DataFrame(rows, columns=["id", "file", "condition", "fractions", "generated"])
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest
