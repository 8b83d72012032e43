"""Periodic work of the shared kernel."""

from celery import shared_task

from .outbox import outbox_relay
from .task_queues import QueueKind


@shared_task(queue_kind=QueueKind.MAINTENANCE)
def outbox_relay_task() -> int:
    # Runs only when beat can reach the broker again, which is exactly when pending rows can go.
    return outbox_relay()
