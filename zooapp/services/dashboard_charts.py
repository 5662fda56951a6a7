"""The dashboard's charts, drawn server-side with matplotlib as inline SVG (no JavaScript chart library)."""
from __future__ import annotations

import io
from typing import Any, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

TEXT, MUTED, LINE = "#e7ebf5", "#a3adc6", "#27304a"
ACCENT, OK, WARN = "#7cc4ff", "#6fdc9a", "#ffcf5c"
STYLE = {"svg.fonttype": "none", "font.size": 9, "text.color": TEXT, "axes.labelcolor": MUTED,
         "axes.edgecolor": LINE, "xtick.color": MUTED, "ytick.color": MUTED, "axes.titlecolor": TEXT,
         "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True}


def _figure(width: float = 4.6, height: float = 2.6, **kwargs) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Title": title, "Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):].replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def _empty(message: str) -> str:
    with matplotlib.rc_context(STYLE):
        fig = _figure(height=1.2)
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", color=MUTED)
    return _svg(fig, message)


def retirement_chart(timeline: dict[str, Any]) -> str:
    if not timeline["times"]:
        return _empty("No subject retired yet")
    with matplotlib.rc_context(STYLE):
        fig = _figure(width=9.0, height=3.0)
        ax = fig.add_subplot()
        ax.step(timeline["times"], timeline["counts"], where="post", color=ACCENT, label="retired")
        ax.axhline(timeline["total"], color=MUTED, linestyle=":", linewidth=1, label="all subjects")
        forecast = timeline["forecast"]
        if forecast and forecast["eta"]:
            ax.plot([timeline["times"][-1], forecast["eta"]], [timeline["counts"][-1], timeline["total"]],
                    color=WARN, linestyle="--", label="forecast at the recent rate")
        ax.set_ylabel("retired subjects")
        ax.legend(loc="lower right", frameon=False, labelcolor=MUTED)
        fig.autofmt_xdate()
    return _svg(fig, "Retired subjects over time, with the forecast completion")


def histogram_chart(values: Sequence[float], *, title: str, xlabel: str, bins: int = 20,
                    value_range: tuple[float, float] | None = None, marker: float | None = None) -> str:
    if len(values) == 0:
        return _empty(f"{title}: no data yet")
    with matplotlib.rc_context(STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        ax.hist(values, bins=bins, range=value_range, color=ACCENT, edgecolor=LINE)
        if marker is not None:
            ax.axvline(marker, color=WARN, linestyle="--", linewidth=1.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("subjects")
        ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, title)


def _heatmap(ax, mean: np.ndarray, std: np.ndarray | None, labels: list[str], title: str) -> None:
    ax.imshow(mean, vmin=0, vmax=1 if std is not None else max(mean.max(), 1), cmap="viridis")
    for (i, j), m in np.ndenumerate(mean):
        text = f"{m:.2f}\n±{std[i, j]:.2f}" if std is not None else f"{int(m)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if m < 0.6 * mean.max() else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_title(title, fontsize=8)


def skills_chart(skills: list[dict[str, Any]], labels: list[str]) -> str:
    """One small confusion matrix per volunteer: rows the true class, columns the answer given."""
    if not skills or not labels:
        return _empty("No volunteer has voted yet")
    with matplotlib.rc_context(STYLE):
        fig = _figure(width=min(2.0 * len(skills), 12), height=2.6)
        for k, s in enumerate(skills):
            ax = fig.add_subplot(1, len(skills), k + 1)
            _heatmap(ax, np.asarray(s["mean"]), np.asarray(s["std"]), labels,
                     f"{s['name'][:18]} ({s['n_votes']} votes)")
            if k:
                ax.set_yticks([])
    return _svg(fig, "Volunteer confusion matrices with Dirichlet standard deviations")


def agreement_chart(agreement: dict[str, Any]) -> str:
    if not agreement["n"]:
        return _empty("No classifier has been scored on held-out galaxies yet")
    with matplotlib.rc_context(STYLE):
        fig = _figure(width=3.4, height=3.0)
        ax = fig.add_subplot()
        _heatmap(ax, np.asarray(agreement["matrix"], dtype=float), None, agreement["labels"],
                 f"right on {agreement['agree']} of {agreement['n']}")
        ax.set_ylabel("known answer")
        ax.set_xlabel("classifier")
    return _svg(fig, "Serving classifier against known answers on the held-out set")


def comparison_chart(rows: list[dict[str, Any]], *, throughput: Sequence[tuple[int, float]] = ()) -> str:
    """Held-out accuracy per classifier version with its 95% interval (the serving version filled) and, on an
    axis of its own, training images per second: one unit per axis, so neither flattens the other."""
    if not rows and not throughput:
        return _empty("No classifier scored on the held-out set yet")
    with matplotlib.rc_context(STYLE):
        fig = _figure(width=9.0, height=2.8)
        ax = fig.add_subplot(1, 2 if throughput else 1, 1)
        for row in rows:
            if row["accuracy"] is None:
                continue
            err = [[row["accuracy"] - row["lower"]], [row["upper"] - row["accuracy"]]]
            ax.errorbar([row["number"]], [row["accuracy"]], yerr=err, fmt="o", capsize=3,
                        mfc=None if row["serving"] else "none", color=ACCENT if row["serving"] else MUTED)
        ax.set_xlabel("classifier version")
        ax.set_ylabel("held-out accuracy (fraction)")
        ax.set_ylim(0, 1.02)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if throughput:
            speed = fig.add_subplot(1, 2, 2)
            speed.bar([n for n, _ in throughput], [v for _, v in throughput], color=ACCENT, width=0.6)
            speed.set_xlabel("classifier version")
            speed.set_ylabel("training speed (images/s)")
            speed.xaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, "Classifier versions: held-out accuracy with 95% intervals, and training speed")
