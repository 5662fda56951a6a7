"""The Lean Crowdsourcing box estimator and the per-image consensus the platform calls.

The model and its likelihood live in :mod:`.model` (Branson, Van Horn &
Perona 2017; Dickinson et al. 2022).  The image risk, the Lean Crowdsourcing
stopping criterion, is the expected number of false + missed + misplaced boxes::

    risk = sum_{accepted} (1 - p_c)                            false boxes
         + sum_{rejected} p_c + E[objects nobody marked]       missed boxes
         + sum_{accepted} p_c P(d_consensus > 1 - match_iou)   misplaced boxes
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..base import validate_boxes, validate_seen
from .candidates import Candidates, build_candidates
from aggregation.base import CORNERS
from .model import (_EPS, DEFAULT_DECOY_RATE, DEFAULT_FP_RATE, DEFAULT_SIGMA, default_objects_per_image,
                    kind_log_posterior, params_frame, rate_priors, score_candidates, unmarked_objects,
                    worker_m_step, worker_rates)


def consensus_for_image(boxes: pd.DataFrame, seen_workers: Sequence, *,
                        worker_params: pd.DataFrame | None = None,
                        objects_per_image: Sequence[float] | None = None, min_iou: float = 0.5,
                        p_threshold: float = 0.5, match_iou: float = 0.5) -> tuple[pd.DataFrame, float]:
    """Consensus boxes of one image and its risk, with known worker parameters.

    Parameters
    ----------
    boxes : DataFrame
        Columns ``task, worker, x_min, y_min, x_max, y_max`` for ONE image (may be empty).
    seen_workers : sequence
        Every worker who viewed the image, whether or not they drew.
    worker_params : DataFrame, optional
        ``LeanBoxAggregator.worker_params_``: indexed by worker, columns ``fp_rate, miss_rate, sigma``
        (and ``miss_rate_1..L`` per difficulty level); unknown workers get the prior means.
    objects_per_image : sequence of float, optional
        Expected decoys, then real objects per difficulty level (hardest first), per image
        (``LeanBoxAggregator.objects_per_image_``); default: 0.1 decoys and one object, a quarter of it hard.

    Returns
    -------
    consensus : DataFrame
        Accepted boxes: ``x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``.
    risk : float
        Expected number of false + missed + misplaced boxes on the image.
    """
    boxes = validate_boxes(boxes)
    if boxes["task"].nunique() > 1:
        raise ValueError("consensus_for_image takes the boxes of one image; use consensus_for_images for many")
    seen_workers = list(dict.fromkeys(seen_workers))
    if not seen_workers:
        raise ValueError("seen_workers is empty: nobody viewed the image")
    task = boxes["task"].iloc[0] if len(boxes) else 0
    seen = pd.DataFrame({"task": [task] * len(seen_workers), "worker": seen_workers})
    consensus, risk = consensus_for_images(boxes, seen, worker_params=worker_params,
                                           objects_per_image=objects_per_image, min_iou=min_iou,
                                           p_threshold=p_threshold, match_iou=match_iou)
    return consensus.drop(columns="task"), float(risk.iloc[0])


def consensus_for_images(boxes: pd.DataFrame, seen: pd.DataFrame, *, worker_params: pd.DataFrame | None = None,
                         objects_per_image: Sequence[float] | None = None, min_iou: float = 0.5,
                         p_threshold: float = 0.5, match_iou: float = 0.5) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`consensus_for_image` for many images in one pass (each image's result is the same).

    With the worker parameters known, images do not interact, so one pass of candidate
    building and scoring serves a whole batch of images for the cost of about one.

    Parameters
    ----------
    boxes : DataFrame
        Columns ``task, worker, x_min, y_min, x_max, y_max``.
    seen : DataFrame
        Columns ``task, worker``: every view of every image, drawing nothing included.
    worker_params, objects_per_image, min_iou, p_threshold, match_iou
        As in :func:`consensus_for_image`.

    Returns
    -------
    consensus : DataFrame
        Accepted boxes: ``task, x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``, by task, then p_real.
    risk : Series
        Index task (every task in ``seen``): expected number of false + missed + misplaced boxes.
    """
    boxes = validate_boxes(boxes)
    seen = validate_seen(seen, boxes)
    mu = default_objects_per_image(2) if objects_per_image is None else np.asarray(objects_per_image, dtype=float)
    cands = build_candidates(boxes, seen, min_iou=min_iou)
    scored, risk = score_candidates(cands, worker_params, mu=mu, p_threshold=p_threshold, match_iou=match_iou)
    columns = ["task", *CORNERS, "p_real", "n_workers", "n_seen"]
    consensus = scored.loc[scored["accepted"], columns].sort_values("p_real", ascending=False)
    return consensus.sort_values("task", kind="stable").reset_index(drop=True), risk


