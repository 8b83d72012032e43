"""Drift: the cost of the intake statistics per photo, and of the daily report at ~1M runs.

What it measures
    1. Intake statistics (monitoring.drift_stats.photo_stats, what the upload pays on top of the
       intake): per photo, on the decoded image `photo_process` hands over, for uploads of
       800 x 600 and 1600 x 1200 (JPEGs the intake keeps as they are: it decodes a reduced
       copy) and 4000 x 3000 (12 MP: decoded and shrunk to 1600 px for display). --photos calls
       each, after warm-up: p50 / p95. Also, for scale, the same on the full 12 MP image.
    2. The daily report (monitoring.drift_services.drift_report_build) over --runs runs spread
       evenly over 29 days (the reported day and its 28-day reference), ~93% succeeded, each
       with intake statistics: --repeat builds of the last day, p50 / max, the queries, and the
       time of each of its four grouped queries; on PostgreSQL EXPLAIN ANALYZE of the reference
       window's category/condition count.

Run (from the repository root)
    .venv/bin/python benchmarks/drift.py --db postgres --runs 1000000 --repeat 5

Its own database: PostgreSQL `trova_bench_drift` (created and dropped), or a temporary SQLite
file. Results: benchmarks/results/drift-<db>.json
"""

import argparse
import datetime as dt
import io
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from common import database_create, database_drop, django_setup, percentile, wait_for_quiet_machine

# Django and the app are imported inside the functions: the environment must be set first.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "trova_bench_drift"
DAYS = 29
BATCH = 10_000


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-drift-bench-"))
    url = database_create(args.db, workdir, PG_DB)
    try:
        django_setup(url, workdir)
        load = wait_for_quiet_machine(max_load=2.0, max_wait=20)
        results = {"intake_ms": _intake(args.photos), "machine_load_intake": load}
        if args.intake_only:
            return _write(args, results)
        day = _data(args.runs)
        results["machine_load_report"] = wait_for_quiet_machine(max_load=2.0, max_wait=20)
        results["report"] = _report_timings(day, args.repeat)
        results["explain"] = _explain(day)
    finally:
        if args.db == "postgres" and not args.keep_db:
            database_drop(PG_DB)
    _write(args, results)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--photos", type=int, default=200, help="timed calls per photo size")
    parser.add_argument("--repeat", type=int, default=5, help="timed report builds")
    parser.add_argument("--intake-only", action="store_true", help="skip the daily report")
    parser.add_argument("--keep-db", action="store_true", help="leave the PostgreSQL database")
    return parser.parse_args()


# --- 1. intake statistics ------------------------------------------------------------------------


