"""A synthetic galaxy survey with known truth, rendered with GalSim.

Every galaxy is drawn from a small generative model that follows the demo
decision tree (``zooapp/demo/workflow.json``): smooth galaxies (T0 smooth, with a
roundness answer for T1), featured galaxies (edge-on or not for T2, with a bar for
T3 and spiral arms for T4 when face-on) and artifacts (a lone star).  Featured
galaxies that are not edge-on may carry giant star-forming clumps whose boxes are
the truth for the drawing task T5.

Components (GalSim, Rowe et al. 2015, A&C 10, 121):

* bulge: Sersic profile (n 2.5--4, de Vaucouleurs-like), red;
* disc: exponential profile, inclined by a shear, neutral colour;
* bar: an elongated Sersic n = 0.5 profile through the centre;
* spiral arms: a logarithmic-spiral modulation of the disc, blue;
* clumps: small Gaussians (unresolved knots), blue, at known positions;
* PSF: a Gaussian of FWHM 1.6--2.6 px; noise: Gaussian sky noise per band.

The g, r and i bands share the component images and differ only in the colour
weights, so each galaxy costs three GalSim draws, not nine.  The RGB image is an
asinh stretch (Lupton et al. 2004, PASP 116, 133) of (i, r, g).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import galsim
import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

MANIFEST_COLUMNS = ["id", "file", "ra", "dec", "width", "height", "truth_T0", "truth_T1", "truth_T2",
                    "truth_T3", "truth_T4", "clumps"]
# Colour weights (g, r, i) per component: old bulges are red, star formation is blue.
_BULGE_COLOUR = np.array([0.55, 1.0, 1.35])
_DISC_COLOUR = np.array([0.9, 1.0, 1.05])
_BLUE_COLOUR = np.array([1.7, 1.0, 0.65])
_SERSIC_N = (2.5, 3.0, 3.5, 4.0)
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3)  # 64-px stamps: 1 % is invisible


@dataclass
class _Galaxy:
    """One drawn galaxy: truth labels and the band-neutral component images."""

    truth: dict[str, str]
    psf_fwhm: float
    images: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (image, gri colour)
    clumps: list[list[float]] = field(default_factory=list)


def synth_survey(n: int, out_dir: Path, *, seed: int = 0, size: int = 64, progress: bool = True) -> pd.DataFrame:
    """Render ``n`` synthetic galaxies as PNG images and return their manifest.

    Parameters
    ----------
    n : int
        Number of galaxies (> 0).  Mix: ~45 % smooth, ~50 % featured, ~5 % artifacts.
    out_dir : Path
        Folder for ``<id>.png`` (RGB, 8 bit, ``size`` x ``size``) and ``manifest.csv``.
    seed : int
        Galaxy ``i`` uses ``numpy.random.default_rng([seed, i])``, so a survey is
        deterministic and its first ``m`` galaxies equal a survey of size ``m``.
    size : int
        Image side in pixels (>= 16).

    Returns
    -------
    pandas.DataFrame
        One row per galaxy with columns ``MANIFEST_COLUMNS``: ``truth_T*`` hold the
        answer label of the demo tree ("" where the question is not reached) and
        ``clumps`` a JSON list of ``[x_min, y_min, x_max, y_max]`` boxes in image
        pixels (top-left origin, y down), each a square of side 2 x the clump's
        PSF-convolved FWHM.
    """
    if int(n) <= 0 or int(size) < 16:
        raise ValueError(f"synth_survey needs n > 0 and size >= 16 (got n={n}, size={size})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in tqdm(range(int(n)), desc="synth", disable=not progress):
        rng = np.random.default_rng([int(seed), i])
        galaxy = draw_galaxy(rng, int(size))
        gal_id = f"synth-{seed}-{i:06d}"
        Image.fromarray(render_rgb(galaxy, rng, int(size))).save(out_dir / f"{gal_id}.png")
        rows.append({"id": gal_id, "file": f"{gal_id}.png", "ra": float(rng.uniform(0.0, 360.0)),
                     "dec": float(math.degrees(math.asin(rng.uniform(-0.5, 0.5)))), "width": int(size),
                     "height": int(size), **{f"truth_{k}": v for k, v in galaxy.truth.items()},
                     "clumps": json.dumps(galaxy.clumps)})
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest


def draw_galaxy(rng: np.random.Generator, size: int) -> _Galaxy:
    """Draw the truth and the component images of one galaxy (no noise yet)."""
    psf_fwhm = float(rng.uniform(1.6, 2.6)) * size / 64.0
    psf = galsim.Gaussian(fwhm=psf_fwhm, gsparams=_GSPARAMS)
    kind = rng.choice(["smooth", "featured", "artifact"], p=[0.45, 0.50, 0.05])
    truth = {"T0": str(kind), "T1": "", "T2": "", "T3": "", "T4": ""}
    galaxy = _Galaxy(truth=truth, psf_fwhm=psf_fwhm)
    if kind == "smooth":
        _draw_smooth(galaxy, rng, psf, size)
    elif kind == "featured":
        _draw_featured(galaxy, rng, psf, size)
    else:
        offset = rng.uniform(-0.1, 0.1, size=2) * size
        star = _draw(psf.shift(*offset) * float(rng.uniform(0.5, 3.0)), size)
        galaxy.images.append((star, rng.uniform(0.6, 1.4, size=3)))
    return galaxy


def _draw(profile: galsim.GSObject, size: int) -> np.ndarray:
    # scale=1: every length in this module is in pixels; no_pixel because the PSF
    # already stands for the whole optical + detector response.
    return profile.drawImage(nx=size, ny=size, scale=1.0, method="no_pixel").array


def _draw_smooth(galaxy: _Galaxy, rng: np.random.Generator, psf: galsim.GSObject, size: int) -> None:
    shape = str(rng.choice(["round", "in_between", "cigar"], p=[0.4, 0.4, 0.2]))
    q = {"round": rng.uniform(0.85, 1.0), "in_between": rng.uniform(0.5, 0.75), "cigar": rng.uniform(0.2, 0.38)}[shape]
    hlr = float(rng.uniform(0.05, 0.12)) * size
    # GalSim caches a Sersic profile's Hankel tables per index n; a handful of
    # indices keeps every draw cached (a fresh n costs ~12 ms).
    bulge = galsim.Sersic(n=float(rng.choice(_SERSIC_N)), half_light_radius=hlr, gsparams=_GSPARAMS)
    bulge = bulge.shear(q=float(q), beta=float(rng.uniform(0, math.pi)) * galsim.radians)
    galaxy.truth["T1"] = shape
    galaxy.images.append((_draw(galsim.Convolve(bulge, psf), size), _BULGE_COLOUR))


def _draw_featured(galaxy: _Galaxy, rng: np.random.Generator, psf: galsim.GSObject, size: int) -> None:
    edge_on = bool(rng.random() < 0.2)
    galaxy.truth["T2"] = "yes" if edge_on else "no"
    h = float(rng.uniform(0.06, 0.11)) * size  # disc scale length
    q = float(rng.uniform(0.08, 0.18)) if edge_on else float(rng.uniform(0.55, 1.0))
    beta = float(rng.uniform(0, math.pi))
    disc = galsim.Exponential(scale_radius=h, gsparams=_GSPARAMS).shear(q=q, beta=beta * galsim.radians)
    bulge = galsim.Sersic(n=3.0, half_light_radius=0.25 * h, gsparams=_GSPARAMS) * float(rng.uniform(0.1, 0.4))
    parts = [disc, bulge]
    if not edge_on:
        barred = bool(rng.random() < 0.4)
        galaxy.truth["T3"] = "bar" if barred else "no_bar"
        if barred:
            bar = galsim.Sersic(n=0.5, half_light_radius=float(rng.uniform(0.8, 1.3)) * h, gsparams=_GSPARAMS)
            parts.append(bar.shear(q=float(rng.uniform(0.18, 0.3)), beta=float(rng.uniform(0, math.pi)) * galsim.radians)
                         * float(rng.uniform(0.25, 0.45)))
    galaxy.images.append((_draw(galsim.Convolve(galsim.Add(parts), psf), size), _DISC_COLOUR))
    if edge_on:
        return
    spiral = bool(rng.random() < 0.6)
    galaxy.truth["T4"] = "spiral" if spiral else "no_spiral"
    if spiral:
        galaxy.images.append((_spiral_arms(rng, size, h, q, beta, galaxy.psf_fwhm), _BLUE_COLOUR))
    if rng.random() < 0.6:
        _add_clumps(galaxy, rng, psf, size, h)


def _spiral_arms(rng: np.random.Generator, size: int, h: float, q: float, beta: float, psf_fwhm: float) -> np.ndarray:
    """Logarithmic spiral arms: an exponential disc times cos^p of the arm phase.

    GalSim has no spiral profile, so the arms are drawn on the pixel grid in the
    disc's own (de-projected) frame and blurred by the same Gaussian PSF.
    """
    m = int(rng.choice([2, 2, 3]))
    pitch = math.radians(float(rng.uniform(12.0, 28.0)))
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size] - c
    # Rotate by -beta and stretch the minor axis by 1/q to undo the inclination.
    u = x * math.cos(beta) + y * math.sin(beta)
    v = (-x * math.sin(beta) + y * math.cos(beta)) / q
    r = np.hypot(u, v) + 1e-3
    phase = m * (np.arctan2(v, u) - np.log(r / h) / math.tan(pitch) + float(rng.uniform(0, 2 * math.pi)))
    arms = np.exp(-r / (1.3 * h)) * np.clip(np.cos(phase), 0.0, None) ** 4 * (r > 0.6 * h)
    arms = gaussian_filter(arms, sigma=psf_fwhm / _FWHM_PER_SIGMA)
    return arms * (float(rng.uniform(0.25, 0.5)) / max(arms.sum(), 1e-9))


def _add_clumps(galaxy: _Galaxy, rng: np.random.Generator, psf: galsim.GSObject, size: int, h: float) -> None:
    knots = []
    for _ in range(int(rng.integers(1, 6))):
        radius, angle = float(rng.uniform(0.6, 2.2)) * h, float(rng.uniform(0, 2 * math.pi))
        dx, dy = radius * math.cos(angle), radius * math.sin(angle)
        sigma = float(rng.uniform(0.3, 0.8)) * size / 64.0
        fwhm = math.hypot(sigma * _FWHM_PER_SIGMA, galaxy.psf_fwhm)
        # GalSim centres an even stamp at array index (size-1)/2, i.e. at pixel-edge coordinate size/2.
        cx, cy = size / 2.0 + dx, size / 2.0 + dy
        box = [cx - fwhm, cy - fwhm, cx + fwhm, cy + fwhm]
        if box[0] < 0 or box[1] < 0 or box[2] > size or box[3] > size:
            continue
        knots.append(galsim.Gaussian(sigma=sigma, gsparams=_GSPARAMS).shift(dx, dy) * float(rng.uniform(0.03, 0.08)))
        galaxy.clumps.append([round(v, 2) for v in box])
    if knots:
        galaxy.images.append((_draw(galsim.Convolve(galsim.Add(knots), psf), size), _BLUE_COLOUR))


def render_rgb(galaxy: _Galaxy, rng: np.random.Generator, size: int) -> np.ndarray:
    """Sum the components per band, add sky noise and asinh-stretch to 8-bit RGB.

    Returns
    -------
    numpy.ndarray
        ``(size, size, 3)`` uint8 array, channels (i, r, g) as in SDSS colour images.
    """
    bands = np.zeros((3, size, size))
    for image, colour in galaxy.images:
        bands += colour[:, None, None] * image[None]
    peak = float(bands[1].max())
    sky_sigma = peak * float(rng.uniform(0.01, 0.03))
    bands += rng.normal(0.0, sky_sigma, size=bands.shape)
    # asinh keeps faint outskirts and clumps visible without saturating the core;
    # the softening is tied to the peak so every galaxy fills the 8-bit range alike.
    soft = 0.05 * peak
    stretched = np.arcsinh(np.clip(bands, 0.0, None) / soft) / math.asinh(1.2 * peak / soft)
    rgb = np.clip(stretched[::-1].transpose(1, 2, 0), 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def simulate_votes(manifest: pd.DataFrame, tree, *, n_volunteers: int = 10, accuracy: float = 0.8,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Vote counts from simulated volunteers who walk ``tree`` answering from the truth.

    Each volunteer gives the true answer with probability ``accuracy`` and a
    uniformly random other answer otherwise (a uniform-confusion Dawid--Skene
    worker); questions without a true answer (e.g. T1 for a featured galaxy that a
    volunteer wrongly called smooth) are answered at random.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Output of :func:`synth_survey` (columns ``truth_<task key>``).
    tree : aggregation.schema.TaskTree
        The workflow; only its single-answer questions are simulated.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{task key: (N, K_task) float array of vote counts}``.
    """
    rng = np.random.default_rng(seed)
    n = len(manifest)
    counts = {t.key: np.zeros((n, len(t.labels))) for t in tree.questions()}
    for _ in range(int(n_volunteers)):
        current = np.full(n, tree.first_task, dtype=object)
        while True:
            active = np.flatnonzero(current != None)
            if active.size == 0:
                break
            for key in set(current[active]):
                rows = active[current[active] == key]
                current[rows] = _answer(tree.tasks[key], manifest, rows, counts, accuracy, rng)
    return counts


def _answer(task, manifest: pd.DataFrame, rows: np.ndarray, counts: dict, accuracy: float,
            rng: np.random.Generator) -> np.ndarray:
    """One volunteer answers ``task`` for ``rows``; returns the next task key per row."""
    if task.type != "single":
        return np.full(rows.size, task.next, dtype=object)
    k = len(task.labels)
    column = f"truth_{task.key}"
    truth_labels = manifest[column].fillna("").astype(str).to_numpy()[rows] if column in manifest else np.full(rows.size, "")
    truth = np.array([task.labels.index(t) if t in task.labels else -1 for t in truth_labels])
    # A wrong answer is uniform over the k-1 others: shift the truth by 1..k-1 modulo k.
    wrong = (truth + rng.integers(1, k, size=rows.size)) % k
    chosen = np.where(rng.random(rows.size) < accuracy, truth, wrong)
    chosen = np.where(truth < 0, rng.integers(0, k, size=rows.size), chosen)
    np.add.at(counts[task.key], (rows, chosen), 1.0)
    return np.array([task.answers[c].next for c in chosen], dtype=object)
