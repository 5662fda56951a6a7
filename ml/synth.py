"""A synthetic SDSS-like galaxy survey with known truth, rendered with GalSim.

Every galaxy is drawn from a small generative model that follows the demo
decision tree (:func:`aggregation.schema.galaxy_zoo_tree`): smooth galaxies (T0 smooth, with a
roundness answer for T1), featured galaxies (edge-on or not for T2, with a bar for
T3 and spiral arms for T4 when face-on) and artifacts (a lone star).  Featured
galaxies that are not edge-on may carry giant star-forming clumps whose boxes are
the truth for the drawing task T5.

Observing model (SDSS imaging; York et al. 2000, Stoughton et al. 2002, AJ 123, 485):

* pixel scale 0.396 arcsec; fluxes in nanomaggies (m = 22.5 - 2.5 log10 f);
* PSF: Moffat (beta = 3.5), r-band FWHM drawn per galaxy from a normal of mean
  1.4 arcsec and sd 0.2 (clipped to 0.9--2.2; SDSS median seeing ~1.4 arcsec),
  g 5 % broader and i 4 % narrower (seeing scales roughly as wavelength^-0.2);
* sky noise: Gaussian per band, set so that a point source at the SDSS 95 %
  completeness limits g = 22.2, r = 22.2, i = 21.3 (Abazajian et al. 2004, AJ 128, 502)
  has S/N = 5, varied by +-20 % per galaxy;
* colour: g, r, i mapped to RGB by the asinh stretch of Lupton et al. 2004
  (PASP 116, 133) with :func:`astropy.visualization.make_lupton_rgb`.

Galaxy population:

* r magnitude from Euclidean number counts dN/dm ~ 10^(0.6 m) over 14 < r < 17.77,
  the SDSS main galaxy sample (Strauss et al. 2002, AJ 124, 1810; Yasuda et al. 2001);
* half-light radius lognormal (sd 0.35 in ln R; Shen et al. 2003, MNRAS 343, 978) about
  2.6 arcsec at r = 16.5, growing as R ~ f^0.5 (constant mean surface brightness),
  clipped to 0.8--15 arcsec;
* bulge: Sersic n 2.5--4 (red, g-r 0.8); disc: exponential (g-r 0.5); bar: Sersic n = 0.5;
  spiral arms: logarithmic spirals (blue); 0--4 field stars and faint galaxies.

Clumps follow the Galaxy Zoo: Clump Scout consensus boxes (Popp et al. 2024, RASTI 3,
174; ../shared/data/clump_scout_consensus_boxes; benchmarks/ml/clump_statistics.py
recomputes the tables below): the number per clumpy galaxy is drawn from their
histogram and the distance from the centre from their deciles, in units of petroR90
(the Clump Scout cutouts follow the Galaxy Zoo scaling of 0.02 petroR90 per pixel of a
424-px image, so petroR90 is 47 px of their 400-px images).  Clumps are unresolved
(intrinsic sigma < 0.25 arcsec, Mehta et al. 2021) and blue (g-r 0.1), each 2--8 % of
the galaxy's r flux; a box is the square of side 2 x the PSF-convolved FWHM, the
Clump Scout convention of PSF-sized boxes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import galsim
import numpy as np
import pandas as pd
from astropy.visualization import make_lupton_rgb
from PIL import Image
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from aggregation.crowd import answer_draw, crowd_from_dict, member_draw

MANIFEST_COLUMNS = ["id", "file", "ra", "dec", "width", "height", "truth_T0", "truth_T1", "truth_T2",
                    "truth_T3", "truth_T4", "clumps", "psf_fwhm_px", "mag_r", "r50_arcsec"]
PIXEL_SCALE = 0.396  # arcsec per SDSS pixel
BANDS = ("g", "r", "i")
DEFAULT_SIZE = 256
PSF_FWHM_ARCSEC = (1.4, 0.2, 0.9, 2.2)  # mean, sd, min, max of the r-band seeing
PSF_BAND_FACTOR = np.array([1.05, 1.0, 0.96])  # g, r, i FWHM relative to r
PSF_BETA = 3.5
DEPTH_5SIGMA = np.array([22.2, 22.2, 21.3])  # g, r, i point-source 95 % completeness (Abazajian et al. 2004)
# Lupton et al. 2004 asinh mapping: softening Q and linear stretch (nanomaggies per pixel), chosen so the sky
# noise sits a few grey levels above black and bright cores saturate, as in SDSS/Galaxy Zoo JPEGs.
LUPTON_Q, LUPTON_STRETCH = 8.0, 1.2
# Per-band weights (g, r, i) before the mapping, as SDSS colour images balance the bands so that a
# disc galaxy looks neutral, old bulges yellow and star formation blue (values set by eye against the demo cutouts).
RGB_BAND_WEIGHTS = np.array([1.6, 1.0, 0.75])
# Clump Scout consensus boxes: share of clumpy galaxies with 1..9 clumps, and deciles (0 %, 10 %, ..., 100 %)
# of the clump's distance from the centre in petroR90 (pixels of the 400-px cutouts / 47).
CLUMP_COUNT_P = np.array([0.2593, 0.4174, 0.1790, 0.0803, 0.0356, 0.0188, 0.0069, 0.0024, 0.0004])
CLUMP_RADIUS_DECILES = np.array([8.0, 29.2, 35.7, 41.3, 46.5, 51.7, 57.2, 63.5, 71.5, 84.3, 142.1]) / 47.0
PETRO_R90_PER_R50 = 2.3  # an exponential disc's petroR90 / petroR50 (Graham et al. 2005)
COLOURS = {"bulge": (0.8, 0.4), "disc": (0.5, 0.3), "arms": (0.25, 0.15), "clump": (0.1, 0.05),
           "star": (0.6, 0.2)}  # (g - r, r - i) in magnitudes
_SERSIC_N = (2.5, 3.0, 3.5, 4.0)
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3)  # 1 % wings are below the sky noise


@dataclass
class Observation:
    """One galaxy's observing conditions, per band ``(g, r, i)``."""

    psf_fwhm: np.ndarray  # (3,) PSF FWHM in pixels
    sky_sigma: np.ndarray  # (3,) sky noise per pixel in nanomaggies
    size: int  # image side in pixels

    def psf(self, band: int) -> galsim.GSObject:
        """The band's PSF, lengths in pixels, unit flux."""
        return galsim.Moffat(beta=PSF_BETA, fwhm=float(self.psf_fwhm[band]), gsparams=_GSPARAMS)


