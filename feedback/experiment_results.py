"""The results of an experiment: one computation behind the admin results page, the API, the CSV
and the guardrails (experiment_guardrails.py reads the guardrail part from here, so a breach is
judged on exactly the figure the page shows).

The unit is the sell session (feedback.SellSession, every arm alike, AI or not); sellers are the
experiment's assignments. The sessions are read in one GROUP BY per local day and arm, which
also returns the seconds of that day's published sessions as an array (array_agg in PostgreSQL,
fetched as rows elsewhere): the daily table, its medians, the arm's counts (the sums of its days)
and the event times of Kaplan-Meier all come from it. Other counts and sums are GROUP BY queries;
the ages of open sessions come back row by row. Abandoned sessions are all censored at the same
time, so their number is enough.

Censoring rule of time to publish (experiments.stats.survival_summary):
- published: an event at `seconds_to_publish`;
- abandoned: censored at FEEDBACK_ABANDON_AFTER_HOURS (they were watched that long);
- open: censored at their age, `now - opened_at`.
Durations are floored at MIN_SECONDS (a publish recorded in the same second as the opening would
be 0, which the survival functions do not take).

Rates are {"value", "n"}: value is None when n is 0, never a misleading 0 %.
- abandonment: abandoned / (published + abandoned); open sessions are not decided yet;
- field_acceptance / field_corrections: FieldCorrection rows of stage "publish" of the runs
  linked to the arm's sessions that had a draft; kept unchanged / all, and changed / all per field;
- thumbs_up: up / all ratings of the runs linked to the arm's sessions;
- failures: runs of the arm (PrefillRun.arm) that failed, or succeeded with every draft field
  blank, over its finished runs;
- p95_seconds_to_draft: created_at -> finished_at of its succeeded runs;
- cost_per_published_usd: the cost of all its runs over its published sessions.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.outcomes import no_usable_draft_q
from ai_prefill.schema import DRAFT_FIELDS
from experiments import stats
from experiments.decision import ArmEvidence, recommend, with_holm
from experiments.models import Arm, Assignment, Experiment, ExperimentEvent, Guardrail

from .models import SellSession, SuggestionRating

MIN_SECONDS = 1.0
WITHIN = (60, 120, 300)
HISTORY_DAYS = 28  # the sample size is planned from this much traffic before the start
EVENTS_LIMIT = 200
SAMPLE_SIZE_CACHE_SECONDS = 3600

_PUBLISHED = SellSession.Status.PUBLISHED
_ABANDONED = SellSession.Status.ABANDONED
_OPEN = SellSession.Status.OPEN
_SUCCEEDED = PrefillRun.Status.SUCCEEDED
_FAILED = PrefillRun.Status.FAILED

GUARDRAIL_LABELS = dict(Guardrail.Metric.choices)


def experiment_results(*, experiment: Experiment, now: datetime | None = None) -> dict:
    """Every figure of every arm, the SRM check, the plan, the days and the audit log."""
    now = now or timezone.now()
    arms = list(experiment.arms.all())
    arm_ids = [arm.pk for arm in arms]
    days = _daily_rows(arm_ids)
    counts = _session_counts(arm_ids, days)
    sellers = _sellers(experiment)
    runs = arm_run_metrics(arm_ids)
    rated = _ratings(arm_ids)
    fields = _field_counts(arm_ids)
    survival = _survival_arrays(arm_ids, counts, days, now)
    guardrails = list(experiment.guardrails.all())
    srm = _srm(experiment, arms, sellers)
    plan = experiment_sample_size(experiment=experiment)
    rows = {
        arm.pk: _arm_figures(arm, counts[arm.pk], sellers.get(arm.pk, 0), runs[arm.pk],
                             rated[arm.pk], fields[arm.pk], survival[arm.pk], guardrails)
        for arm in arms
    }  # fmt: skip
    _compare(experiment, arms, rows, survival, rated, plan, srm)
    return {
        "experiment": _experiment_dict(experiment, arms),
        "arms": [rows[arm.pk] for arm in arms],
        "srm": srm,
        "sample_size": plan,
        "daily": _daily(arms, days),
        "events": _events(experiment),
    }


# --- aggregates where the rows are -------------------------------------------------------------


def postgresql_aggregates() -> bool:
    """PostgreSQL aggregates where the rows are: percentile_cont for the p95 per arm, and
    array_agg to ship the published seconds as ~90 arrays instead of 75,000 rows. SQLite has
    neither; there the rows are fetched for numpy, which gives the same figures."""
    return connection.vendor == "postgresql"


class Percentile(Aggregate):
    """percentile_cont(fraction) WITHIN GROUP (ORDER BY expression), PostgreSQL's ordered-set
    aggregate: the same linear interpolation as numpy.percentile; NULLs are skipped."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    template = "%(function)s(%(fraction)r) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction is between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)


