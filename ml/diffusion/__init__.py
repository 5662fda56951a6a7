"""A conditional diffusion model that generates galaxies with chosen morphologies (issue #18).

The model is a denoising diffusion probabilistic model (Ho et al. 2020,
arXiv:2006.11239) on Hugging Face ``diffusers`` (its ``UNet2DModel`` and its
DDPM/DDIM schedulers), conditioned on the workflow's answer-fraction vector (one
vector over the task tree) with classifier-free guidance (Ho & Salimans 2022,
arXiv:2207.12598), following "Can AI Dream of Unseen Galaxies?" (2025), which
conditions on Galaxy Zoo 2 vote fractions and augments rare classes.

Modules: :mod:`~ml.diffusion.config` (settings and the ``small``/``large`` presets),
:mod:`~ml.diffusion.conditions` (fraction vectors), :mod:`~ml.diffusion.model`,
:mod:`~ml.diffusion.train`, :mod:`~ml.diffusion.sample`, :mod:`~ml.diffusion.marker`
(the PNG marker that keeps generated images out of subject sets),
:mod:`~ml.diffusion.augment` (classifier augmentation) and :mod:`~ml.diffusion.quality`
(KID, Fréchet distance, conditional accuracy).  This ``__init__`` imports nothing
heavy, so the platform can read the marker without loading diffusers.
"""