@dataclass
class _Galaxy:
    """One drawn galaxy: truth, observing conditions and its components before the PSF (fluxes in r)."""

    truth: dict[str, str]
    obs: Observation
    mag_r: float
    r50: float  # half-light radius in arcsec
    profiles: list[tuple[galsim.GSObject, str]] = field(default_factory=list)  # (profile, colour key)
    grids: list[tuple[np.ndarray, str]] = field(default_factory=list)  # pixel-grid components, e.g. arms
    clumps: list[list[float]] = field(default_factory=list)


def band_factors(colour: str) -> np.ndarray:
    """Flux in ``(g, r, i)`` per unit r flux for a colour of :data:`COLOURS`."""
    g_r, r_i = COLOURS[colour]
    return np.array([10 ** (-0.4 * g_r), 1.0, 10 ** (0.4 * r_i)])


def nanomaggies(mag: float) -> float:
    """Flux in nanomaggies of an AB magnitude (SDSS: m = 22.5 - 2.5 log10 f)."""
    return float(10 ** (-0.4 * (mag - 22.5)))


def synth_survey(n: int, out_dir: Path, *, seed: int = 0, size: int = DEFAULT_SIZE,
                 progress: bool = True) -> pd.DataFrame:
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
        Image side in pixels (>= 16) at 0.396 arcsec per pixel; 256 is a Galaxy Zoo subject.

    Returns
    -------
    pandas.DataFrame
        One row per galaxy with columns ``MANIFEST_COLUMNS``: ``truth_T*`` hold the
        answer label of the demo tree ("" where the question is not reached),
        ``clumps`` a JSON list of ``[x_min, y_min, x_max, y_max]`` boxes in image
        pixels (top-left origin, y down), ``psf_fwhm_px`` the r-band PSF FWHM.
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
        Image.fromarray(to_rgb(render_bands(galaxy, rng))).save(out_dir / f"{gal_id}.png")
        rows.append({"id": gal_id, "file": f"{gal_id}.png", "ra": float(rng.uniform(0.0, 360.0)),
                     "dec": float(math.degrees(math.asin(rng.uniform(-0.5, 0.5)))), "width": int(size),
                     "height": int(size), **{f"truth_{k}": v for k, v in galaxy.truth.items()},
                     "clumps": json.dumps(galaxy.clumps), "psf_fwhm_px": round(float(galaxy.obs.psf_fwhm[1]), 3),
                     "mag_r": round(galaxy.mag_r, 3), "r50_arcsec": round(galaxy.r50, 3)})
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return manifest


