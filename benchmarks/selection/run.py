"""How fast the queue answers at 100,000 subjects (issue #5: within 50 ms).

Builds a throwaway database (a fresh PostgreSQL database, or a SQLite file), fills one
workflow with N subjects of random priority and a share of gold, then times
`zooapp.selection.queue_next` for volunteers who have already been served many subjects,
so that the query must skip what they have seen. Reports p50/p95/p99 in milliseconds and the
CPU milliseconds (of this process: SQLite's work, not PostgreSQL's) and the SQL queries per request.

    .venv/bin/python -m benchmarks.selection.run --backend postgres --subjects 100000
    .venv/bin/python -m benchmarks.selection.run --backend sqlite --subjects 100000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path


def _database_url(backend: str) -> tuple[str, callable]:
    if backend == "sqlite":
        path = Path(tempfile.mkdtemp()) / "selection.sqlite3"
        return f"sqlite:///{path}", lambda: None
    import psycopg

    name = f"zooloop_sel_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop


def _fill(n_subjects: int, gold_share: float, seed: int):
    from django.contrib.auth import get_user_model
    from tqdm import tqdm

    from zooapp.models import Project, Subject, SubjectSet
    from zooapp.services.demo import DEMO_TREE
    from zooapp.services.projects import workflow_create

    owner = get_user_model().objects.create_user("bench")
    project = Project.objects.create(name="bench", slug="bench", owner=owner)
    workflow = workflow_create(project=project, name="bench", tree=DEMO_TREE)
    subject_set = SubjectSet.objects.create(project=project, workflow=workflow, name="bench")
    rng = random.Random(seed)
    for start in tqdm(range(0, n_subjects, 5000), desc="subjects"):
        Subject.objects.bulk_create([
            Subject(workflow=workflow, subject_set=subject_set, external_id=f"S{i}", width=64, height=64,
                    content_hash=f"{i:064d}", is_gold=rng.random() < gold_share, priority=rng.random())
            for i in range(start, min(start + 5000, n_subjects))])
    return workflow


def _time_queue(workflow, n_volunteers: int, calls: int, seen: int, seed: int) -> tuple[list[float], list[float], list[int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from zooapp.models import Subject, SubjectView, Volunteer
    from zooapp.selection import queue_next

    rng = random.Random(seed)
    top = list(Subject.objects.filter(workflow=workflow, is_gold=False).order_by("-priority", "id")
               .values_list("pk", flat=True)[:seen])
    timings, cpu_ms, queries = [], [], []
    for _ in range(n_volunteers):
        volunteer = Volunteer.objects.create()
        # A seasoned volunteer: the highest-priority subjects are already behind them.
        SubjectView.objects.bulk_create([SubjectView(volunteer=volunteer, subject_id=pk) for pk in top])
        for _ in range(calls):
            with CaptureQueriesContext(connection) as captured:  # DEBUG is on in both runs: the same overhead
                started, cpu = time.perf_counter(), time.process_time()
                result = queue_next(workflow=workflow, volunteer=volunteer, n=1, rng=rng)
                timings.append((time.perf_counter() - started) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)  # SQLite runs in-process: its work is counted
            queries.append(len(captured.captured_queries))
            assert result.subjects, "the queue ran dry"
    return timings, cpu_ms, queries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--volunteers", type=int, default=10)
    parser.add_argument("--calls", type=int, default=50, help="queue requests per volunteer")
    parser.add_argument("--seen", type=int, default=2000, help="subjects each volunteer has already been served")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    url, drop = _database_url(args.backend)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="zooapp.settings", DEBUG="true")
    import django
    from django.core.management import call_command

    django.setup()
    try:
        call_command("migrate", verbosity=0)
        workflow = _fill(args.subjects, 0.02, args.seed)
        timings, cpu_ms, queries = _time_queue(workflow, args.volunteers, args.calls, args.seen, args.seed)
    finally:
        from django.db import connections

        connections.close_all()
        drop()
    q, c = statistics.quantiles(timings, n=100), statistics.quantiles(cpu_ms, n=100)
    report = {"backend": args.backend, "subjects": args.subjects, "requests": len(timings), "seen": args.seen,
              "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2),
              "max_ms": round(max(timings), 2), "cpu_p50_ms": round(c[49], 2), "cpu_p99_ms": round(c[98], 2),
              "queries_per_request": round(statistics.mean(queries), 2)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
