"""How long one /metrics scrape takes with the multiprocess files of a realistic deployment.

Writer processes (web-like and worker-like, each a real subprocess with its own pid) record
observations through monitoring.metrics into a temporary PROMETHEUS_MULTIPROC_DIR, one folder for
the web and one for the workers, as docker-compose lays them out; then this process serves
GET /metrics through Django's test client (middleware, token check, merging every file, the
scrape-time collectors: eval gate and drift on the database, heartbeats in the cache, and the
broker's queue length with --redis) and reports p50/p95 over --scrapes scrapes.

    .venv/bin/python benchmarks/metrics_scrape.py
    .venv/bin/python benchmarks/metrics_scrape.py --db postgres --redis redis://127.0.0.1:6379/4
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, database_create, database_drop, django_setup, percentile

TOKEN = "benchmark-metrics-token"

# What one process records: a seeded, realistic spread of label values.
WRITER = r"""
import random, sys
sys.path.insert(0, sys.argv[1])
from monitoring import metrics
role, seed, views = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
if role == "web":
    for i in range(views):
        view = f"app:view-{i}"
        for _ in range(rnd.randint(1, 20)):
            status = rnd.choice(["200"] * 8 + ["302", "404", "400"])
            method = rnd.choice(["GET", "POST"])
            metrics.http_requests.labels(view=view, method=method, status=status).inc()
            metrics.http_request_duration.labels(view=view).observe(rnd.expovariate(20))
else:
    models = ["gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano"]
    errors = ["", "", "", "rate_limited", "timeout", "server_error", "schema"]
    versions = [f"listing_draft@{v:010x}" for v in (1, 2, 3)]
    arms = ["production", "prompt-length/control", "prompt-length/short", "model/nano"]
    for _ in range(rnd.randint(20, 60)):
        model, error = rnd.choice(models), rnd.choice(errors)
        labels = dict(gen_ai_operation_name="chat", gen_ai_provider_name="openai",
                      gen_ai_request_model=model)
        duration = rnd.uniform(0.5, 9)
        metrics.gen_ai_operation_duration.labels(**labels, error_type=error).observe(duration)
        run = dict(trova_prompt_version=rnd.choice(versions), trova_arm=rnd.choice(arms))
        status = "failed" if error else "succeeded"
        metrics.prefill_runs_finished.labels(status=status, error_type=error, **run).inc()
        metrics.prefill_queue_wait.observe(rnd.expovariate(2))
        if error:
            metrics.prefill_no_usable_draft.labels(**run).inc()
            continue
        for kind, count in (("input", rnd.randint(300, 1500)), ("output", rnd.randint(80, 300))):
            metrics.gen_ai_token_usage.labels(**labels, gen_ai_token_type=kind).observe(count)
        metrics.prefill_upload_to_draft.observe(rnd.uniform(1, 10))
        metrics.prefill_cost.labels(gen_ai_provider_name="openai", gen_ai_request_model=model,
                                    **run).inc(0.0004)
        metrics.prefill_ratings.labels(rating=rnd.choice(["up", "down"])).inc()
    metrics.celery_tasks_in_progress.inc()
"""


def write_files(folder: Path, role: str, processes: int, views: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for seed in range(processes):
        command = [sys.executable, "-c", WRITER, str(ROOT), role, str(seed), str(views)]
        subprocess.run(command, env=env, check=True)  # noqa: S603 - our interpreter, our script


def _every_line_changed() -> None:
    """The worst case between two scrapes: every number moved, so every line is written again
    (the merge rewrites only lines whose number changed; these files stand still)."""
    from monitoring import metrics_exposition as exposition

    layout = exposition._merger(exposition.metrics_scrape_dirs())._layout
    if layout is not None:
        layout._values[:] = float("nan")


def measure(scrapes: int, *, every_line_changed: bool) -> dict:
    from django.test import Client

    client = Client()
    timings, size = [], 0
    for number in range(scrapes + 10):  # 10 warm-up scrapes: first queries, imports, plans
        if every_line_changed:
            _every_line_changed()
        started = time.perf_counter()
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        size = len(response.content)
        if number >= 10:
            timings.append(elapsed)
    text = response.content.decode()
    return {
        "p50_ms": round(percentile(timings, 50), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
        "bytes": size,
        "samples": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
    }


def _parts(scrapes: int) -> dict:
    """The two halves of a scrape on their own: merging the files, and the scrape-time
    collectors (database, cache, broker)."""
    from prometheus_client import generate_latest

    from monitoring import metrics_exposition as exposition
    from monitoring.metrics_multiprocess import multiproc_files

    paths = exposition.metrics_scrape_dirs()

    def merge_every_line():
        _every_line_changed()
        return exposition._merger(paths).render(multiproc_files(paths))

    halves = {
        "merge_every_line_changed": merge_every_line,
        "merge_numbers_unchanged": lambda: exposition._merger(paths).render(multiproc_files(paths)),
        "collectors": lambda: generate_latest(exposition._collectors_registry(True)),
    }
    figures = {}
    for name, work in halves.items():
        timings = []
        for _ in range(scrapes):
            started = time.perf_counter()
            work()
            timings.append((time.perf_counter() - started) * 1000)
        figures[f"{name}_p50_ms"] = round(percentile(timings, 50), 2)
        figures[f"{name}_p95_ms"] = round(percentile(timings, 95), 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", default="", help="REDIS_URL for the queue-length collector")
    parser.add_argument("--web-processes", type=int, default=4, help="gunicorn workers' worth")
    parser.add_argument("--worker-processes", type=int, default=65, help="prefork children + 1")
    parser.add_argument("--views", type=int, default=80, help="distinct view names")
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trova-metrics-bench-") as tmp:
        workdir = Path(tmp)
        web, worker = workdir / "metrics" / "web", workdir / "metrics" / "worker"
        started = time.monotonic()
        write_files(web, "web", args.web_processes, args.views)
        write_files(worker, "worker", args.worker_processes, args.views)
        files = len(list(web.glob("*.db"))) + len(list(worker.glob("*.db")))
        print(f"wrote {files} files in {time.monotonic() - started:.0f} s", flush=True)
        os.environ["METRICS_BEARER_TOKEN"] = TOKEN
        os.environ["LOG_LEVEL"] = "WARNING"  # not a log line per scrape on the console
        os.environ["METRICS_SCRAPE_DIRS"] = f"{web},{worker}"
        url = database_create(args.db, workdir, "trova_bench_metrics")
        try:
            django_setup(url, workdir)
            from django.conf import settings

            settings.REDIS_URL = args.redis
            result = {
                "every_line_changed": measure(args.scrapes, every_line_changed=True),
                "numbers_unchanged": measure(args.scrapes, every_line_changed=False),
                **_parts(args.scrapes),
            }
        finally:
            if args.db == "postgres":
                from django.db import connections

                connections.close_all()
                database_drop("trova_bench_metrics")
    result.update(
        db=args.db,
        redis=bool(args.redis),
        files=files,
        processes=args.web_processes + args.worker_processes,
    )
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
