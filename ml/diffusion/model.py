"""The conditional UNet: ``diffusers.UNet2DModel`` plus a projection of the fraction vector."""
from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ml.diffusion.config import DiffusionConfig


class ConditionalUNet(nn.Module):
    """Denoiser ``v(x_t, t, c)`` (or ``eps``: ``cfg.prediction_type``) conditioned on an answer-fraction vector ``c``.

    ``c`` (``A`` fractions) and a null flag go through ``Linear -> SiLU -> Linear``
    to the UNet's timestep-embedding width, and the UNet adds the result to its
    timestep embedding (``class_embed_type="identity"``), so every residual block
    sees the morphology.  The null flag is classifier-free guidance's empty
    condition (Ho & Salimans 2022): a learned embedding, not a zero vector that a
    real (empty) condition could share.
    """

    def __init__(self, cfg: DiffusionConfig, n_conditions: int) -> None:
        super().__init__()
        levels = len(cfg.block_out_channels)
        self.unet = UNet2DModel(
            sample_size=cfg.image_size, in_channels=3, out_channels=3,
            block_out_channels=tuple(cfg.block_out_channels), layers_per_block=cfg.layers_per_block,
            down_block_types=("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1),
            norm_num_groups=cfg.norm_num_groups, attention_head_dim=cfg.attention_head_dim,
            class_embed_type="identity", resnet_time_scale_shift=cfg.resnet_time_scale_shift)
        width = cfg.block_out_channels[0] * 4  # UNet2DModel's timestep-embedding width
        self.n_conditions = n_conditions
        self.project = nn.Sequential(nn.Linear(n_conditions + 1, width), nn.SiLU(), nn.Linear(width, width))
        # The training images' mean in [-1, 1], ``(3, S, S)``: truncated sampling starts from it (sample.py).
        self.register_buffer("data_mean", torch.zeros(3, cfg.image_size, cfg.image_size))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` noisy images in [-1, 1], ``(N,)`` timesteps, ``(N, A)`` conditions and ``(N,)``
        bool null flags -> ``(N, 3, H, W)`` predicted v (or noise)."""
        keep = (~null).to(cond.dtype)[:, None]
        embedding = self.project(torch.cat([cond * keep, null.to(cond.dtype)[:, None]], dim=1))
        return self.unet(x, t, class_labels=embedding).sample


class DiffusionModel(nn.Module):
    """The trained network and its exponential moving average (the weights that sample).

    One module, so one checkpoint dict holds both; the average is updated after
    every optimizer step (:func:`attach_ema`).
    """

    def __init__(self, cfg: DiffusionConfig, n_conditions: int) -> None:
        super().__init__()
        self.net = ConditionalUNet(cfg, n_conditions)
        self.ema = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.ema.requires_grad_(False)


def attach_ema(model: DiffusionModel, optimizer: torch.optim.Optimizer) -> None:
    """Update ``model.ema`` after each ``optimizer.step()`` (a torch optimizer post-step hook)."""
    optimizer.register_step_post_hook(lambda *_: model.ema.update_parameters(model.net))


def noise_scheduler(cfg: DiffusionConfig) -> DDPMScheduler:
    """The forward (noising) process of training: DDPM with ``cfg.train_timesteps`` steps, whose network
    output is ``cfg.prediction_type``."""
    return DDPMScheduler(num_train_timesteps=cfg.train_timesteps, beta_schedule=cfg.beta_schedule,
                         prediction_type=cfg.prediction_type)


def sampling_scheduler(cfg: DiffusionConfig, steps: int) -> DDIMScheduler:
    """Deterministic DDIM (eta = 0) over the training process, with ``steps`` denoising steps.

    The steps are spaced from the last training timestep down ("trailing"): the default "leading" spacing
    of 25 steps starts at t = 960, so sampling would begin from noise the model never saw pure (Lin et al.
    2024, arXiv:2305.08891, table 2).
    """
    sched = DDIMScheduler.from_config(noise_scheduler(cfg).config, timestep_spacing="trailing")
    sched.set_timesteps(steps)
    return sched
