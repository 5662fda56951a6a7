"""The catalogue's columns, defined once: the export writes them and the data model document describes them.

Every column carries a unit, a UCD (IVOA UCD1+) and a description, so that FITS, VOTable and ECSV all keep
them; :func:`datamodel_markdown` renders the same list, so the document cannot drift from the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import Column, Table

from aggregation.catalogue import CLEAN_THRESHOLD, INTERVAL_MASS, WELL_SAMPLED_VOTES, QuestionStems


@dataclass(frozen=True)
class Col:
    name: str
    dtype: Any
    ucd: str
    description: str
    unit: Any = None


def table_from_rows(cols: list[Col], rows: list[dict[str, Any]], meta: dict[str, Any]) -> Table:
    """An astropy table with exactly ``cols``, in order, filled from ``rows``."""
    table = Table(meta=meta)
    for c in cols:
        column = Column([row[c.name] for row in rows], name=c.name, dtype=c.dtype, unit=c.unit,
                        description=c.description)
        column.meta["ucd"] = c.ucd
        table.add_column(column)
    return table


SUBJECT_COLUMNS = [
    Col("subject_id", np.int64, "meta.id;meta.main", "zooloop subject id"),
    Col("external_id", str, "meta.id", "identifier given in the subject manifest"),
    Col("ra", np.float64, "pos.eq.ra;meta.main", "right ascension (ICRS)", u.deg),
    Col("dec", np.float64, "pos.eq.dec;meta.main", "declination (ICRS)", u.deg),
    Col("total_classifications", np.int64, "meta.number", "human classifications aggregated (GZ2 name)"),
    Col("total_votes", np.int64, "meta.number", "human answers to all questions, summed (GZ2 name)"),
    Col("n_machine_classifications", np.int64, "meta.number", "classifier votes aggregated (not in the counts)"),
    Col("retired", bool, "meta.code.status", "whether the subject is retired"),
    Col("retirement_reason", str, "meta.note", "rule that retired the subject"),
    Col("retired_by", str, "meta.note", "agent whose evidence retired it: humans or machine"),
    Col("retired_at", str, "time.epoch", "UTC time of retirement (ISO 8601)"),
    Col("n_clumps", np.int64, "meta.number", "consensus clump boxes"),
]


def _question_columns(q: QuestionStems, question: str) -> list[Col]:
    gate = f" and a previous-task fraction >= {q.threshold}" if q.threshold is not None else ""
    return [Col(f"{q.task}_total_votes", np.int64, "meta.number", f"human votes on {question!r}"),
            Col(f"{q.task}_well_sampled", bool, "meta.code.qual",
                f"Willett+13 Table 3: >= {WELL_SAMPLED_VOTES} votes{gate}")]


def _answer_columns(stem: str, what: str, *, posterior: bool, debiased: bool) -> list[Col]:
    mass = f"{INTERVAL_MASS:.0%}"
    cols = [Col(f"{stem}_count", np.int64, "meta.number", f"human votes for {what}"),
            Col(f"{stem}_fraction", np.float64, "arith.ratio", f"fraction of the question's votes for {what}"),
            Col(f"{stem}_fraction_lo", np.float64, "arith.ratio;stat.min",
                f"lower end of the central {mass} Jeffreys interval of the population vote fraction"),
            Col(f"{stem}_fraction_hi", np.float64, "arith.ratio;stat.max",
                f"upper end of the central {mass} Jeffreys interval of the population vote fraction"),
            Col(f"{stem}_weighted_fraction", np.float64, "arith.ratio",
                f"volunteer-skill-weighted vote fraction for {what}")]
    if debiased:
        cols.append(Col(f"{stem}_debiased", np.float64, "arith.ratio",
                        "weighted fraction debiased for redshift and size (Hart+16 style)"))
    cols.append(Col(f"{stem}_flag", bool, "meta.code.class",
                    f"clean: well sampled and {'debiased' if debiased else 'weighted'} fraction >= {CLEAN_THRESHOLD}"))
    if posterior:
        cols += [Col(f"{stem}_posterior", np.float64, "stat.probability", f"engine posterior probability of {what}"),
                 Col(f"{stem}_posterior_lo", np.float64, "stat.probability;stat.min",
                     f"lower end of the central {mass} credible interval of the posterior (voter skill uncertain)"),
                 Col(f"{stem}_posterior_hi", np.float64, "stat.probability;stat.max",
                     f"upper end of the central {mass} credible interval of the posterior (voter skill uncertain)"),
                 Col(f"{stem}_machine", np.float64, "stat.probability;meta.modelled",
                     f"serving classifier's probability of {what}")]
    return cols


def catalogue_columns(*, tree: dict[str, Any], stems: dict[str, QuestionStems], debiased: bool) -> list[Col]:
    """Every column of the galaxy catalogue of a stored task tree, in the order written."""
    cols = list(SUBJECT_COLUMNS)
    for key, q in stems.items():
        task = tree["tasks"][key]
        cols += _question_columns(q, task.get("question", key))
        for stem, answer in zip(q.answers, task["answers"]):
            cols += _answer_columns(stem, f"{key} = {answer['label']!r}", posterior=task["type"] == "single",
                                    debiased=debiased)
    return cols


def datamodel_rows(columns: list[Col]) -> list[dict[str, str]]:
    """The columns as plain records (name, type, unit, UCD, description) for JSON."""
    return [{"name": c.name, "dtype": np.dtype(c.dtype).name if c.dtype is not str else "str",
             "unit": str(c.unit) if c.unit is not None else "", "ucd": c.ucd, "description": c.description}
            for c in columns]


def datamodel_markdown(*, title: str, tables: dict[str, list[Col]]) -> str:
    """A Markdown data model: one table of columns per catalogue file."""
    lines = [f"# {title}", "", "Generated from the code that writes the catalogues (zooapp/services/datamodel.py).",
             "See docs/EXPORTS.md for what each quantity means and how it is computed.", ""]
    for name, cols in tables.items():
        lines += [f"## {name}", "", "| column | type | unit | UCD | description |", "|---|---|---|---|---|"]
        lines += [f"| `{r['name']}` | {r['dtype']} | {r['unit']} | {r['ucd']} | {r['description']} |"
                  for r in datamodel_rows(cols)]
        lines.append("")
    return "\n".join(lines)
