"""Aggregation CPU per classification as the survey grows (issue #11: it must stay flat).

Usage:
    nice -n 10 .venv/bin/python -m benchmarks.aggregation.per_vote_cost [--sizes 10000 50000 200000]
        [--batch 10] [--repeats 15] [--views-per-subject 20]
Profile one size:
    nice -n 10 .venv/bin/python -m cProfile -s cumulative -m benchmarks.aggregation.per_vote_cost \
        --sizes 10000 --repeats 5 | head -60

It seeds one workflow of the demo tree in a throw-away SQLite file (or in the database
named by DATABASE_URL, which it migrates first), grows it to each size with stored,
already-aggregated classifications and their engine rows (``--views-per-subject`` views per
subject, so the survey grows in subjects as real ones do), then adds ``--batch`` new
classifications at a time and times the service that consumes them,
``workflow_aggregate_pending``. The "+ retrain check" column adds the check the Celery
task runs after each aggregation, ``schedule.workflow_needs_retraining``.

Times are CPU seconds of this process (time.process_time) per classification, median over
``--repeats`` batches: with SQLite the database engine runs in this process and is
counted; with PostgreSQL the server's CPU is not (the wall column shows it). The seeding
uses only tables and services that predate the counters, so the same file measures an
older checkout (copy it there) and before/after numbers compare.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

if "DATABASE_URL" not in os.environ:  # never touch the developer's own database
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(tempfile.mkdtemp(prefix='zooloop-bench-')) / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from benchmarks.workflows import endless_workflow_create  # noqa: E402
from zooapp.models import (Classification, Reliability, Subject, SubjectPosterior, SubjectSet,  # noqa: E402
                           Volunteer, Workflow)
from zooapp.services.aggregation import workflow_aggregate_pending  # noqa: E402

BOX = {"tool": "clump", "x_min": 10.0, "y_min": 12.0, "x_max": 20.0, "y_max": 25.0}
WALKS = [  # the demo tree's three walks; the featured one draws a box
    [{"task": "T0", "value": "smooth"}, {"task": "T1", "value": "round"}, {"task": "T5", "value": []}],
    [{"task": "T0", "value": "featured"}, {"task": "T2", "value": "yes"}, {"task": "T5", "value": [BOX]}],
    [{"task": "T0", "value": "artifact"}],
]
QUESTIONS = {"T0": ["smooth", "featured", "artifact"], "T1": ["round", "in_between", "cigar"], "T2": ["yes", "no"]}
PER_VOLUNTEER = 20  # seeded row i is volunteer i // 20's view of subject i % n_subjects: never the same pair twice
MEASURED_VOLUNTEERS = 50  # the measured batches come from the first 50 volunteers, on subjects they have not seen
CHUNK = 5000


def workflow_seed() -> Workflow:
    """A workflow that never retires or retrains, so every batch does the same work."""
    workflow = endless_workflow_create(title="Per-vote cost", name="Bench", prefix="bench", machine_agent=False)
    SubjectSet.objects.create(project=workflow.project, workflow=workflow, name="bench")
    return workflow


def _posterior_rows(subject_ids: list[int]) -> list[SubjectPosterior]:
    return [SubjectPosterior(subject_id=pk, task=key, labels=labels, log_posterior=[-1.0] * len(labels),
                             vote_counts=[1.0] * len(labels), weighted_counts=[0.5] * len(labels))
            for pk in subject_ids for key, labels in QUESTIONS.items()]


def subjects_grow(workflow: Workflow, n_subjects: int) -> list[int]:
    """Add subjects (rows only: aggregation never reads pixels) with their posteriors, up to ``n_subjects``."""
    subject_set = workflow.subject_sets.get()
    have = Subject.objects.filter(workflow=workflow).count()
    new = [Subject(workflow=workflow, subject_set=subject_set, external_id=f"B{i}", width=64, height=64,
                   content_hash=f"{i:064x}") for i in range(have, n_subjects)]
    for start in range(0, len(new), CHUNK):
        made = Subject.objects.bulk_create(new[start:start + CHUNK])
        SubjectPosterior.objects.bulk_create(_posterior_rows([s.pk for s in made]))
    return list(Subject.objects.filter(workflow=workflow).order_by("pk").values_list("pk", flat=True))


def volunteers_upto(n: int) -> list[int]:
    have = list(Volunteer.objects.filter(name__startswith="bench-").order_by("pk").values_list("pk", flat=True))
    made = Volunteer.objects.bulk_create([Volunteer(name=f"bench-{i}") for i in range(len(have), n)])
    return have + [v.pk for v in made]


def classifications_grow(workflow: Workflow, done: int, n_total: int, views_per_subject: int) -> None:
    """Stored, aggregated classifications (and the engine rows they made) from seeded row ``done`` to ``n_total``."""
    subjects = subjects_grow(workflow, max(n_total // views_per_subject, PER_VOLUNTEER, MEASURED_VOLUNTEERS))
    volunteers = volunteers_upto(max(n_total // PER_VOLUNTEER + 1, MEASURED_VOLUNTEERS))
    version = workflow.current_version
    for start in range(done, n_total, CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, n_total)):
            rows.append(Classification(workflow=workflow, workflow_version=version,
                                       subject_id=subjects[i % len(subjects)],
                                       volunteer_id=volunteers[i // PER_VOLUNTEER], annotations=WALKS[i % 3],
                                       aggregation_seq=i + 1))
        Classification.objects.bulk_create(rows)
    _engine_rows(workflow, volunteers, subjects, n_total)


def _engine_rows(workflow: Workflow, volunteers: list[int], subjects: list[int], n_total: int) -> None:
    have = set(Reliability.objects.filter(workflow=workflow).values_list("volunteer_id", flat=True))
    rows = [Reliability(volunteer_id=v, workflow=workflow, task=key, n_votes=20, skill=0.5,
                        alpha=[[4.0 if a == b else 1.0 for b in range(len(labels))] for a in range(len(labels))])
            for v in volunteers if v not in have for key, labels in QUESTIONS.items()]
    Reliability.objects.bulk_create(rows, batch_size=CHUNK)
    Subject.objects.filter(workflow=workflow).update(n_classifications=n_total // len(subjects))
    fields = {"aggregation_seq": n_total}
    if any(f.name == "n_human_classifications" for f in Workflow._meta.get_fields()):
        fields["n_human_classifications"] = n_total  # absent in checkouts before the running counter
    Workflow.objects.filter(pk=workflow.pk).update(**fields)


def pending_add(workflow: Workflow, batch: int, offset: int) -> None:
    """``batch`` new classifications by the first volunteers on subjects they have not seen, spread over the survey."""
    subjects = list(Subject.objects.filter(workflow=workflow).order_by("pk").values_list("pk", flat=True))
    volunteers = volunteers_upto(MEASURED_VOLUNTEERS)
    taken = set(Classification.objects.filter(volunteer_id__in=volunteers).values_list("volunteer_id", "subject_id"))
    rows, step = [], max(len(subjects) // (batch + 1), 1)
    for j in range(len(subjects)):
        s = (offset * 7919 + j * step) % len(subjects)
        v = volunteers[(s + 1 + offset) % MEASURED_VOLUNTEERS]
        if (v, subjects[s]) not in taken:
            taken.add((v, subjects[s]))
            rows.append(Classification(workflow=workflow, workflow_version=workflow.current_version,
                                       subject_id=subjects[s], volunteer_id=v, annotations=WALKS[(j + offset) % 3]))
        if len(rows) == batch:
            break
    Classification.objects.bulk_create(rows)


def measure(workflow: Workflow, batch: int, repeats: int) -> dict[str, float]:
    """Median CPU and wall seconds per classification of the newest ``batch`` classifications."""
    try:
        from zooapp.services.schedule import workflow_needs_retraining
    except ImportError:  # a checkout without the schedule module
        workflow_needs_retraining = None
    cpu, wall, check = [], [], []
    for k in range(repeats):
        pending_add(workflow, batch, k)
        c0, w0 = time.process_time(), time.perf_counter()
        n = workflow_aggregate_pending(workflow_id=workflow.pk, limit=batch)
        c1, w1 = time.process_time(), time.perf_counter()
        if workflow_needs_retraining is not None:
            workflow_needs_retraining(workflow_id=workflow.pk)
        cpu.append((c1 - c0) / n)
        wall.append((w1 - w0) / n)
        check.append((time.process_time() - c0) / n)
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall), "check": statistics.median(check)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--batch", type=int, default=10, help="classifications per measured batch")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--views-per-subject", type=int, default=20)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    workflow = workflow_seed()
    print(f"database: {connection.vendor}; batch of {args.batch}; median of {args.repeats} batches\n")
    print("| classifications | subjects | CPU ms / classification | wall ms / classification "
          "| CPU ms + retrain check |")
    print("|---:|---:|---:|---:|---:|")
    done = 0
    for size in sorted(args.sizes):
        with transaction.atomic():
            classifications_grow(workflow, done, size, args.views_per_subject)
        done = size
        result = measure(workflow, args.batch, args.repeats)
        n_subjects = Subject.objects.filter(workflow=workflow).count()
        print(f"| {size:,} | {n_subjects:,} | {1e3 * result['cpu']:.2f} | {1e3 * result['wall']:.2f} "
              f"| {1e3 * result['check']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
