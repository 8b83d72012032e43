"""Celery tasks of the AI pre-fill: thin; the decisions live in execution.py."""

import time

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings

from marketplace.task_queues import QueueKind

from .dispatch import PREFILL_TASK_NAME
from .evals.queueing import EVAL_RUN_TASK_NAME
from .evals.runner import eval_run_queued_execute
from .execution import prefill_run_execute, prefill_runs_reap
from .providers import provider_warm_up

EAGER_MAX_WAIT_SECONDS = 2.0


@shared_task(
    name=PREFILL_TASK_NAME,
    queue_kind=QueueKind.PREFILL,
    bind=True,
    acks_late=True,
    retry_on_worker_lost=True,
    # Retries count provider attempts plus lease waits; the run's own attempt counter is the
    # real bound (AI_MAX_ATTEMPTS), this only stops a task that loops for another reason.
    max_retries=settings.AI_MAX_ATTEMPTS + 6,
    # retry_on_worker_lost sends the task again after this delay (Celery's default is 180 s).
    # No need to wait here: the new delivery finds the dead attempt's lease and waits for it.
    default_retry_delay=1,
    soft_time_limit=settings.AI_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.AI_TASK_TIME_LIMIT,
)
def prefill_run_process(self, run_id: str) -> str:
    outcome = prefill_run_execute(run_id=run_id)
    while outcome.retry_in is not None and self.request.is_eager:
        # In-process mode (no broker to hold a delayed retry): wait here, briefly, and go again.
        # The run's attempt counter bounds this loop as it bounds the retries of a real worker.
        time.sleep(min(outcome.retry_in, EAGER_MAX_WAIT_SECONDS))
        outcome = prefill_run_execute(run_id=run_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(queue_kind=QueueKind.MAINTENANCE)
def prefill_runs_reap_task() -> int:
    return prefill_runs_reap()


@shared_task(
    name=EVAL_RUN_TASK_NAME,
    queue_kind=QueueKind.EVALS,
    # Acknowledged on receipt, not at the end: a run outlasts the broker's visibility timeout,
    # and a late ack would have Redis hand the same run to a second worker meanwhile. A run
    # whose worker died stays "running" in the admin; staff start it again.
    acks_late=False,
    soft_time_limit=settings.EVAL_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.EVAL_TASK_TIME_LIMIT,
)
def eval_run_process(run_id: int) -> str | None:
    """One queued eval run (ai_prefill/evals/queueing.py), on an evals worker. A run another
    delivery already took, or that is gone, is left alone (the claim in the runner)."""
    run = eval_run_queued_execute(run_id=run_id)
    return run.status if run is not None else None


@worker_init.connect
def _warm_up_provider(**kwargs) -> None:
    # In a prefork worker's parent, before the pool starts: its children inherit the provider.
    # Only a head start: if the provider cannot be built, Celery logs the error and the worker
    # starts anyway; each run then fails with the reason, and the seller fills in the form.
    provider_warm_up()
