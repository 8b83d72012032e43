"""AI pre-fill, end to end: from a seller's photo upload to the draft on their screen.

What it measures
    The whole path a seller waits for, over real processes on this machine:

        seller (thread) --HTTP POST multipart JPEG--> gunicorn (marketplace.wsgi, sync workers)
            photo intake, the model image, PrefillRun row in PostgreSQL, task published to Redis
            on commit
        celery worker (a subprocess, the pool and concurrency under test)
            claim, read the stored model image, official openai SDK --HTTP--> fake OpenAI server
            (tests/fake_openai.py in its own process, answering after a fixed latency L)
        seller polls GET /api/prefill/<id>/ when the server says (poll_after_ms), as the Sell page
        does; every --poll-interval (0.7 s) when an answer carries no hint
        until "succeeded"

    Per pre-fill: upload start -> draft available (the run's finished_at: from then on the API
    returns the draft; the seller threads and the server share one clock) and its overhead over
    L, which the targets judge; and upload start -> the seller's GET that returned the draft
    (available + polling lag). Per scenario: p50 / p95 / max, the wall time of the whole batch
    and the throughput (pre-fills / wall second), and the server-side breakdown from the
    PrefillRun rows:
        intake   created_at - upload start   (upload, auth, photo intake, files, INSERT)
        queued   started_at - created_at     (commit, publish, broker, worker pick-up, claim)
        provider provider_latency_ms         (as recorded by the app: the provider call alone)
        total    finished_at - created_at
        notice   draft seen by the seller - finished_at (polling lag)
    and the CPU seconds used during the batch by the web (gunicorn), the worker, the PostgreSQL
    backends of the benchmark database, Redis, the fake server and the seller threads, against
    the machine's busy time (/proc/stat), so a missed target can be traced to what used the two
    cores. "other" is busy time that is none of ours: a batch during which other work used more
    than --max-other-cores (0.3) on average is discarded and measured again (at most as many
    extra batches as asked for; the JSON keeps the discarded ones and flags a config whose
    every batch was disturbed). Also recorded: worker memory (PSS) and the peak number of
    PostgreSQL connections during the batches.

    Scenarios
        single      one seller, --repeats pre-fills one after another (target: overhead p50
                    <= 150 ms with L = 1 s)
        concurrent  --sellers sellers (distinct users, DRF tokens) start together, each with one
                    ~2-megapixel JPEG (marketplace.sample_images.render_item at 1600x1200);
                    --rounds batches (target: 50 sellers, L = 1 s, every draft available
                    within 2.5 s of the first upload; also reported: when the sellers saw them)
    Each scenario is preceded by one unmeasured warm-up batch of the same shape.

    --compare runs the concurrent scenario for every worker configuration of --configs (a fresh
    worker each) and ranks them by throughput: the answer to "which pool and concurrency on
    2 cores".

Its own everything
    PostgreSQL database `trova_bench_prefill` (dropped, created, migrated, and dropped at the end
    unless --keep-db), Redis db --redis-db with queues of this run only, media folders in a
    temporary directory. Burst rate and daily quota are raised through the environment so the
    limits never interfere. Every process it starts (fake server, gunicorn, celery worker) runs in
    its own process group and is killed at the end, on error, on Ctrl-C or SIGTERM, and when
    --max-runtime is exceeded.

Run (from the repository root; check `uptime` first: the script waits for a quiet machine)
    .venv/bin/python benchmarks/prefill_latency.py                      # threads, 64, both
    .venv/bin/python benchmarks/prefill_latency.py --pool prefork --concurrency 32
    .venv/bin/python benchmarks/prefill_latency.py --compare            # the pool matrix
    .venv/bin/python benchmarks/prefill_latency.py --compare \\
        --configs prefork:4,prefork:8,prefork:16,prefork:32,threads:16,threads:32,threads:64
    .venv/bin/python benchmarks/prefill_latency.py --scenarios concurrent --sellers 100

    Config syntax: POOL:CONCURRENCY[xPROCESSES], e.g. threads:32x2 = two worker processes with
    32 threads each. Pools: prefork, threads, solo, and gevent / eventlet only when installed.
    A config listed twice is measured twice (the second is reported as LABEL#2).

Results: tables on stdout and benchmarks/results/prefill_latency-<label>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from common import percentile, wait_for_quiet_machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
PG_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
PG_BENCH_DB = "trova_bench_prefill"
SECRET_KEY = "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
TARGET_SINGLE_OVERHEAD_P50_MS = 150.0
TARGET_CONCURRENT_SELLERS = 50
TARGET_CONCURRENT_WALL_S = 2.5
DEFAULT_CONFIGS = "prefork:4,prefork:8,prefork:16,prefork:32,threads:16,threads:32,threads:64"
SHAPES = ("bike", "chair", "laptop", "mug", "phone", "shirt", "stroller", "drill", "book", "box")
COLORS = ("blue", "red", "green", "black", "white", "yellow", "grey", "orange")
TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


class BenchmarkAborted(Exception):
    """SIGTERM, SIGHUP or --max-runtime: stop measuring, clean up, exit non-zero."""


# --- Options -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    pool: str
    concurrency: int
    processes: int = 1

    @property
    def label(self) -> str:
        extra = f"x{self.processes}" if self.processes > 1 else ""
        return f"{self.pool}:{self.concurrency}{extra}"

    @classmethod
    def parse(cls, text: str) -> WorkerConfig:
        pool, _, rest = text.strip().partition(":")
        conc, _, procs = rest.partition("x")
        if not pool or not conc:
            raise SystemExit(f"{text!r}: expected POOL:CONCURRENCY[xPROCESSES]")
        return cls(pool, int(conc), int(procs or 1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="fake provider latency L (s)")
    parser.add_argument("--sellers", type=int, default=50, help="concurrent scenario size")
    parser.add_argument("--repeats", type=int, default=20, help="single scenario: pre-fills")
    parser.add_argument("--rounds", type=int, default=3, help="concurrent scenario: batches")
    parser.add_argument("--pool", default="threads", help="celery worker pool")
    parser.add_argument("--concurrency", type=int, default=64, help="celery worker concurrency")
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="celery worker processes (same pool)"
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the worker under `nice -n N`: the web first when both want the cores "
        "(tried; no effect beyond the noise, see benchmarks/README.md)",
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated: single, concurrent (default both; with --compare: concurrent)",
    )
    parser.add_argument(
        "--compare", action="store_true", help="concurrent scenario for every --configs entry"
    )
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="with --compare")
    parser.add_argument(
        "--web-workers", type=int, default=4, help="gunicorn -w (docker-compose runs 3)"
    )
    parser.add_argument(
        "--web-threads", type=int, default=1, help="gunicorn --threads (>1: gthread worker)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.7,
        help="seconds between a seller's GETs when the server gives no poll_after_ms (0.7: the "
        "Sell page's fallback)",
    )
    parser.add_argument("--image-size", default="1600x1200", help="uploaded JPEG, WxH")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument(
        "--max-other-cores",
        type=float,
        default=0.3,
        help="a batch during which other work used more cores on average is measured again",
    )
    parser.add_argument("--max-load", type=float, default=1.5, help="wait while load avg above")
    parser.add_argument("--load-wait", type=float, default=300, help="max seconds to wait")
    parser.add_argument("--max-runtime", type=float, default=1800, help="abort after (s)")
    parser.add_argument("--keep-db", action="store_true", help=f"keep {PG_BENCH_DB}")
    parser.add_argument("--label", default=None, help="results file suffix")
    args = parser.parse_args()
    default_scenarios = "concurrent" if args.compare else "single,concurrent"
    args.scenarios = [s.strip() for s in (args.scenarios or default_scenarios).split(",")]
    if args.compare:
        args.configs = [WorkerConfig.parse(c) for c in args.configs.split(",") if c.strip()]
    else:
        args.configs = [WorkerConfig(args.pool, args.concurrency, args.worker_processes)]
    for config in args.configs:
        check_pool_installed(config.pool)
    width, _, height = args.image_size.partition("x")
    args.image_size = (int(width), int(height))
    return args


def check_pool_installed(pool: str) -> None:
    if pool in ("prefork", "threads", "solo"):
        return
    if pool in ("gevent", "eventlet"):
        if importlib.util.find_spec(pool) is None:
            raise SystemExit(f"--pool {pool}: {pool} is not installed in this virtualenv")
        return
    raise SystemExit(f"unknown pool {pool!r}")


# --- Processes -----------------------------------------------------------------------------------


class Processes:
    """Every subprocess we start, each in its own process group; stop_all() kills them all."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], *, env: dict, log: Path | None, **kw):
        out = log.open("ab") if log else subprocess.PIPE
        try:
            proc = subprocess.Popen(  # noqa: S603 - our interpreter and tools, fixed arguments
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kw,
            )
        finally:
            if log:
                out.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        _killpg(proc.pid, signal.SIGKILL)  # and whatever is left of the group (pool children)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.procs)):
            self.stop(proc)


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def proc_cpu_by_pid() -> dict[int, tuple[int, int, float]]:
    """pid -> (pgrp, comm hash, user + system CPU seconds) for every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        # field 5 is pgrp; fields 14 and 15 are utime and stime, in clock ticks
        table[int(entry)] = (int(fields[2]), comm, (int(fields[11]) + int(fields[12])) / TICKS)
    return table


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of the live processes of a process group (pool children included)."""
    return sum(cpu for pgrp, _, cpu in proc_cpu_by_pid().values() if pgrp == pgid)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat), whoever used them."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- Environment and database --------------------------------------------------------------------


