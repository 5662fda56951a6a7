"""Retirement rules as data, and the one function that applies them.

A workflow stores its rules as a small JSON object (``RetirementRules.to_dict``);
the platform gathers the evidence about one subject and calls :func:`decide`.
The rules follow Space Warps and Galaxy Zoo Express (a posterior threshold;
Beck et al. 2018 §4.4 add a minimum number of votes so that two over-confident
volunteers cannot retire a subject alone), the Panoptes/GZ2 classification
count cap, the Lean Crowdsourcing box risk (Branson, Van Horn & Perona 2017)
and the GZX machine gate (retire when the classifier is confident enough).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .base import dataclass_from_json


@dataclass(frozen=True)
class RetirementRules:
    """When a subject has been classified enough.

    Parameters
    ----------
    task : str
        Key of the question whose posterior decides retirement.
    posterior_threshold : float
        Retire when ``max_k p_k >= posterior_threshold`` ...
    min_classifications : int
        ... and at least this many human classifications were made.
    max_classifications : int
        Retire anyway at this many classifications.
    box_risk_threshold : float or None
        When set, posterior retirement also needs the image's box risk (expected
        number of false + missed + misplaced boxes) below it, once it is known.
    machine_threshold : float or None
        When set, the machine may retire a subject whose max class probability reaches it.
    """

    task: str = "T0"
    posterior_threshold: float = 0.99
    min_classifications: int = 3
    max_classifications: int = 40
    box_risk_threshold: float | None = None
    machine_threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task:
            raise ValueError("task must be a non-empty question key")
        _check_probability("posterior_threshold", self.posterior_threshold)
        for name in ("min_classifications", "max_classifications"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.max_classifications < self.min_classifications:
            raise ValueError("max_classifications must be >= min_classifications")
        if self.box_risk_threshold is not None and not _is_number(self.box_risk_threshold, positive=True):
            raise ValueError(f"box_risk_threshold must be a positive number or null, got {self.box_risk_threshold!r}")
        if self.machine_threshold is not None:
            _check_probability("machine_threshold", self.machine_threshold)

    @classmethod
    def from_dict(cls, data: dict) -> "RetirementRules":
        """Build rules from stored JSON; ``ValueError`` names an unknown key or a bad value."""
        return dataclass_from_json(cls, data, what="retirement rules", key_word="retirement rule")

    def to_dict(self) -> dict:
        """Return the rules as a JSON-ready dict (the inverse of :meth:`from_dict`)."""
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """What is known about one subject when deciding.

    Parameters
    ----------
    n_classifications : int
        Human classifications so far.
    posterior : ndarray of shape (K,)
        Posterior over the answers of ``rules.task``.
    box_risk : float, optional
        Expected number of false + missed + misplaced boxes on the image.
    machine_probs : ndarray of shape (K,), optional
        The machine classifier's prediction for ``rules.task``.
    """

    n_classifications: int
    posterior: np.ndarray
    box_risk: float | None = None
    machine_probs: np.ndarray | None = None


def decide(rules: RetirementRules, evidence: Evidence) -> str | None:
    """Name of the rule that retires the subject, or ``None`` to keep it live.

    The order is: the human posterior (with its minimum count and, when
    configured and known, the box risk), then the count cap, then the machine.

    Examples
    --------
    >>> decide(RetirementRules(), Evidence(5, np.array([0.995, 0.005])))
    'posterior_threshold'
    >>> decide(RetirementRules(), Evidence(2, np.array([0.995, 0.005]))) is None
    True
    """
    posterior = np.asarray(evidence.posterior, dtype=float)
    confident = posterior.size > 0 and posterior.max() >= rules.posterior_threshold
    enough = evidence.n_classifications >= rules.min_classifications
    boxes_done = (rules.box_risk_threshold is None or evidence.box_risk is None
                  or evidence.box_risk < rules.box_risk_threshold)
    if confident and enough and boxes_done:
        return "posterior_threshold"
    if evidence.n_classifications >= rules.max_classifications:
        return "max_classifications"
    if rules.machine_threshold is not None and evidence.machine_probs is not None:
        if np.max(evidence.machine_probs) >= rules.machine_threshold:
            return "machine_threshold"
    return None


def _is_number(value, *, positive: bool = False) -> bool:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    return ok and (value > 0 if positive else True)


def _check_probability(name: str, value) -> None:
    if not _is_number(value) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
