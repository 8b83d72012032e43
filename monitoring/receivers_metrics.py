"""Metrics and traces area: what the pre-fill, feedback and Celery tell, turned into Prometheus
observations and OpenTelemetry spans. Connected once, when monitoring/apps.py imports this.

These receivers only record in memory (or in this process's multiprocess file); none writes to
the database, so none needs a transaction.
"""

import os

from celery.signals import task_postrun, task_prerun, worker_init, worker_process_shutdown
from django.dispatch import receiver

from ai_prefill import signals as prefill_signals
from feedback import signals as feedback_signals

from . import metrics, traces
from .metrics_multiprocess import (
    multiproc_dir_from_env,
    multiproc_dir_prepare,
    multiproc_process_dead,
)
from .metrics_record import (
    finished_runs,
    provider_call_record,
    rating_record,
    run_finished_record,
)


@receiver(prefill_signals.prefill_attempt_logged, dispatch_uid="monitoring.metrics.attempt")
def _attempt_logged(sender, run, attempt, **kwargs):
    provider_call_record(run=run, attempt=attempt)
    traces.provider_call_span(run=run, attempt=attempt)


@receiver(prefill_signals.prefill_runs_finished, dispatch_uid="monitoring.metrics.finished")
def _runs_finished(sender, run_ids, **kwargs):
    for run in finished_runs(run_ids):
        run_finished_record(run)


@receiver(feedback_signals.suggestion_rated, dispatch_uid="monitoring.metrics.rated")
def _suggestion_rated(sender, rating, **kwargs):
    rating_record(rating=rating)


# --- Celery processes --------------------------------------------------------------------------


@worker_init.connect(dispatch_uid="monitoring.metrics.worker_init")
def _worker_started(**kwargs):
    """The worker's parent, before its pool starts: a new deployment starts from empty files."""
    multiproc_dir_prepare(multiproc_dir_from_env(), wipe=True)


@worker_process_shutdown.connect(dispatch_uid="monitoring.metrics.child_exit")
def _worker_child_exiting(pid=None, **kwargs):
    """A prefork child ending (recycled or shut down): its live gauges go with it."""
    traces.tracing_flush()
    multiproc_process_dead(pid or os.getpid(), multiproc_dir_from_env())


@task_prerun.connect(dispatch_uid="monitoring.metrics.task_start")
def _task_started(**kwargs):
    metrics.celery_tasks_in_progress.inc()


@task_postrun.connect(dispatch_uid="monitoring.metrics.task_end")
def _task_ended(**kwargs):
    metrics.celery_tasks_in_progress.dec()