class _Seconds(Func):
    """The seconds of a PostgreSQL interval, exact (numeric) before percentile_cont's cast."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


# --- per arm, from the database --------------------------------------------------------------


def _session_counts(arm_ids: list[int], days: list[dict]) -> dict[int, dict]:
    """Per arm, the sum of its days (_daily_rows): one scan of the sessions serves both."""
    names = ("sessions", "published", "abandoned", "open")
    result = {arm_id: dict.fromkeys(names, 0) for arm_id in arm_ids}
    for row in days:
        for name in names:
            result[row["arm_id"]][name] += row[name]
    return result


def _sellers(experiment: Experiment) -> dict[int, int]:
    rows = (
        Assignment.objects.filter(experiment=experiment)
        .values_list("arm_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return dict(rows)


def arm_run_metrics(arm_ids: list[int]) -> dict[int, dict]:
    """Per arm: its runs, the finished ones, failures (failed or blank), succeeded, cost, p95
    seconds to draft. Also what the guardrail check reads (one definition)."""
    rows = (
        PrefillRun.objects.filter(arm_id__in=arm_ids)
        .values("arm_id")
        .annotate(
            runs=Count("pk"),
            finished=Count("pk", filter=Q(status__in=[_SUCCEEDED, _FAILED])),
            failures=Count("pk", filter=no_usable_draft_q()),
            cost=Sum("cost_usd"),
        )
        .order_by()
    )
    found = {row.pop("arm_id"): row for row in rows}
    p95 = _p95_seconds_to_draft(arm_ids)
    result = {}
    for arm_id in arm_ids:
        row = found.get(arm_id, {"runs": 0, "finished": 0, "failures": 0, "cost": None})
        seconds = p95.get(arm_id, (0, None))
        result[arm_id] = {**row, "cost": float(row["cost"] or 0), "succeeded_timed": seconds[0],
                          "p95_seconds_to_draft": seconds[1]}  # fmt: skip
    return result


def _p95_seconds_to_draft(arm_ids: list[int]) -> dict[int, tuple[int, float | None]]:
    """(succeeded runs with a finish time, their p95 created -> finished seconds) per arm."""
    took = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    timed = PrefillRun.objects.filter(
        arm_id__in=arm_ids, status=_SUCCEEDED, finished_at__isnull=False
    ).order_by()
    if postgresql_aggregates():
        rows = timed.values("arm_id").annotate(
            n=Count("pk"), p95=Percentile(_Seconds(took), fraction=0.95)
        )
        return {row["arm_id"]: (row["n"], row["p95"]) for row in rows}
    by_arm: dict[int, list[float]] = {}
    for arm_id, delta in timed.annotate(took=took).values_list("arm_id", "took"):
        by_arm.setdefault(arm_id, []).append(delta.total_seconds())
    return {arm_id: (len(v), stats.percentile(v, 95)) for arm_id, v in by_arm.items()}


def _ratings(arm_ids: list[int]) -> dict[int, dict]:
    rows = (
        SellSession.objects.filter(arm_id__in=arm_ids, run__ratings__isnull=False)
        .values("arm_id")
        .annotate(
            n=Count("run__ratings"),
            up=Count("run__ratings", filter=Q(run__ratings__rating=SuggestionRating.Rating.UP)),
        )
        .order_by()
    )
    found = {row.pop("arm_id"): row for row in rows}
    return {arm_id: found.get(arm_id, {"n": 0, "up": 0}) for arm_id in arm_ids}


def _field_counts(arm_ids: list[int]) -> dict[int, dict[str, dict]]:
    corrections = "run__outcome__corrections"
    rows = (
        SellSession.objects.filter(
            arm_id__in=arm_ids,
            run__draft__isnull=False,
            **{f"{corrections}__stage": "publish"},
        )
        .values("arm_id", field=F(f"{corrections}__field"))
        .annotate(
            n=Count(f"{corrections}__pk"),
            kept=Count(f"{corrections}__pk", filter=Q(**{f"{corrections}__changed": False})),
        )
        .order_by()
    )
    result: dict[int, dict[str, dict]] = {arm_id: {} for arm_id in arm_ids}
    for row in rows:
        result[row["arm_id"]][row["field"]] = {"n": row["n"], "kept": row["kept"]}
    return result


def _survival_arrays(arm_ids, counts, days, now) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(durations, published) per arm, by the censoring rule in the module docstring. The
    published seconds come with the days (_daily_rows); their order does not matter."""
    done = {arm_id: [np.empty(0)] for arm_id in arm_ids}
    for row in days:
        done[row["arm_id"]].append(row["seconds"])
    ages: dict[int, list[float]] = {arm_id: [] for arm_id in arm_ids}
    # The age as an interval from the database: the same microseconds as `now - opened_at` in
    # Python, without a time-zone-aware datetime built per row (5x slower).
    age = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F("opened_at"), output_field=DurationField()
    )
    opened = SellSession.objects.filter(arm_id__in=arm_ids, status=_OPEN).annotate(age=age)
    for arm_id, delta in opened.values_list("arm_id", "age").order_by():
        ages[arm_id].append(delta.total_seconds())
    window = settings.FEEDBACK_ABANDON_AFTER_HOURS * 3600.0
    result = {}
    for arm_id in arm_ids:
        published = np.concatenate(done[arm_id])
        abandoned = np.full(counts[arm_id]["abandoned"], window)
        durations = np.concatenate((published, abandoned, np.asarray(ages[arm_id], dtype=float)))
        events = np.arange(durations.size) < published.size
        result[arm_id] = (np.maximum(durations, MIN_SECONDS), events)
    return result


