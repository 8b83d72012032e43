"""Where each alert metric comes from: one function per metric, reading only the interfaces of
the other areas of monitoring (rollup buckets, heartbeats, drift reports), never the run log.

A source returns a Reading:
- `available=False`: no data (the source is missing, or has produced nothing yet, e.g. no drift
  report); the evaluator leaves the rule's state as it is and records the note. Never a made-up
  value.
- `judged=False`: the window holds too few samples to judge (or no value can be computed from
  them, e.g. a percentile of no runs): the condition is false, so a firing alert resolves.
- otherwise the condition is `value > rule.threshold`.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from marketplace.task_queues import QueueKind

from .alert_models import AlertMetric, AlertRule
from .drift import latest_drift
from .heartbeats import heartbeat_age_seconds, worker_kind
from .rollup_selectors import WindowTotals, window_totals


@dataclass(frozen=True)
class Reading:
    value: float | None
    detail: dict = field(default_factory=dict)
    note: str = ""
    judged: bool = True
    available: bool = True


Source = Callable[..., Reading]

# metric (AlertMetric value) -> source(rule=, now=) -> Reading
SOURCES: dict[str, Source] = {}

UNAVAILABLE = "source unavailable"


def source(metric: str) -> Callable[[Source], Source]:
    """Register the function as the source of `metric`."""

    def register(function: Source) -> Source:
        SOURCES[metric] = function
        return function

    return register


def reading_for(*, rule: AlertRule, now: datetime) -> Reading:
    function = SOURCES.get(rule.metric)
    if function is None:
        return Reading(value=None, note=UNAVAILABLE, available=False)
    return function(rule=rule, now=now)


# --- The sources of the shipped metrics ----------------------------------------------------------
# Rollup buckets (monitoring.rollup_selectors) count a run in the minute it finished and a thumb
# in the minute it was first given; windows are widened to whole minutes.

WEEK = timedelta(days=7)
# A previous week with no thumbs down counts as half of one, so that a single thumbs down now is
# not "infinitely worse" (the ratio needs a denominator).
NO_THUMBS_DOWN_FLOOR = 0.5


def _too_few(count: int, rule: AlertRule, what: str) -> str:
    return f"{count} {what} in the window, fewer than {rule.min_samples}: not judged"


@source(AlertMetric.NO_USABLE_DRAFT_BURN)
def no_usable_draft_burn(*, rule: AlertRule, now: datetime) -> Reading:
    """How many times faster than the objective allows the no-usable-draft share spends the
    error budget, over the window AND the short window: the smaller of the two burn rates,
    so the value is above the threshold only when both are (Google SRE workbook, ch. 5)."""
    budget = 1 - rule.objective
    long = window_totals(start=now - rule.window, end=now)
    short = window_totals(start=now - rule.short_window, end=now)
    burn_long, burn_short = _burn(long, budget), _burn(short, budget)
    detail = {
        "window": {"runs": long.runs, "no_usable_draft": long.no_usable_draft, "burn": burn_long},
        "short_window": {
            "runs": short.runs, "no_usable_draft": short.no_usable_draft, "burn": burn_short
        },
    }  # fmt: skip
    judged = long.runs >= rule.min_samples
    note = "" if judged else _too_few(long.runs, rule, "runs")
    return Reading(min(burn_long, burn_short), detail=detail, note=note, judged=judged)


def _burn(totals: WindowTotals, budget: float) -> float:
    share = totals.no_usable_draft / totals.runs if totals.runs else 0.0
    return round(share / budget, 6)


def _percentile_reading(rule: AlertRule, now: datetime, name: str) -> Reading:
    totals = window_totals(start=now - rule.window, end=now)
    value = getattr(totals, name)
    if totals.runs < rule.min_samples or value is None:
        return Reading(value, detail={"runs": totals.runs}, judged=False,
                       note=_too_few(totals.runs, rule, "runs"))  # fmt: skip
    return Reading(value, detail={"runs": totals.runs, name: value})


@source(AlertMetric.UPLOAD_TO_DRAFT_P95)
def upload_to_draft_p95(*, rule: AlertRule, now: datetime) -> Reading:
    """p95 of upload (run created) to finished, read from the buckets' histograms."""
    return _percentile_reading(rule, now, "upload_to_draft_p95_s")