def _intake(count: int) -> dict:
    from django.core.files.base import ContentFile
    from PIL import Image

    from marketplace.photos import photo_process
    from marketplace.sample_images import render_item
    from monitoring.drift_stats import photo_stats

    out = {}
    for size in ((800, 600), (1600, 1200), (4000, 3000)):
        data = render_item(shape="bike", color="red", size=size, label="Trova")
        photo = photo_process(ContentFile(data))
        source = (photo.source_width, photo.source_height)
        name = f"{size[0]}x{size[1]} upload (decoded {photo.upright.width}x{photo.upright.height})"
        out[name] = _timed(
            lambda p=photo, s=source: photo_stats(image=p.upright, source_size=s), count
        )
    full = Image.open(io.BytesIO(render_item(shape="bike", color="red", size=(4000, 3000))))
    full.load()
    out["full 12 MP image (for scale)"] = _timed(
        lambda: photo_stats(image=full, source_size=full.size), max(20, count // 10)
    )
    for name, row in out.items():
        p50, p95, cpu = row["p50_ms"], row["p95_ms"], row["cpu_p50_ms"]
        print(f"  intake, {name:>44}: p50 {p50:.2f} ms  p95 {p95:.2f} ms  CPU p50 {cpu:.2f} ms")
    return out


def _timed(call, count: int) -> dict:
    """Wall time, and the CPU time of this thread: on a machine shared with other work the CPU
    time is what the call itself costs, the wall time what it took while waiting for a core."""
    for _ in range(10):
        call()
    wall, cpu = [], []
    for _ in range(count):
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return {"n": count, "p50_ms": round(percentile(wall, 50), 3),
            "p95_ms": round(percentile(wall, 95), 3), "cpu_p50_ms": round(percentile(cpu, 50), 3),
            "cpu_p95_ms": round(percentile(cpu, 95), 3)}  # fmt: skip


# --- 2. the daily report -------------------------------------------------------------------------


def _data(count: int) -> dt.date:
    """`count` runs over the 29 days ending yesterday, bulk-inserted; returns yesterday."""
    from django.db import connection
    from django.utils import timezone

    from ai_prefill.models import PrefillRun
    from ai_prefill.prompt_registry import prompt_version_production
    from marketplace.models import User
    from monitoring.drift import day_bounds

    t0 = time.perf_counter()
    seller = User.objects.create_user("seller", password="!")
    version = prompt_version_production()
    day = timezone.localdate() - dt.timedelta(days=1)
    start, _ = day_bounds(day - dt.timedelta(days=DAYS - 1))
    _, end = day_bounds(day)
    rng = np.random.default_rng(2026)
    # Runs keep the creation time given here (a load, not a request).
    PrefillRun._meta.get_field("created_at").auto_now_add = False
    for first in range(0, count, BATCH):
        n = min(BATCH, count - first)
        _batch(rng, n, seller.pk, version, start, (end - start).total_seconds())
        print(f"  loaded {first + n} runs ({time.perf_counter() - t0:.0f} s)", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"loaded {count} runs in {time.perf_counter() - t0:.1f} s", flush=True)
    return day


def _batch(rng, n, user_id, version, start, span_seconds) -> None:
    from ai_prefill.models import PrefillRun
    from marketplace.taxonomy import Category, Condition
    from monitoring.drift_models import IntakeStats

    created = [start + dt.timedelta(seconds=float(s)) for s in rng.random(n) * span_seconds]
    categories = rng.choice(Category.values, n)
    conditions = rng.choice(Condition.values, n, p=[0.15, 0.3, 0.35, 0.15, 0.05])
    failed = rng.random(n) < 0.07
    runs = [
        PrefillRun(
            id=uuid.uuid4(), user_id=user_id, prompt_version=version, provider="openai",
            model="gpt-4.1-mini", photo="prefill/b.jpg", thumbnail="prefill/b.jpg",
            image_sha256="0" * 64, created_at=created[i],
            status="failed" if failed[i] else "succeeded",
            error_type="timeout" if failed[i] else "",
            draft=None if failed[i] else {
                "title": "Item", "description": "An item.", "category": str(categories[i]),
                "condition": str(conditions[i]), "brand": None, "color": "red", "price_eur": 20.0,
            },
        )
        for i in range(n)
    ]  # fmt: skip
    PrefillRun.objects.bulk_create(runs, batch_size=2000)
    megapixels = rng.choice([0.5, 2.0, 12.0, 12.2, 48.0], n, p=[0.1, 0.2, 0.4, 0.2, 0.1])
    stats = [
        IntakeStats(run_id=run.pk, created_at=run.created_at, megapixels=float(megapixels[i]),
                    aspect=float(rng.choice([0.75, 1.0, 1.33, 1.78])),
                    brightness=float(rng.normal(140, 35)),
                    sharpness=float(rng.lognormal(np.log(300), 0.9)))
        for i, run in enumerate(runs)
    ]  # fmt: skip
    IntakeStats.objects.bulk_create(stats, batch_size=2000)


def _report_timings(day: dt.date, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.drift import day_bounds, intake_counts, reference_bounds, suggested_counts
    from monitoring.drift_services import drift_report_build

    drift_report_build(day=day)  # warm
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        drift_report_build(day=day)
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        report = drift_report_build(day=day)
    parts = {
        "suggested counts, day": lambda: suggested_counts(*day_bounds(day)),
        "suggested counts, 28-day reference": lambda: suggested_counts(*reference_bounds(day)),
        "intake counts, day": lambda: intake_counts(*day_bounds(day)),
        "intake counts, 28-day reference": lambda: intake_counts(*reference_bounds(day)),
    }
    parts_ms = {}
    for name, call in parts.items():
        start = time.perf_counter()
        call()
        parts_ms[name] = round((time.perf_counter() - start) * 1000, 1)
    out = {"n": repeat, "p50_ms": round(percentile(timings, 50), 1),
           "max_ms": round(max(timings), 1), "queries": len(queries), "parts_ms": parts_ms,
           "day_runs": report.run_count,
           "reference_runs": report.dimensions["category"]["reference_n"],
           "levels": {k: v["level"] for k, v in report.dimensions.items()}}  # fmt: skip
    print(f"  report for {day}: p50 {out['p50_ms']:.0f} ms  max {out['max_ms']:.0f} ms  "
          f"{out['queries']} queries; {out['day_runs']} runs that day, "
          f"{out['reference_runs']} in the reference")  # fmt: skip
    for name, ms in parts_ms.items():
        print(f"    {name:>36}: {ms:8.1f} ms")
    return out


def _explain(day: dt.date) -> str:
    from django.db import connection

    from monitoring.drift import reference_bounds, suggested_count_rows

    if connection.vendor != "postgresql":
        return ""
    plan = suggested_count_rows(*reference_bounds(day)).explain(analyze=True, buffers=True)
    print(plan)
    return plan


def _write(args, results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"db": args.db, "runs": args.runs, **results}
    (RESULTS / f"drift-{args.db}.json").write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
