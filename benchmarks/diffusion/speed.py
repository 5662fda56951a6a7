"""CPU speed of the small preset's training step and of sampling, at 64 px (the preset) and 32 px.

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.speed`` prints images per
CPU-second (``time.process_time``, one thread; wall time is meaningless on the shared machine).
"""
from __future__ import annotations

import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from aggregation.schema import galaxy_zoo_tree
from ml.diffusion.conditions import answer_condition
from ml.diffusion.config import preset
from ml.diffusion.model import DiffusionModel
from ml.diffusion.sample import generate


def measure(size: int, steps: int = 6, n_sample: int = 8) -> dict:
    cfg = preset("small", image_size=size)
    tree = galaxy_zoo_tree()
    model = DiffusionModel(cfg, 12)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr)
    x = torch.randn(cfg.batch_size, 3, size, size)
    cond = torch.from_numpy(np.stack([answer_condition("smooth", tree)] * cfg.batch_size))
    null = torch.zeros(cfg.batch_size, dtype=torch.bool)
    for i in range(steps + 1):
        if i == 1:  # the first step pays for allocation
            start = time.process_time()
        t = torch.randint(0, cfg.train_timesteps, (cfg.batch_size,))
        loss = F.mse_loss(model.net(x, t, cond, null), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train = time.process_time() - start
    start = time.process_time()
    generate(model.ema.module, cfg, cond[:n_sample].numpy(), seed=0)
    sample = time.process_time() - start
    return {"image_size": size, "cpu_s_per_step": train / steps,
            "train_images_per_cpu_s": steps * cfg.batch_size / train,
            "sample_images_per_cpu_s": n_sample / sample, "preset_steps_cpu_minutes": cfg.steps * train / steps / 60}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps([measure(64), measure(32)], indent=2))
