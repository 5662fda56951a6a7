"""Injection of synthetic clumps into real SDSS galaxy images (injection--recovery).

Astronomers measure a detector's completeness by adding sources of known
position and brightness to real images and counting how many come back
(e.g. Mehta et al. 2021, ApJ 912, 49 for clumps).  Here real Galaxy Zoo JPEGs,
already asinh-stretched, are linearised by inverting the Lupton et al. (2004)
mapping per channel, blue PSF-sized clumps are added, and the result is
stretched back.

Galaxy Zoo cutouts are scaled to 0.02 petroR90 per pixel of a 424-px image,
so petroR90 is 50 px at that size whatever the galaxy; clump counts and radii
(in petroR90) follow the Clump Scout consensus boxes (:mod:`ml.synth`), and
the clump FWHM is half a Clump Scout box side (boxes are 2 x FWHM squares).
Only positions on the galaxy (linear surface brightness above the sky) receive a clump.
Optionally a second set of clumps lies inside the disc (uniform in 0.2--0.8
petroR90) and decoy stars beyond the galaxy are added as unlabelled negatives.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from ml.data import ImageLoadError
from ml.synth import (CLUMP_COUNT_P, LUPTON_Q, LUPTON_STRETCH, MANIFEST_COLUMNS, RGB_BAND_WEIGHTS, band_factors,
                      clump_box, sample_clump_offsets)

# Clump Scout box side deciles (0 %, 10 %, ..., 100 %) in pixels of their 400-px cutouts.
CLUMP_BOX_DECILES = np.array([4.3, 10.4, 12.2, 13.8, 15.2, 16.6, 18.1, 19.8, 22.0, 25.1, 48.2])
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_CLUMP_RGB = (band_factors("clump") * RGB_BAND_WEIGHTS)[::-1]  # (R, G, B) = (i, r, g) weights
_STAR_RGB = (band_factors("star") * RGB_BAND_WEIGHTS)[::-1]
INNER_RADII = (0.2, 0.8)  # petroR90: the ``inner`` clumps, inside the disc where its surface brightness carries them
STAR_MIN_RADIUS = 1.2  # petroR90: decoy stars stay off the galaxy itself


def linearise(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 asinh-stretched -> float linear intensity (per-channel inverse of Lupton et al. 2004)."""
    return LUPTON_STRETCH * np.sinh(LUPTON_Q * rgb.astype(float) / 255.0) / LUPTON_Q


def restretch(linear: np.ndarray) -> np.ndarray:
    """Inverse of :func:`linearise`: float linear intensity -> ``(H, W, 3)`` uint8."""
    v = np.arcsinh(LUPTON_Q * np.clip(linear, 0.0, None) / LUPTON_STRETCH) / LUPTON_Q
    return np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)


def inject_clumps(rgb: np.ndarray, rng: np.random.Generator, *, inner: bool = False,
                  stars: float = 0.0) -> tuple[np.ndarray, list[list[float]], float, list[list[float]]]:
    """Add Clump Scout-like clumps (and optionally decoy stars) to one real galaxy image centred in the frame.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` uint8 Galaxy Zoo-scaled cutout.
    rng : numpy.random.Generator
        Source of the count, positions, sizes and brightnesses.
    inner : bool
        Also add a second set of clumps (Clump Scout count) at radii uniform in
        :data:`INNER_RADII` petroR90, inside the disc; the first set keeps the
        Clump Scout radii (median 1.1 petroR90, often on the faint outskirts).
    stars : float
        Mean (Poisson) number of decoy point sources placed beyond
        :data:`STAR_MIN_RADIUS` petroR90: star-coloured, PSF-sized like the
        clumps, and not in ``boxes`` (hard negatives).

    Returns
    -------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 with the clumps.
    boxes : list of list of float
        ``[x_min, y_min, x_max, y_max]`` per clump (pixel-edge coordinates, y down): squares of side 2 x FWHM.
    fwhm : float
        The clumps' (and decoys') FWHM in pixels.
    decoys : list of list of float
        ``[x, y]`` centre of each decoy star (pixel-edge coordinates).
    """
    h, w = rgb.shape[:2]
    linear = linearise(rgb)
    luminance = gaussian_filter(linear.mean(axis=2), 2.0)
    sky = float(np.median(luminance))
    fwhm = float(np.interp(rng.random(), np.linspace(0, 1, 11), CLUMP_BOX_DECILES)) / 2.0 * w / 400.0
    petro_r90 = 50.0 * w / 424.0
    boxes = _add_clumps(linear, luminance, sky, sample_clump_offsets(rng, petro_r90), fwhm, rng)
    if inner:
        boxes += _add_clumps(linear, luminance, sky, inner_clump_offsets(rng, petro_r90), fwhm, rng)
    decoys = _add_decoy_stars(linear, luminance, sky, rng, petro_r90=petro_r90, fwhm=fwhm, mean=stars) if stars else []
    return restretch(linear), boxes, fwhm, decoys


