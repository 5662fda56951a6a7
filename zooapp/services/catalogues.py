"""What scientists take away: the galaxy and clump catalogues, COCO boxes and raw classifications.

Tables are astropy tables whose columns (zooapp/services/datamodel.py) carry a unit, a UCD
(IVOA UCD1+) and a description, so that FITS, VOTable and ECSV all keep them. Galaxy columns
follow the Galaxy Zoo 2 release (Willett et al. 2013): ``t01_smooth_or_features_a01_smooth_count``;
the conventions themselves (names, intervals, flags, debiasing) live in ``aggregation.catalogue``.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Callable, Iterator

import numpy as np
from astropy import units as u
from astropy.table import Table
from astropy.wcs import WCS
from django.utils import timezone

from aggregation.catalogue import (INTERVAL_MASS, QuestionStems, clean_flags, debias_fractions, gz2_stems,
                                   posterior_interval, reach_fractions, vote_fraction_interval, well_sampled)
from aggregation.contracts import annotations_to_records
from aggregation.schema import TaskTree
from zooapp.access import public_metadata
from zooapp.models import (Classification, ConsensusBox, Prediction, Reliability, Retirement, Subject,
                           SubjectPosterior, Volunteer, Workflow)
from zooapp.services.aggregation import tree_for_version, version_tree
from zooapp.services.datamodel import Col, catalogue_columns, table_from_rows

REDSHIFT_KEYS = ("redshift", "z", "REDSHIFT")
SIZE_KEYS = ("petro_r50", "petroR50_r", "size", "r50")
Progress = Callable[[float], None]


def no_progress(_: float) -> None:
    return None


def _provenance(workflow: Workflow) -> dict[str, Any]:
    version = workflow.current_version
    return {"ORIGIN": "zooloop", "WORKFLOW": workflow.pk, "WFNAME": workflow.name,
            "WFVERS": version.number if version else 0, "RETRULES": json.dumps(workflow.retirement_rules),
            "AGGREG": "online SWAP / Dawid-Skene (zooloop engine)", "CREDMASS": INTERVAL_MASS,
            "DATE": timezone.now().strftime("%Y-%m-%dT%H:%M:%S")}


def _latest_retirements(workflow: Workflow) -> dict[int, Retirement]:
    out: dict[int, Retirement] = {}
    for r in Retirement.objects.filter(subject__workflow=workflow).order_by("created_at", "id"):
        out[r.subject_id] = r
    return out


def _machine_predictions(workflow: Workflow) -> dict[tuple[int, str], list[float]]:
    rows = Prediction.objects.filter(model_version__workflow=workflow, model_version__serving=True,
                                     model_version__kind="classifier")
    return {(p.subject_id, p.task): p.probs for p in rows}


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _metadata_number(metadata: dict, keys: tuple[str, ...]) -> float:
    for key in keys:
        try:
            return float(metadata[key])
        except (KeyError, TypeError, ValueError):
            continue
    return float("nan")


class _Evidence:
    """What the engine saw, per subject and question: the posteriors, and every vote with its agent's alpha."""

    def __init__(self, workflow: Workflow, subject_ids: list[int]):
        self.posts = {(p.subject_id, p.task): p for p in
                      SubjectPosterior.objects.filter(subject_id__in=subject_ids)}
        alphas = {(r.volunteer_id, r.task): r.alpha for r in Reliability.objects.filter(workflow=workflow)}
        self.votes: dict[tuple[int, str], list[tuple[np.ndarray, int]]] = defaultdict(list)
        self.n_machine: dict[int, int] = defaultdict(int)
        rows = (Classification.objects.filter(workflow=workflow, subject_id__in=subject_ids,
                                              aggregation_seq__isnull=False)
                .values_list("subject_id", "volunteer_id", "volunteer__kind", "workflow_version_id", "annotations",
                             "machine_confusion").order_by("aggregation_seq"))
        for subject_id, volunteer_id, kind, version_id, annotations, measured in rows.iterator(chunk_size=500):
            self.n_machine[subject_id] += int(kind != Volunteer.Kind.HUMAN)
            tree = tree_for_version(version_id)
            records = annotations_to_records(tree, [(subject_id, volunteer_id, annotations)])
            for question, votes in records.votes.items():
                alpha = (measured or {}).get(question) or alphas.get((volunteer_id, question))
                if alpha is not None:
                    labels = tree.tasks[question].labels
                    self.votes[(subject_id, question)] += [(np.asarray(alpha, float), labels.index(v))
                                                           for _, _, v in votes]


