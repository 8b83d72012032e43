"""Heartbeats: recorded by the worker and beat themselves, read by age, per service and per host."""

import time

import pytest
import time_machine
from celery.beat import ScheduleEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from marketplace.celery import app as celery_app
from marketplace.task_queues import QueueKind
from monitoring.heartbeat_sources import HeartbeatScheduler
from monitoring.heartbeats import heartbeat_age_seconds, heartbeat_record, this_host, worker_kind


def test_a_kind_never_seen_has_no_age():
    assert heartbeat_age_seconds(kind="worker") is None
    assert heartbeat_age_seconds(kind="beat") is None


def test_the_age_grows_from_the_last_record():
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        heartbeat_record(kind="worker")
        clock.shift(42)
        assert heartbeat_age_seconds(kind="worker") == pytest.approx(42)
        assert heartbeat_age_seconds(kind="worker", host=this_host()) == pytest.approx(42)
        assert heartbeat_age_seconds(kind="beat") is None  # the kinds are apart
        assert heartbeat_age_seconds(kind="worker", host="another-host") is None


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown heartbeat kind"):
        heartbeat_record(kind="wroker")


def test_the_beat_scheduler_records_on_its_tick_without_hammering_the_cache(tmp_path):
    scheduler = HeartbeatScheduler(
        app=celery_app, schedule_filename=str(tmp_path / "schedule"), lazy=True
    )
    scheduler.setup_schedule()
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        scheduler.schedule.clear()  # one entry due in an hour: a tick only sleeps, and records
        scheduler.schedule["probe"] = ScheduleEntry(
            name="probe", task="x", schedule=3600.0, app=celery_app
        )
        assert heartbeat_age_seconds(kind="beat") is None
        delay = scheduler.tick()
        assert heartbeat_age_seconds(kind="beat") == 0
        assert delay <= 15.0  # beat wakes up at least that often, whatever its schedule
        clock.shift(5)
        scheduler.tick()
        assert heartbeat_age_seconds(kind="beat") == pytest.approx(5)  # not recorded again yet
    scheduler.close()


@pytest.mark.integration
def test_a_real_worker_and_beat_record_their_own_heartbeats(redis_cache, start_worker):
    start_worker(beat=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and heartbeat_age_seconds(kind="beat") is None:
        time.sleep(0.2)
    for kind in ("worker", "beat", *(worker_kind(queue_kind) for queue_kind in QueueKind)):
        assert heartbeat_age_seconds(kind=kind) < 20, kind
        assert heartbeat_age_seconds(kind=kind, host=this_host()) < 20, kind


@pytest.mark.integration
def test_a_worker_without_beat_records_only_its_own(redis_cache, start_worker):
    start_worker()
    assert heartbeat_age_seconds(kind="worker") < 20  # recorded as the consumer started
    assert heartbeat_age_seconds(kind="beat") is None


@pytest.mark.integration
def test_a_worker_records_the_queue_kinds_it_consumes_and_no_other(redis_cache, start_worker):
    start_worker(kinds=[QueueKind.MAINTENANCE, QueueKind.EMAIL])
    assert heartbeat_age_seconds(kind="worker") < 20
    assert heartbeat_age_seconds(kind="worker-maintenance") < 20
    assert heartbeat_age_seconds(kind="worker-email", host=this_host()) < 20
    assert heartbeat_age_seconds(kind="worker-prefill") is None
    assert heartbeat_age_seconds(kind="worker-evals") is None
    # The container's own check of that worker passes (docker-compose's health check).
    call_command("monitoring_heartbeat_check", "--kind", "worker")
    call_command("monitoring_heartbeat_check", "--kind", "worker-maintenance")
    with pytest.raises(CommandError, match="No worker-prefill heartbeat ever seen"):
        call_command("monitoring_heartbeat_check", "--kind", "worker-prefill")