# --- figures -------------------------------------------------------------------------------------


def _rate(count: int, n: int) -> dict:
    return {"value": count / n if n else None, "n": n}


def _arm_figures(arm, counts, sellers, runs, rated, fields, survival, guardrails) -> dict:
    resolved = counts["published"] + counts["abandoned"]
    published = counts["published"]
    all_n = sum(f["n"] for f in fields.values())
    all_kept = sum(f["kept"] for f in fields.values())
    figures = {
        "key": arm.key, "id": arm.pk, "is_control": arm.is_control, "weight": arm.weight,
        "status": arm.status, "paused_reason": arm.paused_reason, "payload": arm.payload,
        "sellers": sellers, **counts,
        "abandonment": _rate(counts["abandoned"], resolved),
        "time_to_publish": _time_to_publish(*survival),
        "field_acceptance": _rate(all_kept, all_n),
        "field_corrections": {
            name: _rate(fields[name]["n"] - fields[name]["kept"], fields[name]["n"])
            for name in DRAFT_FIELDS if name in fields
        },
        "thumbs_up": _rate(rated["up"], rated["n"]),
        "failures": _rate(runs["failures"], runs["finished"]),
        "p95_seconds_to_draft": runs["p95_seconds_to_draft"],
        "cost_per_published_usd": runs["cost"] / published if published else None,
        "runs": runs["runs"],
        "vs_control": None,
        "recommendation": None,
    }  # fmt: skip
    figures["guardrails"] = arm_guardrails(guardrails, runs=runs, published=published)
    return figures


def arm_guardrails(guardrails: list[Guardrail], *, runs: dict, published: int) -> list[dict]:
    """Each guardrail's value for one arm; judged from `min_sample` runs (or publishes, for
    cost), breached when judged and the value is above the threshold."""
    values = {
        Guardrail.Metric.FAILED_OR_EMPTY: (
            runs["failures"] / runs["finished"] if runs["finished"] else None,
            runs["finished"],
        ),
        Guardrail.Metric.P95_SECONDS_TO_DRAFT: (
            runs["p95_seconds_to_draft"],
            runs["succeeded_timed"],
        ),
        Guardrail.Metric.COST_PER_PUBLISHED: (
            runs["cost"] / published if published else None,
            published,
        ),
    }
    result = []
    for guardrail in guardrails:
        value, n = values[guardrail.metric]
        judged = n >= guardrail.min_sample and value is not None
        result.append({
            "metric": guardrail.metric, "label": GUARDRAIL_LABELS[guardrail.metric],
            "threshold": guardrail.threshold, "min_sample": guardrail.min_sample,
            "value": value, "n": n, "judged": judged,
            "breached": bool(judged and value > guardrail.threshold),
        })  # fmt: skip
    return result