def _question_cells(task: dict, post: SubjectPosterior | None) -> dict[str, np.ndarray]:
    labels = [a["label"] for a in task["answers"]]
    counts, weighted = np.zeros(len(labels)), np.zeros(len(labels))
    if post is not None:
        index = {label: i for i, label in enumerate(post.labels)}
        for i, label in enumerate(labels):
            if label in index:
                counts[i], weighted[i] = post.vote_counts[index[label]], post.weighted_counts[index[label]]
    total, wtotal = counts.sum(), weighted.sum()
    lo, hi = vote_fraction_interval(counts)
    return {"counts": counts, "fraction": counts / total if total else np.full(len(labels), np.nan),
            "weighted": weighted / wtotal if wtotal else np.full(len(labels), np.nan), "lo": lo, "hi": hi}


def _posterior_cells(task: dict, post: SubjectPosterior | None, votes: list, seed: int) -> dict[str, np.ndarray]:
    labels = [a["label"] for a in task["answers"]]
    nan = np.full(len(labels), np.nan)
    if post is None or task["type"] != "single" or list(post.labels) != labels:
        return {"posterior": nan, "posterior_lo": nan, "posterior_hi": nan}
    log_post = np.asarray(post.log_posterior, dtype=float)
    lo, hi = posterior_interval(log_posterior=log_post, votes=votes, random_state=seed)
    return {"posterior": np.asarray(post.probabilities, dtype=float), "posterior_lo": lo, "posterior_hi": hi}


def _catalogue_subjects(workflow: Workflow, retired_only: bool, include_unclassified: bool) -> list[Subject]:
    """Non-gold subjects; by default only those the engine has evidence on, so no prior passes as a measurement."""
    subjects = Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id")
    if retired_only:
        subjects = subjects.filter(status=Subject.Status.RETIRED)
    if not include_unclassified:
        seen = Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=False).values("subject_id")
        subjects = subjects.filter(pk__in=seen)
    return list(subjects)


def _debias(tree: dict, stems: dict[str, QuestionStems], subjects: list[Subject], cells: dict) -> bool:
    """Add ``debiased`` fractions to ``cells`` when redshift and size are in the subjects' metadata."""
    z = np.array([_metadata_number(s.metadata, REDSHIFT_KEYS) for s in subjects])
    size = np.array([_metadata_number(s.metadata, SIZE_KEYS) for s in subjects])
    if not (np.isfinite(z) & np.isfinite(size)).any():
        return False
    for key in stems:
        weighted = np.array([cells[(s.pk, key)]["weighted"] for s in subjects])
        fixed = debias_fractions(weighted, redshift=z, size=size)
        fixed[~(np.isfinite(z) & np.isfinite(size))] = np.nan  # no distance, no correction
        for s, row in zip(subjects, fixed):
            cells[(s.pk, key)]["debiased"] = row
    return True


def _question_row(q: QuestionStems, cells: dict, posterior: dict, machine: list[float] | None,
                  reach: float) -> dict[str, Any]:
    n = int(cells["counts"].sum())
    sampled = well_sampled(n_votes=n, reach=reach, threshold=q.threshold)
    flags = clean_flags(cells.get("debiased", cells["weighted"]), sampled=sampled)
    row: dict[str, Any] = {f"{q.task}_total_votes": n, f"{q.task}_well_sampled": sampled}
    for i, stem in enumerate(q.answers):
        row.update({f"{stem}_count": int(cells["counts"][i]), f"{stem}_fraction": cells["fraction"][i],
                    f"{stem}_fraction_lo": cells["lo"][i], f"{stem}_fraction_hi": cells["hi"][i],
                    f"{stem}_weighted_fraction": cells["weighted"][i], f"{stem}_flag": bool(flags[i]),
                    f"{stem}_posterior": posterior["posterior"][i],
                    f"{stem}_posterior_lo": posterior["posterior_lo"][i],
                    f"{stem}_posterior_hi": posterior["posterior_hi"][i],
                    f"{stem}_machine": float(machine[i]) if machine and i < len(machine) else np.nan})
        if "debiased" in cells:
            row[f"{stem}_debiased"] = cells["debiased"][i]
    return row


