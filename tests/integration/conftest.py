"""Real processes on real services: PostgreSQL, Redis, a Celery worker and a web server.

These tests skip, loudly, where the services are absent. `.ci/run` sets
ZOOLOOP_REQUIRE_SERVICES=1, which turns that skip into a failure.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def _reachable(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=1):
            return True
    except OSError:
        return False


def require_services(*addrs: tuple[str, int]) -> None:
    missing = [f"{h}:{p}" for h, p in addrs if not _reachable((h, p))]
    if not missing:
        return
    message = (f"INTEGRATION TEST NOT RUN: no service at {', '.join(missing)}. "
               "Start PostgreSQL and Redis on loopback (see README) to run it.")
    if os.environ.get("ZOOLOOP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    warnings.warn(message)
    pytest.skip(message)


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    require_services(PG)
    import psycopg

    name = f"zooloop_it_{uuid.uuid4().hex[:10]}"
    user = os.environ.get("ZOOLOOP_TEST_PGUSER", "postgres")
    with psycopg.connect(f"postgresql://{user}@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://{user}@127.0.0.1:5432/{name}"
    with psycopg.connect(f"postgresql://{user}@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    require_services(REDIS)
    import redis

    db = 9
    client = redis.Redis(host=REDIS[0], port=REDIS[1], db=db)
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{db}"
    client.flushdb()


@dataclass
class Stack:
    """The platform as separate processes sharing one environment."""

    env: dict
    tmp: Path
    port: int = 0
    procs: dict = field(default_factory=dict)

    def manage(self, *args: str, timeout: int = 300) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    def sql(self, query: str):
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def start_worker(self, name: str = "worker", queues: str = "celery,aggregation,exports,ml", *,
                     concurrency: int = 1, beat: bool = False) -> None:
        """A worker on ``queues``; with ``beat`` it also runs the periodic tasks (the aggregation sweep)."""
        log = open(self.tmp / f"{name}.log", "a")
        extra = ["-B", "--schedule", str(self.tmp / f"{name}-beat-schedule")] if beat else []
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "zooapp", "worker", "-Q", queues, "--concurrency",
             str(concurrency), "--pool", "prefork", "-n", f"{name}@%h", "--loglevel", "INFO", *extra],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_web(self, *, workers: int = 2, threads: int = 1) -> None:
        self.port = _free_port()
        log = open(self.tmp / "web.log", "w")
        self.procs["web"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "zooapp.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "60"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_port(self.port)

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _reachable(("127.0.0.1", port)):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port}")


@pytest.fixture
def stack(pg_url, redis_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": pg_url, "CELERY_BROKER_URL": redis_url, "DEBUG": "true",
           "ZOOLOOP_VAR_DIR": str(tmp_path / "var"), "CELERY_TASK_ALWAYS_EAGER": "false",
           "DJANGO_SETTINGS_MODULE": "zooapp.settings"}
    s = Stack(env=env, tmp=tmp_path)
    s.manage("migrate", "--noinput")
    yield s
    for name in list(s.procs):
        try:
            s.kill(name, signal.SIGKILL)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


class Browserless:
    """A volunteer's HTTP session (cookies kept), speaking JSON to the API."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf_token(self) -> str:
        """The CSRF cookie's token, which session writes must send back; any page with a form sets it."""
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        if not token:
            self.opener.open(self.stack.url("/accounts/login/"), timeout=30).read()
            token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        return token

    def get(self, path: str) -> tuple[int, dict]:
        with self.opener.open(self.stack.url(path), timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.stack.url(path), data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf_token(),
                                              "Referer": self.stack.url("/")})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


def wait_until(predicate, timeout: float = 60, interval: float = 0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
