"""What experiment assignment adds to the Sell page and to POST /api/prefill/, on PostgreSQL.

What it measures
    The wall time of whole requests through `django.test.Client` (routing, middleware, view,
    SQL, templates or serializers; no network), in-process, for two sellers:

        GET /sell/          opens or resumes the seller's sell session (a reload: the session of
                            the first request is resumed, as when a seller comes back to the form)
        POST /api/prefill/  a 640x480 JPEG: limits, photo intake, the run row, the task published
                            to Redis on commit (queues of this run only, which no worker reads)

    with the Sell experiment running (100% enrolled; one seller in the control arm, payload {} =
    production, one in a baseline AI arm, whose payload names a prompt version) and with no
    experiment (the same experiment paused: assignment_for then returns at once, exactly as
    when none exists). The assignment is stored by the warm-up, as for every seller after their
    first visit. Running and paused alternate in blocks of --block requests per seller and
    endpoint, so drift and background load hit both alike. Reported per endpoint and seller:
    p50 / p95 / max and the median queries per request for each state, and the p50 difference,
    which the target judges: assignment adds at most 2 ms p50 to each. Whole requests vary by
    milliseconds on a busy machine, so the code path the experiment adds is also timed alone
    ("assignment alone": ai_prefill.rollout.prefill_assignment_for, which both endpoints call),
    interleaved with the requests: that difference is the overhead without the noise.

Its own everything
    PostgreSQL database `trova_bench_assignment` (dropped, created, migrated, and dropped at the
    end), Redis db --redis-db with queues of this run only (its keys deleted at the end), media
    in a temporary directory. The per-seller burst rate and daily quota are raised so the limits
    never refuse.

Run (from the repository root; check `uptime` first: the script waits for a quiet machine)
    .venv/bin/python benchmarks/assignment_overhead.py
    .venv/bin/python benchmarks/assignment_overhead.py --requests 1000 --block 50

Results: a table on stdout and benchmarks/results/assignment_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import datetime
from pathlib import Path

from common import percentile, wait_for_quiet_machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
PG_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
PG_BENCH_DB = "trova_bench_assignment"
TARGET_P50_DELTA_MS = 2.0
WARMUP_REQUESTS = 20
STATES = ("no experiment", "running")
ENDPOINTS = ("GET /sell/", "POST /api/prefill/", "assignment alone")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--requests", type=int, default=1000, help="measured requests per endpoint, seller, state"
    )
    parser.add_argument("--block", type=int, default=10, help="requests before the state flips")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--max-load", type=float, default=1.5, help="wait while load avg above")
    parser.add_argument("--load-wait", type=float, default=120, help="max seconds to wait")
    return parser.parse_args()


def configure_environment(workdir: Path, redis_url: str, queue_prefix: str) -> None:
    """Production settings (DEBUG off); settings come from the environment, before setup()."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DATABASE_URL=f"{PG_SERVER_URL}/{PG_BENCH_DB}",
        REDIS_URL=redis_url,
        CELERY_QUEUE_PREFIX=queue_prefix,
        SECRET_KEY="benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        MEDIA_ROOT=str(workdir / "media"),
        PRIVATE_MEDIA_ROOT=str(workdir / "private-media"),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",  # the test client speaks plain HTTP
        STATIC_MANIFEST="false",
        AI_PROVIDER="baseline",
        AI_PREFILL_BURST_RATE="1000000/min",
        AI_PREFILL_DAILY_QUOTA="10000000",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    warnings.filterwarnings("ignore", "Limit for query logging exceeded", UserWarning)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def redis_forget_queue(redis_url: str, queue: str) -> int:
    """The messages nobody read, and kombu's bindings of this run's queue (only its keys)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = [key for key in client.scan_iter(match=f"*{queue}*")]
    return client.delete(*keys) if keys else 0


# --- Data ----------------------------------------------------------------------------------------


def prepare(experiment_key: str):
    """Migrate; the running experiment; one seller in each arm. Returns (experiment, sellers)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from ai_prefill.prompt_registry import prompt_version_production
    from experiments.assignment import arm_index
    from experiments.services import ArmSpec, experiment_create, experiment_start

    call_command("migrate", verbosity=0, interactive=False)
    version = prompt_version_production()
    baseline_payload = {"prompt_version": version.content_hash[:10], "provider": "baseline"}
    experiment = experiment_create(
        key=experiment_key,
        hypothesis="benchmark",
        arms=[
            ArmSpec(key="control", payload={}, is_control=True),
            ArmSpec(key="baseline", payload=baseline_payload),
        ],
        enrollment_percent=100,
    )
    experiment = experiment_start(experiment=experiment, actor=None)
    arms = list(experiment.arms.order_by("position"))
    sellers: dict[str, object] = {}
    user_model = get_user_model()
    for n in range(200):
        user = user_model.objects.create_user(username=f"bench-seller-{n}")
        arm = arms[arm_index(experiment.salt, user.pk, [a.weight for a in arms])].key
        sellers.setdefault(arm, user)
        if len(sellers) == len(arms):
            break
    return experiment, sellers


def small_jpeg() -> bytes:
    from marketplace.sample_images import render_item

    return render_item(shape="mug", color="blue", size=(640, 480))


# --- Measuring -----------------------------------------------------------------------------------