def _subject_row(s: Subject, r: Retirement | None, n_clumps: int, n_machine: int) -> dict[str, Any]:
    return {"subject_id": s.pk, "external_id": s.external_id, "ra": _nan(s.ra), "dec": _nan(s.dec),
            "total_classifications": s.n_classifications, "n_machine_classifications": n_machine,
            "retired": s.is_retired, "retirement_reason": r.reason if r else "", "retired_by": r.agent if r else "",
            "retired_at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r else "", "n_clumps": n_clumps}


def catalogue_table(*, workflow: Workflow, retired_only: bool = False, include_unclassified: bool = False,
                    progress: Progress = no_progress) -> Table:
    """The galaxy catalogue: one row per classified non-gold subject, GZ2 columns per question and answer.

    Columns are :func:`zooapp.services.datamodel.catalogue_columns`; what each means is in docs/EXPORTS.md.
    ``include_unclassified`` adds subjects nobody has classified (counts 0, fractions and posteriors NaN).
    """
    tree = workflow.current_version.tree
    stems = gz2_stems(tree)
    subjects = _catalogue_subjects(workflow, retired_only, include_unclassified)
    evidence = _Evidence(workflow, [s.pk for s in subjects])
    cells = {(s.pk, key): _question_cells(tree["tasks"][key], evidence.posts.get((s.pk, key)))
             for s in subjects for key in stems}
    debiased = _debias(tree, stems, subjects, cells)
    machine, retired = _machine_predictions(workflow), _latest_retirements(workflow)
    n_boxes = _count_by_subject(ConsensusBox.objects.filter(subject__workflow=workflow))
    rows = []
    for k, s in enumerate(subjects):
        retirement = retired.get(s.pk) if s.is_retired else None
        row = _subject_row(s, retirement, n_boxes.get(s.pk, 0), evidence.n_machine[s.pk])
        reach = reach_fractions(tree, {key: cells[(s.pk, key)]["fraction"] for key in stems})
        for key, q in stems.items():
            posterior = _posterior_cells(tree["tasks"][key], evidence.posts.get((s.pk, key)),
                                         evidence.votes.get((s.pk, key), []), seed=s.pk)
            row.update(_question_row(q, cells[(s.pk, key)], posterior, machine.get((s.pk, key)), reach[key]))
        row["total_votes"] = sum(row[f"{q.task}_total_votes"] for q in stems.values())
        rows.append(row)
        if k % 200 == 0:
            progress(k / max(len(subjects), 1))
    columns = catalogue_columns(tree=tree, stems=stems, debiased=debiased)
    return table_from_rows(columns, rows, {**_provenance(workflow), "DEBIASED": debiased})


def catalogue_datamodel(*, workflow: Workflow, table: Table) -> list[Col]:
    """The columns of a catalogue ``table`` of ``workflow``, from the same definitions that wrote it."""
    tree = workflow.current_version.tree
    return catalogue_columns(tree=tree, stems=gz2_stems(tree), debiased=bool(table.meta.get("DEBIASED")))


def _count_by_subject(boxes) -> dict[int, int]:
    out: dict[int, int] = {}
    for subject_id in boxes.values_list("subject_id", flat=True):
        out[subject_id] = out.get(subject_id, 0) + 1
    return out


CLUMP_COLUMNS = [
    Col("clump_id", np.int64, "meta.id;meta.main", "zooloop consensus box id"),
    Col("subject_id", np.int64, "meta.id", "zooloop subject id of the host galaxy"),
    Col("external_id", str, "meta.id", "host galaxy identifier from the subject manifest"),
    Col("x_min", np.float64, "pos.cartesian.x;stat.min", "left edge, image pixels from the left", u.pix),
    Col("y_min", np.float64, "pos.cartesian.y;stat.min", "top edge, image pixels from the top", u.pix),
    Col("x_max", np.float64, "pos.cartesian.x;stat.max", "right edge, image pixels from the left", u.pix),
    Col("y_max", np.float64, "pos.cartesian.y;stat.max", "bottom edge, image pixels from the top", u.pix),
    Col("ra", np.float64, "pos.eq.ra;meta.main", "right ascension of the box centre (from the WCS)", u.deg),
    Col("dec", np.float64, "pos.eq.dec;meta.main", "declination of the box centre (from the WCS)", u.deg),
    Col("p_real", np.float64, "stat.probability", "probability that the clump is real"),
    Col("n_workers", np.int64, "meta.number", "volunteers who marked this clump"),
    Col("n_seen", np.int64, "meta.number", "volunteers who saw the drawing task for this image"),
]


def box_centre_radec(subject: Subject, box: ConsensusBox, wcs: WCS | None) -> tuple[float, float]:
    """Sky position of a box centre; the display image is the FITS image flipped top to bottom."""
    if wcs is None:
        return float("nan"), float("nan")
    cx, cy = (box.x_min + box.x_max) / 2, (box.y_min + box.y_max) / 2
    # Display pixel i spans [i, i+1); FITS 0-based pixel centres sit at integers, and row r from the
    # top of the display is FITS row (height - 1 - r).
    ra, dec = wcs.pixel_to_world_values(cx - 0.5, subject.height - 0.5 - cy)
    return float(ra), float(dec)


def clump_table(*, workflow: Workflow, progress: Progress = no_progress) -> Table:
    """The clump catalogue: one row per consensus box of a non-gold subject."""
    boxes = list(ConsensusBox.objects.filter(subject__workflow=workflow, subject__is_gold=False)
                 .select_related("subject").order_by("subject_id", "id"))
    wcs_cache: dict[int, WCS | None] = {}
    rows = []
    for k, b in enumerate(boxes):
        s = b.subject
        if s.pk not in wcs_cache:
            wcs_cache[s.pk] = WCS(s.wcs_header, naxis=2) if s.wcs_header else None
        ra, dec = box_centre_radec(s, b, wcs_cache[s.pk])
        rows.append({"clump_id": b.pk, "subject_id": s.pk, "external_id": s.external_id, "x_min": b.x_min,
                     "y_min": b.y_min, "x_max": b.x_max, "y_max": b.y_max, "ra": ra, "dec": dec,
                     "p_real": b.p_real, "n_workers": b.n_workers, "n_seen": b.n_seen})
        if k % 200 == 0:
            progress(k / max(len(boxes), 1))
    return table_from_rows(CLUMP_COLUMNS, rows, _provenance(workflow))


def coco_document(*, workflow: Workflow) -> dict[str, Any]:
    """Consensus boxes as COCO detection JSON; every image whose boxes were aggregated is listed,
    so images with no clump are kept as negatives."""
    tree = TaskTree.from_dict(workflow.current_version.tree)
    tools = [tool.label for task in tree.drawing_tasks() for tool in task.tools] or ["clump"]
    subjects = list(Subject.objects.filter(workflow=workflow, is_gold=False, box_risk__isnull=False)
                    .prefetch_related("frames", "consensus_boxes").order_by("id"))
    images, annotations = [], []
    for s in subjects:
        frame = s.frames.all()[0] if s.frames.all() else None
        images.append({"id": s.pk, "file_name": frame.image.name.rsplit("/", 1)[-1] if frame else "",
                       "width": s.width, "height": s.height, "external_id": s.external_id})
        for b in s.consensus_boxes.all():
            w, h = b.x_max - b.x_min, b.y_max - b.y_min
            annotations.append({"id": b.pk, "image_id": s.pk, "category_id": 1, "bbox": [b.x_min, b.y_min, w, h],
                                "area": w * h, "iscrowd": 0, "score": b.p_real, "n_workers": b.n_workers,
                                "n_seen": b.n_seen})
    return {"info": {"description": f"zooloop consensus boxes, workflow {workflow.pk} ({workflow.name})",
                     "date_created": timezone.now().isoformat()},
            "images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": tools[0], "supercategory": "galaxy_feature"}]}