class LeanBoxAggregator:
    """Consensus boxes with per-worker false-positive rate, miss rates and box noise, learned by EM.

    See the module docstring for the model (Branson, Van Horn & Perona 2017).

    Parameters
    ----------
    n_levels : int
        Difficulty levels of real objects (1 = one miss rate per worker).
    min_iou : float
        Average-linkage IoU at which boxes of different workers join one candidate.
    p_threshold : float
        A candidate is a consensus box when P(real) reaches this.
    match_iou : float
        A consensus box is "misplaced" when its IoU with the true box is below this.
    fp_prior, decoy_prior, hard_prior, easy_prior, sigma_prior : float
        Prior means: personal false boxes per view, mark rates of decoys and of the hardest and
        easiest real objects, box noise (1 - IoU).
    prior_strength : float
        Pseudo-counts behind each prior mean.
    max_iter, tol : EM limits; stops when no candidate's kind probability moves by more than ``tol``.

    Attributes
    ----------
    consensus_ : DataFrame
        Accepted boxes: ``task, x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``.
    candidates_ : DataFrame
        Every candidate with its ``p_real``.
    worker_params_ : DataFrame
        Index worker; ``fp_rate`` (personal false boxes per image viewed), ``miss_rate`` (averaged
        over the real objects), ``sigma`` (box noise in 1 - IoU), ``decoy_rate``, ``miss_rate_1 .. miss_rate_L``.
    risk_ : Series
        Index task: expected number of false + missed + misplaced boxes.
    objects_per_image_ : ndarray of shape (1 + n_levels,)
        Expected decoys, then real objects at each difficulty level (hardest first), per image.
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

    def __init__(self, *, n_levels: int = 2, min_iou: float = 0.5, p_threshold: float = 0.5,
                 match_iou: float = 0.5, fp_prior: float = DEFAULT_FP_RATE, decoy_prior: float = DEFAULT_DECOY_RATE,
                 hard_prior: float = 0.45,
                 easy_prior: float = 0.9, sigma_prior: float = DEFAULT_SIGMA, prior_strength: float = 5.0,
                 max_iter: int = 500, tol: float = 1e-4):
        self.n_levels = n_levels
        self.min_iou = min_iou
        self.p_threshold = p_threshold
        self.match_iou = match_iou
        self.fp_prior = fp_prior
        self.decoy_prior = decoy_prior
        self.hard_prior = hard_prior
        self.easy_prior = easy_prior
        self.sigma_prior = sigma_prior
        self.prior_strength = prior_strength
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, boxes: pd.DataFrame, seen: pd.DataFrame) -> "LeanBoxAggregator":
        """Fit on all boxes ``(task, worker, x_min, y_min, x_max, y_max)`` and all views ``(task, worker)``."""
        if isinstance(self.n_levels, bool) or not isinstance(self.n_levels, int) or self.n_levels < 1:
            raise ValueError(f"n_levels must be a positive integer, got {self.n_levels!r}")
        boxes = validate_boxes(boxes)
        seen = validate_seen(seen, boxes)
        cands = build_candidates(boxes, seen, min_iou=self.min_iou)
        rate_prior = rate_priors(self.n_levels, decoy=self.decoy_prior, hard=self.hard_prior, easy=self.easy_prior)
        mu = default_objects_per_image(self.n_levels)
        fp, rates, _ = worker_rates(None, cands.workers, self.n_levels)
        post = np.zeros((len(cands.boxes), 2 + self.n_levels))
        self.converged_ = False
        for self.n_iter_ in range(1, self.max_iter + 1):
            new = np.exp(kind_log_posterior(cands, fp, rates, mu))
            unmarked = unmarked_objects(cands, rates, mu)
            fp, rates, sigma = worker_m_step(cands, new, unmarked, rate_prior=rate_prior, fp_prior=self.fp_prior,
                                             sigma_prior=self.sigma_prior, strength=self.prior_strength)
            # Poisson EM: marked objects plus the expected objects nobody marked, per image.
            mu = (new[:, 1:].sum(axis=0) + unmarked.sum(axis=0) + _EPS) / len(cands.tasks)
            shift, post = np.max(np.abs(new - post), initial=0.0), new
            if shift < self.tol:
                self.converged_ = True
                break
        self._finish(cands, params_frame(fp, rates, sigma, cands.workers, post), mu)
        return self

    def _finish(self, cands: Candidates, params: pd.DataFrame, mu: np.ndarray) -> None:
        self.worker_params_ = params
        self.objects_per_image_ = mu
        scored, risk = score_candidates(cands, params, mu=mu, p_threshold=self.p_threshold,
                                        match_iou=self.match_iou)
        self.candidates_ = scored.drop(columns="accepted")
        columns = ["task", *CORNERS, "p_real", "n_workers", "n_seen"]
        self.consensus_ = scored.loc[scored["accepted"], columns].reset_index(drop=True)
        self.risk_ = risk

    def consensus_for_image(self, boxes: pd.DataFrame, seen_workers: Sequence) -> tuple[pd.DataFrame, float]:
        """:func:`consensus_for_image` with this fit's worker and dataset parameters."""
        return consensus_for_image(boxes, seen_workers, worker_params=self.worker_params_,
                                   objects_per_image=self.objects_per_image_,
                                   min_iou=self.min_iou, p_threshold=self.p_threshold, match_iou=self.match_iou)
