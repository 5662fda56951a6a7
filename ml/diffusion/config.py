"""Settings of the conditional diffusion model, with a CPU and a GPU preset."""
from __future__ import annotations

from dataclasses import dataclass


PREDICTION_TYPES = ("v_prediction", "epsilon")


@dataclass
class DiffusionConfig:
    """Settings of :func:`ml.diffusion.train.train_diffusion` (stored in the checkpoint).

    The UNet is ``diffusers.UNet2DModel`` with one residual block per level and
    self-attention at the coarsest level; the condition enters through the UNet's
    class embedding (``class_embed_type="identity"``), added to the timestep
    embedding, after a two-layer projection of the fraction vector.
    """

    image_size: int = 64
    block_out_channels: tuple[int, ...] = (16, 32, 64, 64)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    attention_head_dim: int = 16
    # How the timestep + condition embedding enters each residual block: "scale_shift" is the adaptive group
    # norm of Dhariwal & Nichol 2021 (FiLM: h = norm(h) (1 + s) + b), "default" adds it to the activations.
    resnet_time_scale_shift: str = "scale_shift"
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"  # Nichol & Dhariwal 2021's cosine schedule: better at low resolution
    # What the network predicts: "v_prediction" (v = sqrt(a) eps - sqrt(1 - a) x0; Salimans & Ho 2022) or
    # "epsilon" (Ho et al. 2020). eps-prediction's x0 estimate divides by sqrt(a), which the cosine schedule
    # sends to ~0 at the highest noise, so errors there blow up: that is where the global shape, and so the
    # morphology, is decided. v stays well scaled at every t.
    prediction_type: str = "v_prediction"
    # Min-SNR-gamma loss weights (Hang et al. 2023, arXiv:2303.09556), 0 = off. For v they weight the
    # noisiest steps by ~SNR, i.e. almost 0, and those are where the condition (the morphology) matters:
    # measured at 1,200 CPU steps, gamma = 5 gave class accuracy 0.52 and unweighted v 0.55 (w = 5).
    snr_gamma: float = 0.0
    sample_steps: int = 25  # DDIM steps at generation (Song et al. 2021, arXiv:2010.02502)
    # Sampling starts at t = sample_start x train_timesteps from the noised training mean (1.0: from pure
    # noise, the standard sampler). An eps-prediction model after a short CPU run drifted to a grey mean from
    # pure noise, so it was sampled from t = 720; with v-prediction the highest-noise steps are learnt.
    sample_start: float = 1.0
    guidance_scale: float = 2.0  # classifier-free guidance weight w: out_u + w (out_c - out_u)
    cond_dropout: float = 0.15  # share of training images whose condition is replaced by the null condition
    # Sampling weight of an image ~ (count of images with its condition) ** -balance: rare morphologies are
    # seen more often (0 = the data's own mix, 1 = every distinct condition equally often).
    balance: float = 0.5
    steps: int = 2000  # optimizer steps
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 50
    lr_floor: float = 0.1
    weight_decay: float = 0.0
    ema_decay: float = 0.995  # weights averaged for sampling; half-life ~140 steps suits short CPU runs
    checkpoint_every: int = 250
    seed: int = 0
    out_dir: str = "models/diffusion"
    resume: bool = False

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        for name in ("image_size", "steps", "batch_size", "lr", "sample_steps", "checkpoint_every",
                     "train_timesteps", "layers_per_block"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DiffusionConfig.{name} must be > 0, got {getattr(self, name)}")
        levels = len(self.block_out_channels)
        if self.image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by {2 ** (levels - 1)} "
                             f"for {levels} UNet levels")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError(f"every block_out_channels entry must be divisible by norm_num_groups "
                             f"({self.norm_num_groups})")
        if not 0.0 <= self.cond_dropout < 1.0 or not 0.0 <= self.ema_decay < 1.0 or not 0 <= self.balance <= 1:
            raise ValueError("DiffusionConfig needs 0 <= cond_dropout < 1, 0 <= ema_decay < 1, 0 <= balance <= 1")
        if not 0.0 < self.sample_start <= 1.0:
            raise ValueError(f"sample_start must lie in (0, 1], got {self.sample_start}")
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, "
                             f"got {self.prediction_type!r}")
        if self.snr_gamma < 0:
            raise ValueError(f"snr_gamma must be >= 0 (0: unweighted), got {self.snr_gamma}")
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {self.guidance_scale}")


PRESETS: dict[str, dict] = {
    # ~1.1 M parameters; 0.74 CPU-s per step of 16 images at 64 px on one shared core (docs/BENCHMARKS.md #18).
    "small": {},
    # ~35 M parameters at 128 px with attention at two levels' worth of channels: for one GPU.
    "large": {"image_size": 128, "block_out_channels": (64, 128, 256, 256, 512), "layers_per_block": 2,
              "norm_num_groups": 32, "attention_head_dim": 64, "batch_size": 64, "lr": 2e-4, "steps": 50_000,
              "warmup_steps": 1000, "ema_decay": 0.9999, "checkpoint_every": 2000, "sample_steps": 50},
}


def preset(name: str, **overrides) -> DiffusionConfig:
    """The named preset (``small`` or ``large``) with ``overrides``; ValueError naming the choices."""
    if name not in PRESETS:
        raise ValueError(f"unknown diffusion preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    cfg = DiffusionConfig(**{**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}})
    cfg.block_out_channels = tuple(cfg.block_out_channels)
    return cfg

