"""Keeps the minute buckets current: runs that just finished are recounted in their minute."""

from django.db import transaction
from django.dispatch import receiver

from ai_prefill.signals import prefill_runs_finished

from .rollups import buckets_refresh_runs


@receiver(prefill_runs_finished, dispatch_uid="monitoring.rollups.runs_finished")
def refresh_buckets_of_finished_runs(sender, run_ids, **kwargs):
    with transaction.atomic():
        buckets_refresh_runs(run_ids=run_ids)
