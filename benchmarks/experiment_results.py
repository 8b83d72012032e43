"""Experiment results at 100,000 sell sessions: the computation and the staff API endpoint.

What it measures
    The wall time of feedback.experiment_results.experiment_results (every query, Kaplan-Meier,
    log-rank, mSPRT, proportions, SRM, daily medians, audit log) and of
    GET /api/experiments/<key>/results/ in-process with django.test.Client (routing, middleware,
    permission check, the computation, JSON rendering), over --repeat calls after 2 warm-ups, as
    p50 / p95 / max, with the SQL queries per call. Then the time of each part once, so a slow
    part is easy to find, and (PostgreSQL) EXPLAIN ANALYZE of the per-day GROUP BY that also
    ships the published seconds behind Kaplan-Meier.
    Target: under 500 ms (the issue).

Data (bulk-inserted, one running experiment with 3 arms: control, prompt-v3, no-ai)
    3,000 sellers assigned 1:1:1; --sessions sell sessions spread over 28 days, ~75% published
    (lognormal seconds, median 4-5 min), ~17% abandoned, the rest open; a pre-fill run for each
    session of the two AI arms (~92% succeeded with a draft, ~5% failed, ~3% blank), a rating for
    ~20% of succeeded runs, an outcome for each published session with a run and a publish-stage
    correction for each of the 7 fields of those that had a draft (~25% changed). On PostgreSQL
    a VACUUM ANALYZE follows the load, as autovacuum would.

Run (from the repository root)
    .venv/bin/python benchmarks/experiment_results.py --db postgres --sessions 100000 --repeat 20

Its own database: PostgreSQL `trova_bench_experiments` (created and dropped), or a temporary
SQLite file. Results: benchmarks/results/experiment_results-<db>.json
"""

import argparse
import json
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
from common import (
    database_create,
    database_drop,
    django_setup,
    timed,
    wait_for_quiet_machine,
)

# Django and the app are imported inside the functions: the environment must be set first.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "trova_bench_experiments"
FIELDS = ("title", "description", "category", "condition", "brand", "color", "price_eur")
DRAFT = {"title": "Red bike", "description": "A red bike.", "category": "bikes",
         "condition": "good", "brand": None, "color": "red", "price_eur": 90.0}  # fmt: skip
BLANK = dict.fromkeys(FIELDS)


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-exp-bench-"))
    url = database_create(args.db, workdir, PG_DB)
    try:
        django_setup(url, workdir)
        experiment, viewer = _data(args.sessions)
        load = wait_for_quiet_machine(max_load=2.0, max_wait=20)
        results = _measure(experiment, viewer, args.repeat)
        results["parts_ms"] = _parts(experiment)
        results["explain"] = _explain(experiment)
        results["machine_load"] = load
    finally:
        if args.db == "postgres" and not args.keep_db:
            database_drop(PG_DB)
    _report(args, results)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep-db", action="store_true", help="leave the PostgreSQL database")
    return parser.parse_args()


def _data(count: int):
    import numpy as np
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.utils import timezone

    from ai_prefill.models import PrefillRun
    from ai_prefill.prompt_registry import prompt_version_production
    from experiments.models import Assignment
    from experiments.services import ArmSpec, GuardrailSpec, experiment_create, experiment_start
    from marketplace.models import User

    t0 = time.perf_counter()
    staff = User.objects.create_user("viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    arms = [ArmSpec("control", is_control=True), ArmSpec("prompt-v3"), ArmSpec("no-ai")]
    guardrails = [GuardrailSpec("failed_or_empty", 0.1), GuardrailSpec("p95_seconds_to_draft", 20)]
    experiment = experiment_create(key="bench", hypothesis="v3 is faster", arms=arms,
                                   guardrails=guardrails, enrollment_percent=100)  # fmt: skip
    experiment_start(experiment=experiment, actor=staff)
    arm_rows = list(experiment.arms.all())
    User.objects.bulk_create(User(username=f"s{i}", password="!") for i in range(3000))
    sellers = list(User.objects.filter(username__startswith="s").values_list("pk", flat=True))
    Assignment.objects.bulk_create(
        Assignment(experiment=experiment, arm=arm_rows[i % 3], user_id=pk)
        for i, pk in enumerate(sellers)
    )
    rng = np.random.default_rng(2024)
    version = prompt_version_production()
    now = timezone.now()
    # Runs keep the creation time given here (a load, not a request), so time to draft is real.
    PrefillRun._meta.get_field("created_at").auto_now_add = False
    for start in range(0, count, 10_000):
        _batch(experiment, arm_rows, sellers, version, rng, now, min(10_000, count - start))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"loaded {count} sell sessions in {time.perf_counter() - t0:.1f} s", flush=True)
    return experiment, staff


