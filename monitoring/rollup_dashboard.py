"""Reads for the monitoring dashboard: every panel's figures per bucket and for the window, from
the pre-aggregated buckets (minutes for an hour, hours up to a week, days beyond).

Shares come with what they are computed from: a share is None when its denominator is 0, never a
misleading 0 %. Percentiles are read from the merged histograms (monitoring.histograms).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils.http import urlencode

from ai_prefill.models import PromptVersion
from ai_prefill.outcomes import DRAFT_OUTCOME
from ai_prefill.schema import DRAFT_FIELDS
from experiments.models import Arm

from . import histograms
from .rollup_models import MetricBucket
from .rollup_selectors import PRODUCTION, dimension_q
from .rollups import STEP, Tally, ceil_to, floor_to

Size = MetricBucket.Size

# window key -> (label, length, bucket size)
WINDOWS = {
    "1h": ("Last hour", timedelta(hours=1), Size.MINUTE),
    "24h": ("Last 24 hours", timedelta(hours=24), Size.HOUR),
    "7d": ("Last 7 days", timedelta(days=7), Size.HOUR),
    "30d": ("Last 30 days", timedelta(days=30), Size.DAY),
}
LATENCIES = {
    "queue_wait": ("queue_wait_hist", "Queue wait (created → started)"),
    "provider": ("provider_latency_hist", "Provider call"),
    "upload_to_draft": ("upload_to_draft_hist", "Upload to draft (created → finished)"),
}
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
VALUE_FIELDS = ("start", *Tally.COUNTS, *Tally.COUNTERS, "corrections")


@dataclass(frozen=True)
class Filters:
    prompt_version_id: int | None = None
    provider: str | None = None
    model: str | None = None
    arm_id: int | None = None  # 0: production (no arm)

    def q(self):
        return dimension_q(**self.__dict__)


def size_for_span(span: timedelta) -> str:
    """The bucket size a custom window is drawn with: about 60 to 200 points."""
    if span <= timedelta(hours=3):
        return Size.MINUTE
    if span <= timedelta(days=8):
        return Size.HOUR
    return Size.DAY


def window_bounds(*, window: str, now: datetime, start=None, end=None) -> tuple:
    """(start, end, size) of a named window ending with the current bucket, or of a custom
    start/end widened to whole buckets."""
    if window in WINDOWS:
        _, length, size = WINDOWS[window]
        end = ceil_to(now, size) if ceil_to(now, size) > now else now + STEP[size]
        return end - length, end, size
    size = size_for_span(end - start)
    return floor_to(start, size), ceil_to(end, size), size


def dashboard(*, start: datetime, end: datetime, size: str, filters: Filters) -> dict:
    """Every panel, per bucket of `size` in [start, end) and for the whole window."""
    rows = (
        MetricBucket.objects.filter(filters.q(), size=size, start__gte=start, start__lt=end)
        .values(*VALUE_FIELDS)
        .order_by()
    )
    by_start: dict[datetime, Tally] = {}
    for row in rows:
        by_start.setdefault(row["start"], Tally()).add_row(row)
    starts = _bucket_starts(start, end, size)
    total = Tally()
    points = []
    for bucket_start in starts:
        tally = by_start.get(bucket_start, Tally())
        total.merge(tally)
        bucket_end = bucket_start + STEP[size]
        points.append(
            {"start": bucket_start, "end": bucket_end, **figures(tally),
             "runs_url": runs_url(start=bucket_start, end=bucket_end, filters=filters)}
        )  # fmt: skip
    outcomes = sorted(total.outcomes, key=lambda name: (name != DRAFT_OUTCOME, name))
    return {
        "start": start, "end": end, "size": size, "points": points, "outcomes": outcomes,
        "totals": {**figures(total), "runs_url": runs_url(start=start, end=end, filters=filters)},
        "outcome_urls": {
            name: runs_url(start=start, end=end, filters=filters, outcome=name) for name in outcomes
        },
        "daily_cost": _daily_cost(points),
    }  # fmt: skip


def _bucket_starts(start: datetime, end: datetime, size: str) -> list[datetime]:
    starts, moment = [], start
    while moment < end:
        starts.append(moment)
        moment += STEP[size]
    return starts


def _share(count, n) -> float | None:
    return count / n if n else None


def figures(tally: Tally) -> dict:
    """The numbers of every panel for one bucket (or the window)."""
    drafts = tally.outcomes.get(DRAFT_OUTCOME, 0)
    rated = tally.ratings_up + tally.ratings_down
    decided = tally.published + tally.abandoned
    return {
        "runs": tally.runs,
        "outcomes": dict(tally.outcomes),
        "outcome_shares": {k: _share(v, tally.runs) for k, v in tally.outcomes.items()},
        "no_usable_draft": tally.no_usable_draft,
        "no_usable_draft_share": _share(tally.no_usable_draft, tally.runs),
        "drafts": drafts,
        "empty_shares": {f: _share(tally.empty_fields.get(f, 0), drafts) for f in DRAFT_FIELDS},
        "latency": {
            key: {
                q: histograms.percentile_seconds(getattr(tally, stored), value)
                for q, value in QUANTILES.items()
            }
            for key, (stored, _) in LATENCIES.items()
        },  # fmt: skip
        "retries": tally.retries,
        "retries_per_run": _share(tally.retries, tally.runs),
        "input_tokens": tally.input_tokens,
        "output_tokens": tally.output_tokens,
        "cost_usd": float(tally.cost_usd),
        "cost_per_run": _share(float(tally.cost_usd), tally.runs),
        "published": tally.published,
        "abandoned": tally.abandoned,
        "cost_per_published": _share(float(tally.cost_usd), tally.published),
        "abandonment": _share(tally.abandoned, decided),
        "ratings_up": tally.ratings_up,
        "ratings_down": tally.ratings_down,
        "thumbs_down_share": _share(tally.ratings_down, rated),
        "correction_shares": {
            f: _share(tally.corrections.get(f, [0, 0])[1], tally.corrections.get(f, [0, 0])[0])
            for f in DRAFT_FIELDS
        },
    }


def _daily_cost(points: list[dict]) -> list[dict]:
    """Cost per UTC day of the window (the buckets summed by day)."""
    days: dict = {}
    for point in points:
        day = floor_to(point["start"], Size.DAY)
        days[day] = days.get(day, Decimal(0)) + Decimal(str(point["cost_usd"]))
    return [{"day": day.date().isoformat(), "cost_usd": float(cost)} for day, cost in days.items()]


def runs_url(*, start: datetime, end: datetime, filters: Filters, outcome: str | None = None):
    """The admin run log filtered to the runs behind a point: finished in [start, end), of the
    dimension, and of one outcome if given."""
    params = {"finished_at__gte": start.isoformat(), "finished_at__lt": end.isoformat()}
    if filters.prompt_version_id is not None:
        params["prompt_version__id__exact"] = filters.prompt_version_id
    if filters.provider is not None:
        params["provider__exact"] = filters.provider
    if filters.model is not None:
        params["model__exact"] = filters.model
    if filters.arm_id == PRODUCTION:
        params["arm__isnull"] = "True"
    elif filters.arm_id is not None:
        params["arm__id__exact"] = filters.arm_id
    if outcome == DRAFT_OUTCOME:
        params["status__exact"] = "succeeded"
    elif outcome is not None:
        params.update({"status__exact": "failed", "error_type__exact": outcome})
    return reverse("admin:ai_prefill_prefillrun_changelist") + "?" + urlencode(params)


def filter_choices() -> dict:
    """The dimensions seen in the day buckets, with readable names, for the filter form."""
    seen = MetricBucket.objects.filter(size=Size.DAY).values_list(
        "prompt_version_id", "provider", "model", "arm_id"
    ).distinct()  # fmt: skip
    versions, providers, models, arms = (sorted({row[i] for row in seen}) for i in range(4))
    labels = {v.pk: v.label for v in PromptVersion.objects.filter(pk__in=versions)}
    arm_labels = {
        arm.pk: f"{arm.experiment.key} / {arm.key}"
        for arm in Arm.objects.filter(pk__in=arms).select_related("experiment")
    }
    return {
        "prompt_version": [(pk, labels.get(pk, f"#{pk}")) for pk in versions if pk],
        "provider": [(p, p) for p in providers if p],
        "model": [(m, m) for m in models if m],
        "arm": [(PRODUCTION, "production (no arm)")]
        + [(pk, arm_labels.get(pk, f"#{pk}")) for pk in arms if pk],
    }
