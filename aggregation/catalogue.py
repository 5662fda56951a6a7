"""Galaxy Zoo 2 catalogue conventions: column stems, intervals, well-sampled and clean flags, debiasing.

Pure numpy/scipy, so the platform's exports and offline scripts compute the same numbers.

* Column stems follow the GZ2 data release (Willett et al. 2013, MNRAS 435, 2835, Table 2):
  ``t01_smooth_or_features_a01_smooth``. A question whose text is a GZ2 question (and has as many
  answers) takes the GZ2 task and answer keys of ``trees/gz2_tree.json``; any other question is
  numbered in tree order and named from its stable task key (or the tree's optional ``name``) and
  answer labels.
* Vote-fraction intervals: the marginal Beta of the Jeffreys Dirichlet posterior of the fraction
  of volunteers who would give each answer (Brown, Cai & DasGupta 2001, Stat. Sci. 16, 101).
* Posterior intervals: the spread of the engine's class posterior when each voter's confusion
  matrix is drawn from its Dirichlet (the SWAP agent model, Marshall et al. 2016, MNRAS 455, 1171).
* Flags: Willett et al. 2013 Table 3 (well sampled) and the 0.8 "clean" threshold.
* Debiasing: quantile matching of vote fractions to the lowest-redshift bin of the same size
  (the idea of Hart et al. 2016, MNRAS 461, 3663, without their parametric fit).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import logsumexp
from scipy.stats import beta

GZ2_TREE = Path(__file__).resolve().parent / "trees" / "gz2_tree.json"
INTERVAL_MASS = 0.95
CLEAN_THRESHOLD = 0.8
WELL_SAMPLED_VOTES = 20
_EPS = 1e-12


@dataclass(frozen=True)
class QuestionStems:
    """GZ2 names of one question: ``task`` (``t01_smooth_or_features``) and one stem per answer,
    plus Willett et al. 2013 Table 3's N20 previous-task threshold where GZ2 has one."""

    key: str
    task: str
    answers: tuple[str, ...]
    threshold: float | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", str(text).lower()))


def _gz2_match(question: str, n_answers: int, gz2: list[dict]) -> dict | None:
    words = _words(question)
    for task in gz2:
        theirs = _words(task["question"])
        if words and (theirs.startswith(words) or words.startswith(theirs)) and len(task["answers"]) == n_answers:
            return task
    return None


def gz2_stems(tree: Mapping[str, Any]) -> dict[str, QuestionStems]:
    """Column stems for every question of a stored task tree (``{"first_task", "tasks"}``), in tree order.

    GZ2 questions keep their GZ2 numbers (answers are numbered across the whole tree, as in GZ2);
    the others are numbered after their position among the questions.
    """
    gz2 = json.loads(GZ2_TREE.read_text())["tasks"]
    out: dict[str, QuestionStems] = {}
    next_answer = 1
    questions = [(k, t) for k, t in tree["tasks"].items() if t.get("type") in ("single", "multiple")]
    for position, (key, task) in enumerate(questions, start=1):
        answers = task.get("answers", [])
        match = _gz2_match(task.get("question", ""), len(answers), gz2)
        if match is not None:
            threshold = (match.get("gz2_debias_threshold") or {}).get("N20")
            out[key] = QuestionStems(key, f"t{match['task'][1:]}_{match['name']}",
                                     tuple(a["gz2_column_stem"] for a in match["answers"]), threshold)
            continue
        stem = f"t{position:02d}_{_slug(task.get('name') or key)}"
        out[key] = QuestionStems(key, stem, tuple(f"{stem}_a{next_answer + i:02d}_{_slug(a['label'])}"
                                                  for i, a in enumerate(answers)))
        next_answer += len(answers)
    return out


