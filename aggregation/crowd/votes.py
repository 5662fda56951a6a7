"""Flat vote tables ``(task, worker, label)`` from a crowd, for aggregator tests and benchmarks."""
from __future__ import annotations

import numpy as np

from aggregation.crowd.model import answer_draw, answer_probabilities, difficulty_draw, member_draw
from aggregation.crowd.spec import CrowdSpec, crowd_from_dict


def crowd_uniform_errors(*, skill: tuple[float, float], question: str = "q") -> CrowdSpec:
    """One skilled population whose errors spread evenly over the other answers, with no galaxy difficulty.

    Errors are then independent given the truth: the classic Dawid & Skene (1979) test crowd, the easy case.
    """
    return crowd_from_dict({"difficulty": {"source": "none"}, "questions": {question: {"confusable_share": 0.0}},
                            "populations": [{"name": "uniform", "share": 1.0, "skill": list(skill)}]})


def votes_simulate(*, spec: CrowdSpec, truth: np.ndarray, n_classes: int, n_workers: int, votes_per_task: int,
                   seed: int = 0, question: str = "q") -> dict[str, np.ndarray]:
    """Votes of a fixed pool of ``n_workers`` members of ``spec`` on tasks with true classes ``truth``.

    Each task gets ``votes_per_task`` distinct workers; worker ``w`` is
    :func:`~aggregation.crowd.model.member_draw` ``(seed, w)`` and answers with
    :func:`~aggregation.crowd.model.answer_draw` at the task's shared difficulty.

    Parameters
    ----------
    truth : numpy.ndarray
        ``(N,)`` integer true classes in ``[0, n_classes)``.

    Returns
    -------
    dict
        ``task``, ``worker``, ``label``: ``(N * votes_per_task,)`` integer arrays;
        ``confusion``: ``(n_workers, K, K)`` each worker's P(answer | truth) on an easy
        task at the start of a session; ``difficulty``: ``(N,)``.
    """
    truth = np.asarray(truth, dtype=int)
    if not 1 <= votes_per_task <= n_workers:
        raise ValueError(f"votes_per_task must be in [1, n_workers={n_workers}], got {votes_per_task}")
    if truth.size and not 0 <= truth.min() <= truth.max() < n_classes:
        raise ValueError(f"truth must lie in [0, {n_classes}), got [{truth.min()}, {truth.max()}]")
    labels = [str(i) for i in range(n_classes)]
    members = [member_draw(spec=spec, seed=seed, index=w) for w in range(n_workers)]
    difficulty = difficulty_draw(spec=spec, seed=seed, galaxies=np.arange(truth.size))
    rng = np.random.default_rng([seed, 11])
    task = np.repeat(np.arange(truth.size), votes_per_task)
    worker = np.concatenate([rng.choice(n_workers, votes_per_task, replace=False) for _ in range(truth.size)])
    label = np.array([int(answer_draw(spec=spec, member=members[w], question=question, labels=labels,
                                      truth=labels[truth[i]], difficulty=difficulty[i], n_done=0, galaxy=int(i),
                                      rng=rng)) for i, w in zip(task, worker)], dtype=int)
    confusion = np.stack([np.stack([answer_probabilities(spec=spec, member=m, question=question, labels=labels,
                                                         truth=t, difficulty=0.0, n_done=0)
                                    for t in range(n_classes)]) for m in members])
    return {"task": task, "worker": worker, "label": label, "confusion": confusion, "difficulty": difficulty}
