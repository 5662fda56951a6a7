r"""The likelihood of the Lean box model: pure functions on :class:`~.candidates.Candidates`.

Model (after Branson, Van Horn & Perona 2017, "Lean Crowdsourcing", CVPR, as
Galaxy Zoo: Clump Scout used it, Dickinson et al. 2022).  An image holds real
objects of L difficulty levels, Poisson with mean ``mu[l]`` per level
(level 1 = hardest to see).  A worker w viewing the image marks each level-l
object independently with probability ``r_w[l]`` (``miss_rate_l = 1 - r_w[l]``),
and adds a Poisson(``fp_rate_w``) number of personal false boxes, each alone
in its candidate.  Images also hold Poisson(``mu_decoy``) *decoys*: things
that are not objects but that some workers box (a statue, a reflection),
marked with probability ``decoy_rate_w``.  Levels stand in for the per-image difficulty of the paper:
one miss rate cannot explain both the pedestrian that everybody boxes and the
tiny one that two workers in seven notice.

A candidate c marked by the set M of its viewers V is then one of

* a real object of level l, expected count ``mu[l] prod_{M} r_w[l] prod_{V \ M} (1 - r_w[l])``;
* a decoy, expected count ``mu_decoy prod_{M} d_w prod_{V \ M} (1 - d_w)`` with d = ``decoy_rate``;
* a personal false box of worker w (only when M = {w}), expected count ``fp_rate_w``;

and its posterior kind is proportional to these intensities.  Objects that
nobody marked are expected ``mu[l] prod_{V} (1 - r_w[l])`` times per image;
EM counts them as missing data, which removes the bias of only ever seeing
marked objects.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import erfc, logsumexp

from .candidates import Candidates

# Rates are kept inside (_EPS, 1 - _EPS): a worker estimated perfect would make one
# mark (or one missing mark) infinitely decisive.
_EPS = 1e-4
DEFAULT_FP_RATE = 0.1
DEFAULT_SIGMA = 0.2


DEFAULT_DECOY_RATE = 0.15


def rate_priors(n_levels: int, *, decoy: float = DEFAULT_DECOY_RATE, hard: float = 0.45,
                easy: float = 0.9) -> np.ndarray:
    """Prior mark rates, shape (1 + n_levels,): decoys, then real objects from the hardest level to the easiest."""
    levels = np.linspace(hard, easy, n_levels) if n_levels > 1 else np.array([0.8])
    return np.concatenate([[decoy], levels])


def default_objects_per_image(n_levels: int) -> np.ndarray:
    """Return the expected decoys and real objects per level, per image, before any fit.

    0.1 decoys and one real object, a quarter of it at the hardest level.
    """
    if n_levels == 1:
        return np.array([0.1, 1.0])
    levels = np.concatenate([[0.25], np.full(n_levels - 1, 0.75 / (n_levels - 1))])
    return np.concatenate([[0.1], levels])


def worker_rates(params: pd.DataFrame | None, workers: pd.Index,
                 n_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of ``workers``' parameters; prior means for unknown workers and missing columns.

    ``params`` has ``fp_rate``, ``sigma``, optionally ``decoy_rate``, and either
    ``miss_rate_1 .. miss_rate_L`` or one ``miss_rate`` for all levels.

    Returns
    -------
    fp : (W,) personal false boxes per view; rates : (W, 1 + n_levels) mark rates, decoys first;
    sigma : (W,) box noise in 1 - IoU.
    """
    fp = np.full(len(workers), DEFAULT_FP_RATE)
    rates = np.tile(rate_priors(n_levels), (len(workers), 1))
    sigma = np.full(len(workers), DEFAULT_SIGMA)
    if params is not None and not params.empty:
        rows = params.reindex(workers)
        known = rows["fp_rate"].notna().to_numpy()
        fp[known] = rows.loc[known, "fp_rate"]
        sigma[known] = rows.loc[known, "sigma"]
        if "decoy_rate" in rows:
            rates[known, 0] = rows.loc[known, "decoy_rate"]
        for level in range(1, n_levels + 1):
            column = f"miss_rate_{level}" if f"miss_rate_{level}" in rows else "miss_rate"
            rates[known, level] = 1.0 - rows.loc[known, column].to_numpy(dtype=float)
    return np.clip(fp, _EPS, None), np.clip(rates, _EPS, 1 - _EPS), sigma


