from celery import shared_task

from .services import outcomes_mark_abandoned


@shared_task
def outcomes_mark_abandoned_task() -> int:
    return outcomes_mark_abandoned()
