"""Celery tasks of monitoring: thin; each calls a service of its area."""

from celery import shared_task

from .drift_services import drift_report_build_due


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def drift_report_task() -> None:
    """Yesterday's drift report, until it is final (hourly from beat)."""
    drift_report_build_due()
