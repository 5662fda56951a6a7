"""Nothing is lost: killed workers, a restarted broker and racing requests on the production stores.

Each test runs the platform as separate processes (gunicorn, Celery workers with
beat) on PostgreSQL and on a Redis server of its own, so that killing and
restarting it disturbs nobody else on the machine.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.integration.conftest import (REDIS, ROOT, Browserless, _free_port, _wait_for_port, require_services,
                                        wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SWEEP_SECONDS = 2


class RedisServer:
    """A throw-away redis-server without persistence: a restart loses every queued message."""

    def __init__(self, tmp):
        self.port = _free_port()
        self.tmp = tmp
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_port(self.port, timeout=10)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path):
    require_services(REDIS)  # the machine's Redis stands for "Redis is installed and runs here"
    if shutil.which("redis-server") is None:
        message = "INTEGRATION TEST NOT RUN: no redis-server binary to start a private broker with"
        if os.environ.get("ZOOLOOP_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


@pytest.fixture
def redis_url(redis_server):
    """Overrides conftest's shared Redis: this module kills and restarts its broker."""
    return redis_server.url


@pytest.fixture
def reliable_stack(stack, redis_server):
    stack.env["AGGREGATE_SWEEP_SECONDS"] = str(SWEEP_SECONDS)
    stack.env["CACHE_URL"] = redis_server.url.rsplit("/", 1)[0] + "/1"  # shared by web and workers, as deployed
    stack.redis = redis_server
    return stack


