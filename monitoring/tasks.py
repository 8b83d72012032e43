"""Celery tasks of monitoring: thin; each calls a service of its area."""

from .alert_tasks import (  # noqa: F401 - defined there, found by Celery here
    alert_notification_deliver_task,
    alert_notifications_retry_task,
    alerts_evaluate_task,
)