CLASSIFICATION_COLUMNS = ["classification_id", "user_name", "user_id", "user_ip", "workflow_id", "workflow_name",
                          "workflow_version", "created_at", "gold_standard", "expert", "metadata", "annotations",
                          "subject_data", "subject_ids"]


def classification_rows(*, workflow: Workflow, retired_only: bool = False, workflow_version: int | None = None,
                        progress: Progress = no_progress) -> Iterator[dict[str, str]]:
    """Human classifications in the Zooniverse (Panoptes) classification-export format.

    Question answers are given as their display text, as Panoptes does; boxes as
    rectangle marks ``{tool, x, y, width, height}`` with ``x, y`` the top-left corner.
    ``retired_only`` keeps classifications of retired subjects; ``workflow_version`` those of one version.
    """
    qs = (Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
          .select_related("volunteer__user", "workflow_version", "subject").order_by("id"))
    if retired_only:
        qs = qs.filter(subject__status=Subject.Status.RETIRED)
    if workflow_version is not None:
        qs = qs.filter(workflow_version__number=workflow_version)
    total = max(qs.count(), 1)
    retired = _latest_retirements(workflow)
    for k, c in enumerate(qs.iterator(chunk_size=500)):
        yield _classification_row(workflow, c, version_tree(c.workflow_version), retired.get(c.subject_id))
        if k % 500 == 0:
            progress(k / total)


