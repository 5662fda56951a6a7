"""Name -> class for every pluggable aggregator family (house style G10).

The platform stores only a name and a JSON of hyperparameters and builds the
estimator through :func:`get_aggregator`.
"""
from __future__ import annotations

from .boxes import LeanBoxAggregator, MajorityBoxAggregator
from .online import OnlineSWAP
from .votes.auto import AutoDawidSkene
from .votes.dawid_skene import EBCC, MACE, DawidSkene, OneCoinDawidSkene, SubtypeMixture
from .votes.hierarchical import HierarchicalDS
from .votes.majority import MajorityVote

AGGREGATORS: dict[str, type] = {
    "majority": MajorityVote,
    "online": OnlineSWAP,
    "ds": DawidSkene,
    "one_coin": OneCoinDawidSkene,
    "mace": MACE,
    "mixture": SubtypeMixture,
    "ebcc": EBCC,
    "auto": AutoDawidSkene,
    "hierarchical": HierarchicalDS,
}

BOX_AGGREGATORS: dict[str, type] = {
    "lean": LeanBoxAggregator,
    "majority": MajorityBoxAggregator,
}


def get_aggregator(name: str, **params):
    """Build the vote aggregator called ``name`` with ``params``; ValueError lists the valid names."""
    return _build(AGGREGATORS, name, params, "vote aggregator")


def get_box_aggregator(name: str, **params):
    """Build the box aggregator called ``name`` with ``params``; ValueError lists the valid names."""
    return _build(BOX_AGGREGATORS, name, params, "box aggregator")


def _build(registry: dict[str, type], name: str, params: dict, what: str):
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; valid names: {', '.join(sorted(registry))}")
    return registry[name](**params)
