"""Fixtures of the integration tests: a real Celery worker in a subprocess, on the test database.

The worker is its own process with the prefork pool, so a test can SIGKILL it, or the pool child
running a task, as the OOM killer or a careless deploy would. It runs the production settings
module against the same test database, Redis, media folders and fake OpenAI server as the test,
on queues of this test session only (CELERY_QUEUE_PREFIX), so a stray worker on the machine never
takes its tasks.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from marketplace.celery import app as celery_app
from marketplace.task_queues import QueueKind, queue_name, queues_for
from tests.outage import RedisOutage

ROOT = Path(__file__).resolve().parents[2]

# Short limits keep the tests fast; the lease (execution._claim) is the hard limit plus 5 s.
# The soft limit leaves 4 s besides the request for the database, the image and a cold SDK
# client: on a 2-core box busy with a browser, a fresh pool child took 4.8 s to send its request.
REQUEST_TIMEOUT = 3
SOFT_TIME_LIMIT = 7
TIME_LIMIT = 8
LEASE_SECONDS = TIME_LIMIT + 5
# Above the lease and every retry countdown (backoff capped at 2 s, jitter x1.5), as the Redis
# transport requires: https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html
VISIBILITY_TIMEOUT = LEASE_SECONDS + 2
BACKOFF_MAX = 2

WORKER_LOGS = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Show the tail of every worker's log under a failing test: the worker's side of the story."""
    report = yield
    if report.failed:
        for log in item.stash.get(WORKER_LOGS, []):
            report.sections.append((f"celery worker log {log.name} (tail)", _tail(log)))
    return report


def _tail(path: Path, lines: int = 80) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def integration_services():
    """Skip, saying how to run them, unless PostgreSQL and Redis are configured."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "Integration test: needs PostgreSQL and Redis; set DATABASE_URL and REDIS_URL "
            "as `make test` does (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/trova "
            "REDIS_URL=redis://127.0.0.1:6379/15)."
        )


@pytest.fixture(scope="session")
def integration_queue_prefix():
    """A queue prefix of this session only (CELERY_QUEUE_PREFIX): every kind's queue is its own,
    and their leftovers are deleted from Redis at the end."""
    prefix = f"trova-it-{uuid.uuid4().hex[:12]}-"
    yield prefix
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        # The queues, their priority sub-queues and the bindings kombu declared for them.
        leftovers = [*client.keys(f"{prefix}*"), *client.keys(f"_kombu.binding*{prefix}*")]
        if leftovers:
            client.delete(*leftovers)


@pytest.fixture
def celery_queues(integration_services, integration_queue_prefix, settings):
    """Producer side: this process publishes through the real broker, to the session's queues
    (one per kind, empty at the start of each test). Yields the prefix."""
    conf = celery_app.conf
    previous_eager = conf.task_always_eager
    settings.CELERY_QUEUE_PREFIX = integration_queue_prefix
    conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        for queue in queues_for(QueueKind):
            conn.default_channel.queue_purge(queue)  # nothing from an earlier test
    yield integration_queue_prefix
    conf.task_always_eager = previous_eager


@pytest.fixture
def celery_queue(celery_queues):
    """The session's pre-fill queue: where a seller's photo waits for a worker."""
    return queue_name(QueueKind.PREFILL)


@pytest.fixture
def redis_outage(celery_queue, settings):
    """Broker and cache unreachable from the start of the test; `.end()` brings Redis back."""
    outage = RedisOutage(settings)
    outage.start()
    yield outage
    outage.end()


@pytest.fixture
def start_worker(request, transactional_db, celery_queues, fake_openai, settings, tmp_path):
    """start_worker() -> a ready CeleryWorker subprocess; every one is killed at teardown."""
    # The web side records the same configuration the worker uses.
    settings.AI_REQUEST_TIMEOUT_SECONDS = REQUEST_TIMEOUT
    settings.AI_TASK_SOFT_TIME_LIMIT = SOFT_TIME_LIMIT
    settings.AI_TASK_TIME_LIMIT = TIME_LIMIT
    env = _worker_env(queue_prefix=celery_queues, openai_base_url=fake_openai.base_url)
    workers: list[CeleryWorker] = []
    request.node.stash[WORKER_LOGS] = []

    def start(
        *, beat: bool = False, kinds: Iterable[QueueKind] = tuple(QueueKind), **overrides: str
    ) -> CeleryWorker:
        """`beat`: run celery beat inside this worker (-B), as a one-host deployment does;
        `kinds`: the queues it consumes (default: all, as a one-host deployment does);
        `overrides`: environment variables for this worker only."""
        log = tmp_path / f"worker-{len(workers) + 1}.log"
        request.node.stash[WORKER_LOGS].append(log)
        schedule = tmp_path / f"beat-schedule-{len(workers) + 1}" if beat else None
        worker = CeleryWorker(
            env={**env, **overrides}, queues=queues_for(kinds), log=log, beat=schedule
        )
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _worker_env(*, queue_prefix: str, openai_base_url: str) -> dict[str, str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "AI_", "OPENAI_", "DJANGO_"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",  # production settings, as deployed
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE_PREFIX": queue_prefix,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
        "AI_PROVIDER": "openai",
        "AI_MODEL": settings.AI_MODEL,
        "OPENAI_BASE_URL": openai_base_url,
        "OPENAI_API_KEY": "test",
        "OPENAI_API_STYLE": settings.OPENAI_API_STYLE,
        "AI_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
        "AI_TASK_SOFT_TIME_LIMIT": str(SOFT_TIME_LIMIT),
        "AI_TASK_TIME_LIMIT": str(TIME_LIMIT),
        "AI_RETRY_BACKOFF_MAX_SECONDS": str(BACKOFF_MAX),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def _test_database_url() -> str:
    """The database pytest-django created (test_<name>), not the one DATABASE_URL names."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(db['NAME'], safe='')}"


