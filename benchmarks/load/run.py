"""Load test on loopback: simulated volunteers against gunicorn, PostgreSQL, Redis and Celery workers.

    .venv/bin/python -m benchmarks.load.run --volunteers 40 --duration 60

It builds the production set-up from scratch in throw-away stores (a new PostgreSQL
database and a private redis-server), seeds a workflow, and then runs N volunteers as
asyncio tasks. Each volunteer opens the classify page (session and CSRF cookies), then
loops: ask the queue API for a subject, post a classification for it. It reports

* sustained classifications/s (201s in the window after the warm-up),
* p50/p95/p99 latency of the classification POST and of the queue GET,
* aggregation lag: from the moment the 201 arrived to the moment a poller saw the
  row's aggregation_seq set (polled every 0.1 s, so up to 0.1 s too high),
* lost: acknowledged classifications missing from the database after the drain.

Everything it starts is stopped at the end; --keep leaves the database for inspection.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("LOAD_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ANSWERS = [
    [{"task": "T0", "value": "smooth"}, {"task": "T1", "value": "round"}, {"task": "T5", "value": []}],
    [{"task": "T0", "value": "featured"}, {"task": "T2", "value": "yes"},
     {"task": "T5", "value": [{"tool": "clump", "x_min": 10, "y_min": 12, "x_max": 20, "y_max": 25}]}],
    [{"task": "T0", "value": "artifact"}],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port}")


@dataclass
class Stack:
    """The production processes, each in its own session so it can be stopped as a group."""

    tmp: Path
    web_workers: int
    web_threads: int
    agg_workers: int
    db: str = field(default_factory=lambda: f"zooloop_load_{uuid.uuid4().hex[:8]}")
    procs: list = field(default_factory=list)
    names: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    web_port: int = 0

    @property
    def db_url(self) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db

    def start(self, *, subjects: int) -> dict:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        redis_port = free_port()
        self._spawn("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.tmp)])
        wait_for_port(redis_port)
        self.web_port = free_port()
        self.env = production_env(db_url=self.db_url, redis=f"redis://127.0.0.1:{redis_port}", tmp=self.tmp,
                                  web_port=self.web_port, web_workers=self.web_workers, web_threads=self.web_threads)
        self._run([sys.executable, "manage.py", "migrate", "--noinput"])
        self._run([sys.executable, "manage.py", "collectstatic", "--noinput"])
        seeded = json.loads(self._run([sys.executable, "-m", "benchmarks.load.seed", "--subjects",
                                       str(subjects)]).strip().splitlines()[-1])
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                            "zooapp.wsgi:application"])
        for i in range(self.agg_workers):
            self._spawn(f"aggregation-{i}", celery_worker(f"aggregation-{i}", "aggregation"))
        self._spawn("other", celery_worker("other", "celery,exports"))
        wait_for_port(self.web_port)
        return seeded

    def _run(self, cmd: list[str]) -> str:
        out = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)
        if out.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "w")
        self.names.append(name)
        self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=self.env or None, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self, *, keep_db: bool) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        if not keep_db:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process group, by PostgreSQL, and by this driver."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name in [*groups, "postgres"]}
    by_pgid = {pgid: name for name, pgid in groups.items()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        name = "postgres" if comm == "postgres" else by_pgid.get(int(fields[2]))
        if name:
            totals[name] += used
    own = os.times()
    totals["driver"] = own.user + own.system
    return totals


def production_env(*, db_url: str, redis: str, tmp: Path, web_port: int, web_workers: int,
                   web_threads: int) -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "zooapp.settings", "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": db_url, "CELERY_BROKER_URL": f"{redis}/0", "CACHE_URL": f"{redis}/1",
            # Plain HTTP on loopback: TLS is the load balancer's job in production.
            "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            # Every simulated volunteer is anonymous on 127.0.0.1, so they would share one rate-limit bucket.
            "RATE_LIMIT_CLASSIFY": "100000000/min", "LOG_LEVEL": "WARNING", "ZOOLOOP_VAR_DIR": str(tmp / "var"),
            "STATIC_ROOT": str(tmp / "static"), "GUNICORN_BIND": f"127.0.0.1:{web_port}",
            "WEB_CONCURRENCY": str(web_workers), "GUNICORN_THREADS": str(web_threads)}


def celery_worker(name: str, queues: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "zooapp", "worker", "-Q", queues, "--concurrency", "1",
            "--pool", "prefork", "-n", f"{name}@%h", "--loglevel", "WARNING"]


class Http:
    """A minimal HTTP/1.1 keep-alive client with a cookie jar: light enough to leave the CPU to the server."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode() if body is not None else b""
        headers = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(data)}",
                   "Accept: application/json"]
        if self.cookies:
            headers.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body is not None:
            headers += ["Content-Type: application/json", f"X-CSRFToken: {self.cookies.get('csrftoken', '')}"]
        self.writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + data)
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.lower() == "close":
                close = True
            elif name == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        payload = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Results:
    posts: list = field(default_factory=list)  # (time acknowledged, latency s, status)
    gets: list = field(default_factory=list)  # (time, latency s)
    acked: dict = field(default_factory=dict)  # classification id -> time acknowledged
    seen: dict = field(default_factory=dict)  # classification id -> time seen aggregated
    errors: list = field(default_factory=list)


