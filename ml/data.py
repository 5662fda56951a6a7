"""Image loading and the rotation/flip augmentations shared by the classifier and the detector."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm


class ImageLoadError(ValueError):
    """An image file is missing or unreadable (the message names it)."""


def load_images(paths: Sequence[Path], size: int, *, progress: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """Read images as RGB and resize them to ``size`` x ``size``.

    Parameters
    ----------
    paths : sequence of Path
        PNG/JPEG files (any size; greyscale is repeated into three channels).
    size : int
        Output side in pixels.

    Returns
    -------
    images : torch.Tensor
        ``(N, 3, size, size)`` uint8 (kept as bytes: four times smaller in memory than floats).
    original_sizes : numpy.ndarray
        ``(N, 2)`` original (width, height), to map boxes back to image pixels.

    Raises
    ------
    ImageLoadError
        Naming the first file that cannot be read; nothing is returned.
    """
    if len(paths) == 0:
        raise ImageLoadError("no images given")
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    sizes = np.empty((len(paths), 2), dtype=np.int64)
    for i, path in enumerate(tqdm(paths, desc="load images", disable=not progress)):
        rgb = _read_rgb(path)
        sizes[i] = rgb.size
        out[i] = torch.from_numpy(np.asarray(rgb.resize((size, size), Image.BILINEAR)).copy()).permute(2, 0, 1)
    return out, sizes


def load_native_images(paths: Sequence[Path], *, progress: bool = False) -> list[torch.Tensor]:
    """Read images as RGB at their file size: a list of ``(3, H_i, W_i)`` uint8 tensors.

    Raises
    ------
    ImageLoadError
        Naming the first file that cannot be read; nothing is returned.
    """
    if len(paths) == 0:
        raise ImageLoadError("no images given")
    out = []
    for path in tqdm(paths, desc="load images", disable=not progress):
        rgb = np.asarray(_read_rgb(path)).copy()
        out.append(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
    return out


def _read_rgb(path: Path) -> Image.Image:
    """One file as a fully decoded RGB image; ImageLoadError naming the file if it cannot be read."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")  # convert() decodes now, before the file is closed
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageLoadError(f"cannot read image {path}: {exc}") from exc


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train, validation)`` index arrays, each sorted; ``round(n * val_fraction)`` are held out."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction)
    if n - n_val < 1:
        raise ValueError(f"{n} images leave nothing to train on with val_fraction={val_fraction}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` -> float32 in [0, 1]."""
    return images.float().div_(255.0)


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th of the 8 symmetries of the square (k = 0..7): rotate by k%4 quarter turns, flip if k >= 4."""
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if k >= 4 else x


def augment(x: torch.Tensor, generator: torch.Generator,
            max_rotation_deg: float = 15.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random dihedral symmetry plus a small random rotation per image.

    A galaxy's class does not depend on its orientation on the sky (Dieleman et
    al. 2015), so quarter turns are exact, loss-free augmentations and so are
    flips, except for the sense of spiral winding: the caller swaps those labels
    on the flipped images (:mod:`ml.classifier.chirality`).  The extra small
    rotation fills the angles between the quarter turns.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` float images.

    Returns
    -------
    images : torch.Tensor
        ``(N, C, H, W)`` augmented copy (the input is not modified).
    flipped : torch.Tensor
        ``(N,)`` bool, true where the image was mirrored.
    """
    ks = torch.randint(0, 8, (x.shape[0],), generator=generator)
    x = torch.stack([dihedral(img, int(k)) for img, k in zip(x, ks)])
    flipped = ks >= 4
    if max_rotation_deg <= 0:
        return x, flipped
    angles = (torch.rand(x.shape[0], generator=generator) * 2 - 1) * math.radians(max_rotation_deg)
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                         torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Reflection padding avoids black corners, which the network could learn as a cue.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False), flipped