def bench_env(
    workdir: Path, redis_url: str, queue_prefix: str, base_url: str = ""
) -> dict[str, str]:
    """Production settings (DEBUG off) on the benchmark's own database, Redis db and queues."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "AI_", "OPENAI_", "DJANGO_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "PRIVATE_MEDIA_ROOT")
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "DATABASE_URL": f"{PG_SERVER_URL}/{PG_BENCH_DB}",
        "REDIS_URL": redis_url,
        "CELERY_QUEUE_PREFIX": queue_prefix,
        "MEDIA_ROOT": str(workdir / "media"),
        "PRIVATE_MEDIA_ROOT": str(workdir / "private-media"),
        "AI_PROVIDER": "openai",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "bench",
        "OPENAI_API_STYLE": "responses",
        "AI_PREFILL_BURST_RATE": "100000/min",
        "AI_PREFILL_DAILY_QUOTA": "1000000",
        "LOG_LEVEL": "WARNING",
    }


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def prepare_database(sellers: int) -> list[str]:
    """Migrate, register the prompt files, create the sellers; return their API tokens."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from ai_prefill.prompt_registry import prompt_version_production

    call_command("migrate", verbosity=0, interactive=False)
    prompt_version_production()  # else the first concurrent uploads race to register it
    user_model = get_user_model()
    tokens = []
    for i in range(sellers):
        user = user_model.objects.create_user(username=f"bench-seller-{i:03d}", password=None)
        tokens.append(Token.objects.create(user=user).key)
    return tokens


