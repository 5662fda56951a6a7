"""A crowd file: populations of simulated volunteers, read from TOML or JSON and validated before anything runs.

Every field is checked with a message that names it and says what is allowed;
a bad file raises :class:`CrowdFileError` and nothing is built. The model that
uses these fields is documented in :mod:`aggregation.crowd.model`.
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("skilled", "careless", "adversarial", "colluding")
DIFFICULTY_SOURCES = ("none", "latent", "image")
_POPULATION_KEYS = {"name", "share", "kind", "skill", "confusion", "start", "learn_halflife", "fade_halflife",
                    "session", "boxes", "groups", "collude_rate"}
_CROWD_KEYS = {"name", "description", "populations", "difficulty", "questions", "arrivals"}


class CrowdFileError(ValueError):
    """A crowd file that cannot be used; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Session:
    """Classifications per visit: log-normal (median, sigma), capped at ``max`` (heavy-tailed, Marshall et al. 2016)."""

    median: float = 8.0
    sigma: float = 1.4
    max: int = 2000


@dataclass(frozen=True)
class BoxHabits:
    """Ranges each volunteer's drawing habits are drawn from: missed clumps, false marks, corner noise."""

    miss: tuple[float, float] = (0.1, 0.4)
    false: tuple[float, float] = (0.0, 0.3)
    noise: tuple[float, float] = (0.05, 0.2)


@dataclass(frozen=True)
class Population:
    """One kind of volunteer and its share of the arrivals (see :mod:`aggregation.crowd.model`)."""

    name: str
    share: float
    kind: str = "skilled"
    skill: tuple[float, float] = (0.8, 0.95)
    confusion: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)
    start: float = 1.0
    learn_halflife: float | None = None
    fade_halflife: float | None = None
    session: Session = field(default_factory=Session)
    boxes: BoxHabits = field(default_factory=BoxHabits)
    groups: int = 1
    collude_rate: float = 0.3


@dataclass(frozen=True)
class Question:
    """Per-question settings: an accuracy penalty (hard questions) and each answer's confusable answer."""

    penalty: float = 0.0
    confusable: dict[str, str] = field(default_factory=dict)
    confusable_share: float = 0.5  # of a skilled volunteer's errors, the share on the confusable answer


@dataclass(frozen=True)
class Difficulty:
    """Per-galaxy difficulty ``d`` in [0, 1]: Beta(alpha, beta); from ``source`` (none, latent or image)."""

    source: str = "latent"
    alpha: float = 1.0
    beta: float = 6.0


@dataclass(frozen=True)
class CrowdSpec:
    """A whole crowd: populations (shares sum to 1), galaxy difficulty, per-question settings, arrivals."""

    populations: tuple[Population, ...]
    difficulty: Difficulty = field(default_factory=Difficulty)
    questions: dict[str, Question] = field(default_factory=dict)
    concurrency: int = 20
    name: str = "crowd"
    description: str = ""

    @property
    def shares(self) -> tuple[float, ...]:
        return tuple(p.share for p in self.populations)


