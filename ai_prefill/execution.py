"""The worker side of a pre-fill run: claim, call the provider once, record, decide what next.

Exactly-once: a run is claimed by compare-and-swap and carries a claim token and a lease longer
than the task's hard time limit. Only the holder of the token can finish the run; a duplicate
delivery waits for the lease instead of calling the provider again; a run whose worker died is
claimed again once its lease is over, and the lost attempt is written down.
"""

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import signals
from .dispatch import prefill_run_dispatch
from .errors import ErrorType, ProviderError
from .image_prep import ModelImage
from .models import PrefillAttempt, PrefillRun
from .providers import ProviderResult, model_image_from_photo, provider_get, provider_request_build
from .timing import Stopwatch

logger = logging.getLogger(__name__)

Status = PrefillRun.Status
ATTEMPT_FIELDS = (
    "started_at",
    "latency_ms",
    "outcome",
    "error_message",
    "http_status",
    "raw_response",
    "input_tokens",
    "output_tokens",
)


@dataclass(frozen=True)
class ExecuteOutcome:
    """What the task should do next: nothing (retry_in None), or run again in retry_in seconds."""

    status: str
    retry_in: float | None = None


def prefill_run_execute(*, run_id) -> ExecuteOutcome:
    token = uuid.uuid4()
    waiting = _with_reconnect(lambda: _claim(run_id, token))
    if waiting is not None:
        return waiting
    run = _with_reconnect(
        lambda: PrefillRun.objects.select_related("prompt_version").get(pk=run_id)
    )
    if run.attempts > settings.AI_MAX_ATTEMPTS:  # workers kept dying on this run
        error = ProviderError(ErrorType.WORKER_LOST, "Gave up: the worker was lost too often.")
        return _fail(run, token, error)
    started = timezone.now()
    provider_clock = Stopwatch()  # the provider call alone, not the image preparation
    try:
        result, bytes_sent = _call_provider(run, provider_clock)
    except ProviderError as error:
        return _after_error(run, token, error, started, provider_clock.ms)
    except SoftTimeLimitExceeded:
        error = ProviderError(ErrorType.TIMEOUT, "The task ran out of time.")
        return _after_error(run, token, error, started, provider_clock.ms)
    except Exception as exc:  # a bug or a missing file must still end the run, with the reason
        logger.exception("pre-fill run %s crashed", run_id)
        error = ProviderError(ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}")
        return _after_error(run, token, error, started, provider_clock.ms)
    return _succeed(run, token, result, started, provider_clock.ms, bytes_sent)


# --- claiming ---------------------------------------------------------------------------------


def _claim(run_id, token) -> ExecuteOutcome | None:
    """None when this worker now owns the run; otherwise what to tell the task."""
    now = timezone.now()
    grab = {
        "status": Status.RUNNING,
        "claim_token": token,
        "lease_expires_at": now + timedelta(seconds=settings.AI_TASK_TIME_LIMIT + 5),
        "attempts": F("attempts") + 1,
        "started_at": Coalesce(F("started_at"), Value(now, output_field=DateTimeField())),
    }
    runs = PrefillRun.objects.filter(pk=run_id)
    if runs.filter(status=Status.QUEUED).update(**grab):
        return None
    if runs.filter(status=Status.RUNNING, lease_expires_at__lt=now).update(**grab):
        _log_lost_attempt(run_id, number_offset=1)  # the claim just counted this attempt too
        return None
    run = runs.only("status", "lease_expires_at").first()
    if run is None or run.is_finished:
        return ExecuteOutcome(status=run.status if run else "missing")
    # Someone holds a live lease: look again when it ends, without calling the provider.
    wait = (run.lease_expires_at - now).total_seconds() if run.lease_expires_at else 1.0
    return ExecuteOutcome(status=run.status, retry_in=max(1.0, wait))


def _log_lost_attempt(run_id, *, number_offset: int) -> None:
    run = PrefillRun.objects.get(pk=run_id)
    number = run.attempts - number_offset
    logger.warning("pre-fill run %s: attempt %s was lost with its worker", run_id, number)
    PrefillAttempt.objects.get_or_create(
        run=run,
        number=number,
        defaults={
            "started_at": run.started_at or timezone.now(),
            "latency_ms": 0,
            "outcome": ErrorType.WORKER_LOST,
            "error_message": "The worker stopped while running this attempt; lease expired.",
        },
    )


# --- calling ----------------------------------------------------------------------------------


