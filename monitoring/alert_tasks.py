"""Celery tasks of the alerts: thin, each calls a service (monitoring.alert_services/_notify)."""

from celery import shared_task

from marketplace.task_queues import QueueKind

from .alert_notify import alert_notification_deliver, alert_notifications_retry_due
from .alert_services import alerts_evaluate


@shared_task(queue_kind=QueueKind.MAINTENANCE, soft_time_limit=50, time_limit=55)
def alerts_evaluate_task() -> int:
    """Every minute (beat): judge every enabled rule; returns how many transitions were made.
    Two at once are safe (each rule's state is moved under its row lock)."""
    return len(alerts_evaluate())


@shared_task(queue_kind=QueueKind.EMAIL, acks_late=True)
def alert_notification_deliver_task(notification_id: int) -> bool:
    """Send one notification (through the outbox, at least once: a row already sent or being
    sent is left alone). A failure is retried by the sweep below, with backoff."""
    return alert_notification_deliver(notification_id=notification_id)


@shared_task(queue_kind=QueueKind.MAINTENANCE, soft_time_limit=50, time_limit=55)
def alert_notifications_retry_task() -> int:
    """Every 30 s (beat): send the notifications whose backoff is over."""
    return alert_notifications_retry_due()
