from celery import shared_task

from .services import outcomes_mark_abandoned, sell_sessions_mark_abandoned


@shared_task
def outcomes_mark_abandoned_task() -> int:
    """Runs and sell sessions that never became a listing in time."""
    return outcomes_mark_abandoned() + sell_sessions_mark_abandoned()