@source(AlertMetric.QUEUE_WAIT_P95)
def queue_wait_p95(*, rule: AlertRule, now: datetime) -> Reading:
    """p95 of run created to first claimed by a worker."""
    return _percentile_reading(rule, now, "queue_wait_p95_s")


@source(AlertMetric.COST_TODAY)
def cost_today(*, rule: AlertRule, now: datetime) -> Reading:
    """Provider cost of the runs finished since midnight in the site's time zone (TIME_ZONE)."""
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    totals = window_totals(start=midnight, end=now)
    detail = {"since": midnight.isoformat(), "runs": totals.runs, "cost_usd": totals.cost_usd}
    return Reading(totals.cost_usd, detail=detail)


def _heartbeat_reading(kind: str) -> Reading:
    age = heartbeat_age_seconds(kind=kind)
    if age is None:  # never seen (or not for a week): as dead as can be
        return Reading(math.inf, detail={"seen": False}, note=f"no {kind} heartbeat recorded")
    return Reading(round(age, 3), detail={"seen": True, "age_s": round(age, 3)})


@source(AlertMetric.WORKER_HEARTBEAT_AGE)
def worker_heartbeat_age(*, rule: AlertRule, now: datetime) -> Reading:
    """A worker on the pre-fill queue: one on the other queues alone leaves sellers waiting."""
    return _heartbeat_reading(worker_kind(QueueKind.PREFILL))


@source(AlertMetric.BEAT_HEARTBEAT_AGE)
def beat_heartbeat_age(*, rule: AlertRule, now: datetime) -> Reading:
    return _heartbeat_reading("beat")


@source(AlertMetric.THUMBS_DOWN_WEEK_RATIO)
def thumbs_down_week_ratio(*, rule: AlertRule, now: datetime) -> Reading:
    """Thumbs-down share of the window / that of the same window one week earlier (same hours
    and weekday, so the weekly rhythm of who rates cancels out)."""
    now_totals = window_totals(start=now - rule.window, end=now)
    then_totals = window_totals(start=now - WEEK - rule.window, end=now - WEEK)
    rated_now = now_totals.ratings_up + now_totals.ratings_down
    rated_then = then_totals.ratings_up + then_totals.ratings_down
    detail = {
        "now": {"up": now_totals.ratings_up, "down": now_totals.ratings_down},
        "week_before": {"up": then_totals.ratings_up, "down": then_totals.ratings_down},
    }
    if min(rated_now, rated_then) < rule.min_samples:
        note = _too_few(min(rated_now, rated_then), rule, "ratings")
        return Reading(None, detail=detail, note=note, judged=False)
    share_now = now_totals.ratings_down / rated_now
    share_then = max(then_totals.ratings_down, NO_THUMBS_DOWN_FLOOR) / rated_then
    return Reading(round(share_now / share_then, 6), detail=detail)


@source(AlertMetric.CATEGORY_DRIFT_PSI)
def category_drift_psi(*, rule: AlertRule, now: datetime) -> Reading:
    """PSI of the suggested categories in the latest daily drift report (monitoring.drift)."""
    report = latest_drift()
    if report is None:
        return Reading(None, note="no drift report yet", available=False)
    category = report["dimensions"]["category"]
    detail = {
        "day": str(report["day"]), "psi": category["psi"], "chi2_p": category["chi2_p"],
        "level": category["level"], "n": category["n"],
    }  # fmt: skip
    if category["psi"] is None or category["level"] == "insufficient_data":
        return Reading(category["psi"], detail=detail, judged=False,
                       note=f"drift of {report['day']}: too few runs to judge")  # fmt: skip
    return Reading(category["psi"], detail=detail)
