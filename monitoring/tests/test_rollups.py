"""The buckets against a direct computation over the same generated runs, their idempotence,
the refresh on run finish, and two workers refreshing the same buckets at once (PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from ai_prefill import signals
from ai_prefill.tests.factories import start_run
from monitoring.rollup_models import MetricBucket
from monitoring.rollup_selectors import PRODUCTION, window_cover, window_totals
from monitoring.rollups import buckets_rebuild, buckets_refresh_minutes, buckets_refresh_recent
from tests.concurrency import in_parallel, needs_postgresql

from .rollup_data import START, expected, history_generate, percentile_as_read

LATER = START + timedelta(days=2)


def _stored() -> list[tuple]:
    return sorted(MetricBucket.objects.values_list(
        "size", "start", "prompt_version_id", "provider", "model", "arm_id", "runs", "outcomes",
        "no_usable_draft", "empty_fields", "retries", "input_tokens", "output_tokens", "cost_usd",
        "queue_wait_hist", "provider_latency_hist", "upload_to_draft_hist", "ratings_up",
        "ratings_down", "published", "abandoned", "corrections",
    ), key=repr)  # fmt: skip


def _totals_expected(history, start, end, **filters) -> dict:
    figures = expected(history, size="day", start=start, end=end, **filters).values()
    upload = [ms for b in figures for ms in b["upload_ms"]]
    queue = [ms for b in figures for ms in b["queue_ms"]]
    return {
        "runs": sum(b["runs"] for b in figures),
        "no_usable_draft": sum(b["no_usable_draft"] for b in figures),
        "upload_to_draft_p95_s": percentile_as_read(upload, 0.95),
        "queue_wait_p95_s": percentile_as_read(queue, 0.95),
        "cost_usd": float(sum(b["cost"] for b in figures)),
        "ratings_up": sum(b["up"] for b in figures),
        "ratings_down": sum(b["down"] for b in figures),
    }


def _assert_totals(history, start, end, **filters):
    got = window_totals(start=start, end=end, **filters)
    want = _totals_expected(history, start, end, **filters)
    assert got.runs > 0 or not want["runs"]
    assert {name: getattr(got, name) for name in want} == pytest.approx(want), (start, end)


@pytest.mark.django_db
def test_window_totals_equal_a_direct_computation(seller):
    history = history_generate(seller, n=600, span=timedelta(hours=30))
    buckets_rebuild(now=LATER)
    first = START.replace(second=0)
    windows = [
        (first, first + timedelta(minutes=5)),
        (first + timedelta(minutes=43), first + timedelta(hours=1, minutes=43)),
        (first + timedelta(hours=1), first + timedelta(hours=7)),  # across midnight UTC
        (first, first + timedelta(days=2)),  # whole days inside, hours and minutes at the ends
        (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),
    ]
    for start, end in windows:
        _assert_totals(history, start, end)
    version, arm = history.versions[1].pk, history.arms[2].pk
    _assert_totals(history, *windows[3], prompt_version_id=version)
    _assert_totals(history, *windows[3], model="gpt-b", arm_id=arm)
    _assert_totals(history, *windows[3], arm_id=PRODUCTION)


def test_window_cover_tiles_the_window_with_the_fewest_buckets():
    start = datetime(2026, 3, 1, 22, 50, 20, tzinfo=UTC)
    end = datetime(2026, 3, 4, 1, 10, 5, tzinfo=UTC)
    assert window_cover(start, end) == [
        ("minute", datetime(2026, 3, 1, 22, 50, tzinfo=UTC), datetime(2026, 3, 1, 23, tzinfo=UTC)),
        ("hour", datetime(2026, 3, 1, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        ("day", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),
        ("hour", datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 4, 1, tzinfo=UTC)),
        ("minute", datetime(2026, 3, 4, 1, tzinfo=UTC), datetime(2026, 3, 4, 1, 11, tzinfo=UTC)),
    ]


@pytest.mark.django_db
def test_rollups_are_idempotent_and_every_size_agrees(seller):
    history_generate(seller, n=300)
    buckets_rebuild(now=LATER)
    once = _stored()
    buckets_rebuild(now=LATER)
    assert _stored() == once
    buckets_refresh_minutes(minutes=[START + timedelta(minutes=m) for m in range(0, 400, 7)])
    buckets_refresh_recent(now=START + timedelta(hours=3), lookback=timedelta(minutes=90))
    assert _stored() == once
    sizes = {size: MetricBucket.objects.filter(size=size) for size in ("minute", "hour", "day")}
    runs = {size: sum(rows.values_list("runs", flat=True)) for size, rows in sizes.items()}
    assert runs["minute"] == runs["hour"] == runs["day"] > 0


@pytest.mark.django_db
def test_a_refresh_puts_a_late_change_where_it_belongs(seller):
    history = history_generate(seller, n=120)
    buckets_rebuild(now=LATER)
    run = next(r for r in history.runs if r.status == "running")
    run.status, run.error_type = "failed", "worker_lost"
    run.finished_at = START + timedelta(hours=9, seconds=13)  # failed as stale much later
    run.save(update_fields=["status", "error_type", "finished_at"])
    signals.send(signals.prefill_runs_finished, run_ids=[run.pk])
    totals = window_totals(start=run.finished_at, end=run.finished_at + timedelta(seconds=1))
    assert (totals.runs, totals.no_usable_draft) == (1, 1)
    _assert_totals(history, START, LATER)


@pytest.mark.django_db
def test_a_run_finished_a_second_ago_is_counted(seller, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(seller)
    run.refresh_from_db()
    assert run.status == "succeeded"
    now = timezone.now()
    totals = window_totals(start=now - timedelta(minutes=5), end=now)
    assert totals.runs == 1
    assert totals.upload_to_draft_p95_s is not None
    day = window_totals(start=now - timedelta(days=7), end=now)
    assert day.runs == 1  # the hour and day rows were rolled up at once too


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_the_same_buckets_store_them_once(seller):
    needs_postgresql()
    history_generate(seller, n=300)
    buckets_rebuild(now=LATER)
    once = _stored()
    minutes = [START + timedelta(minutes=m) for m in range(0, 300)]

    def refresh():
        for _ in range(3):
            buckets_refresh_minutes(minutes=minutes)

    in_parallel([refresh] * 4)
    assert _stored() == once
