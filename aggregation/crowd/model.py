"""The generative crowd model: who volunteers are and how they answer one question about one galaxy.

Model
-----
Each volunteer ``w`` of a population answers a question with ``K`` answers from a
class-dependent confusion matrix ``B_w`` (rows: true answer, columns: given answer),
the Dawid & Skene (1979, Appl. Stat. 28, 20) worker model used by SWAP
(Marshall et al. 2016, MNRAS 455, 1171):

* ``skilled``: ``B[t, t] = a_w - penalty_q`` with ``a_w ~ U(skill)``; of the error mass
  ``confusable_share`` (0.5 unless the question sets it) goes to the answer confusable with ``t`` and the rest is spread
  evenly (or ``B`` is given in the crowd file per question);
* ``careless``: ``B = U`` (every answer ``1/K``);
* ``adversarial``: the mass ``a_w`` sits on the confusable answer instead of the truth;
* ``colluding``: skilled, except that each ring of colluders, on a share ``collude_rate``
  of the galaxies (the same galaxies for every ring member), all give the confusable answer.

Skill changes over a session of ``n`` classifications: ``B_n = U + f(n) (B - U)`` with
``f(n) = (s + (1 - s)(1 - 2^{-n/h_learn})) 2^{-n/h_fade}``: it improves from a share
``s`` (``start``) of its excess over chance with half-life ``h_learn`` and fades with
half-life ``h_fade`` (fatigue); either half-life may be off.

Galaxy difficulty ``d_i`` in [0, 1] (Beta(alpha, beta)) is shared by everyone who looks
at the galaxy: the answer distribution is ``(1 - d_i) B_n[t] + d_i B_n[c(t)]``, where
``c(t)`` is the confusable answer, so a hard galaxy looks like its confusable class to
every volunteer at once and their errors correlate (errors are not independent given the
truth, unlike the model the aggregators assume). With ``source = "image"`` the simulator
ranks ``d_i`` by how faint the galaxy is in its own image, so the machine, which sees
the same pixels, struggles on the same galaxies. GZ2 volunteers disagree most on faint,
small galaxies (Willett et al. 2013, MNRAS 435, 2835; Beck et al. 2018, MNRAS 476, 5516).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aggregation.crowd.spec import CrowdSpec, Population, Question

_DEFAULT_QUESTION = Question()


@dataclass(frozen=True)
class Member:
    """One simulated volunteer of stream position ``index``: population, skill, session length, habits."""

    index: int
    population: Population
    skill: float
    lifetime: int
    box_miss: float
    box_false: float
    box_noise: float
    ring: int | None
    seed: int

    @property
    def kind(self) -> str:
        return self.population.kind


def member_draw(*, spec: CrowdSpec, seed: int, index: int) -> Member:
    """Volunteer ``index`` of the stream of ``seed``: drawn from ``default_rng([seed, index])`` alone.

    Every policy of one run therefore meets the same people in the same order.
    """
    rng = np.random.default_rng([seed, index])
    pop = spec.populations[int(rng.choice(len(spec.populations), p=np.asarray(spec.shares) / sum(spec.shares)))]
    session = pop.session
    lifetime = math.exp(math.log(session.median) + session.sigma * rng.standard_normal())
    return Member(index=index, population=pop, skill=float(rng.uniform(*pop.skill)),
                  lifetime=int(np.clip(round(lifetime), 1, session.max)),
                  box_miss=float(rng.uniform(*pop.boxes.miss)), box_false=float(rng.uniform(*pop.boxes.false)),
                  box_noise=float(rng.uniform(*pop.boxes.noise)),
                  ring=int(rng.integers(pop.groups)) if pop.kind == "colluding" else None, seed=seed)


def confusable_index(*, spec: CrowdSpec, question: str, labels: list[str], true_index: int) -> int:
    """The answer a true ``labels[true_index]`` is mistaken for: from the crowd file, else the next answer."""
    named = spec.questions.get(question)
    target = named.confusable.get(labels[true_index]) if named else None
    if target in labels:
        return labels.index(target)
    return (true_index + 1) % len(labels)


def base_confusion(*, spec: CrowdSpec, member: Member, question: str, labels: list[str]) -> np.ndarray:
    """``(K, K)`` confusion matrix ``B`` of ``member`` for ``question`` before learning and fatigue."""
    k = len(labels)
    explicit = member.population.confusion.get(question)
    if explicit is not None and len(explicit) == k and member.kind != "careless":
        return np.asarray(explicit, dtype=float)
    if member.kind == "careless" or k < 2:
        return np.full((k, k), 1.0 / max(k, 1))
    settings = spec.questions.get(question, _DEFAULT_QUESTION)
    share = settings.confusable_share
    acc = float(np.clip(member.skill - settings.penalty, 1.0 / k, 1.0))
    out = np.zeros((k, k))
    for t in range(k):
        c = confusable_index(spec=spec, question=question, labels=labels, true_index=t)
        hit = c if member.kind == "adversarial" else t
        # Errors: a share on the confusable answer, the rest evenly over every other answer.
        spread = (1.0 - acc) * (1.0 - share if hit == t else 1.0) / (k - 1)
        out[t] = spread
        out[t, hit] = acc
        if hit == t:
            out[t, c] += (1.0 - acc) * share
        out[t] /= out[t].sum()
    return out


def skill_factor(*, population: Population, n_done: int) -> float:
    """``f(n)``: the share of a volunteer's excess over chance after ``n_done`` classifications."""
    f = 1.0
    if population.learn_halflife is not None:
        f = population.start + (1.0 - population.start) * (1.0 - 0.5 ** (n_done / population.learn_halflife))
    if population.fade_halflife is not None:
        f *= 0.5 ** (n_done / population.fade_halflife)
    return f


