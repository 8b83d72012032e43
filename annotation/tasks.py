from celery import shared_task

from marketplace.task_queues import QueueKind

from .sampling import runs_sample_for_annotation


@shared_task(queue_kind=QueueKind.MAINTENANCE)
def runs_sample_for_annotation_task() -> int:
    return len(runs_sample_for_annotation())
