"""The Lean Crowdsourcing box model: worker skill from the boxes, and risk per image.

Model (after Branson, Van Horn & Perona 2017, "Lean Crowdsourcing", CVPR, as
Galaxy Zoo: Clump Scout used it, Dickinson et al. 2022): each image holds
some real objects.  Every candidate c (a cluster of boxes, see
:mod:`.candidates`) is real with probability ``prior_real``.  A worker w who
views the image marks a real candidate with probability ``1 - miss_rate_w``
and a spurious one with probability ``fp_rate_w``; a mark's distance
d = 1 - IoU to the candidate box is half-normal with scale ``sigma_w``.  So

    log-odds(c real) = logit(prior_real)
                       + sum_{w marked c}     log[(1 - miss_w) / fp_w]
                       + sum_{w saw, no mark} log[miss_w / (1 - fp_w)]

Worker parameters are MAP estimates (Beta and scaled-inverse-chi^2 priors)
found by EM over all images.  The image risk, the Lean Crowdsourcing stopping
criterion, is the expected number of false + missed + misplaced boxes::

    risk = sum_{accepted} (1 - p_c)                       false boxes
         + sum_{rejected} p_c + E[objects nobody marked]  missed boxes
         + sum_{accepted} p_c P(d_consensus > 1 - match_iou)   misplaced boxes
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import erfc, expit, logit

from ..base import validate_boxes, validate_seen
from .candidates import Candidates, build_candidates
from .geometry import CORNERS

# Rates are kept inside (_EPS, 1 - _EPS): a worker estimated perfect would make one
# mark (or one missing mark) infinitely decisive.
_EPS = 1e-4
PARAM_COLUMNS = ["fp_rate", "miss_rate", "sigma"]
DEFAULT_WORKER = {"fp_rate": 0.05, "miss_rate": 0.2, "sigma": 0.2}


def _candidate_log_odds(cands: Candidates, params: pd.DataFrame, prior_real: float) -> np.ndarray:
    views = cands.views
    p = params.reindex(views["worker"]).fillna(DEFAULT_WORKER)
    fp = np.clip(p["fp_rate"].to_numpy(), _EPS, 1 - _EPS)
    miss = np.clip(p["miss_rate"].to_numpy(), _EPS, 1 - _EPS)
    drew = views["drew"].to_numpy()
    # Sum of per-view log-likelihood ratios: a product of likelihoods would underflow on busy images.
    contrib = np.where(drew, np.log1p(-miss) - np.log(fp), np.log(miss) - np.log1p(-fp))
    total = np.bincount(views["candidate"].to_numpy(), weights=contrib, minlength=len(cands.boxes))
    return logit(np.clip(prior_real, _EPS, 1 - _EPS)) + total


def _misplaced_probability(cands: Candidates, params: pd.DataFrame, match_iou: float) -> np.ndarray:
    marked = cands.views[cands.views["drew"]]
    sigma = params.reindex(marked["worker"])["sigma"].fillna(DEFAULT_WORKER["sigma"]).to_numpy()
    precision = np.bincount(marked["candidate"].to_numpy(), weights=sigma ** -2.0, minlength=len(cands.boxes))
    # The consensus of m marks with noise sigma_w has noise (sum 1 / sigma_w^2)^(-1/2);
    # a half-normal distance exceeds t with probability erfc(t / (sigma sqrt 2)).
    sigma_c = 1.0 / np.sqrt(np.maximum(precision, _EPS))
    return erfc((1.0 - match_iou) / (sigma_c * np.sqrt(2.0)))


def score_candidates(cands: Candidates, params: pd.DataFrame, *, prior_real: float, boxes_per_image: float,
                     p_threshold: float = 0.5, match_iou: float = 0.5) -> tuple[pd.DataFrame, pd.Series]:
    """Posterior of every candidate and the risk of every seen image, for fixed worker parameters.

    Returns
    -------
    candidates : DataFrame
        ``cands.boxes`` plus ``p_real`` and ``accepted``.
    risk : Series
        Index task (every task in ``cands.seen``): expected number of false + missed + misplaced boxes.
    """
    p_real = expit(_candidate_log_odds(cands, params, prior_real))
    accepted = p_real >= p_threshold
    misplaced = _misplaced_probability(cands, params, match_iou)
    per_candidate = np.where(accepted, (1 - p_real) + p_real * misplaced, p_real)
    out = cands.boxes.assign(p_real=p_real, accepted=accepted)
    seen = cands.seen
    miss = params.reindex(seen["worker"])["miss_rate"].fillna(DEFAULT_WORKER["miss_rate"]).to_numpy()
    # Objects nobody marked: each of the expected objects escaped every viewer independently.
    log_all_missed = pd.Series(np.log(np.clip(miss, _EPS, 1.0))).groupby(seen["task"].to_numpy()).sum()
    risk = boxes_per_image * np.exp(log_all_missed)
    risk = risk.add(pd.Series(per_candidate).groupby(out["task"].to_numpy()).sum(), fill_value=0.0)
    return out, risk.rename_axis("task").rename("risk")


def consensus_for_image(boxes: pd.DataFrame, seen_workers, *, worker_params: pd.DataFrame | None = None,
                        prior_real: float = 0.5, boxes_per_image: float = 1.0, min_iou: float = 0.5,
                        p_threshold: float = 0.5, match_iou: float = 0.5) -> tuple[pd.DataFrame, float]:
    """Consensus boxes of one image and its risk, with known worker parameters.

    Parameters
    ----------
    boxes : DataFrame
        Columns ``task, worker, x_min, y_min, x_max, y_max`` for ONE image (may be empty).
    seen_workers : sequence
        Every worker who viewed the image, whether or not they drew.
    worker_params : DataFrame, optional
        Indexed by worker, columns ``fp_rate, miss_rate, sigma`` (``LeanBoxAggregator.worker_params_``);
        unknown workers get the defaults.
    prior_real, boxes_per_image : float
        Dataset-level parameters (``LeanBoxAggregator.prior_real_``, ``.boxes_per_image_``).

    Returns
    -------
    consensus : DataFrame
        Accepted boxes: ``x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``.
    risk : float
        Expected number of false + missed + misplaced boxes on the image.
    """
    boxes = validate_boxes(boxes)
    if boxes["task"].nunique() > 1:
        raise ValueError("consensus_for_image takes the boxes of one image; use LeanBoxAggregator for many")
    seen_workers = list(dict.fromkeys(seen_workers))
    if not seen_workers:
        raise ValueError("seen_workers is empty: nobody viewed the image")
    task = boxes["task"].iloc[0] if len(boxes) else 0
    seen = validate_seen(pd.DataFrame({"task": [task] * len(seen_workers), "worker": seen_workers}), boxes)
    params = pd.DataFrame(columns=PARAM_COLUMNS, dtype=float) if worker_params is None else worker_params
    cands = build_candidates(boxes, seen, min_iou=min_iou)
    scored, risk = score_candidates(cands, params, prior_real=prior_real, boxes_per_image=boxes_per_image,
                                    p_threshold=p_threshold, match_iou=match_iou)
    columns = [*CORNERS, "p_real", "n_workers", "n_seen"]
    consensus = scored.loc[scored["accepted"], columns].sort_values("p_real", ascending=False)
    return consensus.reset_index(drop=True), float(risk.iloc[0])


def _worker_m_step(cands: Candidates, p_real: np.ndarray, workers: pd.Index, *, fp_prior: float,
                   miss_prior: float, sigma_prior: float, strength: float) -> pd.DataFrame:
    views = cands.views
    w = workers.get_indexer(views["worker"])
    p = p_real[views["candidate"].to_numpy()]
    drew = views["drew"].to_numpy()
    n = len(workers)

    def count(weights):
        return np.bincount(w, weights=weights, minlength=n)

    # MAP under Beta(strength * prior, strength * (1 - prior)): counts plus pseudo-counts.
    miss = (count(p * ~drew) + strength * miss_prior) / (count(p) + strength)
    fp = (count((1 - p) * drew) + strength * fp_prior) / (count(1 - p) + strength)
    n_marked = cands.boxes["n_workers"].to_numpy()[views["candidate"].to_numpy()]
    # A mark alone in its candidate sits at distance 0 from its own median: weight by
    # (m - 1) / m, as BoxAggregator does, so single marks do not shrink sigma.
    weight = np.where(drew, p * (n_marked - 1) / np.maximum(n_marked, 1), 0.0)
    dist2 = np.nan_to_num(views["distance"].to_numpy(dtype=float)) ** 2
    sigma = np.sqrt((count(weight * dist2) + strength * sigma_prior ** 2) / (count(weight) + strength))
    return pd.DataFrame({"fp_rate": fp, "miss_rate": miss, "sigma": sigma}, index=workers)


class LeanBoxAggregator:
    """Consensus boxes with per-worker false-positive rate, miss rate and box noise, learned by EM.

    See the module docstring for the model (Branson, Van Horn & Perona 2017).

    Parameters
    ----------
    min_iou : float
        Average-linkage IoU at which boxes of different workers join one candidate.
    p_threshold : float
        A candidate is a consensus box when P(real) reaches this.
    match_iou : float
        A consensus box is "misplaced" when its IoU with the true box is below this.
    fp_prior, miss_prior, sigma_prior : float
        Prior means of the worker parameters (a new worker starts there).
    prior_strength : float
        Pseudo-counts behind each prior mean.
    max_iter, tol : EM limits; stops when no candidate's P(real) moves by more than ``tol``.

    Attributes
    ----------
    consensus_ : DataFrame
        Accepted boxes: ``task, x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``.
    candidates_ : DataFrame
        Every candidate with its ``p_real``.
    worker_params_ : DataFrame
        Index worker; ``fp_rate, miss_rate, sigma``.
    risk_ : Series
        Index task: expected number of false + missed + misplaced boxes.
    prior_real_, boxes_per_image_ : float
    n_iter_ : int
    converged_ : bool

    Examples
    --------
    >>> boxes = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "x_min": [0.0, 1.0],
    ...                       "y_min": [0.0, 0.0], "x_max": [10.0, 11.0], "y_max": [10.0, 10.0]})
    >>> seen = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"]})
    >>> len(LeanBoxAggregator().fit(boxes, seen).consensus_)
    1
    """

    def __init__(self, *, min_iou: float = 0.5, p_threshold: float = 0.5, match_iou: float = 0.5,
                 fp_prior: float = 0.05, miss_prior: float = 0.2, sigma_prior: float = 0.2,
                 prior_strength: float = 5.0, max_iter: int = 100, tol: float = 1e-5):
        self.min_iou = min_iou
        self.p_threshold = p_threshold
        self.match_iou = match_iou
        self.fp_prior = fp_prior
        self.miss_prior = miss_prior
        self.sigma_prior = sigma_prior
        self.prior_strength = prior_strength
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, boxes: pd.DataFrame, seen: pd.DataFrame) -> "LeanBoxAggregator":
        """Fit on all boxes ``(task, worker, x_min, y_min, x_max, y_max)`` and all views ``(task, worker)``."""
        boxes = validate_boxes(boxes)
        seen = validate_seen(seen, boxes)
        cands = build_candidates(boxes, seen, min_iou=self.min_iou)
        workers = pd.Index(seen["worker"].unique(), name="worker")
        params = pd.DataFrame(DEFAULT_WORKER, index=workers) if len(workers) else None
        prior_real, p_real = 0.5, np.full(len(cands.boxes), 0.5)
        self.converged_ = False
        for self.n_iter_ in range(1, self.max_iter + 1):
            new = expit(_candidate_log_odds(cands, params, prior_real))
            params = _worker_m_step(cands, new, workers, fp_prior=self.fp_prior, miss_prior=self.miss_prior,
                                    sigma_prior=self.sigma_prior, strength=self.prior_strength)
            prior_real = (new.sum() + 1.0) / (len(new) + 2.0)
            shift, p_real = np.max(np.abs(new - p_real), initial=0.0), new
            if shift < self.tol:
                self.converged_ = True
                break
        self._finish(cands, params, prior_real, p_real)
        return self

    def _finish(self, cands: Candidates, params: pd.DataFrame, prior_real: float, p_real: np.ndarray) -> None:
        self.worker_params_ = params
        self.prior_real_ = float(prior_real)
        self.boxes_per_image_ = float(p_real.sum() / cands.seen["task"].nunique())
        scored, risk = score_candidates(cands, params, prior_real=prior_real,
                                        boxes_per_image=self.boxes_per_image_, p_threshold=self.p_threshold,
                                        match_iou=self.match_iou)
        self.candidates_ = scored.drop(columns="accepted")
        columns = ["task", *CORNERS, "p_real", "n_workers", "n_seen"]
        self.consensus_ = scored.loc[scored["accepted"], columns].reset_index(drop=True)
        self.risk_ = risk

    def consensus_for_image(self, boxes: pd.DataFrame, seen_workers) -> tuple[pd.DataFrame, float]:
        """:func:`consensus_for_image` with this fit's worker and dataset parameters."""
        return consensus_for_image(boxes, seen_workers, worker_params=self.worker_params_,
                                   prior_real=self.prior_real_, boxes_per_image=self.boxes_per_image_,
                                   min_iou=self.min_iou, p_threshold=self.p_threshold, match_iou=self.match_iou)