def crowd_load(path: str | Path) -> CrowdSpec:
    """Read and validate a crowd file (``.toml`` or ``.json``); raises :class:`CrowdFileError` naming the field."""
    path = Path(path)
    if not path.is_file():
        raise CrowdFileError(f"crowd file {path} does not exist")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        elif path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        else:
            raise CrowdFileError(f"crowd file {path}: the name must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CrowdFileError(f"crowd file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    return crowd_from_dict(data, where=str(path))


def crowd_from_dict(data: Any, *, where: str = "crowd") -> CrowdSpec:
    """Validate a parsed crowd file; see the shipped ``gz2_like.toml`` for every field."""
    _mapping(data, where, _CROWD_KEYS)
    pops = data.get("populations")
    if not isinstance(pops, list) or not pops:
        raise CrowdFileError(f"{where}: populations must be a non-empty list of tables ([[populations]])")
    populations = tuple(_population(p, f"{where}: populations[{i}]") for i, p in enumerate(pops))
    total = sum(p.share for p in populations)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise CrowdFileError(f"{where}: populations[].share must sum to 1, got {total:.4g}")
    names = [p.name for p in populations]
    if len(set(names)) != len(names):
        raise CrowdFileError(f"{where}: populations[].name must be unique, got {names}")
    arrivals = data.get("arrivals", {})
    _mapping(arrivals, f"{where}: arrivals", {"concurrency"})
    questions = data.get("questions", {})
    _mapping(questions, f"{where}: questions", None)
    return CrowdSpec(populations=populations, difficulty=_difficulty(data.get("difficulty", {}), where),
                     questions={k: _question(v, f"{where}: questions.{k}") for k, v in questions.items()},
                     concurrency=_int(arrivals.get("concurrency", 20), f"{where}: arrivals.concurrency", 1),
                     name=str(data.get("name", "crowd")), description=str(data.get("description", "")))


def _population(p: Any, where: str) -> Population:
    _mapping(p, where, _POPULATION_KEYS)
    kind = p.get("kind", "skilled")
    if kind not in KINDS:
        raise CrowdFileError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    name = p.get("name")
    if not isinstance(name, str) or not name:
        raise CrowdFileError(f"{where}.name must be a non-empty string")
    learn = _halflife(p.get("learn_halflife"), f"{where}.learn_halflife")
    return Population(
        name=name, share=_number(p.get("share"), f"{where}.share", 0.0, 1.0), kind=kind,
        skill=_range(p.get("skill", [0.8, 0.95]), f"{where}.skill", 0.0, 1.0),
        confusion={k: _matrix(v, f"{where}.confusion.{k}") for k, v in _mapping(
            p.get("confusion", {}), f"{where}.confusion", None).items()},
        start=_number(p.get("start", 1.0 if learn is None else 0.5), f"{where}.start", 0.0, 1.0),
        learn_halflife=learn, fade_halflife=_halflife(p.get("fade_halflife"), f"{where}.fade_halflife"),
        session=_session(p.get("session", {}), f"{where}.session"), boxes=_boxes(p.get("boxes", {}), f"{where}.boxes"),
        groups=_int(p.get("groups", 1), f"{where}.groups", 1),
        collude_rate=_number(p.get("collude_rate", 0.3), f"{where}.collude_rate", 0.0, 1.0))


def _session(s: Any, where: str) -> Session:
    _mapping(s, where, {"median", "sigma", "max"})
    return Session(median=_number(s.get("median", 8.0), f"{where}.median", 1.0, 1e6),
                   sigma=_number(s.get("sigma", 1.4), f"{where}.sigma", 0.0, 5.0),
                   max=_int(s.get("max", 2000), f"{where}.max", 1))


def _boxes(b: Any, where: str) -> BoxHabits:
    _mapping(b, where, {"miss", "false", "noise"})
    return BoxHabits(miss=_range(b.get("miss", [0.1, 0.4]), f"{where}.miss", 0.0, 1.0),
                     false=_range(b.get("false", [0.0, 0.3]), f"{where}.false", 0.0, 20.0),
                     noise=_range(b.get("noise", [0.05, 0.2]), f"{where}.noise", 0.0, 5.0))


def _difficulty(d: Any, where: str) -> Difficulty:
    _mapping(d, f"{where}: difficulty", {"source", "alpha", "beta"})
    source = d.get("source", "latent")
    if source not in DIFFICULTY_SOURCES:
        raise CrowdFileError(f"{where}: difficulty.source must be one of {', '.join(DIFFICULTY_SOURCES)}, "
                             f"got {source!r}")
    return Difficulty(source=source, alpha=_number(d.get("alpha", 1.0), f"{where}: difficulty.alpha", 1e-3, 1e3),
                      beta=_number(d.get("beta", 6.0), f"{where}: difficulty.beta", 1e-3, 1e3))


def _question(q: Any, where: str) -> Question:
    _mapping(q, where, {"penalty", "confusable", "confusable_share"})
    confusable = _mapping(q.get("confusable", {}), f"{where}.confusable", None)
    if not all(isinstance(k, str) and isinstance(v, str) and k != v for k, v in confusable.items()):
        raise CrowdFileError(f"{where}.confusable must map each answer to another answer's label")
    return Question(penalty=_number(q.get("penalty", 0.0), f"{where}.penalty", 0.0, 1.0), confusable=confusable,
                    confusable_share=_number(q.get("confusable_share", 0.5), f"{where}.confusable_share", 0.0, 1.0))


def _mapping(value: Any, where: str, allowed: set[str] | None) -> dict:
    if not isinstance(value, dict):
        raise CrowdFileError(f"{where} must be a table (mapping), got {type(value).__name__}")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise CrowdFileError(f"{where}: unknown field(s) {unknown}; allowed: {', '.join(sorted(allowed))}")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise CrowdFileError(f"{where} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _int(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise CrowdFileError(f"{where} must be an integer >= {low}, got {value!r}")
    return value


def _halflife(value: Any, where: str) -> float | None:
    return None if value is None else _number(value, where, 1e-6, 1e9)


def _range(value: Any, where: str, low: float, high: float) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, list) or len(value) != 2:
        raise CrowdFileError(f"{where} must be [low, high] (or one number), got {value!r}")
    lo, hi = (_number(v, where, low, high) for v in value)
    if lo > hi:
        raise CrowdFileError(f"{where} must have low <= high, got {value!r}")
    return lo, hi


def _matrix(value: Any, where: str) -> tuple[tuple[float, ...], ...]:
    """A K x K row-stochastic matrix: row = true answer, column = given answer."""
    ok = isinstance(value, list) and len(value) >= 2 and all(isinstance(r, list) and len(r) == len(value)
                                                             for r in value)
    if not ok:
        raise CrowdFileError(f"{where} must be a square K x K list of rows (K >= 2), rows = true answer")
    rows = tuple(tuple(_number(v, where, 0.0, 1.0) for v in r) for r in value)
    if not all(math.isclose(sum(r), 1.0, abs_tol=1e-6) for r in rows):
        raise CrowdFileError(f"{where}: every row must sum to 1 (it is P(answer | true answer))")
    return rows