def kind_log_posterior(cands: Candidates, fp: np.ndarray, rates: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """(n_candidates, 2 + L) log P(kind | marks): personal false box, decoy, then the real levels.

    ``fp`` (W,) and ``rates`` (W, 1 + L) are indexed by worker code; ``mu`` (1 + L,) holds
    the expected decoys and real objects per image.
    """
    views = cands.views
    n_cand = len(cands.boxes)
    w = views["w"].to_numpy()
    drew = views["drew"].to_numpy()
    cand = views["candidate"].to_numpy()
    # Sums of log-likelihoods per candidate: a product over many viewers would underflow.
    per_view = np.where(drew[:, None], np.log(rates[w]), np.log1p(-rates[w]))
    real = np.stack([np.bincount(cand, weights=per_view[:, z], minlength=n_cand) for z in range(len(mu))], axis=1)
    single = cands.boxes["n_workers"].to_numpy() == 1
    marker_fp = np.bincount(cand, weights=np.where(drew, np.log(fp[w]), 0.0), minlength=n_cand)
    # A personal false box has exactly one marker; -inf rules it out for shared candidates.
    false_box = np.where(single, marker_fp, -np.inf)
    joint = np.column_stack([false_box, real + np.log(np.maximum(mu, _EPS))])
    return joint - logsumexp(joint, axis=1, keepdims=True)


def p_real(log_post: np.ndarray) -> np.ndarray:
    """P(real object) from the (n, 2 + L) kind log posteriors: the mass on the real levels."""
    return np.exp(logsumexp(log_post[:, 2:], axis=1))


def unmarked_objects(cands: Candidates, rates: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """(n_tasks, 1 + L) expected decoys and objects per level that no viewer of the task marked."""
    seen = cands.seen
    log_miss = np.log1p(-rates[seen["w"].to_numpy()])
    t = seen["t"].to_numpy()
    log_all_missed = np.stack([np.bincount(t, weights=log_miss[:, z], minlength=len(cands.tasks))
                               for z in range(log_miss.shape[1])], axis=1)
    return np.exp(log_all_missed) * mu


def misplaced_probability(cands: Candidates, sigma: np.ndarray, match_iou: float) -> np.ndarray:
    """P(the consensus box has IoU < match_iou with the true box), shape (n_candidates,)."""
    marked = cands.views[cands.views["drew"]]
    weights = sigma[marked["w"].to_numpy()] ** -2.0
    precision = np.bincount(marked["candidate"].to_numpy(), weights=weights, minlength=len(cands.boxes))
    # The consensus of m marks with noise sigma_w has noise (sum 1 / sigma_w^2)^(-1/2);
    # a half-normal distance exceeds t with probability erfc(t / (sigma sqrt 2)).
    sigma_c = 1.0 / np.sqrt(np.maximum(precision, _EPS))
    return erfc((1.0 - match_iou) / (sigma_c * np.sqrt(2.0)))


def score_candidates(cands: Candidates, params: pd.DataFrame | None, *, mu: np.ndarray, p_threshold: float = 0.5,
                     match_iou: float = 0.5) -> tuple[pd.DataFrame, pd.Series]:
    """Posterior of every candidate and the risk of every seen image, for fixed parameters.

    Returns
    -------
    candidates : DataFrame
        ``cands.boxes`` plus ``p_real`` and ``accepted``.
    risk : Series
        Index task (every task in ``cands.seen``): expected number of false + missed + misplaced boxes.
    """
    mu = np.asarray(mu, dtype=float)
    fp, rates, sigma = worker_rates(params, cands.workers, len(mu) - 1)
    real = p_real(kind_log_posterior(cands, fp, rates, mu))
    accepted = real >= p_threshold
    misplaced = misplaced_probability(cands, sigma, match_iou)
    per_candidate = np.where(accepted, (1 - real) + real * misplaced, real)
    out = cands.boxes.drop(columns="t").assign(p_real=real, accepted=accepted)
    # Unmarked decoys cost nothing: only unmarked real objects are missed boxes.
    risk = unmarked_objects(cands, rates, mu)[:, 1:].sum(axis=1)
    risk = risk + np.bincount(cands.boxes["t"].to_numpy(), weights=per_candidate, minlength=len(cands.tasks))
    return out, pd.Series(risk, index=cands.tasks, name="risk")


def worker_m_step(cands: Candidates, post: np.ndarray, unmarked: np.ndarray, *, rate_prior: np.ndarray,
                  fp_prior: float, sigma_prior: float, strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAP (fp, rates, sigma) worker arrays.

    ``post`` (n_candidates, 2 + L) are the kind posteriors, ``unmarked`` (n_tasks, 1 + L)
    the expected decoys and objects nobody marked.
    """
    views, seen = cands.views, cands.seen
    w = views["w"].to_numpy()
    cand = views["candidate"].to_numpy()
    drew = views["drew"].to_numpy()
    p = post[cand]
    n_workers = len(cands.workers)

    def count(index, weights):
        return np.bincount(index, weights=weights, minlength=n_workers)

    # Unmarked objects are misses by every viewer: they add to the denominator only.
    missed = unmarked[seen["t"].to_numpy()]
    w_seen = seen["w"].to_numpy()
    # MAP under Beta(strength * prior, strength * (1 - prior)): expected counts plus pseudo-counts.
    rates = np.stack([(count(w, p[:, z + 1] * drew) + strength * rate_prior[z])
                      / (count(w, p[:, z + 1]) + count(w_seen, missed[:, z]) + strength)
                      for z in range(len(rate_prior))], axis=1)
    fp = (count(w, p[:, 0] * drew) + strength * fp_prior) / (count(w_seen, np.ones(len(seen))) + strength)
    n_marked = cands.boxes["n_workers"].to_numpy()[cand]
    # A mark alone in its candidate sits at distance 0 from its own median: weight by
    # (m - 1) / m, as BoxAggregator does, so single marks do not shrink sigma.
    weight = np.where(drew, p[:, 2:].sum(axis=1) * (n_marked - 1) / np.maximum(n_marked, 1), 0.0)
    dist2 = np.nan_to_num(views["distance"].to_numpy(dtype=float)) ** 2
    sigma = np.sqrt((count(w, weight * dist2) + strength * sigma_prior ** 2) / (count(w, weight) + strength))
    return fp, np.clip(rates, _EPS, 1 - _EPS), sigma


def params_frame(fp, rates: np.ndarray, sigma, workers: pd.Index, post: np.ndarray) -> pd.DataFrame:
    """Worker table: ``fp_rate, miss_rate`` (averaged over the levels seen), ``sigma, decoy_rate, miss_rate_1..L``."""
    share = post[:, 2:].sum(axis=0) / max(post[:, 2:].sum(), _EPS)
    out = pd.DataFrame({"fp_rate": fp, "miss_rate": 1.0 - rates[:, 1:] @ share, "sigma": sigma,
                        "decoy_rate": rates[:, 0]}, index=workers)
    for level in range(1, rates.shape[1]):
        out[f"miss_rate_{level}"] = 1.0 - rates[:, level]
    return out