def _classification_row(workflow: Workflow, c: Classification, tree: TaskTree,
                        retirement: Retirement | None) -> dict[str, str]:
    user = c.volunteer.user
    name = user.get_username() if user else c.volunteer.name or f"not-logged-in-{c.volunteer_id}"
    s = c.subject
    meta = {"source": "zooloop", "started_at": _iso(c.started_at), "finished_at": _iso(c.finished_at),
            "user_agent": c.user_agent, "subject_dimensions": [{"naturalWidth": s.width, "naturalHeight": s.height}]}
    retired = None
    if retirement is not None and s.is_retired:
        retired = {"retired_at": _iso(retirement.created_at), "retirement_reason": retirement.reason,
                   "classifications_count": s.n_classifications}
    subject_data = {str(s.pk): {"retired": retired, **public_metadata(s.metadata), "ra": s.ra, "dec": s.dec,
                                "external_id": s.external_id}}
    return {"classification_id": str(c.pk), "user_name": name, "user_id": str(user.pk) if user else "",
            "user_ip": "", "workflow_id": str(workflow.pk), "workflow_name": workflow.name,
            "workflow_version": f"{c.workflow_version.number}.0",
            "created_at": c.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "gold_standard": "true" if s.is_gold else "", "expert": "", "metadata": json.dumps(meta),
            "annotations": json.dumps([_zooniverse_annotation(tree, a) for a in c.annotations]),
            "subject_data": json.dumps(subject_data), "subject_ids": str(s.pk)}


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else None


def _zooniverse_annotation(tree: TaskTree, ann: dict[str, Any]) -> dict[str, Any]:
    task = tree.tasks.get(ann["task"])
    if task is None:
        return dict(ann)
    if task.type == "drawing":
        tools = [t.label for t in task.tools]
        marks = [{"tool": tools.index(m["tool"]) if m["tool"] in tools else 0, "tool_label": m["tool"],
                  "frame": 0, "x": m["x_min"], "y": m["y_min"], "width": m["x_max"] - m["x_min"],
                  "height": m["y_max"] - m["y_min"], "details": []} for m in ann["value"]]
        return {"task": task.key, "task_label": task.question, "value": marks}
    text = {a.label: a.text for a in task.answers}
    value = [text.get(v, v) for v in ann["value"]] if task.type == "multiple" else text.get(ann["value"],
                                                                                           ann["value"])
    return {"task": task.key, "task_label": task.question, "value": value}


def zooniverse_workflow_document(*, workflow: Workflow) -> dict[str, Any]:
    """The current task tree as a Zooniverse workflow-version resource (``tasks`` with keys into ``strings``),
    so that tools reading Panoptes exports can decode the classification export."""
    version = workflow.current_version
    tree = TaskTree.from_dict(version.tree)
    tasks, strings = {}, {}
    for key, task in tree.tasks.items():
        if task.type == "drawing":
            strings[f"{key}.instruction"] = task.question
            tasks[key] = {"type": "drawing", "instruction": f"{key}.instruction", "next": task.next,
                          "tools": [{"type": "rectangle", "label": f"{key}.tools.{i}.label", "max": tool.max}
                                    for i, tool in enumerate(task.tools)]}
            strings.update({f"{key}.tools.{i}.label": tool.label for i, tool in enumerate(task.tools)})
            continue
        strings[f"{key}.question"] = task.question
        tasks[key] = {"type": task.type, "question": f"{key}.question",
                      "answers": [{"label": f"{key}.answers.{i}.label", **({"next": a.next} if a.next else {})}
                                  for i, a in enumerate(task.answers)]}
        if task.type == "multiple":
            tasks[key]["next"] = task.next
        strings.update({f"{key}.answers.{i}.label": a.text for i, a in enumerate(task.answers)})
    return {"id": str(version.pk), "first_task": tree.first_task, "major_number": str(version.number),
            "minor_number": "0", "links": {"workflow": str(workflow.pk)}, "display_name": workflow.name,
            "tasks": tasks, "strings": strings}
