"""Merge simulator reports of one seed and survey size into one report, a Markdown table and the plots.

Policies may run as separate processes (``run.sh ... --policies fixed_n`` beside
``--policies swap_random,platform``, or ``manage.py simulate --jobs N``, which merges
itself): the survey and the crowd depend only on the seed and the crowd file, so they
meet the same galaxies and the same volunteers.

    .venv/bin/python -m benchmarks.simulate.merge OUT_DIR REPORT_DIR [REPORT_DIR ...]
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(report: dict) -> str:
    header = ("| policy | retired | human / retired (mean, median) | with gold views | T0 accuracy | "
              "smooth C / P | featured C / P | artifact C / P | ECE | box F1 | 90 % retired after |")
    rows = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for policy in report["policies"].values():
        t0 = policy["questions"].get("T0", {"classes": {}})
        missing = {"completeness": None, "purity": None}
        cp = [f"{_fmt(c['completeness'])} / {_fmt(c['purity'])}"
              for c in (t0["classes"].get(k, missing) for k in ("smooth", "featured", "artifact"))]
        rows.append(f"| {policy['title']} | {policy['n_retired']}/{policy['n_survey']} | "
                    f"{_fmt(policy['human_per_retired'], 2)}, {_fmt(policy['human_per_retired_median'], 0)} | "
                    f"{_fmt(policy['effort_per_retired'], 2)} | {_fmt(t0.get('accuracy'), 4)} | {' | '.join(cp)} | "
                    f"{_fmt(policy['calibration']['ece'])} | {_fmt((policy['boxes'] or {}).get('f1'))} | "
                    f"{policy['steps_to_retire_90'] if policy['steps_to_retire_90'] is not None else 'never'} |")
    return "\n".join(rows) + "\n"


def questions_table(report: dict) -> str:
    """Each question's accuracy beside the majority of the same human votes, on the same retired galaxies."""
    policies = report["policies"].values()
    tasks = sorted({task for policy in policies for task in policy.get("against_majority", {})})
    rows = ["| policy | " + " | ".join(f"{t}: accuracy / majority (n)" for t in tasks) + " |",
            "|---|" + "---|" * len(tasks)]
    for policy in policies:
        cells = [policy.get("against_majority", {}).get(t) for t in tasks]
        rows.append(f"| {policy['title']} | " + " | ".join(
            "–" if c is None else f"{_fmt(c['accuracy'])} / {_fmt(c['majority_accuracy'])} ({c['n']})"
            for c in cells) + " |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("reports", type=Path, nargs="+")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")
    import django

    django.setup()
    from zooapp.services.simulation import plots_write, report_write, reports_merge

    reports = [json.loads((folder / "report.json").read_text()) for folder in args.reports]
    try:
        merged = reports_merge(reports=reports)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    report_write(report=merged, out_dir=args.out)
    plots_write(report=merged, out_dir=args.out)
    tables = table(merged) + "\n" + questions_table(merged)
    (args.out / "table.md").write_text(tables)
    print(tables)


if __name__ == "__main__":
    main()
