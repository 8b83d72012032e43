"""Claiming, leases and reaping: a run is processed once, and never left hanging."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ai_prefill import execution
from ai_prefill.errors import ErrorType, ProviderError
from ai_prefill.models import PrefillAttempt, PrefillRun
from ai_prefill.tests.factories import start_run
from marketplace import outbox
from marketplace.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_run(seller):
    return start_run(
        seller, shape="ball", color="red"
    )  # on_commit never fires inside the test transaction: stays queued


def test_baseline_run_succeeds_offline(queued_run, settings):
    assert queued_run.provider == "baseline"
    outcome = execution.prefill_run_execute(run_id=queued_run.pk)
    queued_run.refresh_from_db()
    assert outcome.status == "succeeded" and outcome.retry_in is None
    assert queued_run.draft["color"] == "red"
    assert queued_run.draft["title"] == "" and queued_run.draft["price_eur"] is None


def test_a_finished_run_is_not_processed_again(queued_run, monkeypatch):
    execution.prefill_run_execute(run_id=queued_run.pk)
    calls = []
    monkeypatch.setattr(execution, "_call_provider", lambda run, clock: calls.append(run))
    outcome = execution.prefill_run_execute(run_id=queued_run.pk)
    assert outcome == execution.ExecuteOutcome(status="succeeded")
    assert calls == []
    assert PrefillRun.objects.get(pk=queued_run.pk).attempts == 1


def test_a_live_lease_makes_a_duplicate_wait_without_calling_the_provider(queued_run, monkeypatch):
    lease = timezone.now() + timedelta(seconds=30)
    PrefillRun.objects.filter(pk=queued_run.pk).update(
        status="running", claim_token=uuid.uuid4(), lease_expires_at=lease, attempts=1
    )
    monkeypatch.setattr(execution, "_call_provider", lambda run, clock: pytest.fail("called twice"))
    outcome = execution.prefill_run_execute(run_id=queued_run.pk)
    assert outcome.status == "running" and 25 <= outcome.retry_in <= 30


def test_an_expired_lease_is_reclaimed_and_the_lost_attempt_logged(queued_run):
    PrefillRun.objects.filter(pk=queued_run.pk).update(
        status="running",
        claim_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=2),
    )
    outcome = execution.prefill_run_execute(run_id=queued_run.pk)
    run = PrefillRun.objects.get(pk=queued_run.pk)
    assert outcome.status == "succeeded" and run.attempts == 2
    assert list(run.attempt_log.values_list("number", "outcome")) == [(1, "worker_lost"), (2, "ok")]


def test_a_worker_that_lost_its_claim_cannot_overwrite_the_result(queued_run, monkeypatch):
    real_call = execution._call_provider

    def call_then_get_stolen(run, clock):
        result = real_call(run, clock)
        PrefillRun.objects.filter(pk=run.pk).update(claim_token=uuid.uuid4())
        return result

    monkeypatch.setattr(execution, "_call_provider", call_then_get_stolen)
    outcome = execution.prefill_run_execute(run_id=queued_run.pk)
    assert outcome.status == "lost"
    assert PrefillRun.objects.get(pk=queued_run.pk).status == "running"


def test_too_many_lost_workers_fail_the_run(queued_run, settings):
    settings.AI_MAX_ATTEMPTS = 2
    PrefillRun.objects.filter(pk=queued_run.pk).update(
        status="running", lease_expires_at=timezone.now() - timedelta(seconds=1), attempts=2
    )
    execution.prefill_run_execute(run_id=queued_run.pk)
    run = PrefillRun.objects.get(pk=queued_run.pk)
    assert (run.status, run.error_type) == ("failed", "worker_lost")


def test_a_crash_inside_the_service_still_ends_the_run(queued_run, monkeypatch):
    def broken(run, clock):
        raise FileNotFoundError("photo vanished")

    monkeypatch.setattr(execution, "_call_provider", broken)
    execution.prefill_run_execute(run_id=queued_run.pk)
    run = PrefillRun.objects.get(pk=queued_run.pk)
    assert (run.status, run.error_type) == ("failed", "internal")
    assert "photo vanished" in run.error_message
    assert PrefillAttempt.objects.filter(run=run, outcome="internal").exists()


def test_provider_latency_times_the_call_not_the_image_preparation(queued_run, monkeypatch):
    real_image = execution._model_image

    def slow_image(run):
        time.sleep(0.4)
        return real_image(run)

    monkeypatch.setattr(execution, "_model_image", slow_image)
    execution.prefill_run_execute(run_id=queued_run.pk)
    run = PrefillRun.objects.get(pk=queued_run.pk)
    assert run.status == "succeeded"
    assert run.provider_latency_ms < 400  # the baseline answers in milliseconds
    assert run.attempt_log.get().latency_ms == run.provider_latency_ms


def test_a_redelivered_attempt_overwrites_its_row_instead_of_adding_one(queued_run):
    PrefillRun.objects.filter(pk=queued_run.pk).update(attempts=1)
    run = PrefillRun.objects.get(pk=queued_run.pk)
    lost = ProviderError(ErrorType.WORKER_LOST, "lost")
    execution._log_attempt(run, timezone.now(), 0, outcome="worker_lost", error=lost)
    timeout = ProviderError(ErrorType.TIMEOUT, "slow")
    execution._log_attempt(run, timezone.now(), 1234, outcome="timeout", error=timeout)
    attempt = PrefillAttempt.objects.get(run=run)
    assert (attempt.number, attempt.outcome, attempt.latency_ms) == (1, "timeout", 1234)
    assert attempt.error_message == "slow"


def test_reaper_fails_stale_runs_once_and_leaves_live_ones(seller, settings):
    settings.AI_RUN_STALE_AFTER_SECONDS = 60
    old = timezone.now() - timedelta(minutes=5)
    stale_queued, stale_running, leased, fresh, done = (start_run(seller) for _ in range(5))
    PrefillRun.objects.filter(
        pk__in=[stale_queued.pk, stale_running.pk, leased.pk, done.pk]
    ).update(created_at=old)
    PrefillRun.objects.filter(pk=stale_running.pk).update(
        status="running", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    PrefillRun.objects.filter(pk=leased.pk).update(
        status="running", lease_expires_at=timezone.now() + timedelta(seconds=60)
    )
    PrefillRun.objects.filter(pk=done.pk).update(status="succeeded")

    assert execution.prefill_runs_reap() == 2
    assert execution.prefill_runs_reap() == 0
    statuses = dict(PrefillRun.objects.values_list("pk", "status"))
    assert statuses[stale_queued.pk] == statuses[stale_running.pk] == "failed"
    assert statuses[leased.pk] == "running"
    assert statuses[fresh.pk] == "queued" and statuses[done.pk] == "succeeded"


def test_cost_uses_the_price_table(settings):
    settings.AI_PRICES_USD_PER_MILLION = {"m": (1.0, 2.0)}
    assert str(execution.estimate_cost_usd("m", 1000, 500)) == "0.002"
    assert execution.estimate_cost_usd("unknown", 1000, 500) is None
    assert execution.estimate_cost_usd("m", None, 500) is None


def test_retry_delay_backs_off_and_respects_retry_after(settings):
    settings.AI_RETRY_BACKOFF_MAX_SECONDS = 30
    plain = ProviderError(ErrorType.SERVER_ERROR, "x")
    delays = [execution.retry_delay(n, plain) for n in (1, 2, 3, 10)]
    assert 0.5 <= delays[0] <= 1.5 and 1 <= delays[1] <= 3 and 2 <= delays[2] <= 6
    assert delays[3] <= 45
    slow = ProviderError(ErrorType.RATE_LIMITED, "x", retry_after=20)
    assert execution.retry_delay(1, slow) >= 20


def test_reaper_sends_a_dead_workers_run_again_once_its_lease_is_over(
    queued_run, django_capture_on_commit_callbacks
):
    upload_dispatch = OutboxMessage.objects.get()  # never published: on_commit did not run
    dead_token = uuid.uuid4()
    PrefillRun.objects.filter(pk=queued_run.pk).update(
        status="running",
        claim_token=dead_token,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert execution.prefill_runs_reap() == 1
    # (The other callbacks tell observers that the run finished: ai_prefill.signals.)
    dispatches = [c for c in callbacks if getattr(c, "func", None) is outbox._publish_on_commit]
    assert len(dispatches) == 1, "one dispatch, through the outbox"
    run = PrefillRun.objects.get(pk=queued_run.pk)
    # The dispatched task ran (in-process here): the lost attempt is on record, the next one won.
    assert run.status == "succeeded" and run.attempts == 2
    assert list(run.attempt_log.values_list("number", "outcome")) == [(1, "worker_lost"), (2, "ok")]
    [redispatch] = OutboxMessage.objects.exclude(pk=upload_dispatch.pk)
    assert redispatch.args == [str(run.pk)] and redispatch.sent_at is not None
    # The dead claim can write nothing any more, and a second sweep has nothing to do.
    assert not PrefillRun.objects.filter(claim_token=dead_token).exists()
    assert execution.prefill_runs_reap() == 0


def test_reaper_leaves_a_live_lease_alone(queued_run):
    PrefillRun.objects.filter(pk=queued_run.pk).update(
        status="running",
        claim_token=uuid.uuid4(),
        lease_expires_at=timezone.now() + timedelta(seconds=20),
        attempts=1,
    )
    assert execution.prefill_runs_reap() == 0
    assert OutboxMessage.objects.count() == 1, "only the upload's own dispatch"
