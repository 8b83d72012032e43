from collections import Counter

from django.core.management.base import BaseCommand

from annotation.models import AnnotationTask
from annotation.sampling import runs_sample_for_annotation


class Command(BaseCommand):
    help = "Put production runs into the annotation queue by the sampling policy (see admin)."

    def handle(self, *args, **options):
        tasks = runs_sample_for_annotation()
        self.stdout.write(_summary(Counter(task.reason for task in tasks)))


def _summary(by_reason: Counter) -> str:
    """One sentence, e.g. "3 new annotation tasks: 2 thumbs down, 1 failed run."."""
    total = sum(by_reason.values())
    if not total:
        return "No new annotation tasks."
    parts = [
        f"{by_reason[reason]} {label.lower()}"
        for reason, label in AnnotationTask.Reason.choices
        if by_reason[reason]
    ]
    noun = "task" if total == 1 else "tasks"
    return f"{total} new annotation {noun}: {', '.join(parts)}."