def _call_provider(run: PrefillRun, clock: Stopwatch) -> tuple[ProviderResult, int]:
    provider = provider_get(run.provider)
    image = _model_image(run)
    run.params = {**run.params, **provider.describe()}  # written with the outcome
    request = provider_request_build(
        image=image, prompt_version=run.prompt_version, model=run.model, params=run.params
    )
    with clock:
        result = provider.generate(request)
    return result, len(image.jpeg)


def _model_image(run: PrefillRun) -> ModelImage:
    """The image made at upload; a run from before those were stored has its photo prepared."""
    if run.model_image:
        with run.model_image.open("rb") as stored:
            return ModelImage.from_jpeg(stored.read())
    with run.photo.open("rb") as stored:
        return model_image_from_photo(stored.read(), run.params)


# --- recording --------------------------------------------------------------------------------


def _succeed(run, token, result: ProviderResult, started, latency_ms, bytes_sent) -> ExecuteOutcome:
    usage = result.usage
    _log_attempt(run, started, latency_ms, outcome="ok", result=result)
    finished = _finish(
        run,
        token,
        status=Status.SUCCEEDED,
        draft=result.draft.model_dump(mode="json"),
        raw_response=result.raw,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cost_usd=estimate_cost_usd(run.model, usage.input_tokens, usage.output_tokens),
        provider_latency_ms=latency_ms,
        image_bytes_sent=bytes_sent,
        error_type="",
        error_message="",
    )
    return ExecuteOutcome(status=Status.SUCCEEDED if finished else "lost")


def _after_error(run, token, error: ProviderError, started, latency_ms) -> ExecuteOutcome:
    _log_attempt(run, started, latency_ms, outcome=error.error_type, error=error)
    if error.transient and run.attempts < settings.AI_MAX_ATTEMPTS:
        requeued = _finish(
            run,
            token,
            status=Status.QUEUED,
            lease_expires_at=None,
            error_type=error.error_type,
            error_message=error.message,
            raw_response=error.raw,
            provider_latency_ms=latency_ms,
        )
        if requeued:
            return ExecuteOutcome(Status.QUEUED, retry_in=retry_delay(run.attempts, error))
        return ExecuteOutcome(status="lost")
    return _fail(run, token, error, provider_latency_ms=latency_ms)


def _fail(run, token, error: ProviderError, **extra) -> ExecuteOutcome:
    finished = _finish(
        run,
        token,
        status=Status.FAILED,
        error_type=error.error_type,
        error_message=error.message,
        raw_response=error.raw,
        **extra,
    )
    return ExecuteOutcome(status=Status.FAILED if finished else "lost")


def _finish(run, token, *, status, **fields) -> bool:
    """Write the outcome only if this worker still holds the claim (compare-and-swap)."""
    fields["params"] = run.params
    if status in PrefillRun.TERMINAL:
        fields.update(finished_at=timezone.now(), lease_expires_at=None)
    claimed = PrefillRun.objects.filter(pk=run.pk, status=Status.RUNNING, claim_token=token)
    written = _with_reconnect(lambda: claimed.update(status=status, claim_token=None, **fields))
    if not written:
        logger.warning("pre-fill run %s: claim lost before finishing; result dropped", run.pk)
    elif status in PrefillRun.TERMINAL:
        signals.send_runs_finished_on_commit([run.pk])
    return bool(written)


def _log_attempt(run, started, latency_ms, *, outcome, result=None, error=None) -> None:
    row = _attempt_row(run, started, latency_ms, outcome=outcome, result=result, error=error)
    # One INSERT .. ON CONFLICT: a redelivered attempt overwrites its row (update_or_create
    # took four statements and a row lock for the same thing).
    upsert = PrefillAttempt.objects.bulk_create
    _with_reconnect(
        lambda: upsert(
            [row],
            update_conflicts=True,
            unique_fields=["run", "number"],
            update_fields=ATTEMPT_FIELDS,
        )
    )
    signals.send(signals.prefill_attempt_logged, run=run, attempt=row)


def _attempt_row(run, started, latency_ms, *, outcome, result, error) -> PrefillAttempt:
    return PrefillAttempt(
        run=run,
        number=run.attempts,
        started_at=started,
        latency_ms=latency_ms or 0,  # None: the provider was never called (the row needs a number)
        outcome=outcome,
        error_message=error.message if error else "",
        http_status=result.http_status if result else error.http_status,
        raw_response=result.raw if result else error.raw,
        input_tokens=result.usage.input_tokens if result else None,
        output_tokens=result.usage.output_tokens if result else None,
    )


# A provider answer has been paid for: a dropped database connection (a restart, a failover, a
# killed backend) must not throw it away. Each write here is idempotent (an upsert, or a
# compare-and-swap on the claim token), so it is safe to run again on a fresh connection.
DB_WRITE_TRIES = 5
DB_RETRY_PAUSE_SECONDS = 0.5