def guardrail_sentence(arm_key: str, g: dict) -> str:
    """The reason recorded when a guardrail pauses an arm, and shown in the recommendation."""
    value, threshold = g["value"], g["threshold"]
    if g["metric"] == Guardrail.Metric.FAILED_OR_EMPTY:
        shown, limit = f"{value:.1%}", f"{threshold:.1%}"
    elif g["metric"] == Guardrail.Metric.P95_SECONDS_TO_DRAFT:
        shown, limit = f"{value:.1f} s", f"{threshold:.1f} s"
    else:
        shown, limit = f"${value:.4f}", f"${threshold:.4f}"
    return f"{g['label']} of arm {arm_key} is {shown}, above the limit {limit} (n = {g['n']})"


def _time_to_publish(durations, published) -> dict:
    summary = stats.survival_summary(durations, published, within=WITHIN)
    return {
        "median_seconds": summary.median_seconds,
        "median_ci": list(summary.median_ci),
        "published_within": {str(t): summary.published_within.get(t) for t in WITHIN},
        "curve": [list(point) for point in summary.curve],
    }


def _compare(experiment, arms, rows, survival, rated, plan, srm) -> None:
    """vs_control and the recommendation of every other arm (Holm over them), in place."""
    control = next((arm for arm in arms if arm.is_control), None)
    if control is None:
        return
    evidence = []
    for arm in arms:
        row = rows[arm.pk]
        if arm.is_control:
            evidence.append(ArmEvidence(arm.key, True, row["sessions"], None, None, False,
                                        None, []))  # fmt: skip
            continue
        control_side = (rows[control.pk], survival[control.pk], rated[control.pk])
        row["vs_control"], e = _vs_control(experiment, arm, control_side,
                                           (row, survival[arm.pk], rated[arm.pk]))  # fmt: skip
        evidence.append(e)
    evidence = with_holm(evidence, alpha=experiment.alpha)
    mismatch = srm["mismatch"] and experiment.srm_acknowledged_at is None
    advice = recommend(evidence, sessions_needed_per_arm=plan["per_arm"], srm_mismatch=mismatch,
                       alpha=experiment.alpha)  # fmt: skip
    by_key = {arm.key: rows[arm.pk] for arm in arms}
    for e in evidence:
        if not e.is_control:
            by_key[e.arm]["vs_control"]["holm_reject"] = e.holm_reject
    for rec in advice:
        by_key[rec.arm]["recommendation"] = {
            "action": rec.action,
            "reasons": rec.reasons,
            "sessions_still_needed": rec.sessions_still_needed,
        }


def _vs_control(experiment, arm, control_side, arm_side) -> tuple[dict, ArmEvidence]:
    """Log-rank and its always-valid p (mSPRT, tau = |log(1/(1 - minimum effect))|, the
    effect the experiment was planned for), abandonment and thumbs up against control."""
    (c_row, c_surv, c_rated), (row, surv, rated) = control_side, arm_side
    tau = abs(math.log(1 / (1 - experiment.minimum_effect)))
    rank = stats.logrank(*c_surv, *surv)
    valid = stats.msprt(rank.observed_minus_expected, rank.variance, tau)
    abandonment = stats.proportion_diff(c_row["abandoned"], c_row["abandonment"]["n"],
                                        row["abandoned"], row["abandonment"]["n"],
                                        alpha=experiment.alpha)  # fmt: skip
    thumbs = stats.proportion_diff(c_rated["up"], c_rated["n"], rated["up"], rated["n"],
                                   alpha=experiment.alpha)  # fmt: skip
    vs = {"logrank": asdict(rank), "always_valid": asdict(valid), "holm_reject": False,
          "abandonment": asdict(abandonment), "thumbs_up": asdict(thumbs)}  # fmt: skip
    breaches = [guardrail_sentence(arm.key, g) for g in row["guardrails"] if g["breached"]]
    evidence = ArmEvidence(arm.key, False, row["sessions"], rank, valid, False, abandonment,
                           breaches, arm.paused_reason)  # fmt: skip
    return vs, evidence


def _srm(experiment: Experiment, arms: list[Arm], sellers: dict[int, int]) -> dict:
    check = stats.sample_ratio_check(
        [sellers.get(arm.pk, 0) for arm in arms], [arm.weight for arm in arms]
    )
    return {**asdict(check), "acknowledged_at": _iso(experiment.srm_acknowledged_at)}


# --- the plan ------------------------------------------------------------------------------------