# --- The system under test -----------------------------------------------------------------------


class Stack:
    """Fake OpenAI server, gunicorn and celery worker(s), started and stopped by us."""

    def __init__(self, args, workdir: Path, processes: Processes):
        self.args, self.workdir, self.processes = args, workdir, processes
        self.redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
        self.queue_prefix = f"trova-bench-{uuid.uuid4().hex[:10]}-"
        self.env = bench_env(workdir, self.redis_url, self.queue_prefix)
        self.fake = self.web = None
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.port = None
        self.pg_peak = 0  # most connections to the benchmark database seen during batches

    def start_fake(self) -> None:
        command = [sys.executable, "-m", "tests.fake_openai", "--latency", str(self.args.latency)]
        self.fake = self.processes.start("fake_openai", command, env=self.env, log=None)
        line = _read_line(self.fake.stdout, timeout=15)
        if not line.startswith("base_url "):
            raise RuntimeError(f"fake_openai did not print its base_url: {line!r}")
        self.env["OPENAI_BASE_URL"] = line.split()[1]
        os.environ["OPENAI_BASE_URL"] = self.env["OPENAI_BASE_URL"]

    def start_web(self) -> None:
        self.port = free_port()
        command = [str(VENV_BIN / "gunicorn"), "marketplace.wsgi"]
        command += ["-w", str(self.args.web_workers), "-b", f"127.0.0.1:{self.port}"]
        if self.args.web_threads > 1:
            command += ["--threads", str(self.args.web_threads)]
        command += ["--log-level", "warning", "--timeout", "60"]
        log = self.workdir / "gunicorn.log"
        proc = self.processes.start("gunicorn", command, env=self.env, log=log)
        self.web = (proc, log)
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{tail(log)}")
            with contextlib.suppress(OSError):
                if http_request(self.port, "GET", "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn not healthy after 30 s:\n{tail(log)}")
            time.sleep(0.1)
        # Import the API views in every worker before anything is measured.
        for _ in range(self.args.web_workers * 3):
            http_request(self.port, "GET", "/api/prefill/00000000-0000-0000-0000-000000000000/")

    def start_workers(self, config: WorkerConfig) -> None:
        from marketplace.celery import app as celery_app
        from marketplace.task_queues import QueueKind, queues_for

        queues = ",".join(queues_for(QueueKind))  # every kind: nothing the run sends is left
        for n in range(config.processes):
            node = f"bench{n}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
            command = [sys.executable, "-m", "celery", "-A", "marketplace", "worker"]
            if self.args.worker_nice:
                command = ["nice", "-n", str(self.args.worker_nice), *command]
            command += ["--pool", config.pool, "--concurrency", str(config.concurrency)]
            command += ["--without-mingle", "--without-gossip", "--loglevel", "INFO"]
            command += ["-Q", queues, "-n", node]
            log = self.workdir / f"worker-{config.label.replace(':', '-')}-{n}.log"
            proc = self.processes.start("celery", command, env=self.env, log=log)
            self.workers.append((proc, log))
            deadline = time.monotonic() + 45
            # Asked, not read from its log: at LOG_LEVEL=WARNING the worker logs no "ready." line.
            while not celery_app.control.ping(destination=[node], timeout=0.5):
                if proc.poll() is not None:
                    raise RuntimeError(f"celery worker exited ({proc.returncode}):\n{tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"celery worker not ready after 45 s:\n{tail(log)}")
                time.sleep(0.1)

    def stop_workers(self) -> None:
        for proc, _ in self.workers:
            self.processes.stop(proc)
        self.workers = []

    def cpu_snapshot(self) -> dict:
        """Per-process CPU of every component, so a batch's CPU can be split by who used it.

        postgres: the backends connected to the benchmark database; redis: the whole shared
        server; machine: every core's busy time, so `other` (machine minus all of ours) shows
        how much CPU other work on the machine took during the batch.
        """
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [PG_BENCH_DB])
            pg_pids = {row[0] for row in cursor.fetchall()}
        table = proc_cpu_by_pid()
        groups = {
            "web": {self.web[0].pid},
            "worker": {p.pid for p, _ in self.workers},
            "fake": {self.fake.pid},
        }
        snap = {name: {} for name in (*groups, "postgres", "redis")}
        for pid, (pgrp, comm, cpu) in table.items():
            for name, pgids in groups.items():
                if pgrp in pgids:
                    snap[name][pid] = cpu
            if pid in pg_pids:
                snap["postgres"][pid] = cpu
            if comm == "redis-server":
                snap["redis"][pid] = cpu
        usage = resource.getrusage(resource.RUSAGE_SELF)
        snap["sellers"] = {0: usage.ru_utime + usage.ru_stime}
        snap["machine"] = {0: machine_busy_seconds()}
        return snap

    @staticmethod
    def cpu_delta(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per component between two snapshots (a new process counts from 0)."""
        delta = {
            name: sum(cpu - before[name].get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in after.items()
        }
        ours = sum(v for k, v in delta.items() if k != "machine")
        delta["other"] = max(0.0, delta["machine"] - ours)
        return {k: round(v, 2) for k, v in delta.items()}

    def sample_pg_connections(self, stop: threading.Event) -> None:
        """Until `stop`: the most connections open to the benchmark database (every 50 ms)."""
        import psycopg

        with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
            while not stop.wait(0.05):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [PG_BENCH_DB]
                ).fetchone()
                self.pg_peak = max(self.pg_peak, row[0])

    def worker_memory_mb(self) -> dict:
        """Worker PSS (shared pages split between sharers, so prefork children are not
        overcounted) and the connections open to the benchmark database."""
        pids = [
            pid
            for pid, (pgrp, _, _) in proc_cpu_by_pid().items()
            if pgrp in {p.pid for p, _ in self.workers}
        ]
        pss = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [PG_BENCH_DB]
            )
            pg_connections = cursor.fetchone()[0]
        return {
            "processes": len(pids),
            "pss_mb": round(pss / 1024),
            "pg_connections_at_end": pg_connections,
            "pg_connections_peak": self.pg_peak,
        }

    def worker_log_tail(self) -> str:
        return "\n".join(tail(log, 20) for _, log in self.workers)

    def purge_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        # The queues, their priority lists, and the bindings kombu declared for them.
        keys = [
            *client.keys(f"{self.queue_prefix}*"),
            *client.keys(f"_kombu.binding*{self.queue_prefix}*"),
        ]
        if keys:
            client.delete(*keys)


def _read_line(stream, timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline().decode().strip() if ready else ""


# --- The sellers ---------------------------------------------------------------------------------


def http_request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    """One request on a fresh connection (gunicorn's sync workers close after every answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        conn.close()


def multipart(image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="image"; filename="item.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + image + f"\r\n--{boundary}--\r\n".encode(), boundary


@dataclass
class Prefill:
    seller: int
    start_wall: float = 0.0
    t_start: float = 0.0
    t_accepted: float = 0.0
    t_done: float = 0.0
    done_wall: float = 0.0
    run_id: str | None = None
    polls: int = 0
    error: str | None = None
    server: dict = field(default_factory=dict)

    @property
    def e2e_ms(self) -> float:
        return (self.t_done - self.t_start) * 1000

    @property
    def post_ms(self) -> float:
        return (self.t_accepted - self.t_start) * 1000


def next_wait(answer: dict, fallback: float) -> float:
    """As the Sell page does: the server's poll_after_ms, else the fixed interval (capped 5 s)."""
    hint = answer.get("poll_after_ms")
    if isinstance(hint, int | float) and hint >= 0:
        return min(hint, 5000) / 1000
    return fallback


def seller_prefill(port, token, image, result: Prefill, poll_interval, deadline, barrier=None):
    auth = {"Authorization": f"Token {token}"}
    body, boundary = multipart(image)
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    try:
        if barrier is not None:
            barrier.wait(timeout=30)
        result.start_wall = time.time()
        result.t_start = time.perf_counter()
        status, data = http_request(port, "POST", "/api/prefill/", body, headers)
        result.t_accepted = time.perf_counter()
        if status != 202:
            result.error = f"POST {status}: {data[:200]!r}"
            return
        accepted = json.loads(data)
        result.run_id = accepted["id"]
        wait = next_wait(accepted, poll_interval)
        while True:
            time.sleep(wait)
            status, data = http_request(port, "GET", f"/api/prefill/{result.run_id}/", b"", auth)
            result.polls += 1
            answer = json.loads(data) if status == 200 else {}
            state = answer.get("status")
            wait = next_wait(answer, poll_interval)
            if state == "succeeded":
                result.t_done = time.perf_counter()
                result.done_wall = time.time()
                return
            if status != 200 or state == "failed":
                result.error = f"GET {status}: {data[:200]!r}"
                return
            if time.perf_counter() > deadline:
                result.error = f"still {state} at the deadline"
                return
    except Exception as exc:  # a seller's failure is a result, not a crash of the benchmark
        result.error = f"{type(exc).__name__}: {exc}"


def run_batch(stack: Stack, tokens, images, *, concurrent: bool, count: int, timeout: float):
    """`count` pre-fills, all at once (concurrent) or one after another; CPU and wall time."""
    args = stack.args
    results = [Prefill(seller=i) for i in range(count)]
    deadline = time.perf_counter() + timeout
    cpu_before = stack.cpu_snapshot()
    load_before = os.getloadavg()[0]
    sampling = threading.Event()
    sampler = threading.Thread(target=stack.sample_pg_connections, args=(sampling,), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    if concurrent:
        barrier = threading.Barrier(count)
        threads = [
            threading.Thread(
                target=seller_prefill,
                args=(stack.port, tokens[i], images[i], results[i], args.poll_interval),
                kwargs={"deadline": deadline, "barrier": barrier},
                daemon=True,
            )
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # short joins: signals reach the main thread
                thread.join(0.2)
                if time.perf_counter() > deadline + 35:
                    raise RuntimeError("sellers did not finish; see the worker log")
    else:
        for i, result in enumerate(results):
            seller_prefill(
                stack.port, tokens[0], images[i % len(images)], result, args.poll_interval, deadline
            )
    # First upload start to last draft seen (a failed pre-fill counts until the batch ended).
    first = min((r.t_start for r in results if r.t_start), default=t0)
    ends = [r.t_done for r in results if r.t_done]
    if any(r.error for r in results):
        ends.append(time.perf_counter())
    wall = (max(ends) if ends else first) - first
    sampling.set()
    sampler.join(5)
    cpu = stack.cpu_delta(cpu_before, stack.cpu_snapshot())
    attach_server_timings(results)
    return results, wall, cpu, load_before


def available_wall(results: list[Prefill]) -> float | None:
    """First upload start to the last draft available in the API (None if one never was)."""
    done = [r.server.get("available_at") for r in results]
    if not results or None in done or any(r.error for r in results):
        return None
    return max(done) - min(r.start_wall for r in results)


def attach_server_timings(results: list[Prefill]) -> None:
    from ai_prefill.models import PrefillRun

    by_id = {r.run_id: r for r in results if r.run_id}
    for run in PrefillRun.objects.filter(pk__in=list(by_id)).only(
        "created_at", "started_at", "finished_at", "provider_latency_ms", "attempts", "status"
    ):
        r = by_id[str(run.pk)]
        s = r.server
        s["attempts"] = run.attempts
        s["status"] = run.status
        s["intake_ms"] = (run.created_at.timestamp() - r.start_wall) * 1000
        if run.started_at:
            s["queued_ms"] = (run.started_at - run.created_at).total_seconds() * 1000
        if run.provider_latency_ms is not None:
            s["provider_ms"] = float(run.provider_latency_ms)
        if run.finished_at:
            s["total_ms"] = (run.finished_at - run.created_at).total_seconds() * 1000
            # Same machine, same clock: upload start -> the moment the API has the draft.
            s["available_ms"] = (run.finished_at.timestamp() - r.start_wall) * 1000
            s["available_at"] = run.finished_at.timestamp()
            if r.done_wall:
                s["notice_ms"] = (r.done_wall - run.finished_at.timestamp()) * 1000


# --- Statistics and output -----------------------------------------------------------------------


def dist(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def summarize(results: list[Prefill], wall: float, cpu: dict, latency: float, load) -> dict:
    ok = [r for r in results if r.t_done and not r.error]
    e2e = [r.e2e_ms for r in ok]
    server = {
        key: dist([r.server[key] for r in ok if key in r.server])
        for key in (
            "intake_ms",
            "queued_ms",
            "provider_ms",
            "total_ms",
            "available_ms",
            "notice_ms",
        )
    }
    return {
        "prefills": len(results),
        "succeeded": len(ok),
        "errors": sorted({r.error for r in results if r.error})[:5],
        "retried": sum(1 for r in ok if r.server.get("attempts", 1) > 1),
        "wall_s": round(wall, 3),
        "throughput_per_s": round(len(ok) / wall, 2) if wall > 0 else None,
        "e2e_ms": dist(e2e),
        # Over L, to the draft available in the API / to the seller's next poll that saw it.
        "overhead_ms": dist(
            [r.server["available_ms"] - latency * 1000 for r in ok if "available_ms" in r.server]
        ),
        "seen_overhead_ms": dist([x - latency * 1000 for x in e2e]),
        "post_ms": dist([r.post_ms for r in ok]),
        "polls": dist([float(r.polls) for r in ok]),
        "server": server,
        "cpu_s": cpu,
        "cpu_ms_per_prefill": {k: round(v * 1000 / max(1, len(ok)), 1) for k, v in cpu.items()},
        "machine_cpu_utilisation": round(cpu["machine"] / (wall * CPUS), 2) if wall else None,
        "other_cpu_share": round(cpu["other"] / cpu["machine"], 2) if cpu["machine"] else None,
        "other_cores": round(cpu["other"] / wall, 2) if wall else None,
        "load_1min_before": round(load, 2),
    }


def fmt(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_batch(title: str, s: dict) -> None:
    print(
        f"\n{title}: {s['succeeded']}/{s['prefills']} ok, wall {s['wall_s']:.2f} s, "
        f"{s['throughput_per_s']} pre-fills/s, load before {s['load_1min_before']}"
    )
    if s["errors"]:
        print(f"  errors: {s['errors']}")
    print(f"  {'ms':<32}{'p50':>8}{'p95':>8}{'max':>8}")
    rows = [
        ("upload -> draft seen by seller", s["e2e_ms"]),
        ("upload -> draft available", s["server"]["available_ms"]),
        ("overhead over L (available)", s["overhead_ms"]),
        ("POST /api/prefill/ (client)", s["post_ms"]),
        ("intake: upload start -> created_at", s["server"]["intake_ms"]),
        ("queued: created -> started", s["server"]["queued_ms"]),
        ("provider_latency_ms (recorded)", s["server"]["provider_ms"]),
        ("total: created -> finished", s["server"]["total_ms"]),
        ("notice: finished -> seen", s["server"]["notice_ms"]),
    ]
    for name, d in rows:
        print(f"  {name:<32}{fmt(d.get('p50')):>8}{fmt(d.get('p95')):>8}{fmt(d.get('max')):>8}")
    per = s["cpu_ms_per_prefill"]
    print(
        f"  CPU ms per pre-fill: web {per['web']}, worker {per['worker']}, "
        f"postgres {per['postgres']}, redis {per['redis']}, fake {per['fake']}, "
        f"sellers {per['sellers']}; machine busy {s['machine_cpu_utilisation']:.0%} of "
        f"{CPUS} cores, {s['other_cpu_share']:.0%} of it other work "
        f"({s['other_cores']} cores on average)"
    )


def merge_rounds(rounds: list[tuple[list[Prefill], float, dict, float]], latency: float) -> dict:
    results = [r for batch, _, _, _ in rounds for r in batch]
    walls = [w for _, w, _, _ in rounds]
    cpu = {k: sum(c[k] for _, _, c, _ in rounds) for k in rounds[0][2]}
    merged = summarize(results, sum(walls), cpu, latency, rounds[0][3])
    merged["rounds_wall_s"] = [round(w, 3) for w in walls]
    merged["rounds_available_wall_s"] = [
        None if (w := available_wall(batch)) is None else round(w, 3) for batch, _, _, _ in rounds
    ]
    merged["rounds_throughput_per_s"] = [
        round(sum(1 for r in b if r.t_done and not r.error) / w, 2) for b, w, _, _ in rounds
    ]
    return merged


# --- Main ----------------------------------------------------------------------------------------


def make_images(count: int, size: tuple[int, int]) -> list[bytes]:
    from marketplace.sample_images import render_item

    return [
        render_item(shape=SHAPES[i % len(SHAPES)], color=COLORS[i % len(COLORS)], seed=i, size=size)
        for i in range(count)
    ]


def calibrate_get(stack: Stack, token: str, requests: int = 200) -> dict:
    """Cost of one poll: GET /api/prefill/<id>/ of a finished run, one at a time, on the web."""
    from ai_prefill.models import PrefillRun

    run = PrefillRun.objects.filter(status=PrefillRun.Status.SUCCEEDED).first()
    if run is None:
        return {}
    auth = {"Authorization": f"Token {token}"}
    path = f"/api/prefill/{run.pk}/"
    for _ in range(20):
        http_request(stack.port, "GET", path, b"", auth)
    cpu0 = group_cpu_seconds(stack.web[0].pid)
    walls = []
    for _ in range(requests):
        t0 = time.perf_counter()
        http_request(stack.port, "GET", path, b"", auth)
        walls.append((time.perf_counter() - t0) * 1000)
    cpu = group_cpu_seconds(stack.web[0].pid) - cpu0
    result = {
        "requests": requests,
        "wall_ms": dist(walls),
        "web_cpu_ms_per_request": round(cpu * 1000 / requests, 2),
    }
    print(
        f"\nOne poll, GET {path.replace(str(run.pk), '<id>')} x{requests} sequentially: "
        f"wall p50 {result['wall_ms']['p50']} ms, p95 {result['wall_ms']['p95']} ms; "
        f"web CPU {result['web_cpu_ms_per_request']} ms per request"
    )
    return result


def wait_for_other_work(stack: Stack, max_wait: float = 60.0) -> float:
    """Before a batch: wait (bounded) until other work on the machine uses < 0.25 core."""
    deadline = time.monotonic() + max_wait
    while True:
        before = stack.cpu_snapshot()
        time.sleep(1.0)
        other = stack.cpu_delta(before, stack.cpu_snapshot())["other"]
        if other < 0.25 or time.monotonic() > deadline:
            return other


def measure_clean(stack: Stack, name: str, batch_fn, wanted: int) -> tuple[list, list, bool]:
    """`wanted` batches during which other work used at most --max-other-cores on average.

    A batch disturbed by other sessions on this shared machine is kept aside as discarded and
    measured again, at most `wanted` extra times; if no batch was clean, the disturbed ones are
    used (and the JSON says so). Returns (batches to report, discarded batches, disturbed).
    """
    args = stack.args
    clean, discarded = [], []
    while len(clean) < wanted and len(clean) + len(discarded) < 2 * wanted:
        wait_for_other_work(stack)
        batch = batch_fn()
        one = summarize(*batch[:3], args.latency, batch[3])
        ok = (one["other_cores"] or 0.0) <= args.max_other_cores
        (clean if ok else discarded).append(batch)
        print(
            f"  {name} {len(clean) + len(discarded)}: wall {one['wall_s']:.2f} s, "
            f"{one['throughput_per_s']}/s, p50 {fmt(one['e2e_ms'].get('p50'))} ms, "
            f"p95 {fmt(one['e2e_ms'].get('p95'))} ms, {one['succeeded']}/{one['prefills']} ok, "
            f"other work {one['other_cores']:.2f} cores" + ("" if ok else " -> discarded"),
            flush=True,
        )
    return (clean or discarded), discarded, not clean


def with_discarded(summary: dict, discarded: list, disturbed: bool, latency: float) -> dict:
    summary["discarded_batches"] = [
        {k: s[k] for k in ("wall_s", "throughput_per_s", "other_cores")}
        for s in (summarize(*b[:3], latency, b[3]) for b in discarded)
    ]
    summary["disturbed_by_other_work"] = disturbed
    return summary


def measure_config(stack: Stack, config: WorkerConfig, tokens, images, out: dict) -> None:
    args = stack.args
    print(f"\n=== worker {config.label}: starting", flush=True)
    stack.start_workers(config)
    stack.pg_peak = 0
    try:
        key, n = config.label, 2
        while key in out:  # the same config twice in --configs: measured twice, kept apart
            key, n = f"{config.label}#{n}", n + 1
        entry = out.setdefault(key, {})
        if "single" in args.scenarios:
            run_batch(stack, tokens, images, concurrent=False, count=3, timeout=60)  # warm-up

            def single():
                timeout = args.repeats * (args.latency + 5) + 30
                return run_batch(
                    stack, tokens, images, concurrent=False, count=args.repeats, timeout=timeout
                )

            batches, discarded, disturbed = measure_clean(stack, "single batch", single, 1)
            summary = merge_rounds(batches[:1], args.latency)
            entry["single"] = with_discarded(summary, discarded, disturbed, args.latency)
            print_batch(f"[{config.label}] single seller x{args.repeats}", entry["single"])
        if "concurrent" in args.scenarios:
            timeout = 60 + args.sellers * (args.latency + 0.5) / max(1, config.concurrency)

            def concurrent():
                return run_batch(
                    stack, tokens, images, concurrent=True, count=args.sellers, timeout=timeout
                )

            concurrent()  # warm-up: every pool child or thread, every gunicorn worker
            rounds, discarded, disturbed = measure_clean(stack, "round", concurrent, args.rounds)
            summary = merge_rounds(rounds, args.latency)
            summary["sellers"] = args.sellers
            entry["concurrent"] = with_discarded(summary, discarded, disturbed, args.latency)
            title = f"[{config.label}] {args.sellers} concurrent sellers x{len(rounds)} rounds"
            print_batch(title, entry["concurrent"])
        entry["worker_memory"] = stack.worker_memory_mb()
        print(
            f"  worker memory: {entry['worker_memory']['pss_mb']} MB PSS in "
            f"{entry['worker_memory']['processes']} processes; "
            "PostgreSQL connections (web, worker, this script): peak "
            f"{entry['worker_memory']['pg_connections_peak']} during batches, "
            f"{entry['worker_memory']['pg_connections_at_end']} at the end"
        )
        scenarios = [entry[k] for k in ("single", "concurrent") if k in entry]
        if any(r.get("succeeded", 0) < r.get("prefills", 0) for r in scenarios):
            print(f"  worker log tail:\n{stack.worker_log_tail()}")
    finally:
        stack.stop_workers()


def verdicts(args, out: dict) -> dict:
    v = {}
    for label, entry in out.items():
        if "single" in entry and args.latency == 1.0:
            p50 = entry["single"]["overhead_ms"].get("p50")
            v[f"{label} single overhead p50 <= {TARGET_SINGLE_OVERHEAD_P50_MS:.0f} ms"] = (
                p50 is not None and p50 <= TARGET_SINGLE_OVERHEAD_P50_MS
            )
        c = entry.get("concurrent")
        if c and args.latency == 1.0 and args.sellers == TARGET_CONCURRENT_SELLERS:
            all_ok = c["succeeded"] == c["prefills"]
            available = c["rounds_available_wall_s"]
            v[
                f"{label} 50 concurrent all drafts available <= {TARGET_CONCURRENT_WALL_S} s "
                "(worst round)"
            ] = all_ok and None not in available and max(available) <= TARGET_CONCURRENT_WALL_S
            v[
                f"{label} 50 concurrent all drafts seen by the sellers (poll "
                f"{args.poll_interval:g} s) <= {TARGET_CONCURRENT_WALL_S} s (worst round)"
            ] = all_ok and max(c["rounds_wall_s"]) <= TARGET_CONCURRENT_WALL_S
    return v


def print_comparison(out: dict) -> None:
    rows = [(label, e["concurrent"], e) for label, e in out.items() if "concurrent" in e]
    if len(rows) < 2:
        return
    rows.sort(key=lambda row: -statistics.median(row[1]["rounds_throughput_per_s"]))
    print("\nPool comparison (concurrent scenario; median of rounds, ranked by throughput)")
    print(
        f"  {'config':<18}{'prefills/s':>11}{'wall s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'max ms':>8}{'queued p95':>11}{'CPU ms/pf':>10}{'other':>7}{'ok':>9}{'PSS MB':>8}"
    )
    for label, c, entry in rows:
        per = c["cpu_ms_per_prefill"]
        print(
            f"  {label + ('*' if c['disturbed_by_other_work'] else ''):<18}"
            f"{statistics.median(c['rounds_throughput_per_s']):>11.2f}"
            f"{statistics.median(c['rounds_wall_s']):>8.2f}{fmt(c['e2e_ms'].get('p50')):>8}"
            f"{fmt(c['e2e_ms'].get('p95')):>8}{fmt(c['e2e_ms'].get('max')):>8}"
            f"{fmt(c['server']['queued_ms'].get('p95')):>11}"
            f"{per['web'] + per['worker'] + per['postgres'] + per['redis']:>10.0f}"
            f"{c['other_cores']:>7.2f}"
            f"{c['succeeded']:>5}/{c['prefills']}"
            f"{entry.get('worker_memory', {}).get('pss_mb', 0):>8}"
        )
    print("  CPU ms/pf: web + worker + postgres + redis; other: cores used by other work")
    if any(c["disturbed_by_other_work"] for _, c, _ in rows):
        print("  * every batch was disturbed by other work on the machine: do not trust it")


def _abort(signum, _frame):
    raise BenchmarkAborted(f"signal {signal.Signals(signum).name}")


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _abort)
    signal.signal(signal.SIGHUP, _abort)
    signal.signal(signal.SIGALRM, _abort)
    signal.alarm(int(args.max_runtime))
    workdir = Path(tempfile.mkdtemp(prefix="trova-bench-prefill-"))
    processes = Processes()
    stack = Stack(args, workdir, processes)
    os.environ.update(stack.env)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    try:
        print("Waiting for a quiet machine ...", flush=True)
        load = wait_for_quiet_machine(args.max_load, args.load_wait)
        print(f"  load average {load['when_measuring']} (waited {load['waited_s']} s)")
        pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_BENCH_DB}")
        import django

        django.setup()
        sellers = max(args.sellers, 1)
        tokens = prepare_database(sellers)
        images = make_images(sellers, args.image_size)
        print(
            f"  {sellers} sellers; JPEG {args.image_size[0]}x{args.image_size[1]}, "
            f"{statistics.fmean(map(len, images)) / 1024:.0f} KB on average"
        )
        stack.start_fake()
        stack.start_web()
        out: dict = {}
        for config in args.configs:
            measure_config(stack, config, tokens, images, out)
        poll_cost = calibrate_get(stack, tokens[0])
        print_comparison(out)
        checks = verdicts(args, out)
        if checks:
            print("\nTargets")
            for name, ok in checks.items():
                print(f"  {'MET ' if ok else 'MISSED'}  {name}")
        payload = {
            "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "latency_s": args.latency,
            "sellers": args.sellers,
            "repeats": args.repeats,
            "rounds": args.rounds,
            "poll_interval_s": args.poll_interval,
            "image_size": list(args.image_size),
            "image_kb_mean": round(statistics.fmean(map(len, images)) / 1024, 1),
            "web": {"server": "gunicorn", "workers": args.web_workers, "threads": args.web_threads},
            "worker_nice": args.worker_nice,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": load,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "runtime_s": round(time.monotonic() - started),
            "targets": checks,
            "poll_cost": poll_cost,
            "configs": out,
        }
        label = args.label or (
            "compare" if args.compare else args.configs[0].label.replace(":", "-")
        )
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"prefill_latency-{label}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nWrote {path.relative_to(ROOT)}")
    except (KeyboardInterrupt, BenchmarkAborted) as exc:
        print(f"\nAborted ({type(exc).__name__} {exc}); cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
        with contextlib.suppress(Exception):
            stack.purge_redis()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