def request_timer(client, photo: bytes):
    """One timed request per endpoint -> (seconds, queries)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    def sell_page() -> tuple[float, int]:
        reset_queries()  # the log keeps 9000 queries: a full one would count none
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/sell/")
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed, len(queries)

    def prefill() -> tuple[float, int]:
        upload = SimpleUploadedFile("mug.jpg", photo, "image/jpeg")
        reset_queries()  # the log keeps 9000 queries: a full one would count none
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.post("/api/prefill/", {"image": upload})
            elapsed = time.perf_counter() - start
        assert response.status_code == 202, (response.status_code, response.content[:200])
        return elapsed, len(queries)

    return {"GET /sell/": sell_page, "POST /api/prefill/": prefill}


def assignment_timer(seller):
    """The added code path alone: the seller's arm and its configuration, as both endpoints
    get it (ai_prefill.rollout.prefill_assignment_for) -> (seconds, queries)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from ai_prefill.rollout import prefill_assignment_for

    def assign() -> tuple[float, int]:
        reset_queries()  # the log keeps 9000 queries: a full one would count none
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            prefill_assignment_for(user=seller)
            elapsed = time.perf_counter() - start
        return elapsed, len(queries)

    return assign


def set_state(experiment, state: str) -> None:
    from experiments.services import experiment_pause, experiment_resume

    experiment.refresh_from_db(fields=["status"])
    if state == "running" and experiment.status != "running":
        experiment_resume(experiment=experiment, actor=None)
    elif state == "no experiment" and experiment.status == "running":
        experiment_pause(experiment=experiment, actor=None, reason="benchmark: no experiment")


def measure(experiment, sellers: dict, args) -> dict:
    from django.test import Client

    from experiments.models import Assignment

    photo = small_jpeg()
    timers = {}
    for arm, seller in sellers.items():
        client = Client()
        client.force_login(seller)
        timers[arm] = {**request_timer(client, photo), "assignment alone": assignment_timer(seller)}
    samples = {
        (endpoint, arm, state): {"ms": [], "queries": []}
        for endpoint in ENDPOINTS
        for arm in sellers
        for state in STATES
    }
    for state in STATES:  # warm-up: templates, connections, memos; stores the assignments
        set_state(experiment, state)
        for _ in range(WARMUP_REQUESTS):
            for per_seller in timers.values():
                for timer in per_seller.values():
                    timer()
    assert Assignment.objects.filter(experiment=experiment).count() == len(sellers)
    blocks = -(-args.requests // args.block)
    for block in range(blocks):
        for state in STATES if block % 2 == 0 else reversed(STATES):
            set_state(experiment, state)
            for _ in range(min(args.block, args.requests - block * args.block)):
                for arm, per_seller in timers.items():
                    for endpoint, timer in per_seller.items():
                        seconds, queries = timer()
                        cell = samples[(endpoint, arm, state)]
                        cell["ms"].append(seconds * 1000)
                        cell["queries"].append(queries)
        print(f"  block {block + 1}/{blocks}", flush=True)
    return samples


def summarise(samples: dict, sellers: dict) -> list[dict]:
    rows = []
    for endpoint in ENDPOINTS:
        for arm in sellers:
            row = {"endpoint": endpoint, "seller_arm": arm}
            for state in STATES:
                cell = samples[(endpoint, arm, state)]
                row[state] = {
                    "n": len(cell["ms"]),
                    "p50_ms": round(percentile(cell["ms"], 50), 3),
                    "p95_ms": round(percentile(cell["ms"], 95), 3),
                    "max_ms": round(max(cell["ms"]), 2),
                    "queries": statistics.median(cell["queries"]),
                }
            delta = row["running"]["p50_ms"] - row["no experiment"]["p50_ms"]
            row["p50_delta_ms"] = round(delta, 3)
            row["p95_delta_ms"] = round(
                row["running"]["p95_ms"] - row["no experiment"]["p95_ms"], 2
            )
            row["target_met"] = delta <= TARGET_P50_DELTA_MS
            rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'endpoint':<20}{'seller':<10}{'state':<15}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'queries':>9}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for row in rows:
        for state in STATES:
            cell = row[state]
            print(
                f"{row['endpoint']:<20}{row['seller_arm']:<10}{state:<15}{cell['p50_ms']:>9.3f}"
                f"{cell['p95_ms']:>9.2f}{cell['max_ms']:>9.2f}{cell['queries']:>9.0f}"
            )
        verdict = "ok" if row["target_met"] else "MISSED"
        print(
            f"{'':<30}assignment adds p50 {row['p50_delta_ms']:+.2f} ms, "
            f"p95 {row['p95_delta_ms']:+.2f} ms (target <= {TARGET_P50_DELTA_MS} ms p50: "
            f"{verdict})"
        )


def main() -> None:
    args = parse_args()
    load = wait_for_quiet_machine(args.max_load, args.load_wait)
    workdir = Path(tempfile.mkdtemp(prefix="trova-bench-assign-"))
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    queue = f"bench-assignment-{uuid.uuid4().hex[:12]}-"  # the prefix of this run's queues
    pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {PG_BENCH_DB}")
    configure_environment(workdir, redis_url, queue)
    try:
        import django

        django.setup()
        from django.db import connection

        experiment, sellers = prepare(f"bench-{queue}")
        print(f"Measuring {args.requests} requests per endpoint, seller and state ...")
        rows = summarise(measure(experiment, sellers, args), sellers)
        print_table(rows)
        payload = {
            "database": f"PostgreSQL {connection.pg_version // 10000}",
            "requests": args.requests,
            "block": args.block,
            "warmup_requests": WARMUP_REQUESTS,
            "target_p50_delta_ms": TARGET_P50_DELTA_MS,
            "python": platform.python_version(),
            "django": django.get_version(),
            "cpus": os.cpu_count(),
            "load_average": {**load, "after": round(os.getloadavg()[0], 2)},
            "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "results": rows,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / "assignment_overhead.json"
        out.write_text(json.dumps(payload, indent=2))
        print(f"\nWrote {out.relative_to(ROOT)}")
    finally:
        from django.db import connections

        connections.close_all()
        pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        redis_forget_queue(redis_url, queue)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