async def volunteer(port: int, seeded: dict, stop_at: float, results: Results, index: int) -> None:
    http = Http(port)
    while time.monotonic() < stop_at:
        try:
            await _session(http, seeded, stop_at, results, index)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            results.errors.append(f"{type(exc).__name__}: {exc}")
            await http.close()
            await asyncio.sleep(0.1)
    await http.close()


async def _session(http: Http, seeded: dict, stop_at: float, results: Results, index: int) -> None:
    """One visitor: the classify page, then queue-and-classify until the window closes."""
    status, _ = await http.request("GET", f"/classify/{seeded['workflow']}/")
    if status != 200:
        raise ValueError(f"classify page answered {status}")
    n = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        status, payload = await http.request("GET", f"/api/workflows/{seeded['workflow']}/queue/?n=1")
        results.gets.append((time.monotonic(), time.monotonic() - started))
        subjects = json.loads(payload)["subjects"] if status == 200 else []
        if not subjects:
            raise ValueError(f"queue answered {status} with no subject")
        answers = ANSWERS[(index + n) % len(ANSWERS)] if not seeded.get("votes_only") else ANSWERS[2]
        body = {"subject": subjects[0]["id"], "workflow_version": seeded["version"],
                "idempotency_key": str(uuid.uuid4()), "annotations": answers}
        started = time.monotonic()
        status, payload = await http.request("POST", "/api/classifications/", body)
        done = time.monotonic()
        results.posts.append((done, done - started, status))
        if status == 201:
            results.acked[json.loads(payload)["id"]] = done
        n += 1


async def watch_aggregation(db_url: str, results: Results, until: asyncio.Event) -> None:
    """Record when each classification's aggregation_seq first appears (seq only grows)."""
    last = 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        while not until.is_set():
            rows = await asyncio.to_thread(lambda after: conn.execute(
                "SELECT id, aggregation_seq FROM zooapp_classification WHERE aggregation_seq > %s", (after,)
            ).fetchall(), last)
            now = time.monotonic()
            for cid, seq in rows:
                results.seen.setdefault(cid, now)
                last = max(last, seq)
            await asyncio.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def summarise(results: Results, *, started: float, warmup: float, duration: float, stored: set[int]) -> dict:
    window = [(t, lat, s) for t, lat, s in results.posts if t >= started + warmup]
    ok = [lat for _, lat, s in window if s == 201]
    gets = [lat for t, lat in results.gets if t >= started + warmup]
    lags = [results.seen[c] - t for c, t in results.acked.items() if c in results.seen and t >= started + warmup]
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    return {
        "classifications_per_s": round(len(ok) / (duration - warmup), 1),
        "post_p50_ms": ms(pct(ok, 50)), "post_p95_ms": ms(pct(ok, 95)), "post_p99_ms": ms(pct(ok, 99)),
        "queue_get_p50_ms": ms(pct(gets, 50)), "queue_get_p99_ms": ms(pct(gets, 99)),
        "lag_p50_s": round(pct(lags, 50), 2), "lag_p99_s": round(pct(lags, 99), 2),
        "lag_max_s": round(max(lags, default=float("nan")), 2),
        "acknowledged": len(results.acked), "stored": len(stored),
        "lost": len(set(results.acked) - stored),  # acknowledged with a 201, not in the database
        "non_2xx": sum(1 for _, _, s in results.posts if s not in (200, 201)),
        "client_errors": len(results.errors), "sample_errors": results.errors[:3],
    }