def experiment_sample_size(*, experiment: Experiment, now: datetime | None = None) -> dict:
    """Sessions per arm for the experiment's minimum effect at 80% power, planned from the
    HISTORY_DAYS of sell sessions before its start (before now for a draft), and the days that
    takes at that traffic and the experiment's enrollment, split over its arms.

    A started experiment's plan is fixed by its start, so it is cached; a draft's moves with now.
    """
    end = experiment.started_at or now or timezone.now()
    key = None
    if experiment.started_at is not None:
        key = (f"experiment-plan:{experiment.pk}:{end.timestamp()}:"
               f"{experiment.minimum_effect}:{experiment.alpha}")  # fmt: skip
    planned = cache.get(key) if key else None
    if planned is None:
        planned = _plan(experiment, end)
        if key:
            cache.set(key, planned, SAMPLE_SIZE_CACHE_SECONDS)
    size, per_day = planned
    arms = experiment.arms.count()
    enrollment = float(experiment.enrollment_percent) / 100
    return {
        "per_arm": size["per_arm"],
        "assumed": size["assumed"],
        "publish_rate": size["publish_rate"],
        "sd_log_seconds": size["sd_log_seconds"],
        "sessions_per_day": per_day,
        "days_to_reach": stats.days_to_reach(size["per_arm"], arms, per_day, enrollment),
    }


def _plan(experiment: Experiment, end: datetime) -> tuple[dict, float]:
    past = SellSession.objects.filter(
        opened_at__gte=end - timedelta(days=HISTORY_DAYS), opened_at__lt=end
    )
    seconds = np.fromiter(
        past.filter(status=_PUBLISHED, seconds_to_publish__isnull=False)
        .values_list("seconds_to_publish", flat=True)
        .order_by(),
        dtype=float,
    )
    sessions = past.count()
    size = stats.sessions_needed(
        mde=experiment.minimum_effect,
        published_seconds=np.maximum(seconds, MIN_SECONDS),
        past_sessions=sessions,
        alpha=experiment.alpha,
    )
    return asdict(size), sessions / HISTORY_DAYS


# --- over time, and the audit log ----------------------------------------------------------------


def _local_day() -> TruncDate:
    return TruncDate("opened_at", tzinfo=timezone.get_current_timezone())


def _daily_rows(arm_ids: list[int]) -> list[dict]:
    """Sessions opened per local day and arm by status, and the seconds of the day's published
    sessions as an array: one GROUP BY gives the daily table, its medians, the arm's counts
    (the sums of its days) and the event times of Kaplan-Meier."""
    rows = list(_days(arm_ids))
    if not postgresql_aggregates():
        rows = _with_seconds_fetched(rows, arm_ids)
    for row in rows:
        row["seconds"] = np.asarray(row["seconds"] or (), dtype=float)
        row["median_seconds"] = float(np.median(row["seconds"])) if row["seconds"].size else None
    return sorted(rows, key=lambda row: (row["day"], row["arm_id"]))


def _days(arm_ids: list[int]) -> QuerySet:
    rows = (
        SellSession.objects.filter(arm_id__in=arm_ids)
        .values("arm_id", day=_local_day())
        .annotate(
            sessions=Count("pk"),
            published=Count("pk", filter=Q(status=_PUBLISHED)),
            abandoned=Count("pk", filter=Q(status=_ABANDONED)),
            open=Count("pk", filter=Q(status=_OPEN)),
        )
        .order_by()  # no sort: a hash aggregate, and the ~90 rows are sorted in Python
    )
    if postgresql_aggregates():
        timed = Q(status=_PUBLISHED, seconds_to_publish__isnull=False)
        rows = rows.annotate(seconds=ArrayAgg("seconds_to_publish", filter=timed))
    return rows


def _with_seconds_fetched(rows: list[dict], arm_ids: list[int]) -> list[dict]:
    """Without array_agg (SQLite): the published seconds fetched as rows, to their day."""
    by_group: dict[tuple, list[float]] = {}
    published = (
        SellSession.objects.filter(
            arm_id__in=arm_ids, status=_PUBLISHED, seconds_to_publish__isnull=False
        )
        .annotate(day=_local_day())
        .values_list("day", "arm_id", "seconds_to_publish")
        .order_by()
    )
    for day, arm_id, seconds in published:
        by_group.setdefault((day, arm_id), []).append(seconds)
    for row in rows:
        row["seconds"] = by_group.get((row["day"], row["arm_id"]), [])
    return rows


def _daily(arms: list[Arm], days: list[dict]) -> list[dict]:
    """The daily table; the median is of that day's published sessions (plain, not
    censoring-adjusted: the Kaplan-Meier median per arm is the headline)."""
    keys = {arm.pk: arm.key for arm in arms}
    return [
        {
            "day": row["day"].isoformat(),
            "arm": keys[row["arm_id"]],
            "sessions": row["sessions"],
            "published": row["published"],
            "abandonment": _rate(row["abandoned"], row["published"] + row["abandoned"])["value"],
            "median_seconds": row["median_seconds"],
        }
        for row in days
    ]