def answer_probabilities(*, spec: CrowdSpec, member: Member, question: str, labels: list[str], truth: int,
                         difficulty: float, n_done: int) -> np.ndarray:
    """``(K,)`` P(answer | true answer ``truth``, galaxy difficulty, session position): the model above."""
    k = len(labels)
    uniform = np.full((k, k), 1.0 / k)
    confusion = uniform + skill_factor(population=member.population, n_done=n_done) * (
        base_confusion(spec=spec, member=member, question=question, labels=labels) - uniform)
    c = confusable_index(spec=spec, question=question, labels=labels, true_index=truth)
    return (1.0 - difficulty) * confusion[truth] + difficulty * confusion[c]


def answer_draw(*, spec: CrowdSpec, member: Member, question: str, labels: list[str], truth: str | None,
                difficulty: float, n_done: int, galaxy: int, rng: np.random.Generator) -> str:
    """One answer; a question the galaxy has no true answer for is answered at random."""
    if truth not in labels:
        return labels[int(rng.integers(len(labels)))]
    t = labels.index(truth)
    if member.ring is not None and _ring_colludes(member, question, galaxy):
        return labels[confusable_index(spec=spec, question=question, labels=labels, true_index=t)]
    p = answer_probabilities(spec=spec, member=member, question=question, labels=labels, truth=t,
                             difficulty=difficulty, n_done=n_done)
    return labels[int(rng.choice(len(labels), p=p / p.sum()))]


def _ring_colludes(member: Member, question: str, galaxy: int) -> bool:
    # Seeded by (seed, population, ring, galaxy, question) only: every ring member picks the same galaxies.
    tag = sum(map(ord, member.population.name + question))
    return bool(np.random.default_rng([member.seed, tag, member.ring, galaxy, 7]).random()
                < member.population.collude_rate)


def difficulty_draw(*, spec: CrowdSpec, seed: int, galaxies: np.ndarray) -> np.ndarray:
    """``(N,)`` latent difficulty of galaxies (survey indices): Beta(alpha, beta), seeded per galaxy."""
    if spec.difficulty.source == "none":
        return np.zeros(len(galaxies))
    a, b = spec.difficulty.alpha, spec.difficulty.beta
    return np.array([np.random.default_rng([seed, int(i), 3]).beta(a, b) for i in galaxies])


def difficulty_from_hardness(*, spec: CrowdSpec, seed: int, hardness: np.ndarray) -> np.ndarray:
    """``(N,)`` difficulty with the crowd's Beta marginal, ordered by an observable ``hardness`` (higher = harder).

    The i-th hardest galaxy gets the i-th largest of ``N`` Beta draws, so the
    distribution is the crowd file's and the order is the image's.
    """
    hardness = np.asarray(hardness, dtype=float)
    if spec.difficulty.source == "none":
        return np.zeros(hardness.size)
    draws = np.sort(np.random.default_rng([seed, 3]).beta(spec.difficulty.alpha, spec.difficulty.beta,
                                                           hardness.size))
    out = np.empty(hardness.size)
    out[np.argsort(hardness, kind="stable")] = draws
    return out
