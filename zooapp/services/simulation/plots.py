"""The simulation's figures, as PNG files: retirement over time, reliability diagram, effort and accuracy."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def plots_write(*, report: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_retirement(report, out_dir / "retirement.png"), _reliability(report, out_dir / "reliability.png"),
            _effort(report, out_dir / "effort.png")]


def _retirement(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy in report["policies"].values():
        timeline, n = policy["timeline"], max(policy["n_survey"], 1)
        ax.plot(timeline["steps"], [r / n for r in timeline["retired"]], label=policy["title"])
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="simulated human classifications", ylabel="share of the survey retired", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _reliability(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    for policy in report["policies"].values():
        cal = policy["calibration"]
        if cal["bins"]:
            ax.plot([b["confidence"] for b in cal["bins"]], [b["accuracy"] for b in cal["bins"]], marker="o",
                    label=f"{policy['title']} (ECE {cal['ece']:.3f})")
    ax.set(xlabel="top posterior probability", ylabel="share correct", xlim=(0, 1.02), ylim=(0, 1.02),
           title="Reliability of the first question")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _effort(report: dict[str, Any], path: Path) -> Path:
    policies = list(report["policies"].values())
    names = [p["title"].split(",")[0].split(" (")[0] for p in policies]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.bar(names, [p["human_per_retired"] or 0 for p in policies], color="tab:blue")
    left.set(ylabel="human classifications per retired galaxy")
    first = next(iter(policies[0]["questions"]), None) if policies else None
    right.bar(names, [(p["questions"].get(first) or {}).get("accuracy") or 0 for p in policies], color="tab:green")
    right.set(ylabel=f"accuracy on {first}", ylim=(0.5, 1.0))
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=20, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