def _events(experiment: Experiment) -> list[dict]:
    events = (
        ExperimentEvent.objects.filter(experiment=experiment)
        .select_related("actor", "arm")
        .order_by("-at", "-id")[:EVENTS_LIMIT]
    )
    return [
        {
            "at": _iso(e.at),
            "action": e.action,
            "actor": e.actor.get_username() if e.actor else None,
            "arm": e.arm.key if e.arm else None,
            "note": e.note,
        }
        for e in events
    ]


def _experiment_dict(experiment: Experiment, arms: list[Arm]) -> dict:
    shipped = next((arm.key for arm in arms if arm.pk == experiment.shipped_arm_id), None)
    return {
        "key": experiment.key,
        "status": experiment.status,
        "hypothesis": experiment.hypothesis,
        "enrollment_percent": float(experiment.enrollment_percent),
        "minimum_effect": experiment.minimum_effect,
        "alpha": experiment.alpha,
        "started_at": _iso(experiment.started_at),
        "ended_at": _iso(experiment.ended_at),
        "shipped_arm": shipped,
        "srm_acknowledged_at": _iso(experiment.srm_acknowledged_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- CSV -----------------------------------------------------------------------------------------

CSV_ARM_COLUMNS = (
    "arm", "is_control", "weight", "status", "sellers", "sessions", "published", "abandoned",
    "open", "abandonment", "abandonment_n", "median_seconds", "median_ci_low", "median_ci_high",
    "published_within_60s", "published_within_120s", "published_within_300s",
    "field_acceptance", "field_acceptance_n", "thumbs_up", "thumbs_up_n", "failures",
    "failures_n", "p95_seconds_to_draft", "cost_per_published_usd", "runs", "hazard_ratio",
    "logrank_p", "always_valid_p", "holm_reject", "abandonment_diff", "abandonment_diff_p",
    "guardrails_breached", "recommendation", "sessions_still_needed",
)  # fmt: skip
CSV_DAILY_COLUMNS = ("day", "arm", "sessions", "published", "abandonment", "median_seconds")


def experiment_results_csv(results: dict) -> str:
    """Two tables in one file: one row per arm (flat columns, CSV_ARM_COLUMNS), a blank line,
    then the daily table (CSV_DAILY_COLUMNS). Empty cells where a figure is undefined."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_ARM_COLUMNS)
    for arm in results["arms"]:
        writer.writerow([_cell(arm_value) for arm_value in _csv_arm_row(arm)])
    writer.writerow([])
    writer.writerow(CSV_DAILY_COLUMNS)
    for row in results["daily"]:
        writer.writerow([_cell(row[name]) for name in CSV_DAILY_COLUMNS])
    return out.getvalue()


def _csv_arm_row(arm: dict) -> list:
    ttp = arm["time_to_publish"]
    vs = arm["vs_control"] or {}
    rank, valid, aband = (
        vs.get("logrank", {}),
        vs.get("always_valid", {}),
        vs.get("abandonment", {}),
    )
    rec = arm["recommendation"] or {}
    breached = "; ".join(g["metric"] for g in arm["guardrails"] if g["breached"])
    return [
        arm["key"], arm["is_control"], arm["weight"], arm["status"], arm["sellers"],
        arm["sessions"], arm["published"], arm["abandoned"], arm["open"],
        arm["abandonment"]["value"], arm["abandonment"]["n"], ttp["median_seconds"],
        ttp["median_ci"][0], ttp["median_ci"][1], ttp["published_within"]["60"],
        ttp["published_within"]["120"], ttp["published_within"]["300"],
        arm["field_acceptance"]["value"], arm["field_acceptance"]["n"], arm["thumbs_up"]["value"],
        arm["thumbs_up"]["n"], arm["failures"]["value"], arm["failures"]["n"],
        arm["p95_seconds_to_draft"], arm["cost_per_published_usd"], arm["runs"],
        rank.get("hazard_ratio"), rank.get("p_value"), valid.get("p_value"),
        vs.get("holm_reject"), aband.get("difference"), aband.get("p_value"), breached,
        rec.get("action"), rec.get("sessions_still_needed"),
    ]  # fmt: skip


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def experiment_results_csv_filename(results: dict) -> str:
    return f"experiment-{results['experiment']['key']}-results.csv"