class CeleryWorker:
    """`celery worker` as a subprocess in its own process group (so it can be killed whole)."""

    READY_TIMEOUT = 30.0

    def __init__(
        self, *, env: dict[str, str], queues: list[str], log: Path, beat: Path | None = None
    ):
        self.env, self.queues, self.log, self.beat = env, queues, log, beat
        self.nodename = f"trova-it-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "marketplace", "worker"]
        command += ["--pool", "prefork", "--concurrency", "2", "--without-mingle"]
        command += ["--without-gossip", "--loglevel", "INFO", "-Q", ",".join(self.queues)]
        command += ["-n", self.nodename]
        if self.beat is not None:  # its schedule file in the test's folder, not the repo
            command += ["--beat", "--schedule", str(self.beat)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.READY_TIMEOUT
        while f"{self.nodename} ready." not in self.log_text():
            if self.proc.poll() is not None:
                pytest.fail(f"The celery worker exited ({self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"No ready worker after {self.READY_TIMEOUT:.0f} s:\n{self.tail()}")
            time.sleep(0.05)

    def pool_child_running(self, task_id: str | None = None, timeout: float = 3.0) -> int:
        """The pid of the pool child executing a task now, as the worker itself reports it."""
        inspect = celery_app.control.inspect(destination=[self.nodename], timeout=timeout, limit=1)
        active = (inspect.active() or {}).get(self.nodename) or []
        pids = [t["worker_pid"] for t in active if task_id in (None, t["id"])]
        assert len(pids) == 1, f"expected one active task on {self.nodename}, got {active}"
        assert _parent_of(pids[0]) == self.proc.pid, "not a pool child of this worker"
        return pids[0]

    def kill(self) -> None:
        """SIGKILL the main process and its pool children at once: nothing gets to clean up."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)  # warm shutdown: unacked messages go back
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # and anything left of the group, orphans included
        self.proc.wait(timeout=10)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(self.proc.pid, signum)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 80) -> str:
        return _tail(self.log, lines)


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # field 4; the name in () may hold spaces