def _batch(experiment, arms, sellers, version, rng, now, n):
    from ai_prefill.models import PrefillRun
    from feedback.models import FieldCorrection, PrefillOutcome, SellSession, SuggestionRating

    which = rng.integers(0, 3, n)
    draw = rng.random(n)
    opened = now - timedelta(days=28) + timedelta(days=1) * rng.random(n) * 28
    medians = np.array([300.0, 240.0, 330.0])[which]
    seconds = np.round(rng.lognormal(np.log(medians), 0.8), 3)
    sessions, runs, pairs = [], [], []
    for i in range(n):
        arm, user = arms[which[i]], sellers[int(rng.integers(len(sellers)))]
        s = SellSession(id=uuid.uuid4(), user_id=user, experiment=experiment, arm=arm,
                        opened_at=opened[i])  # fmt: skip
        if draw[i] < 0.75:
            s.status, s.seconds_to_publish = "published", float(seconds[i])
            s.published_at = opened[i] + timedelta(seconds=float(seconds[i]))
        elif draw[i] < 0.92:
            s.status, s.abandoned_at = "abandoned", opened[i] + timedelta(hours=24)
        else:
            s.opened_at = now - timedelta(seconds=float(rng.uniform(5, 3600)))
        if arm.key != "no-ai":
            run = _run(rng, user, arm, version, s.opened_at)
            s.run = run
            runs.append(run)
            pairs.append((s, run))
        sessions.append(s)
    PrefillRun.objects.bulk_create(runs, batch_size=2000)
    SellSession.objects.bulk_create(sessions, batch_size=2000)
    ratings = [
        SuggestionRating(
            run=run, user_id=run.user_id, rating="up" if rng.random() < 0.7 else "down"
        )
        for run in runs
        if run.status == "succeeded" and rng.random() < 0.2
    ]
    SuggestionRating.objects.bulk_create(ratings, batch_size=2000)
    outcomes = [
        PrefillOutcome(run=run, status="published", seconds_to_publish=int(s.seconds_to_publish))
        for s, run in pairs
        if s.status == "published"
    ]
    PrefillOutcome.objects.bulk_create(outcomes, batch_size=2000)
    corrections = [
        FieldCorrection(outcome=o, stage="publish", field=f,
                        changed=(c := bool(rng.random() < 0.25)), similarity=0.0 if c else 1.0)
        for o in outcomes if o.run.draft is not None for f in FIELDS
    ]  # fmt: skip
    FieldCorrection.objects.bulk_create(corrections, batch_size=5000)


def _run(rng, user, arm, version, opened):
    from decimal import Decimal

    from ai_prefill.models import PrefillRun

    draw = rng.random()
    status = "failed" if draw < 0.05 else "succeeded"
    draft = None if status == "failed" else (BLANK if draw < 0.08 else DRAFT)
    created = opened + timedelta(seconds=20)
    return PrefillRun(
        id=uuid.uuid4(), user_id=user, arm=arm, prompt_version=version, provider="openai",
        model="gpt-4.1-mini", photo="prefill/b.jpg", thumbnail="prefill/b.jpg",
        image_sha256="0" * 64, status=status, draft=draft, created_at=created,
        finished_at=created + timedelta(seconds=float(rng.lognormal(np.log(6), 0.4))),
        cost_usd=Decimal("0.0012"),
    )  # fmt: skip


def _measure(experiment, viewer, repeat: int) -> dict:
    from django.test import Client

    from feedback.experiment_results import experiment_results

    client = Client()
    client.force_login(viewer)
    url = f"/api/experiments/{experiment.key}/results/"

    def compute():
        experiment_results(experiment=experiment)

    def api():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    out = {}
    for name, call in (("experiment_results()", compute), ("GET results API", api)):
        out[name] = timed(call, repeat)
    return out


def _parts(experiment) -> dict:
    """Each part of the computation once (warm), to see where the time goes."""
    from django.utils import timezone

    from feedback import experiment_results as er

    arms = list(experiment.arms.all())
    ids = [arm.pk for arm in arms]
    days = er._daily_rows(ids)
    counts = er._session_counts(ids, days)
    now = timezone.now()
    parts = {
        "days: counts, medians, published seconds": lambda: er._daily_rows(ids),
        "run metrics + p95": lambda: er.arm_run_metrics(ids),
        "p95 seconds to draft": lambda: er._p95_seconds_to_draft(ids),
        "ratings": lambda: er._ratings(ids),
        "field corrections": lambda: er._field_counts(ids),
        "KM arrays (+ open sessions' ages)": lambda: er._survival_arrays(ids, counts, days, now),
        "sample size (cached)": lambda: er.experiment_sample_size(experiment=experiment),
    }
    part_ms = {}
    for name, call in parts.items():
        call()
        start = time.perf_counter()
        call()
        part_ms[name] = round((time.perf_counter() - start) * 1000, 1)
    return part_ms


def _explain(experiment) -> str:
    """The GROUP BY per day and arm that also ships the published seconds (array_agg)."""
    from django.db import connection

    from feedback import experiment_results as er

    if connection.vendor != "postgresql":
        return ""
    ids = list(experiment.arms.values_list("pk", flat=True))
    return er._days(ids).explain(analyze=True, buffers=True)


def _report(args, results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    timings = {k: v for k, v in results.items() if isinstance(v, dict) and "p50_ms" in v}
    out = {"db": args.db, "sessions": args.sessions, **results,
           "target_under_500ms": all(r["p95_ms"] < 500 for r in timings.values())}  # fmt: skip
    (RESULTS / f"experiment_results-{args.db}.json").write_text(json.dumps(out, indent=2))
    for name, row in timings.items():
        print(f"{name:>22}: p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
              f"max {row['max_ms']:7.1f} ms  {row['queries']} queries")  # fmt: skip
    for name, ms in results["parts_ms"].items():
        print(f"  {name:>44}: {ms:7.1f} ms")
    if results["explain"]:
        print(results["explain"])
    print(f"p95 under 500 ms: {out['target_under_500ms']}")


if __name__ == "__main__":
    main()
