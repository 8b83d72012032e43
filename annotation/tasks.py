from celery import shared_task

from .sampling import runs_sample_for_annotation


@shared_task
def runs_sample_for_annotation_task() -> int:
    return len(runs_sample_for_annotation())
