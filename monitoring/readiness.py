"""Readiness: can this deployment take a seller's photo and turn it into a draft right now?

Each check answers "ok", "fail" or "skipped" with a detail and its time in ms; the site is ready
when none fails. Every check is bounded: the database by a statement timeout, Redis by socket
timeouts (READINESS_TIMEOUT_SECONDS) on a client of its own, so a Redis that accepts connections
and never answers fails the probe in about that time instead of hanging it. When Redis cannot be
reached, the checks that read it (heartbeats, queue) fail at once without trying again.

Without REDIS_URL (the embedded mode) tasks run in-process: there is no broker, worker or beat to
check, and those checks are "skipped", never failed.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import connection, transaction

from marketplace.celery import app as celery_app
from marketplace.migrations_state import unapplied_migrations
from marketplace.storage import media_bucket_probe, media_buckets
from marketplace.task_queues import QueueKind, queue_name

from .heartbeats import heartbeat_age_seconds, worker_kind

OK, FAIL, SKIPPED = "ok", "fail", "skipped"
EMBEDDED = "skipped: tasks run in-process (no REDIS_URL), there is no broker, worker or beat"
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in sibling lists
# "<queue>\x06\x16<priority>" (kombu.transport.redis PRIORITY_STEPS, Channel.sep).
KOMBU_PRIORITY_SEP, KOMBU_PRIORITY_STEPS = "\x06\x16", (3, 6, 9)


@dataclass(frozen=True)
class Check:
    status: str
    detail: str
    ms: float = 0.0


def readiness_report() -> dict:
    """{"status": "ok" | "fail", "checks": {name: {"status", "detail", "ms"}}}, every check run
    in order (database first: nothing works without it)."""
    database = _timed(_check_database)
    if database.status == FAIL:  # reading the migrations would wait for the database again
        migrations = Check(FAIL, "not checked: the database is unreachable")
    else:
        migrations = _timed(_check_migrations)
    checks = {
        "database": database,
        "migrations": migrations,
        "storage": _timed(_check_storage),
        **_task_checks(),
    }
    failed = any(check.status == FAIL for check in checks.values())
    return {
        "status": FAIL if failed else OK,
        "checks": {name: asdict(check) for name, check in checks.items()},
    }


def _timed(check: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure, it never raises
        result = Check(FAIL, _describe(exc))
    return Check(result.status, result.detail, round((time.perf_counter() - started) * 1000, 1))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# --- Database and migrations ---------------------------------------------------------------------


def _check_database() -> Check:
    timeout_ms = int(settings.READINESS_TIMEOUT_SECONDS * 1000)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # for this transaction only (is_local)
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
        cursor.execute("SELECT 1")
    return Check(OK, f"{connection.vendor} answers")


_migrations_memo: dict[str, tuple[float, Check]] = {}
_migrations_lock = threading.Lock()


def _check_migrations() -> Check:
    """Unapplied migrations mean this code runs against a schema it does not expect. Reading the
    migration files takes ~100 ms, so the answer is kept READINESS_MIGRATIONS_CACHE_SECONDS."""
    with _migrations_lock:
        memo = _migrations_memo.get(connection.alias)
        if memo and time.monotonic() - memo[0] < settings.READINESS_MIGRATIONS_CACHE_SECONDS:
            return memo[1]
        unapplied = unapplied_migrations(using=connection.alias)
        if unapplied:
            names = ", ".join(unapplied[:5])
            more = " ..." if unapplied[5:] else ""
            result = Check(FAIL, f"{len(unapplied)} unapplied: {names}{more}")
        else:
            result = Check(OK, "all applied")
        _migrations_memo[connection.alias] = (time.monotonic(), result)
        return result


def migrations_check_forget() -> None:
    """Check the migrations again at the next probe (tests; after migrating in this process)."""
    _migrations_memo.clear()


# --- Object storage ------------------------------------------------------------------------------


def _check_storage() -> Check:
    """Every media bucket answers a HEAD. A store that hangs gets READINESS_TIMEOUT_SECONDS in
    all: the calls run in a thread of their own (botocore's own timeouts are for uploads, and
    longer), which is left to finish in the background."""
    buckets = media_buckets()
    if not buckets:
        return Check(SKIPPED, "skipped: photos are on local disk (no object storage configured)")
    outcome: dict = {}

    def probe():
        try:
            for bucket, backend in buckets:
                media_bucket_probe(bucket, backend)
        except Exception as exc:  # noqa: BLE001 - reported by the check
            outcome["error"] = exc

    thread = threading.Thread(target=probe, name="readiness-storage", daemon=True)
    thread.start()
    thread.join(settings.READINESS_TIMEOUT_SECONDS)
    names = ", ".join(bucket for bucket, _ in buckets)
    if thread.is_alive():
        timeout = settings.READINESS_TIMEOUT_SECONDS
        return Check(FAIL, f"no answer from the object storage within {timeout:g} s ({names})")
    if "error" in outcome:
        return Check(FAIL, _describe(outcome["error"]))
    return Check(OK, f"bucket(s) answer: {names}")


# --- Broker, queue and heartbeats ----------------------------------------------------------------


def _task_checks() -> dict[str, Check]:
    names = ("broker", "queue", "worker", "beat")
    if not settings.REDIS_URL:
        return {name: Check(SKIPPED, EMBEDDED) for name in names}
    client = _broker_client(celery_app.conf.broker_url)
    broker = _timed(lambda: _check_broker(client))
    if broker.status == FAIL:
        unreachable = Check(FAIL, "not checked: Redis is unreachable")
        return {"broker": broker, **{name: unreachable for name in names[1:]}}
    return {
        "broker": broker,
        "queue": _timed(lambda: _check_queue(client)),
        # A worker that takes pre-fills: one on the other queues alone serves no seller.
        "worker": _timed(lambda: _check_heartbeat(worker_kind(QueueKind.PREFILL))),
        "beat": _timed(lambda: _check_heartbeat("beat")),
    }


_clients: dict[str, redis.Redis] = {}


def _broker_client(url: str) -> redis.Redis:
    """One client (and connection pool) per broker URL and process: a probe reuses a connection
    instead of opening one every time."""
    if url not in _clients:
        timeout = settings.READINESS_TIMEOUT_SECONDS
        _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
        )
    return _clients[url]


def _check_broker(client: redis.Redis) -> Check:
    client.ping()
    return Check(OK, "Redis answers")


def _check_queue(client: redis.Redis) -> Check:
    """The pre-fill queue only: its length is what a seller waits behind. An eval run of a
    thousand cases waiting on its own queue delays nobody (marketplace/task_queues.py)."""
    queue = queue_name(QueueKind.PREFILL)
    waiting = queue_lengths(client, [queue])[queue]
    limit = settings.READINESS_QUEUE_MAX_LENGTH
    status = OK if waiting <= limit else FAIL
    return Check(status, f"{waiting} task(s) waiting in {queue!r} (limit {limit})")


def queue_lengths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each broker queue, all priorities (kombu keeps priorities 3, 6 and 9
    of a queue in lists of their own), in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for key in (queue, *(f"{queue}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITY_STEPS)):
                pipe.llen(key)
        counts = pipe.execute()
    per_queue = 1 + len(KOMBU_PRIORITY_STEPS)
    return {
        queue: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


def _check_heartbeat(kind: str) -> Check:
    age = heartbeat_age_seconds(kind=kind)
    limit = settings.READINESS_HEARTBEAT_MAX_AGE_SECONDS
    if age is None:
        return Check(FAIL, f"no {kind} heartbeat ever seen")
    status = OK if age <= limit else FAIL
    return Check(status, f"last {kind} heartbeat {age:.0f} s ago (limit {limit} s)")
