"""The policies a simulation compares, each expressed as platform settings rather than as separate code.

* ``fixed_n``: every galaxy gets exactly N votes, answers by plain majority, no gold
  (Galaxy Zoo 2): retirement rules with min = max = N; a random queue.
* ``swap_random``: the Bayesian engine with gold-trained volunteer skills and a random
  queue (Space Warps; Beck et al. 2018).
* ``platform``: the engine with the platform's own queue, ordered by the posterior
  entropy of each galaxy (unseen galaxies first).
* ``machine``: the platform with the classifier in the loop: retrained every K human
  classifications, BALD + posterior-entropy priorities, and the ``machine_threshold``
  retirement rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zooapp.models import Workflow

NEVER = 2_000_000_000  # retrain_every for policies without the machine


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    rules: dict[str, Any]
    queue: str  # "random" (fixed random priorities) or "priority" (the platform's: refreshed by each aggregation)
    estimator: str  # "majority" (raw vote counts) or "posterior" (the engine)
    gold: bool = True
    retrain_every: int = NEVER

    @property
    def machine(self) -> bool:
        return self.retrain_every < NEVER

    def workflow_settings(self, *, gold_rate_start: float, gold_rate_end: float) -> dict[str, Any]:
        """Keyword arguments for ``workflow_create`` that make the platform follow this policy."""
        start, end = (gold_rate_start, gold_rate_end) if self.gold else (0.0, 0.0)
        order = Workflow.QueueOrder.FIXED if self.queue == "random" else Workflow.QueueOrder.UNCERTAINTY
        return {"retirement_rules": self.rules, "gold_rate_start": start, "gold_rate_end": end,
                "retrain_every": self.retrain_every, "machine_agent": self.machine, "queue_order": order}


def policies_build(*, names: list[str], base_rules: dict[str, Any], fixed_n: int, retrain_every: int,
                   machine_threshold: float) -> list[Policy]:
    """The named policies, all sharing ``base_rules`` (the workflow's own) where they use the engine."""
    task = base_rules.get("task", "T0")
    known = {
        "fixed_n": Policy(name="fixed_n", title=f"Fixed {fixed_n} votes, majority (GZ2)",
                          rules={**base_rules, "task": task, "posterior_threshold": 1.0,
                                 "min_classifications": fixed_n, "max_classifications": fixed_n,
                                 "box_risk_threshold": None, "machine_threshold": None},
                          queue="random", estimator="majority", gold=False),
        "swap_random": Policy(name="swap_random", title="SWAP, random queue (Beck et al. 2018)",
                              rules={**base_rules, "machine_threshold": None}, queue="random",
                              estimator="posterior"),
        "platform": Policy(name="platform", title="Platform engine and priority queue",
                           rules={**base_rules, "machine_threshold": None}, queue="priority",
                           estimator="posterior"),
        "machine": Policy(name="machine", title="Platform with the machine in the loop",
                          rules={**base_rules, "machine_threshold": machine_threshold}, queue="priority",
                          estimator="posterior", retrain_every=retrain_every),
    }
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r}; choose from {', '.join(known)}")
    return [known[name] for name in names]
