"""Drift, read side: the latest daily report (what the dashboard, the alerts and /metrics use) and
the counts a report is built from.

`latest_drift()` is the interface the rest of monitoring relies on:

    {"id": int, "day": date, "computed_at": datetime, "run_count": int, "drifted": bool,
     "dimensions": {"category": {...}, "condition": {...},
                    "megapixels": {...}, "aspect": {...}, "brightness": {...}, "sharpness": {...}}}

Each dimension holds "psi" (float; None when the day or the reference has no runs), "chi2_p"
(float; None when either side is empty or nothing is left to test after pooling rare bins),
"level" ("stable", "moderate", "drifted" or "insufficient_data": fewer than
drift_stats.MIN_SAMPLE runs on a side), "drifted" (bool, level == "drifted"), "n" and
"reference_n" (runs behind each side), "bins" and "labels" (the fixed bins), "counts" and
"reference_counts" (per bin; the reference is the sum of the 28 days before). An alert on PSI
alone should also require "n" >= MIN_SAMPLE, or use "drifted", which does.
"""

import datetime as dt
from collections import Counter

from django.db.models import Case, Count, IntegerField, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from ai_prefill.fields import is_blank
from ai_prefill.models import PrefillRun
from marketplace.taxonomy import Category, Condition

from .drift_models import DriftReport, IntakeStats
from .drift_stats import STAT_EDGES, STATISTICS, bin_labels

REFERENCE_DAYS = 28
NO_VALUE = "(none)"  # the bin of a draft with the field blank, or a value outside the taxonomy
SUGGESTED = {"category": Category, "condition": Condition}
DIMENSIONS = (*SUGGESTED, *STATISTICS)  # the order pages show them in


def latest_drift() -> dict | None:
    """The latest daily drift report (see the module docstring), None before the first one."""
    report = DriftReport.objects.order_by("-day").first()
    return drift_report_as_dict(report) if report else None


def drift_report_as_dict(report: DriftReport) -> dict:
    return {
        "id": report.pk,
        "day": report.day,
        "computed_at": report.computed_at,
        "run_count": report.run_count,
        "drifted": report.drifted,
        "dimensions": ordered_dimensions(report.dimensions),
    }


def ordered_dimensions(dimensions: dict) -> dict:
    """A report's dimensions in DIMENSIONS order (PostgreSQL's jsonb keeps no key order)."""
    known = {name: dimensions[name] for name in DIMENSIONS if name in dimensions}
    return {**known, **{k: v for k, v in dimensions.items() if k not in known}}


def drift_report_for_day(day: dt.date) -> DriftReport | None:
    return DriftReport.objects.filter(day=day).first()


def drift_reports():
    """Every report, newest day first (the admin list)."""
    return DriftReport.objects.defer("dimensions").order_by("-day")


# --- What a report is made from ------------------------------------------------------------------


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A calendar day of the site's time zone as [start, end) (23 or 25 hours on DST days)."""
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def reference_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The REFERENCE_DAYS calendar days before `day`."""
    start, _ = day_bounds(day - dt.timedelta(days=REFERENCE_DAYS))
    end, _ = day_bounds(day)
    return start, end


def suggested_bins(name: str) -> list[str]:
    return [*SUGGESTED[name].values, NO_VALUE]


def suggested_labels(name: str) -> list[str]:
    return [*SUGGESTED[name].labels, "No value"]


def suggested_counts(start: dt.datetime, end: dt.datetime) -> dict[str, list[int]]:
    """Per suggested field (category, condition): the succeeded runs created in [start, end)
    counted per bin of `suggested_bins`."""
    tallies = {name: Counter() for name in SUGGESTED}
    for category, condition, n in suggested_count_rows(start, end):
        tallies["category"][_bin_of("category", category)] += n
        tallies["condition"][_bin_of("condition", condition)] += n
    return {name: [tallies[name][b] for b in suggested_bins(name)] for name in SUGGESTED}


def suggested_count_rows(start: dt.datetime, end: dt.datetime):
    """(category, condition, runs) of the succeeded runs created in [start, end): one grouped
    pass over the window, a few dozen rows back."""
    return (
        PrefillRun.objects.filter(
            status=PrefillRun.Status.SUCCEEDED, created_at__gte=start, created_at__lt=end
        )
        .annotate(
            category=KeyTextTransform("category", "draft"),
            condition=KeyTextTransform("condition", "draft"),
        )
        .values("category", "condition")
        .annotate(n=Count("pk"))
        .values_list("category", "condition", "n")
        .order_by()
    )


def _bin_of(name: str, value: str | None) -> str:
    if is_blank(value) or value not in SUGGESTED[name].values:
        return NO_VALUE
    return value


def stat_labels(name: str) -> list[str]:
    return bin_labels(STAT_EDGES[name])


def intake_counts(start: dt.datetime, end: dt.datetime) -> dict[str, list[int]]:
    """Per input statistic: the photos of runs created in [start, end) counted per fixed bin.
    The bins are computed in SQL and grouped on all four at once: one pass over the window, and
    a few thousand rows back at most instead of one per photo."""
    annotations = {f"{name}_bin": _bin_case(name) for name in STATISTICS}
    rows = (
        IntakeStats.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(**annotations)
        .values(*annotations)
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {name: [0] * (len(STAT_EDGES[name]) + 1) for name in STATISTICS}
    for row in rows:
        for name in STATISTICS:
            counts[name][row[f"{name}_bin"]] += row["n"]
    return counts


def _bin_case(name: str) -> Case:
    """SQL for drift_stats.bin_index: bin i holds edges[i-1] <= value < edges[i]."""
    edges = STAT_EDGES[name]
    whens = [When(**{f"{name}__lt": edge}, then=Value(i)) for i, edge in enumerate(edges)]
    return Case(*whens, default=Value(len(edges)), output_field=IntegerField())