def observation(rng: np.random.Generator, size: int) -> Observation:
    """Seeing and sky noise of one SDSS field (see the module docstring for the sources)."""
    mean, sd, low, high = PSF_FWHM_ARCSEC
    fwhm = PSF_BAND_FACTOR * float(np.clip(rng.normal(mean, sd), low, high)) / PIXEL_SCALE
    # A Gaussian PSF's noise-equivalent area 4 pi sigma^2 sets the per-pixel noise giving S/N 5 at the depth.
    n_eff = 4.0 * math.pi * (fwhm / _FWHM_PER_SIGMA) ** 2
    sky = 10 ** (-0.4 * (DEPTH_5SIGMA - 22.5)) / (5.0 * np.sqrt(n_eff)) * rng.uniform(0.8, 1.2, size=3)
    return Observation(psf_fwhm=fwhm, sky_sigma=sky, size=int(size))


def sample_magnitude(rng: np.random.Generator, low: float = 14.0, high: float = 17.77) -> float:
    """An r magnitude from Euclidean counts dN/dm ~ 10^(0.6 m) on [low, high] (inverse CDF)."""
    a, b = 10 ** (0.6 * low), 10 ** (0.6 * high)
    return float(math.log10(a + rng.random() * (b - a)) / 0.6)


def sample_r50(rng: np.random.Generator, mag_r: float, size: int) -> float:
    """Half-light radius (arcsec): lognormal about 2.6 arcsec at r = 16.5, R ~ f^0.5, fitting the image."""
    median = 2.6 * 10 ** (-0.2 * (mag_r - 16.5))
    largest = 0.4 * size * PIXEL_SCALE / PETRO_R90_PER_R50  # petroR90 within 40 % of the side
    return float(np.clip(median * math.exp(rng.normal(0.0, 0.35)), 0.8, min(15.0, largest)))


def draw_galaxy(rng: np.random.Generator, size: int) -> _Galaxy:
    """Draw the truth, the observation and the components of one galaxy (no noise yet)."""
    obs = observation(rng, size)
    kind = str(rng.choice(["smooth", "featured", "artifact"], p=[0.45, 0.50, 0.05]))
    mag = sample_magnitude(rng)
    galaxy = _Galaxy(truth={"T0": kind, "T1": "", "T2": "", "T3": "", "T4": ""}, obs=obs, mag_r=mag,
                     r50=sample_r50(rng, mag, size))
    if kind == "smooth":
        _draw_smooth(galaxy, rng)
    elif kind == "featured":
        _draw_featured(galaxy, rng)
    else:
        offset = rng.uniform(-0.05, 0.05, size=2) * size
        star = galsim.DeltaFunction(flux=nanomaggies(float(rng.uniform(13.0, 16.0)))).shift(*offset)
        galaxy.profiles.append((star, "star"))
    _add_field(galaxy, rng)
    return galaxy


