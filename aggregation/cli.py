"""Command line: aggregate a vote or box CSV without the platform.

    python -m aggregation labels --votes VOTES.csv [--gold GOLD.csv] [--method auto] --out OUT.csv
        [--restarts N] [--random-state S] [--unsupervised-weight W] [--strength S] [--skill P]
    python -m aggregation boxes --boxes BOXES.csv --seen SEEN.csv [--method lean] --out OUT.csv

Bad input gives one line on stderr, exit status 2, and no output file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .base import CORNERS
from .registry import AGGREGATORS, BOX_AGGREGATORS, get_aggregator, get_box_aggregator

DEFAULT_METHOD = "auto"
# Above this many votes the iterative methods show a progress bar.
_PROGRESS_VOTES = 100_000
_PROGRESS_METHODS = ("online", "hierarchical")
# Which command-line options each method takes (argparse dest -> estimator keyword).
_EM_OPTIONS = {"restarts": "n_restarts", "random_state": "random_state"}
METHOD_OPTIONS = {"online": {"unsupervised_weight": "unsupervised_weight", "strength": "strength", "skill": "skill"},
                  **{name: _EM_OPTIONS for name in ("auto", "ds", "one_coin", "mace", "mixture", "ebcc")}}


class InputError(Exception):
    """A problem with the user's files, reported as one line."""


def _read(path: Path, what: str, text_columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False,
                           na_values={c: [] for c in text_columns})
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} file {path} is not a readable CSV: {exc}") from None


def _write(frame: pd.DataFrame, out: Path) -> None:
    # Write next to the target, then rename: a failure never leaves a half-written OUT.
    tmp = out.with_name(out.name + ".part")
    frame.to_csv(tmp, index=False)
    tmp.replace(out)


def _check_out(out: Path) -> None:
    if not out.parent.is_dir():
        raise InputError(f"output folder {out.parent} does not exist")


def method_params(args: argparse.Namespace, n_votes: int) -> dict:
    """Estimator keywords from the options given on the command line; an option the method lacks is an error."""
    allowed = METHOD_OPTIONS.get(args.method, {})
    params = {"progress": True} if args.method in _PROGRESS_METHODS and n_votes > _PROGRESS_VOTES else {}
    for dest in ("restarts", "random_state", "unsupervised_weight", "strength", "skill"):
        value = getattr(args, dest)
        if value is None:
            continue
        if dest not in allowed:
            raise InputError(f"--{dest.replace('_', '-')} does not apply to method {args.method!r}")
        params[allowed[dest]] = value
    return params


def run_labels(args: argparse.Namespace) -> None:
    """Aggregate ``args.votes`` (and ``args.gold``) with ``args.method`` into ``args.out``."""
    _check_out(args.out)
    votes = _read(args.votes, "votes", ("task", "worker", "label"))
    gold = _read(args.gold, "gold", ("task", "label")) if args.gold else None
    model = get_aggregator(args.method, **method_params(args, len(votes))).fit(votes, gold)
    probas = model.probas_.rename(columns=lambda c: f"p_{c}")
    out = pd.concat([model.labels_.rename("label"), probas], axis=1).reset_index()
    _write(out, args.out)


def run_boxes(args: argparse.Namespace) -> None:
    """Aggregate ``args.boxes`` seen in ``args.seen`` with ``args.method`` into ``args.out``."""
    _check_out(args.out)
    boxes = _read(args.boxes, "boxes", ("task", "worker"))
    seen = _read(args.seen, "seen", ("task", "worker"))
    model = get_box_aggregator(args.method).fit(boxes, seen)
    columns = ["task", *CORNERS, "p_real", "n_workers"]
    _write(model.consensus_[columns], args.out)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the two sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m aggregation", description="Aggregate crowd votes or boxes.")
    sub = parser.add_subparsers(dest="command", required=True)
    labels = sub.add_parser("labels", help="consensus labels from votes (task, worker, label)")
    labels.add_argument("--votes", type=Path, required=True)
    labels.add_argument("--gold", type=Path, help="known labels (task, label)")
    labels.add_argument("--method", choices=sorted(AGGREGATORS), default=DEFAULT_METHOD)
    labels.add_argument("--out", type=Path, required=True)
    labels.add_argument("--restarts", type=int, help="EM restarts kept by likelihood (EM methods)")
    labels.add_argument("--random-state", type=int, help="seed of restarts and folds (EM methods)")
    labels.add_argument("--unsupervised-weight", type=float, help="online: weight of self-taught updates")
    labels.add_argument("--strength", type=float, help="online: prior pseudo-votes of a new agent")
    labels.add_argument("--skill", type=float, help="online: prior accuracy of a new agent")
    labels.set_defaults(run=run_labels)
    boxes = sub.add_parser("boxes", help="consensus boxes from boxes and views")
    boxes.add_argument("--boxes", type=Path, required=True, help="task, worker, x_min, y_min, x_max, y_max")
    boxes.add_argument("--seen", type=Path, required=True, help="task, worker: every view, empty ones included")
    boxes.add_argument("--method", choices=sorted(BOX_AGGREGATORS), default="lean")
    boxes.add_argument("--out", type=Path, required=True)
    boxes.set_defaults(run=run_boxes)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (InputError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
