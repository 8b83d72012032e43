from django.core.management.base import BaseCommand

from annotation.sampling import runs_sample_for_annotation


class Command(BaseCommand):
    help = "Put production runs into the annotation queue by the sampling policy (see admin)."

    def handle(self, *args, **options):
        tasks = runs_sample_for_annotation()
        by_reason = {}
        for task in tasks:
            by_reason[task.reason] = by_reason.get(task.reason, 0) + 1
        self.stdout.write(f"New annotation tasks: {len(tasks)} {by_reason or ''}".rstrip())