def _draw_smooth(galaxy: _Galaxy, rng: np.random.Generator) -> None:
    shape = str(rng.choice(["round", "in_between", "cigar"], p=[0.4, 0.4, 0.2]))
    q = {"round": rng.uniform(0.85, 1.0), "in_between": rng.uniform(0.5, 0.75), "cigar": rng.uniform(0.2, 0.38)}[shape]
    # GalSim caches a Sersic profile's Hankel tables per index n; a handful of
    # indices keeps every draw cached (a fresh n costs ~12 ms).
    bulge = galsim.Sersic(n=float(rng.choice(_SERSIC_N)), half_light_radius=galaxy.r50 / PIXEL_SCALE,
                          flux=nanomaggies(galaxy.mag_r), gsparams=_GSPARAMS)
    galaxy.truth["T1"] = shape
    galaxy.profiles.append((bulge.shear(q=float(q), beta=float(rng.uniform(0, math.pi)) * galsim.radians), "bulge"))


def _draw_featured(galaxy: _Galaxy, rng: np.random.Generator) -> None:
    edge_on = bool(rng.random() < 0.2)
    galaxy.truth["T2"] = "yes" if edge_on else "no"
    flux, r50 = nanomaggies(galaxy.mag_r), galaxy.r50 / PIXEL_SCALE
    q = float(rng.uniform(0.08, 0.18)) if edge_on else float(rng.uniform(0.55, 1.0))
    beta = float(rng.uniform(0, math.pi))
    bulge_share = float(rng.uniform(0.05, 0.3))
    disc = galsim.Exponential(half_light_radius=r50, flux=flux * (1 - bulge_share), gsparams=_GSPARAMS)
    galaxy.profiles.append((disc.shear(q=q, beta=beta * galsim.radians), "disc"))
    galaxy.profiles.append((galsim.Sersic(n=3.0, half_light_radius=0.2 * r50, flux=flux * bulge_share,
                                          gsparams=_GSPARAMS), "bulge"))
    if edge_on:
        return
    barred = bool(rng.random() < 0.4)
    galaxy.truth["T3"] = "bar" if barred else "no_bar"
    if barred:
        bar = galsim.Sersic(n=0.5, half_light_radius=float(rng.uniform(0.6, 0.9)) * r50,
                            flux=flux * float(rng.uniform(0.1, 0.2)), gsparams=_GSPARAMS)
        galaxy.profiles.append((bar.shear(q=float(rng.uniform(0.2, 0.3)),
                                          beta=float(rng.uniform(0, math.pi)) * galsim.radians), "bulge"))
    spiral = bool(rng.random() < 0.6)
    galaxy.truth["T4"] = "spiral" if spiral else "no_spiral"
    if spiral:
        galaxy.grids.append((_spiral_arms(rng, galaxy.obs.size, r50 / 1.678, q, beta) * flux, "arms"))
    if rng.random() < 0.6:
        _add_clumps(galaxy, rng)


