"""Drift, write side: the intake statistics of a run's photo, and the daily report."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ai_prefill.models import PrefillRun
from marketplace.photos import ProcessedPhoto

from .drift import (
    SUGGESTED,
    day_bounds,
    intake_counts,
    reference_bounds,
    stat_labels,
    suggested_bins,
    suggested_counts,
    suggested_labels,
)
from .drift_models import DriftReport, IntakeStats
from .drift_stats import STATISTICS, compare, photo_stats


def intake_stats_record(*, run: PrefillRun, photo: ProcessedPhoto) -> IntakeStats:
    """Measure the photo the intake decoded (no second decode) and store it with the run."""
    source_size = (photo.source_width, photo.source_height)
    if not all(source_size):  # a ProcessedPhoto made without the upload's size
        source_size = (photo.width, photo.height)
    stats = photo_stats(image=photo.upright, source_size=source_size)
    with transaction.atomic():  # its own savepoint inside the upload's transaction
        row = IntakeStats.objects.create(
            run=run,
            created_at=run.created_at,
            megapixels=stats.megapixels,
            aspect=stats.aspect,
            brightness=stats.brightness,
            sharpness=stats.sharpness,
        )
    return row


def drift_report_build(*, day: dt.date) -> DriftReport:
    """Compare `day` with the 28 days before it and store the result as the day's report,
    replacing the one built before (idempotent: the same runs give the same report)."""
    dimensions = _dimensions(day)
    # A PSI on a handful of runs swings widely: the day's largest counts only measured ones.
    psis = [d["psi"] for d in dimensions.values() if d["level"] != "insufficient_data"]
    values = {
        "computed_at": timezone.now(),
        "run_count": dimensions["category"]["n"],
        "drifted": any(d["drifted"] for d in dimensions.values()),
        "max_psi": max(psis, default=None),
        "dimensions": dimensions,
    }
    # update_or_create locks the day's row (or, on a race to create it, retries after the other
    # insert): two builders of one day leave one row, the last one's.
    report, _ = DriftReport.objects.update_or_create(day=day, defaults=values)
    return report


def _dimensions(day: dt.date) -> dict:
    day_window, reference_window = day_bounds(day), reference_bounds(day)
    suggested = suggested_counts(*day_window), suggested_counts(*reference_window)
    intake = intake_counts(*day_window), intake_counts(*reference_window)
    dimensions = {}
    for name in SUGGESTED:
        dimensions[name] = {
            "kind": "suggested",
            "bins": suggested_bins(name),
            "labels": suggested_labels(name),
            **compare(suggested[0][name], suggested[1][name]),
        }
    for name in STATISTICS:
        dimensions[name] = {
            "kind": "input",
            "bins": stat_labels(name),
            "labels": stat_labels(name),
            **compare(intake[0][name], intake[1][name]),
        }
    return dimensions


def drift_report_build_due(*, now: dt.datetime | None = None) -> DriftReport | None:
    """Build yesterday's report unless the one stored is final. A report is final once it was
    computed after every run of its day could have finished (a run unfinished after
    AI_RUN_STALE_AFTER_SECONDS is failed): until then, runs created late that day may still
    succeed, so the hourly beat builds it again. None when nothing was due."""
    now = now or timezone.now()
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    _, day_end = day_bounds(yesterday)
    final_after = day_end + dt.timedelta(seconds=settings.AI_RUN_STALE_AFTER_SECONDS)
    stored = DriftReport.objects.filter(day=yesterday).values_list("computed_at", flat=True)
    if stored and stored[0] >= final_after:
        return None
    return drift_report_build(day=yesterday)
