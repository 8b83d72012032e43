"""Helpers the benchmark scripts share (they import it as a sibling: `from common import ...`)."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def percentile(values: list[float], p: int) -> float | None:
    """The p-th percentile, interpolated between the closest ranks; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def wait_for_quiet_machine(max_load: float, max_wait: float) -> dict:
    """Wait (bounded) until the 1-minute load average is at most max_load; say what it was."""
    start = time.monotonic()
    first = os.getloadavg()
    load = first
    while load[0] > max_load and time.monotonic() - start < max_wait:
        print(f"  load average {load[0]:.2f} > {max_load}: waiting ...", flush=True)
        time.sleep(10)
        load = os.getloadavg()
    waited = time.monotonic() - start
    if load[0] > max_load:
        print(f"  WARNING: load average still {load[0]:.2f} after {waited:.0f} s; measuring anyway")
    return {
        "at_start": [round(x, 2) for x in first],
        "when_measuring": [round(x, 2) for x in load],
        "waited_s": round(waited),
    }


ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def database_create(kind: str, workdir: Path, pg_name: str) -> str:
    """A fresh database for one benchmark run: a SQLite file in `workdir`, or the PostgreSQL
    database `pg_name` dropped and made again on this machine's server. Returns its URL."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'db.sqlite3'}"
    database_drop(pg_name)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", pg_name], check=True)  # noqa: S603,S607
    return f"{PG_SERVER}/{pg_name}"


def database_drop(pg_name: str) -> None:
    command = ["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", pg_name]
    subprocess.run(command, check=True)  # noqa: S603,S607 - the PostgreSQL client tools


def django_setup(url: str, workdir: Path) -> None:
    """Django on `url` with production settings (DEBUG off), media in `workdir`, no Redis,
    migrated."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        STATIC_MANIFEST="false",
        SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DATABASE_URL=url,
        MEDIA_ROOT=str(workdir / "media"),
        PRIVATE_MEDIA_ROOT=str(workdir / "private"),
        REDIS_URL="",
        ALLOWED_HOSTS="testserver",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(call, repeat: int) -> dict:
    """`call()` twice to warm up, then `repeat` timed calls: p50 / p95 / max in ms, and the SQL
    queries of one more call. Django must be set up (django_setup) first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        call()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        call()
    return {"n": repeat, "p50_ms": round(percentile(timings, 50), 1),
            "p95_ms": round(percentile(timings, 95), 1), "max_ms": round(max(timings), 1),
            "queries": len(queries)}  # fmt: skip