def _spiral_arms(rng: np.random.Generator, size: int, h: float, q: float, beta: float) -> np.ndarray:
    """Logarithmic spiral arms, ``(size, size)`` with total flux 0.2--0.4 (before the PSF).

    GalSim has no spiral profile, so the arms are an exponential disc of scale
    length ``h`` (pixels) times cos^4 of the arm phase, drawn on the pixel grid
    in the disc's own (de-projected) frame; :func:`render_bands` blurs them.
    """
    m = int(rng.choice([2, 2, 3]))
    pitch = math.radians(float(rng.uniform(12.0, 28.0)))
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
    # Rotate by -beta and stretch the minor axis by 1/q to undo the inclination.
    u = x * math.cos(beta) + y * math.sin(beta)
    v = (-x * math.sin(beta) + y * math.cos(beta)) / q
    r = np.hypot(u, v) + 1e-3
    phase = m * (np.arctan2(v, u) - np.log(r / h) / math.tan(pitch) + float(rng.uniform(0, 2 * math.pi)))
    arms = np.exp(-r / (1.3 * h)) * np.clip(np.cos(phase), 0.0, None) ** 4 * (r > 0.6 * h)
    return arms * (float(rng.uniform(0.2, 0.4)) / max(arms.sum(), 1e-12))


def clump_box(cx: float, cy: float, fwhm: float) -> list[float]:
    """The Clump Scout box of a clump centred at pixel-edge point (cx, cy): a square of side 2 x FWHM."""
    return [round(v, 2) for v in (cx - fwhm, cy - fwhm, cx + fwhm, cy + fwhm)]


def sample_clump_offsets(rng: np.random.Generator, petro_r90: float) -> np.ndarray:
    """``(k, 2)`` clump offsets (pixels) from the centre: Clump Scout counts and radii, uniform angles."""
    k = int(rng.choice(np.arange(1, len(CLUMP_COUNT_P) + 1), p=CLUMP_COUNT_P / CLUMP_COUNT_P.sum()))
    deciles = np.linspace(0.0, 1.0, len(CLUMP_RADIUS_DECILES))
    radius = np.interp(rng.random(k), deciles, CLUMP_RADIUS_DECILES) * petro_r90
    angle = rng.uniform(0, 2 * math.pi, size=k)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _add_clumps(galaxy: _Galaxy, rng: np.random.Generator) -> None:
    size, flux = galaxy.obs.size, nanomaggies(galaxy.mag_r)
    for dx, dy in sample_clump_offsets(rng, PETRO_R90_PER_R50 * galaxy.r50 / PIXEL_SCALE):
        sigma = float(rng.uniform(0.05, 0.25)) / PIXEL_SCALE
        fwhm = math.hypot(sigma * _FWHM_PER_SIGMA, float(galaxy.obs.psf_fwhm[1]))
        # GalSim centres an even stamp at array index (size-1)/2, i.e. at pixel-edge coordinate size/2.
        box = clump_box(size / 2.0 + dx, size / 2.0 + dy, fwhm)
        if box[0] < 0 or box[1] < 0 or box[2] > size or box[3] > size:
            continue
        knot = galsim.Gaussian(sigma=sigma, flux=flux * float(rng.uniform(0.02, 0.08)), gsparams=_GSPARAMS)
        galaxy.profiles.append((knot.shift(float(dx), float(dy)), "clump"))
        galaxy.clumps.append(box)


def _add_field(galaxy: _Galaxy, rng: np.random.Generator) -> None:
    """0--4 field objects: stars and faint compact galaxies anywhere in the frame (as in SDSS cutouts)."""
    size = galaxy.obs.size
    for _ in range(int(rng.poisson(1.5 * (size / 256.0) ** 2))):
        offset = rng.uniform(-0.48, 0.48, size=2) * size
        if float(np.hypot(*offset)) < 2.5 * galaxy.r50 / PIXEL_SCALE:
            continue  # keep the subject itself clean: a star on the disc would pass for a clump
        if rng.random() < 0.5:
            obj = galsim.DeltaFunction(flux=nanomaggies(float(rng.uniform(16.0, 21.5))))
            galaxy.profiles.append((obj.shift(*offset), "star"))
        else:
            obj = galsim.Exponential(half_light_radius=float(rng.uniform(0.5, 1.5)) / PIXEL_SCALE,
                                     flux=nanomaggies(float(rng.uniform(18.0, 21.5))), gsparams=_GSPARAMS)
            galaxy.profiles.append((obj.shear(q=float(rng.uniform(0.4, 1.0)), beta=float(rng.uniform(0, 3.1))
                                              * galsim.radians).shift(*offset), "disc"))