def vote_fraction_interval(counts: np.ndarray, *, mass: float = INTERVAL_MASS) -> tuple[np.ndarray, np.ndarray]:
    """Central credible interval of the fraction of volunteers who would give each answer.

    Model: the votes are multinomial with the population fractions ``q``; with the Jeffreys
    prior Dirichlet(1/2, ..., 1/2) the posterior of ``q`` is Dirichlet(counts + 1/2), whose
    marginals are Beta(c_k + 1/2, n - c_k + 1/2). Following Brown, Cai & DasGupta (2001) the
    lower end is 0 when c_k = 0 and the upper end 1 when c_k = n, which keeps the observed
    fraction c_k / n inside the interval and the coverage near nominal.

    Parameters
    ----------
    counts : ndarray of shape (K,)
        Votes per answer.

    Returns
    -------
    (lo, hi) : ndarrays of shape (K,); NaN when there are no votes.
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.sum()
    if n <= 0:
        return np.full(counts.shape, np.nan), np.full(counts.shape, np.nan)
    tail = (1 - mass) / 2
    a, b = counts + 0.5, n - counts + 0.5
    lo = np.where(counts > 0, beta.ppf(tail, a, b), 0.0)
    hi = np.where(counts < n, beta.ppf(1 - tail, a, b), 1.0)
    return lo, hi


def posterior_draws(*, log_posterior: np.ndarray, votes: Sequence[tuple[np.ndarray, int]], n_draws: int = 400,
                    random_state: int = 0) -> np.ndarray:
    """Draws of the class posterior when each voter's confusion matrix is uncertain.

    The engine multiplies the prior by each voter's *expected* likelihood
    ``E[pi_{k,l}] = alpha_{k,l} / sum_l alpha_{k,l}``. Here each draw replaces that factor by
    ``pi_{k,l}`` with every row ``pi_k ~ Dirichlet(alpha_k)``, starting from the engine's own
    log posterior, so the draws spread around the stored point estimate.

    Parameters
    ----------
    log_posterior : ndarray of shape (K,)
        The engine's log posterior of the subject.
    votes : sequence of (alpha, label)
        Each vote's agent pseudo-counts, shape (K, K), and the answer index it gave.

    Returns
    -------
    ndarray of shape (n_draws, K)
        Posterior probabilities, rows summing to one.
    """
    rng = np.random.default_rng(random_state)
    logs = np.tile(np.asarray(log_posterior, dtype=float), (n_draws, 1))
    for alpha, label in votes:
        alpha = np.asarray(alpha, dtype=float)
        # A Dirichlet row's l-th entry is Beta(alpha_kl, sum_k - alpha_kl): draw only that marginal.
        drawn = rng.beta(alpha[:, label], alpha.sum(axis=1) - alpha[:, label], size=(n_draws, len(alpha)))
        expected = alpha[:, label] / alpha.sum(axis=1)
        # Log space: dozens of confident votes would underflow a product of probabilities.
        logs += np.log(np.maximum(drawn, _EPS)) - np.log(np.maximum(expected, _EPS))
    return np.exp(logs - logsumexp(logs, axis=1, keepdims=True))


def posterior_interval(*, log_posterior: np.ndarray, votes: Sequence[tuple[np.ndarray, int]],
                       mass: float = INTERVAL_MASS, n_draws: int = 400,
                       random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Central ``mass`` interval of each class probability from :func:`posterior_draws`.

    The interval is widened, where needed, to reach the point estimate ``exp(log_posterior)``,
    so the catalogue never reports an estimate outside its own interval.

    Returns
    -------
    (lo, hi) : ndarrays of shape (K,)
    """
    point = np.exp(np.asarray(log_posterior, dtype=float) - logsumexp(log_posterior))
    if not votes:
        return point.copy(), point.copy()
    draws = posterior_draws(log_posterior=log_posterior, votes=votes, n_draws=n_draws, random_state=random_state)
    tail = (1 - mass) / 2
    lo, hi = np.quantile(draws, [tail, 1 - tail], axis=0)
    return np.minimum(lo, point), np.maximum(hi, point)


