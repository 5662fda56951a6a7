"""Training tiles cut from full-resolution images, so clumps keep their native size in pixels.

Shrinking a 424-px survey image to a small network input turns a 13-px clump
into 2 px; instead the detector trains on square tiles at (about) native scale
and, being fully convolutional, runs on whole images at their file size.  A
mild random rescaling per tile covers the spread of pixel scales between
surveys (Galaxy Zoo cutouts are scaled to each galaxy's Petrosian radius).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CENTRED_SHARE = 0.75  # tiles whose window keeps the image centre in view


def random_tile(image: torch.Tensor, boxes: torch.Tensor, *, tile: int, scale_range: tuple[float, float],
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut one random ``tile`` x ``tile`` window from an image, rescaled by a random factor.

    Parameters
    ----------
    image : torch.Tensor
        ``(3, H, W)`` uint8 image at file resolution.
    boxes : torch.Tensor
        ``(n, 5)``: ``x_min, y_min, x_max, y_max`` in file pixels, then a weight (``p_real``).
    tile : int
        Output side in pixels.
    scale_range : (float, float)
        Output pixels per file pixel, drawn log-uniformly; the window never exceeds the image.
    generator : torch.Generator
        Source of the scale and the window's position.

    Returns
    -------
    tile_image : torch.Tensor
        ``(3, tile, tile)`` float in [0, 1] (zero-padded where the image is smaller than the tile).
    tile_boxes : torch.Tensor
        ``(m, 5)``: the boxes whose centre lies in the window, in tile pixels, clipped to it.
    """
    _, h, w = image.shape
    low, high = (math.log(s) for s in scale_range)
    scale = math.exp(low + (high - low) * float(torch.rand((), generator=generator)))
    window = min(tile / scale, h, w)  # an image smaller than the window is taken whole and padded
    u = torch.rand(3, generator=generator).tolist()
    if u[2] < CENTRED_SHARE:  # survey cutouts put their galaxy, hence its clumps, at the centre
        x0 = (w - window) / 2 + (2 * u[0] - 1) * min(window, w - window) / 2
        y0 = (h - window) / 2 + (2 * u[1] - 1) * min(window, h - window) / 2
    else:  # the rest anywhere, so the sky, stars and neighbours far from the centre are seen as background
        x0, y0 = u[0] * (w - window), u[1] * (h - window)
    ix, iy, side = int(x0), int(y0), max(1, int(window))
    crop = image[:, iy:iy + side, ix:ix + side].float().div(255.0)
    out_side = min(tile, max(1, int(round(crop.shape[-1] * scale))))
    crop = F.interpolate(crop[None], size=(out_side, out_side), mode="bilinear", antialias=True,
                         align_corners=False)[0]
    out = torch.zeros((3, tile, tile))
    out[:, :out_side, :out_side] = crop[:, :out_side, :out_side]
    factor = out_side / side
    shifted = (boxes[:, :4] - torch.tensor([ix, iy, ix, iy], dtype=boxes.dtype)) * factor
    centre = (shifted[:, :2] + shifted[:, 2:]) / 2
    inside = ((centre >= 0) & (centre < out_side)).all(dim=1)
    kept = torch.cat([shifted[inside].clamp(0, out_side), boxes[inside, 4:]], dim=1)
    return out, kept
