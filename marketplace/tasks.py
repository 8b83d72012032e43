"""Periodic work of the shared kernel."""

from celery import shared_task

from .outbox import outbox_relay


@shared_task
def outbox_relay_task() -> int:
    # Runs only when beat can reach the broker again, which is exactly when pending rows can go.
    return outbox_relay()
