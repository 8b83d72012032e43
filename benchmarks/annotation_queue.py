"""The annotation queue at 100,000 tasks: server time of the pages an annotator uses.

Measures, in-process with django.test.Client (routing, middleware, view, SQL, templates), the
queue list, "Next task" (a claim with select_for_update(skip_locked=True) on PostgreSQL) and the
review page, as an annotator of the Annotators group. Target: no page slower than a second.

    .venv/bin/python benchmarks/annotation_queue.py [--db postgres|sqlite] [--tasks 100000]

Uses its own database (PostgreSQL `trova_bench_annotation`, created and dropped, or a temporary
SQLite file). Results: benchmarks/results/annotation_queue-<db>.json
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from common import database_create, database_drop, django_setup

# Django and the app are imported inside the functions: the environment must be set first.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "trova_bench_annotation"


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-ann-bench-"))
    url = database_create(args.db, workdir, PG_DB)
    try:
        django_setup(url, workdir)
        annotator = _data(args.tasks)
        results = _measure(annotator, args.requests)
    finally:
        if args.db == "postgres":
            database_drop(PG_DB)
    _report(args, results)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    return parser.parse_args()


def _data(count: int):
    """`count` finished runs with a task each (one shared photo file), and one annotator."""
    from django.contrib.auth.models import Group
    from django.core.files.base import ContentFile
    from django.db import connection

    from ai_prefill.models import PrefillRun, private_storage
    from ai_prefill.prompt_registry import prompt_version_production
    from annotation.models import AnnotationTask
    from marketplace.models import User
    from marketplace.photos import photo_process
    from marketplace.sample_images import render_item

    seller = User.objects.create_user("seller")
    annotator = User.objects.create_user("annotator", is_staff=True)
    annotator.groups.add(Group.objects.get(name="Annotators"))
    photo = photo_process(ContentFile(render_item(shape="ball", color="red")))
    name = private_storage.save("prefill/bench.jpg", ContentFile(photo.display))
    version = prompt_version_production()
    draft = {"title": "", "description": "", "category": "other", "condition": "good",
             "brand": None, "color": "red", "price_eur": None}  # fmt: skip
    reasons = list(AnnotationTask.Reason)
    t0 = time.perf_counter()
    for start in range(0, count, 5000):
        runs = [
            PrefillRun(
                id=uuid.uuid4(),
                user=seller,
                photo=name,
                thumbnail=name,
                image_sha256=photo.sha256,
                prompt_version=version,
                provider="baseline",
                model="baseline",
                status="succeeded",
                draft=draft,
            )  # fmt: skip
            for _ in range(min(5000, count - start))
        ]
        PrefillRun.objects.bulk_create(runs)
        AnnotationTask.objects.bulk_create(
            AnnotationTask(
                run=run,
                reason=reasons[i % 4],
                category="other",
                priority=AnnotationTask.PRIORITY[reasons[i % 4]],
            )  # fmt: skip
            for i, run in enumerate(runs)
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"loaded {count} tasks in {time.perf_counter() - t0:.1f} s")
    return annotator


def _measure(annotator, requests: int) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(annotator)
    base = "/admin/annotation/annotationtask/"
    timings = {"queue list": [], "next task (claim)": [], "review page": [], "submit and next": []}
    for i in range(requests):
        timings["queue list"].append(_timed(client.get, base + (f"?p={i}" if i else "")))
        start = time.perf_counter()
        response = client.post(base + "next/")
        timings["next task (claim)"].append(time.perf_counter() - start)
        review_url = response["Location"]
        timings["review page"].append(_timed(client.get, review_url))
        timings["submit and next"].append(_timed(client.post, review_url, _form()))
    return {name: _summary(values) for name, values in timings.items()}


def _timed(call, *args) -> float:
    start = time.perf_counter()
    response = call(*args)
    assert response.status_code in (200, 302), response.status_code
    return time.perf_counter() - start


def _form() -> dict:
    # No verdicts: the service derives them from these values and the run's draft.
    return {"title": "Red ball", "description": "A ball.", "category": "sports-outdoors",
            "condition": "good", "brand": "", "color": "red", "price_eur": "5", "notes": "",
            "key_attributes": "ball"}  # fmt: skip


def _summary(values: list[float]) -> dict:
    ms = sorted(v * 1000 for v in values)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def _report(args, results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"db": args.db, "tasks": args.tasks, "results": results,
           "target_all_under_1s": all(r["max_ms"] < 1000 for r in results.values())}  # fmt: skip
    (RESULTS / f"annotation_queue-{args.db}.json").write_text(json.dumps(out, indent=2))
    for name, row in results.items():
        print(
            f"{name:>20}: p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
            f"max {row['max_ms']:7.1f} ms"
        )
    print(f"all pages under 1 s: {out['target_all_under_1s']}")


if __name__ == "__main__":
    main()