def reach_fractions(tree: Mapping[str, Any], fractions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Fraction of volunteers expected to reach each question: the GZ2 "previous task" product.

    ``reach(first) = 1`` and ``reach(t) = sum over answers (p, a) leading to t of reach(p) f(p, a)``,
    with ``fractions[p]`` the (K,) vote fractions of question ``p`` (NaN counts as 0).
    """
    tasks = tree["tasks"]
    reach = {key: 0.0 for key in tasks}
    reach[tree["first_task"]] = 1.0
    for key in _topological(tree):
        task = tasks[key]
        f = np.nan_to_num(np.asarray(fractions.get(key, np.zeros(len(task.get("answers", [])))), dtype=float))
        for i, answer in enumerate(task.get("answers", [])):
            if answer.get("next") in reach:
                reach[answer["next"]] += reach[key] * (f[i] if i < len(f) else 0.0)
        if task.get("type") != "single" and task.get("next") in reach:
            reach[task["next"]] += reach[key]
    return reach


def _topological(tree: Mapping[str, Any]) -> list[str]:
    tasks = tree["tasks"]
    successors = {k: {a.get("next") for a in t.get("answers", [])} | {t.get("next")} for k, t in tasks.items()}
    order, seen = [], set()

    def visit(key: str) -> None:
        if key in seen or key not in tasks:
            return
        seen.add(key)
        for nxt in sorted(s for s in successors[key] if s):
            visit(nxt)
        order.append(key)

    for key in tasks:
        visit(key)
    return order[::-1]


def well_sampled(*, n_votes: int, reach: float, threshold: float | None) -> bool:
    """Willett et al. 2013 Table 3: at least 20 votes on the task and, for GZ2 tasks, a previous-task
    vote fraction of at least the task's N20 threshold."""
    return n_votes >= WELL_SAMPLED_VOTES and (threshold is None or reach >= threshold)


def clean_flags(fractions: np.ndarray, *, sampled: bool) -> np.ndarray:
    """GZ2 ``_flag``: the task is well sampled and the answer's fraction is at least 0.8."""
    return np.asarray(sampled & (np.nan_to_num(np.asarray(fractions, dtype=float)) >= CLEAN_THRESHOLD))


def debias_fractions(fractions: np.ndarray, *, redshift: np.ndarray, size: np.ndarray,
                     n_bins: int = 4) -> np.ndarray:
    """Vote fractions corrected for the loss of visible detail with distance.

    Galaxies are binned by size (quantiles); within a size bin they are binned by redshift, and each
    redshift bin's fractions are mapped onto the lowest-redshift bin by matching quantiles (the
    cumulative-distribution matching of Hart et al. 2016, §3, without their parametric smoothing).

    Parameters
    ----------
    fractions : ndarray of shape (N, K)
        Vote fractions of one question (rows of NaN are passed through).
    redshift, size : ndarrays of shape (N,)

    Returns
    -------
    ndarray of shape (N, K), rows renormalised to sum to one.
    """
    f = np.asarray(fractions, dtype=float)
    out = f.copy()
    z, r = np.asarray(redshift, dtype=float), np.asarray(size, dtype=float)
    ok = np.isfinite(z) & np.isfinite(r) & np.isfinite(f).all(axis=1)
    if ok.sum() < n_bins * n_bins:
        return out
    size_bin = _bins(r, ok, n_bins)
    for s in range(n_bins):
        members = ok & (size_bin == s)
        z_bin = _bins(z, members, n_bins)
        reference = f[members & (z_bin == 0)]
        for b in range(1, n_bins):
            rows = members & (z_bin == b)
            for k in range(f.shape[1]):
                ranks = (np.argsort(np.argsort(f[rows, k])) + 0.5) / max(rows.sum(), 1)
                out[rows, k] = np.quantile(reference[:, k], ranks)
    totals = out[ok].sum(axis=1, keepdims=True)
    out[ok] = out[ok] / np.where(totals > 0, totals, 1.0)
    return out


def _bins(values: np.ndarray, mask: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.quantile(values[mask], np.linspace(0, 1, n_bins + 1)[1:-1]) if mask.any() else []
    return np.where(mask, np.searchsorted(edges, values, side="right"), -1)
