"""Reads of the pre-aggregated buckets: window totals for the alerts, series for the dashboard.

Both read MetricBucket rows only, never the run log, so their cost depends on the number of
buckets in the window, not on the number of runs.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from . import histograms
from .rollup_models import MetricBucket
from .rollups import ceil_to, floor_to

Size = MetricBucket.Size
PRODUCTION = 0  # arm_id of runs outside every experiment


@dataclass(frozen=True)
class WindowTotals:
    runs: int  # runs finished in the window
    no_usable_draft: int  # of those (ai_prefill.outcomes definition)
    upload_to_draft_p95_s: float | None  # from histograms, None when no runs
    queue_wait_p95_s: float | None
    cost_usd: float
    ratings_up: int  # thumbs given in the window (feedback.SuggestionRating)
    ratings_down: int


def dimension_q(*, prompt_version_id=None, provider=None, model=None, arm_id=None) -> Q:
    """Rows of one dimension; None leaves it open. arm_id=0 (PRODUCTION) is runs in no arm."""
    q = Q()
    if prompt_version_id is not None:
        q &= Q(prompt_version_id=prompt_version_id)
    if provider is not None:
        q &= Q(provider=provider)
    if model is not None:
        q &= Q(model=model)
    if arm_id is not None:
        q &= Q(arm_id=arm_id)
    return q


def window_cover(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """The fewest buckets that tile [start, end) once widened to whole minutes: days inside,
    hours at the ends, minutes at the very ends. Returns (size, first start, end) ranges."""
    start, end = floor_to(start, Size.MINUTE), ceil_to(end, Size.MINUTE)
    pieces = []
    for size in (Size.DAY, Size.HOUR):
        inner_start, inner_end = ceil_to(start, size), floor_to(end, size)
        if inner_start < inner_end:
            left = _cover_smaller(start, inner_start, size)
            right = _cover_smaller(inner_end, end, size)
            return left + [(size, inner_start, inner_end)] + right
    if start < end:
        pieces.append((Size.MINUTE, start, end))
    return pieces


def _cover_smaller(start: datetime, end: datetime, size: str) -> list:
    """[start, end), shorter than one `size`, covered with the sizes below it."""
    if start >= end:
        return []
    if size == Size.DAY:
        return window_cover(start, end)
    return [(Size.MINUTE, start, end)]


def _cover_q(start: datetime, end: datetime) -> Q:
    q = Q(pk__in=[])
    for size, first, last in window_cover(start, end):
        q |= Q(size=size, start__gte=first, start__lt=last)
    return q


def window_totals(
    *, start: datetime, end: datetime, prompt_version_id=None, provider=None, model=None,
    arm_id=None,
) -> WindowTotals:  # fmt: skip
    """Totals of the runs finished (thumbs given) in [start, end), widened to whole minutes, of
    one dimension (None: all). One query over at most a few hundred bucket rows."""
    dims = dimension_q(
        prompt_version_id=prompt_version_id, provider=provider, model=model, arm_id=arm_id
    )
    rows = list(
        MetricBucket.objects.filter(_cover_q(start, end), dims).values_list(
            "runs", "no_usable_draft", "cost_usd", "ratings_up", "ratings_down",
            "upload_to_draft_hist", "queue_wait_hist",
        )
    )  # fmt: skip
    upload, queue = Counter(), Counter()
    for row in rows:
        upload.update(histograms.as_counter(row[5]))
        queue.update(histograms.as_counter(row[6]))
    return WindowTotals(
        runs=sum(row[0] for row in rows),
        no_usable_draft=sum(row[1] for row in rows),
        upload_to_draft_p95_s=histograms.percentile_seconds(upload, 0.95),
        queue_wait_p95_s=histograms.percentile_seconds(queue, 0.95),
        cost_usd=float(sum((row[2] for row in rows), Decimal(0))),
        ratings_up=sum(row[3] for row in rows),
        ratings_down=sum(row[4] for row in rows),
    )