def step(stack, *args: str) -> dict:
    """Run one step of tests/integration/scenario.py in the stack's environment."""
    out = subprocess.run([sys.executable, "-m", "tests.integration.scenario", *args], cwd=ROOT, env=stack.env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_aggregated_once_and_exact(stack, workflow: int) -> dict:
    state = wait_until(lambda: _settled(stack, workflow), timeout=180, interval=1)
    final = step(stack, "verify", "--workflow", str(workflow), "--recompute")
    n = final["classifications"]
    assert final["pending"] == 0, final
    assert final["distinct_seq"] == final["max_seq"] == final["workflow_seq"] == n, final
    assert final["counted"] == n, final
    assert final["most_retirements_of_one_subject"] <= 1, final
    assert final["recompute_diff"] == {"reliabilities": [], "posteriors": [], "counts": []}, final
    return state


def _settled(stack, workflow: int) -> dict | None:
    rows = stack.sql(f"SELECT count(*), count(aggregation_seq) FROM zooapp_classification"
                     f" WHERE workflow_id = {workflow}")
    total, done = rows[0]
    return {"total": total} if total and total == done else None


def _worker_transaction_open(stack) -> bool:
    """True while another backend (the worker) is inside a transaction with work still pending."""
    return bool(stack.sql(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND xact_start IS NOT NULL AND state <> 'idle'"
        " AND EXISTS (SELECT 1 FROM zooapp_classification WHERE aggregation_seq IS NULL)"))


def test_it_aggregates_every_classification_after_the_worker_is_killed_mid_batch(reliable_stack):
    stack = reliable_stack
    seeded = step(stack, "seed", "--subjects", "10", "--rules",
                  '{"posterior_threshold": 0.9, "min_classifications": 5, "max_classifications": 1000}')
    workflow = seeded["workflow"]
    assert step(stack, "backlog", "--workflow", str(workflow), "--volunteers", "60") == {"created": 600}
    stack.start_worker("doomed", queues="celery,aggregation")
    wait_until(lambda: _worker_transaction_open(stack), timeout=120, interval=0.05)
    stack.kill("doomed", signal.SIGKILL)  # main process and pool child, mid-transaction
    left = stack.sql(f"SELECT count(*) FROM zooapp_classification WHERE aggregation_seq IS NULL"
                     f" AND workflow_id = {workflow}")[0][0]
    assert left > 0, "the kill came after the batch committed; nothing was in flight"
    stack.start_worker("survivor", queues="celery,aggregation", beat=True)
    assert assert_aggregated_once_and_exact(stack, workflow) == {"total": 600}


def test_it_acknowledges_while_redis_is_down_and_aggregates_once_it_is_back(reliable_stack):
    stack = reliable_stack
    seeded = step(stack, "seed", "--subjects", "2", "--rules",
                  '{"min_classifications": 50, "max_classifications": 100}')
    stack.start_web(workers=1)
    stack.start_worker("worker", queues="celery,aggregation", beat=True)
    first, second = Browserless(stack), Browserless(stack)
    assert _classify(first, seeded, seeded["subjects"][0])[0] == 201
    wait_until(lambda: _settled(stack, seeded["workflow"]), timeout=120)

    stack.redis.kill()
    started = time.monotonic()
    status, body = _classify(second, seeded, seeded["subjects"][1])
    assert status == 201, body  # committed, so acknowledged, even with the broker gone
    assert stack.sql(f"SELECT count(*) FROM zooapp_classification WHERE id = {body['id']}") == [(1,)]
    assert time.monotonic() - started < 15
    assert _settled(stack, seeded["workflow"]) is None  # stored but not aggregated yet

    stack.redis.start()  # empty: whatever was queued is gone
    assert assert_aggregated_once_and_exact(stack, seeded["workflow"]) == {"total": 2}


def test_concurrent_classifications_and_retries_of_one_subject_count_once_and_retire_it_once(reliable_stack):
    stack = reliable_stack
    seeded = step(stack, "seed", "--subjects", "1", "--rules",
                  '{"posterior_threshold": 0.8, "min_classifications": 4, "max_classifications": 1000}')
    stack.start_web(workers=2, threads=4)
    # Two aggregation workers race for the workflow lock; a third serves the other queues and beat.
    stack.start_worker("aggregation-a", queues="aggregation")
    stack.start_worker("aggregation-b", queues="aggregation")
    stack.start_worker("other", queues="celery,exports,ml", beat=True)
    subject = seeded["subjects"][0]
    crowd = [Browserless(stack) for _ in range(8)]
    for volunteer in crowd:  # each gets a session, and the one subject, before anyone answers
        assert volunteer.get(f"/api/workflows/{seeded['workflow']}/queue/")[1]["subjects"][0]["id"] == subject

    results = _race([(volunteer, key) for volunteer in crowd for key in [uuid.uuid4()] * 3], seeded, subject)
    assert all(status in (200, 201) for status, _, _ in results), results
    for volunteer in crowd:
        mine = [(status, body["id"]) for status, body, who in results if who is volunteer]
        assert sorted(s for s, _ in mine) == [200, 200, 201], mine
        assert len({i for _, i in mine}) == 1, mine
    assert assert_aggregated_once_and_exact(stack, seeded["workflow"]) == {"total": 8}
    assert stack.sql(f"SELECT count(*) FROM zooapp_retirement WHERE subject_id = {subject}") == [(1,)]


def _classify(volunteer: Browserless, seeded: dict, subject: int, key: uuid.UUID | None = None):
    body = {"subject": subject, "workflow_version": seeded["version"], "idempotency_key": str(key or uuid.uuid4()),
            "annotations": [{"task": "T0", "value": "featured"}, {"task": "T2", "value": "yes"},
                            {"task": "T5", "value": []}]}
    return volunteer.post("/api/classifications/", body)


def _race(jobs: list, seeded: dict, subject: int) -> list:
    """Send every (volunteer, key) submission at once from its own thread."""
    gate = threading.Barrier(len(jobs))
    results = []
    lock = threading.Lock()

    def send(volunteer, key):
        gate.wait()
        status, body = _classify(volunteer, seeded, subject, key)
        with lock:
            results.append((status, body, volunteer))

    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == len(jobs)
    return results


def test_the_throwaway_redis_really_loses_messages_on_restart(redis_server):
    """Guards the premise of the restart test: no persistence, so queued messages vanish."""
    import redis

    redis.Redis.from_url(redis_server.url).lpush("aggregation", "message")
    redis_server.kill()
    redis_server.start()
    assert redis.Redis.from_url(redis_server.url).llen("aggregation") == 0
