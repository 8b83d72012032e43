from django.core.management.base import BaseCommand

from ai_prefill.evals.starter_set import starter_cases_load


class Command(BaseCommand):
    help = "Load the shipped starter eval set (images drawn by the project). Safe to run again."

    def handle(self, *args, **options):
        created, existing = starter_cases_load()
        self.stdout.write(f"Starter eval cases: {created} created, {existing} already there.")