def inner_clump_offsets(rng: np.random.Generator, petro_r90: float) -> np.ndarray:
    """``(k, 2)`` offsets (pixels): a Clump Scout count at radii uniform in :data:`INNER_RADII` petroR90."""
    k = int(rng.choice(np.arange(1, len(CLUMP_COUNT_P) + 1), p=CLUMP_COUNT_P / CLUMP_COUNT_P.sum()))
    radius = rng.uniform(*INNER_RADII, size=k) * petro_r90
    angle = rng.uniform(0, 2 * math.pi, size=k)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _gaussian(shape: tuple[int, int], cx: float, cy: float, fwhm: float) -> np.ndarray:
    """``(H, W)`` unit-peak circular Gaussian centred at pixel-edge coordinates ``(cx, cy)``."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]] + 0.5  # pixel centres in pixel-edge coordinates
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (fwhm / _FWHM_PER_SIGMA) ** 2))


def _add_clumps(linear: np.ndarray, luminance: np.ndarray, sky: float, offsets: np.ndarray, fwhm: float,
                rng: np.random.Generator) -> list[list[float]]:
    """Add blue clumps at ``(k, 2)`` offsets from the centre to ``(H, W, 3)`` ``linear`` in place; their boxes."""
    h, w = luminance.shape
    boxes = []
    for dx, dy in offsets:
        cx, cy = w / 2.0 + dx, h / 2.0 + dy
        box = clump_box(cx, cy, fwhm)
        host = luminance[int(min(max(cy, 0), h - 1)), int(min(max(cx, 0), w - 1))]
        if box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h or host < sky + 0.02:
            continue  # off the frame or on the sky: not a clump of this galaxy
        # Brightness relative to the local disc (smoothed host minus sky): visible, never a fixed contrast.
        peak = float(rng.uniform(0.6, 2.0)) * max(host - sky, 0.05)
        linear += peak * _gaussian((h, w), cx, cy, fwhm)[..., None] * (_CLUMP_RGB / _CLUMP_RGB.mean())
        boxes.append(box)
    return boxes


def _add_decoy_stars(linear: np.ndarray, luminance: np.ndarray, sky: float, rng: np.random.Generator, *,
                     petro_r90: float, fwhm: float, mean: float) -> list[list[float]]:
    """Add Poisson(``mean``) star-coloured point sources beyond ``STAR_MIN_RADIUS`` petroR90; their centres.

    Stars and background objects beside a galaxy are PSF-sized knots too; a
    detector trained only on clumps learns "compact and bright", not "a knot
    of this galaxy", so some of them are added as unlabelled negatives.
    """
    h, w = luminance.shape
    centre = float(luminance[h // 2, w // 2]) - sky
    decoys = []
    for _ in range(int(rng.poisson(mean))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        peak = float(np.exp(rng.uniform(math.log(0.05), 0.0))) * max(centre, 0.05)  # log-uniform, 5-100 % of the core
        if math.hypot(cx - w / 2.0, cy - h / 2.0) < STAR_MIN_RADIUS * petro_r90:
            continue  # on the galaxy: that would be a clump, or a star no one could tell from one
        linear += peak * _gaussian((h, w), cx, cy, fwhm)[..., None] * (_STAR_RGB / _STAR_RGB.mean())
        decoys.append([float(cx), float(cy)])
    return decoys


def inject_survey(images: Sequence[Path], out_dir: Path, *, seed: int = 0, inner: bool = False, stars: float = 0.0,
                  progress: bool = True) -> pd.DataFrame:
    """Inject clumps into every image and write PNGs and a :mod:`ml.synth`-style manifest.

    Image ``i`` uses ``numpy.random.default_rng([seed, i])``; ``inner`` and ``stars``
    are passed to :func:`inject_clumps`.  The manifest has
    ``MANIFEST_COLUMNS`` (empty morphology truth, NaN magnitudes) plus ``source``,
    the original file, and ``decoys``, the JSON ``[x, y]`` centres of decoy stars;
    ``clumps`` holds only the injected clumps (the real
    galaxy's own clumps are unknown), so the set suits completeness, not purity.
    """
    if len(images) == 0:
        raise ValueError("inject_survey needs at least one image")
    if not (np.isfinite(stars) and stars >= 0):
        raise ValueError(f"stars (mean decoy stars per image) must be a number >= 0, got {stars}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, path in enumerate(tqdm(list(images), desc="inject", disable=not progress)):
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except OSError as exc:
            raise ImageLoadError(f"cannot read image {path}: {exc}") from exc
        image, boxes, fwhm, decoys = inject_clumps(rgb, np.random.default_rng([int(seed), i]), inner=inner, stars=stars)
        name = f"inject-{seed}-{i:06d}"
        Image.fromarray(image).save(out_dir / f"{name}.png")
        rows.append({"id": name, "file": f"{name}.png", "ra": float("nan"), "dec": float("nan"),
                     "width": image.shape[1], "height": image.shape[0], "clumps": json.dumps(boxes),
                     "psf_fwhm_px": round(fwhm, 3), "source": str(path),
                     "decoys": json.dumps(decoys)})
    manifest = pd.DataFrame(rows).reindex(columns=[*MANIFEST_COLUMNS, "source", "decoys"])
    for col in ("truth_T0", "truth_T1", "truth_T2", "truth_T3", "truth_T4"):
        manifest[col] = ""
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest
