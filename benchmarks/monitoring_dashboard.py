"""Monitoring dashboard at 1,000,000 runs over 30 days: the rollup catch-up and the page.

What it measures
    1. The rollup catch-up: `buckets_rebuild` (what `manage.py monitoring_rollups_rebuild` runs)
       over the whole history, from nothing: minutes from the source rows, hours and days from
       them, wall time and rows written.
    2. The dashboard page, GET /admin/monitoring/dashboard/?window=1h|24h|7d|30d, in-process
       with django.test.Client as staff holding only monitoring.view_dashboard (routing,
       middleware, permission, the bucket query, the figures, chart JSON and the template),
       p50 / p95 / max over --repeat requests after 2 warm-ups, with SQL queries per request.
       Target: under 300 ms for 30 days (the issue).
    3. The reads the alerts make (window_totals for 5 min, 1 h, 6 h, 7 d) and the refresh a
       finished run triggers (one minute recomputed, with its hour and day).

Data (bulk-loaded with PostgreSQL COPY)
    --runs pre-fill runs created uniformly over the last 30 days, in 4 dimensions (production
    on two prompt versions, and the two arms of a running experiment, one on another model):
    ~86 % succeeded (~3 % blank drafts, ~8 % with empty brand/colour), the rest failed (timeout,
    rate limit, refusal, schema, worker lost late); 1-3 attempts; lognormal queue wait and
    provider latency. A thumb for ~20 % of drafts, a sell session for ~70 % of finished runs
    (~75 % published, the rest abandoned) and 7 publish-stage corrections per published draft.
    VACUUM ANALYZE after the load and after the rebuild, as autovacuum would.

Run (from the repository root)
    .venv/bin/python benchmarks/monitoring_dashboard.py --runs 1000000 --repeat 20

Its own database: PostgreSQL `trova_bench_monitoring` (created, and dropped unless --keep-db).
Results: benchmarks/results/monitoring_dashboard-postgres.json
"""

import argparse
import json
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
from common import database_create, database_drop, django_setup, timed, wait_for_quiet_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "trova_bench_monitoring"
FIELDS = ("title", "description", "category", "condition", "brand", "color", "price_eur")
DRAFT = {"title": "Red bike", "description": "A red bike.", "category": "bikes",
         "condition": "good", "brand": "Gazelle", "color": "red", "price_eur": 90.0}  # fmt: skip
PARTIAL = DRAFT | {"brand": None, "color": None}
BLANK = dict.fromkeys(FIELDS)
ERRORS = ("timeout", "rate_limited", "refusal", "schema", "worker_lost")
WINDOWS = ("1h", "24h", "7d", "30d")
CHUNK = 100_000


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-monitoring-bench-"))
    url = database_create("postgres", workdir, PG_DB)
    try:
        django_setup(url, workdir)
        results = {"runs": args.runs}
        viewer, now, results["load_s"] = _load(args.runs)
        results["load"] = wait_for_quiet_machine(max_load=1.5, max_wait=args.wait)
        results["rebuild"] = _rebuild(now)
        if args.profile:
            _profile_day(now)
        results["dashboard"] = _dashboard(viewer, args.repeat)
        results["alerts_reads"] = _window_totals(now, args.repeat)
        results["refresh_one_minute"] = _refresh(now, args.repeat)
        _report(results)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(PG_DB)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--wait", type=float, default=120, help="max seconds for a quiet machine")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile one day of the rebuild")
    return parser.parse_args()


# --- data ----------------------------------------------------------------------------------------


def _load(count: int):
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.utils import timezone

    from ai_prefill.models import PromptVersion
    from experiments.models import Arm, Experiment
    from marketplace.models import User

    t0 = time.perf_counter()
    viewer = User.objects.create_user("viewer", password="!", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    seller = User.objects.create_user("seller", password="!")
    versions = [
        PromptVersion.objects.create(
            name=f"v{i}", content_hash=f"{i}" * 64, instructions="i", user_text="u", schema_hash="s"
        )  # fmt: skip
        for i in (1, 2)
    ]
    experiment = Experiment.objects.create(key="bench", hypothesis="v2 is better")
    arms = [Arm.objects.create(experiment=experiment, key=k, is_control=k == "control")
            for k in ("control", "v2")]  # fmt: skip
    # (prompt version, model, arm id or None, share of the runs)
    v1, v2 = (version.pk for version in versions)
    dims = [(v1, "gpt-a", None, 0.6), (v2, "gpt-a", None, 0.2),
            (v1, "gpt-a", arms[0].pk, 0.1), (v2, "gpt-b", arms[1].pk, 0.1)]  # fmt: skip
    now = timezone.now()
    rng = np.random.default_rng(2026)
    for start in range(0, count, CHUNK):
        _chunk(rng, seller.pk, dims, now, min(CHUNK, count - start), outcome_base=start)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    took = time.perf_counter() - t0
    print(f"loaded {count:,} runs and their feedback in {took:.0f} s", flush=True)
    return viewer, now, round(took, 1)


def _chunk(rng, seller, dims, now, n, outcome_base):
    """n runs and their thumbs, sessions, outcomes and corrections, COPYed in."""
    which = rng.choice(len(dims), size=n, p=[d[3] for d in dims])
    created = [now - timedelta(seconds=float(s)) for s in rng.uniform(60, 30 * 86400, n)]
    queue_ms = rng.lognormal(np.log(300), 1.0, n)
    latency_ms = rng.lognormal(np.log(2500), 0.5, n).astype(int)
    attempts = rng.choice([1, 1, 1, 1, 2, 3], size=n)
    kind = rng.random(n)
    runs, ratings, sessions, outcomes, corrections = [], [], [], [], []
    for i in range(n):
        pv, model, arm, _ = dims[which[i]]
        started = created[i] + timedelta(milliseconds=float(queue_ms[i]))
        finished = started + timedelta(milliseconds=int(latency_ms[i]) + 40)
        run_id = uuid.uuid4()
        if kind[i] < 0.86:
            status, error = "succeeded", ""
            draft = BLANK if kind[i] < 0.03 else PARTIAL if kind[i] < 0.11 else DRAFT
        else:
            status, error, draft = "failed", ERRORS[int(kind[i] * 1000) % len(ERRORS)], None
            if error == "worker_lost":
                finished = created[i] + timedelta(minutes=30)
        cost = "0.001200" if draft else None
        tokens = (700, 150) if draft else (None, None)
        runs.append((run_id, seller, "prefill/b.jpg", "prefill/t.jpg", "", "0" * 64, pv, "openai",
                     model, "{}", status, int(attempts[i]), created[i], started, finished,
                     int(latency_ms[i]), json.dumps(draft) if draft else None, *tokens, cost,
                     error, "", arm, ""))  # fmt: skip
        roll = rng.random()
        if draft and roll < 0.2:
            at = finished + timedelta(seconds=30)
            ratings.append((run_id, seller, "down" if roll < 0.05 else "up", "", at, at))
        if roll < 0.7:
            _session(rng, seller, arm, run_id, created[i], finished, draft, sessions, outcomes,
                     corrections, outcome_base + i + 1)  # fmt: skip
    _copy("ai_prefill_prefillrun", RUN_COLUMNS, runs)
    _copy("feedback_suggestionrating", RATING_COLUMNS, ratings)
    _copy("feedback_sellsession", SESSION_COLUMNS, sessions)
    _copy("feedback_prefilloutcome", OUTCOME_COLUMNS, outcomes)
    _copy("feedback_fieldcorrection", CORRECTION_COLUMNS, corrections)


def _session(rng, seller, arm, run_id, opened, finished, draft, sessions, outcomes, corrections,
             outcome_id):  # fmt: skip
    if rng.random() < 0.75:
        at = finished + timedelta(seconds=float(rng.uniform(30, 900)))
        seconds = (at - opened).total_seconds()
        sessions.append((uuid.uuid4(), seller, None, arm, opened, run_id, "published", at, None,
                         seconds, None))  # fmt: skip
        outcomes.append((outcome_id, run_id, "published", opened, at, int(seconds), 0, at))
        if draft:
            for name in FIELDS:
                changed = bool(rng.random() < 0.25)
                corrections.append(
                    (outcome_id, "publish", name, changed, 0.0 if changed else 1.0, at)
                )
    else:
        at = opened + timedelta(hours=24)
        sessions.append((uuid.uuid4(), seller, None, arm, opened, run_id, "abandoned", None, None,
                         None, at))  # fmt: skip


RUN_COLUMNS = ("id", "user_id", "photo", "thumbnail", "model_image", "image_sha256",
               "prompt_version_id", "provider", "model", "params", "status", "attempts",
               "created_at", "started_at", "finished_at", "provider_latency_ms", "draft",
               "input_tokens", "output_tokens", "cost_usd", "error_type", "error_message",
               "arm_id", "request_id")  # fmt: skip
RATING_COLUMNS = ("run_id", "user_id", "rating", "comment", "created_at", "updated_at")
SESSION_COLUMNS = ("id", "user_id", "experiment_id", "arm_id", "opened_at", "run_id", "status",
                   "published_at", "listing_id", "seconds_to_publish", "abandoned_at")  # fmt: skip
OUTCOME_COLUMNS = ("id", "run_id", "status", "form_opened_at", "published_at",
                   "seconds_to_publish", "fields_changed", "recorded_at")  # fmt: skip
CORRECTION_COLUMNS = ("outcome_id", "stage", "field", "changed", "similarity", "recorded_at")


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    from django.db import connection

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


# --- measurements --------------------------------------------------------------------------------


def _profile_day(now) -> None:
    """--profile: where a day of the rebuild spends its time."""
    import cProfile
    import pstats

    from monitoring.rollups import _rebuild_day, floor_to

    profiler = cProfile.Profile()
    profiler.runcall(_rebuild_day, floor_to(now, "day") - timedelta(days=3))
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def _rebuild(now) -> dict:
    from django.db import connection

    from monitoring.rollup_models import MetricBucket
    from monitoring.rollups import buckets_rebuild

    start = time.perf_counter()
    days = buckets_rebuild(now=now)
    took = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitoring_metricbucket")
    rows = {
        size: MetricBucket.objects.filter(size=size).count() for size in ("minute", "hour", "day")
    }
    print(f"rebuild: {days} days, {took:.1f} s, rows {rows}", flush=True)
    return {"days": days, "seconds": round(took, 1), "rows": rows}


def _dashboard(viewer, repeat: int) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(viewer)
    out = {}
    for window in WINDOWS:

        def get(window=window):
            response = client.get("/admin/monitoring/dashboard/", {"window": window})
            assert response.status_code == 200, response.status_code
            assert b'id="dashboard-charts"' in response.content

        out[window] = timed(get, repeat)
        print(f"dashboard {window:>3}: {out[window]}", flush=True)
    return out


def _window_totals(now, repeat: int) -> dict:
    from monitoring.rollup_selectors import window_totals

    out = {}
    for label, length in (("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
                          ("6h", timedelta(hours=6)), ("7d", timedelta(days=7))):  # fmt: skip
        out[label] = timed(lambda length=length: window_totals(start=now - length, end=now), repeat)
        print(f"window_totals {label:>2}: {out[label]}", flush=True)
    return out


def _refresh(now, repeat: int) -> dict:
    from monitoring.rollups import buckets_refresh_minutes

    minute = now - timedelta(hours=3)
    out = timed(lambda: buckets_refresh_minutes(minutes=[minute]), repeat)
    print(f"refresh one minute (+ its hour and day): {out}", flush=True)
    return out


def _report(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results["target_30d_under_300ms"] = results["dashboard"]["30d"]["p95_ms"] < 300
    path = RESULTS / "monitoring_dashboard-postgres.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"30 days under 300 ms (p95): {results['target_30d_under_300ms']}; written to {path}")


if __name__ == "__main__":
    main()
