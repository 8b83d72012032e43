"""Drift's receivers: the input statistics of every pre-fill photo, measured at upload."""

from django.dispatch import receiver

from ai_prefill.signals import prefill_run_created

from .drift_services import intake_stats_record


@receiver(prefill_run_created, dispatch_uid="monitoring.drift.intake_stats")
def _record_intake_stats(sender, run, photo, **kwargs):
    intake_stats_record(run=run, photo=photo)