async def drive(stack: Stack, seeded: dict, args) -> dict:
    results = Results()
    done = asyncio.Event()
    watcher = asyncio.create_task(watch_aggregation(stack.db_url, results, done))
    groups = dict(zip(stack.names, (p.pid for p in stack.procs)))
    started = time.monotonic()
    stop_at = started + args.duration
    cpu_before = cpu_seconds(groups)
    await asyncio.gather(*(volunteer(stack.web_port, seeded, stop_at, results, i) for i in range(args.volunteers)))
    cpu_after = cpu_seconds(groups)
    cpu = {name: round((cpu_after[name] - cpu_before[name]) / args.duration, 2) for name in cpu_after}
    drain_until = time.monotonic() + args.drain
    while time.monotonic() < drain_until and not set(results.acked) <= set(results.seen):
        await asyncio.sleep(0.2)
    done.set()
    await watcher
    with psycopg.connect(stack.db_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM zooapp_classification")}
        pending = conn.execute("SELECT count(*) FROM zooapp_classification WHERE aggregation_seq IS NULL"
                               ).fetchone()[0]
    summary = summarise(results, started=started, warmup=args.warmup, duration=args.duration, stored=stored)
    return {**summary, "pending_after_drain": pending, "cpu_cores_used": cpu,
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volunteers", type=int, default=40)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=10, help="seconds left out of the figures")
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait for aggregation to catch up")
    parser.add_argument("--subjects", type=int, default=3000)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--agg-workers", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE", help="py-spy the web and worker processes for the load"
                        " window (.svg flame graphs, .txt collapsed stacks, .json speedscope)")
    parser.add_argument("--votes-only", action="store_true",
                        help="every answer ends at T0 (no drawing task), to measure without box consensus")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zooloop-load-"))
    stack = Stack(tmp=tmp, web_workers=args.web_workers, web_threads=args.web_threads, agg_workers=args.agg_workers)
    try:
        seeded = {**stack.start(subjects=args.subjects), "votes_only": args.votes_only}
        time.sleep(3)  # let the workers finish booting
        spies = profile(stack, args) if args.profile else []
        summary = asyncio.run(drive(stack, seeded, args))
        for spy in spies:
            spy.wait(timeout=120)
    finally:
        stack.stop(keep_db=args.keep)
    config = {k: getattr(args, k) for k in ("volunteers", "duration", "warmup", "web_workers", "web_threads",
                                            "agg_workers", "subjects", "votes_only")}
    print(json.dumps({"config": config, **summary, "logs": str(tmp)}, indent=2))


def profile(stack: Stack, args) -> list[subprocess.Popen]:
    """py-spy each process group of the stack (web, workers; not redis) for the load window.

    One output per group: FILE with the group's name before the suffix (run-web.txt, run-aggregation-0.txt).
    """
    py_spy = Path(sys.executable).with_name("py-spy")
    out = Path(args.profile)
    fmt = {".json": "speedscope", ".txt": "raw"}.get(out.suffix, "flamegraph")
    spies = []
    for name, proc in zip(stack.names[1:], stack.procs[1:]):
        target = out.with_name(f"{out.stem}-{name}{out.suffix}")
        spies.append(subprocess.Popen(
            [str(py_spy), "record", "--subprocesses", "--duration", str(int(args.duration)), "--rate", "50",
             "--format", fmt, "-o", str(target), "--pid", str(proc.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    return spies


if __name__ == "__main__":
    main()
