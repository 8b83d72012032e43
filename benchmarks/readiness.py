"""/readyz: how long the readiness probe takes with Redis up, refusing, and hung.

Measures, in-process with django.test.Client (middleware and view, real database and Redis
clients), GET /readyz in three cases:

- up: the real Redis (REDIS_URL, default db 5 of this machine's), with a fresh worker and beat
  heartbeat written by this script (the probe reads them as it reads a real worker's);
- refused: Redis at a local port nothing listens on;
- hung: Redis at a local socket that accepts connections and never answers.

Plus the first probe of a process (the migrations check reads the migration files; later probes
reuse its answer for READINESS_MIGRATIONS_CACHE_SECONDS) and /healthz for comparison.

    .venv/bin/python benchmarks/readiness.py [--db postgres|sqlite] [--requests 200]

Uses its own database (PostgreSQL `trova_bench_readiness`, created and dropped, or a temporary
SQLite file). Results: benchmarks/results/readiness-<db>.json
"""

import argparse
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from common import database_create, database_drop, django_setup, percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "trova_bench_readiness"


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-ready-bench-"))
    url = database_create(args.db, workdir, PG_DB)
    try:
        django_setup(url, workdir)
        results = _measure(args)
    finally:
        if args.db == "postgres":
            database_drop(PG_DB)
    _report(args, results)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--hung-requests", type=int, default=5, help="each takes ~the timeout")
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
    )
    return parser.parse_args()


def _measure(args) -> dict:
    from django.test import Client

    from monitoring.readiness import migrations_check_forget

    client = Client()
    results = {}
    with _redis_at(args.redis):
        from marketplace.task_queues import QueueKind
        from monitoring.heartbeats import heartbeat_record, worker_kind

        # A worker on the pre-fill queue: what the readiness "worker" check asks for.
        heartbeat_record(kind="worker", also=(worker_kind(QueueKind.PREFILL),))
        heartbeat_record(kind="beat")
        migrations_check_forget()
        results["first probe (migrations read)"] = _time(client, "/readyz", 1, expect=200)
        results["up"] = _time(client, "/readyz", args.requests, expect=200)
    with _closed_port() as port, _redis_at(f"redis://127.0.0.1:{port}/0"):
        results["refused"] = _time(client, "/readyz", args.requests, expect=503)
    with _hung_server() as port, _redis_at(f"redis://127.0.0.1:{port}/0"):
        results["hung"] = _time(client, "/readyz", args.hung_requests, expect=503)
    results["/healthz"] = _time(client, "/healthz", args.requests, expect=200)
    return results


def _time(client, path: str, n: int, *, expect: int) -> dict:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == expect, (path, response.status_code, response.content)
    return {
        "n": n,
        "p50_ms": round(percentile(timings, 50), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
    }


class _redis_at:
    """The site's broker, cache and REDIS_URL pointed at `url` (override_settings)."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        from django.test import override_settings

        from marketplace.celery import app as celery_app

        self.previous = celery_app.conf.broker_url
        celery_app.conf.broker_url = self.url
        cache = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": self.url,
            "OPTIONS": {"socket_connect_timeout": 2.0, "socket_timeout": 2.0},
        }
        self.override = override_settings(REDIS_URL=self.url, CACHES={"default": cache})
        self.override.enable()

    def __exit__(self, *exc):
        from marketplace.celery import app as celery_app

        self.override.disable()
        celery_app.conf.broker_url = self.previous


class _closed_port:
    def __enter__(self) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc):
        pass


class _hung_server:
    """Accepts connections and never answers, like a Redis stuck on a full disk or a dead VM
    behind a live load balancer."""

    def __enter__(self) -> int:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()
        return self.server.getsockname()[1]

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def __exit__(self, *exc):
        self.server.close()
        for conn in self.accepted:
            conn.close()


def _report(args, results: dict) -> None:
    from django.conf import settings

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"readiness-{args.db}.json"
    payload = {
        "db": args.db,
        "timeout_s": settings.READINESS_TIMEOUT_SECONDS,
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"\n/readyz ({args.db}, READINESS_TIMEOUT_SECONDS={settings.READINESS_TIMEOUT_SECONDS})")
    print(f"{'case':32} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for case, row in results.items():
        print(f"{case:32} {row['n']:>5} {row['p50_ms']:>9} {row['p95_ms']:>9} {row['max_ms']:>9}")
    print(f"\n{out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