def _with_reconnect(write):
    """Run `write()`; if the database connection is gone, reconnect and run it again."""
    for attempt in range(1, DB_WRITE_TRIES + 1):
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if attempt == DB_WRITE_TRIES or connection.in_atomic_block:
                raise  # inside a transaction, the caller's transaction is lost anyway
            logger.warning("pre-fill: database error (%s); reconnecting (try %d)", exc, attempt)
            connection.close()
            time.sleep(DB_RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")


def retry_delay(attempt: int, error: ProviderError) -> float:
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    backoff = min(settings.AI_RETRY_BACKOFF_MAX_SECONDS, 2 ** (attempt - 1))
    jittered = backoff * random.uniform(0.5, 1.5)
    return max(jittered, error.retry_after or 0.0)


def estimate_cost_usd(model: str, input_tokens, output_tokens) -> Decimal | None:
    prices = settings.AI_PRICES_USD_PER_MILLION.get(model)
    if prices is None or input_tokens is None or output_tokens is None:
        return None
    input_price, output_price = prices
    cost = (input_tokens * input_price + output_tokens * output_price) / 1_000_000
    return Decimal(str(round(cost, 6)))


# --- reaping ----------------------------------------------------------------------------------

STALE_MESSAGES = {
    ErrorType.WORKER_UNAVAILABLE: "No worker took this run in time (no worker running, or its "
    "message was lost).",
    ErrorType.WORKER_LOST: "The worker running this run stopped and no other finished it in time.",
}


def prefill_runs_reap() -> int:
    """The periodic sweep: send runs whose worker died (lease over) to the workers again, and
    fail the runs nobody finished in time. Returns how many runs it changed."""
    return _runs_redispatch_lost() + prefill_runs_fail_stale()


def _runs_redispatch_lost() -> int:
    """A dead worker's run (running, lease over) goes back to the queue now, instead of waiting
    for the broker to redeliver its message (the visibility timeout, minutes). Compare-and-swap
    on the dead claim's token: a worker that is merely slow can no longer write its result, and
    two sweeps cannot both re-dispatch one run. The redelivered original later finds the run
    taken or finished and does nothing."""
    now = timezone.now()
    lost = PrefillRun.objects.filter(
        status=Status.RUNNING, lease_expires_at__lt=now, created_at__gte=_stale_cutoff(now)
    )
    sent = 0
    for run_id, token in lost.values_list("pk", "claim_token"):
        with transaction.atomic():
            released = PrefillRun.objects.filter(
                pk=run_id, status=Status.RUNNING, claim_token=token, lease_expires_at__lt=now
            ).update(status=Status.QUEUED, claim_token=None, lease_expires_at=None)
            if released:
                _log_lost_attempt(run_id, number_offset=0)
                prefill_run_dispatch(run_id=run_id)
                sent += 1
    return sent


def prefill_runs_fail_stale(*, run_ids=None) -> int:
    """Fail runs older than AI_RUN_STALE_AFTER_SECONDS that no worker is on (all of them, or
    those of `run_ids`): queued ones as worker_unavailable, running ones whose lease is over as
    worker_lost. A plain conditional UPDATE, so it needs no worker and can run on any read."""
    now = timezone.now()
    runs = PrefillRun.objects.filter(created_at__lt=_stale_cutoff(now))
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    unclaimed = Q(status=Status.QUEUED)
    abandoned = Q(status=Status.RUNNING) & (
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
    )
    failed = 0
    for which, error_type in (
        (unclaimed, ErrorType.WORKER_UNAVAILABLE),
        (abandoned, ErrorType.WORKER_LOST),
    ):
        # The ids first, so observers learn which runs failed (an UPDATE returns only a count);
        # the UPDATE keeps its condition, so a run a worker finished meanwhile stays finished.
        run_ids = list(runs.filter(which).values_list("pk", flat=True))
        if not run_ids:
            continue
        failed += runs.filter(which, pk__in=run_ids).update(
            status=Status.FAILED,
            error_type=error_type,
            error_message=STALE_MESSAGES[error_type],
            finished_at=now,
            claim_token=None,
            lease_expires_at=None,
        )
        signals.send_runs_finished_on_commit(run_ids)
    return failed


def prefill_run_is_stale(run: PrefillRun) -> bool:
    """Cheap test on a loaded run: could prefill_runs_fail_stale change it?"""
    return not run.is_finished and run.created_at < _stale_cutoff(timezone.now())


def _stale_cutoff(now):
    return now - timedelta(seconds=settings.AI_RUN_STALE_AFTER_SECONDS)