def render_bands(galaxy: _Galaxy, rng: np.random.Generator) -> np.ndarray:
    """The ``(3, size, size)`` g, r, i images in nanomaggies per pixel: components, PSF and sky noise.

    Array row 0 is the top of the saved image, so a profile shifted by (dx, dy)
    pixels lands at column size/2 + dx, row size/2 + dy (pixel-edge coordinates).
    """
    size = galaxy.obs.size
    bands = np.zeros((3, size, size))
    for b in range(3):
        psf = galaxy.obs.psf(b)
        profile = galsim.Add([p * float(band_factors(c)[b]) for p, c in galaxy.profiles])
        # scale=1: lengths are in pixels; no_pixel because the PSF stands for the whole optical + detector response.
        bands[b] = galsim.Convolve(profile, psf).drawImage(nx=size, ny=size, scale=1.0, method="no_pixel").array
        for grid, colour in galaxy.grids:
            sigma = float(galaxy.obs.psf_fwhm[b]) / _FWHM_PER_SIGMA  # a Gaussian stand-in for the PSF core
            bands[b] += gaussian_filter(grid, sigma) * float(band_factors(colour)[b])
    return bands + rng.normal(0.0, 1.0, size=bands.shape) * galaxy.obs.sky_sigma[:, None, None]


def to_rgb(bands: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` g, r, i in nanomaggies -> ``(H, W, 3)`` uint8 RGB = (i, r, g), Lupton et al. 2004 asinh."""
    g, r, i = np.asarray(bands, float) * RGB_BAND_WEIGHTS[:, None, None]
    return make_lupton_rgb(i, r, g, minimum=0.0, stretch=LUPTON_STRETCH, Q=LUPTON_Q)


def simulate_votes(manifest: pd.DataFrame, tree, *, n_volunteers: int = 10, accuracy: float = 0.8,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Vote counts from simulated volunteers who walk ``tree`` answering from the truth.

    The volunteers come from :mod:`aggregation.crowd` (the platform's one crowd
    model): ``n_volunteers`` skilled members with accuracy ``accuracy`` whose errors
    spread evenly over the other answers (uniform-confusion Dawid & Skene 1979
    workers, no galaxy difficulty). A question without a true answer (e.g. T1 for a
    featured galaxy that a volunteer wrongly called smooth) is answered at random.

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
    crowd = crowd_from_dict({"difficulty": {"source": "none"},
                             "questions": {t.key: {"confusable_share": 0.0} for t in tree.questions()},
                             "populations": [{"name": "uniform", "share": 1.0, "skill": float(accuracy)}]})
    rng = np.random.default_rng(seed)
    truths = {t.key: manifest.get(f"truth_{t.key}", pd.Series([""] * len(manifest))).fillna("").astype(str).tolist()
              for t in tree.questions()}
    counts = {t.key: np.zeros((len(manifest), len(t.labels))) for t in tree.questions()}
    for v in range(int(n_volunteers)):
        member = member_draw(spec=crowd, seed=seed, index=v)
        for row in range(len(manifest)):
            _walk_votes(tree, crowd, member, {k: t[row] for k, t in truths.items()}, row, counts, rng)
    return counts


def _walk_votes(tree, crowd, member, truth: dict[str, str], row: int, counts: dict, rng: np.random.Generator) -> None:
    """One volunteer walks the tree for galaxy ``row``, adding each answer to ``counts``."""
    key = tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type != "single":
            key = task.next
            continue
        label = answer_draw(spec=crowd, member=member, question=key, labels=task.labels, truth=truth[key],
                            difficulty=0.0, n_done=0, galaxy=row, rng=rng)
        counts[key][row, task.labels.index(label)] += 1.0
        key = task.next_after(label)
