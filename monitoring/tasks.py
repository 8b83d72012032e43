"""Celery tasks of monitoring: thin; each calls a service of its area."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketplace.task_queues import QueueKind

from .alert_tasks import (  # noqa: F401 - defined there, found by Celery here
    alert_notification_deliver_task,
    alert_notifications_retry_task,
    alerts_evaluate_task,
)
from .drift_services import drift_report_build_due
from .rollups import buckets_refresh_recent


@shared_task(queue_kind=QueueKind.MAINTENANCE, soft_time_limit=50, time_limit=55)
def rollups_refresh_recent_task() -> None:
    """Every minute (beat): re-derive the recent minute buckets from the source rows, and their
    hours and days. Catches what the on-finish refresh missed (a failed receiver), and the
    thumbs, sell sessions and corrections, which send no signal."""
    lookback = timedelta(minutes=settings.MONITORING_ROLLUP_LOOKBACK_MINUTES)
    buckets_refresh_recent(now=timezone.now(), lookback=lookback)


@shared_task(
    queue_kind=QueueKind.MAINTENANCE, ignore_result=True, soft_time_limit=600, time_limit=660
)
def drift_report_task() -> None:
    """Yesterday's drift report, until it is final (hourly from beat)."""
    drift_report_build_due()
