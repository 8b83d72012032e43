"""Reads for the staff feedback report: per group of runs, what sellers thought and did.

Every figure comes from a handful of aggregate queries (GROUP BY in the database), so the number
of queries stays the same however many runs there are. A report covers the runs *created* in the
date range (local days, settings.TIME_ZONE); their ratings, outcomes and corrections count with
them even when they were recorded later, so a variant is judged on the same runs throughout.

Every rate comes with what it was computed from: `{"value", "count", "n"}` where n is the number
of runs (or ratings) behind it; value is None when n is 0, never a misleading 0 %.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.urls import reverse
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.schema import DRAFT_FIELDS
from experiments.models import Experiment

from .models import FieldCorrection, PrefillOutcome, SuggestionRating

GROUP_BY_CHOICES = {
    "variant": "Variant (prompt version + model + provider)",
    "prompt_version": "Prompt version",
    "model": "Model",
    "day": "Day",
}
MAX_RANGE_DAYS = 366
WORST_CASES_LIMIT = 20

# (key, label, lower bound in seconds inclusive, upper bound exclusive or None)
TIME_BUCKETS = (
    ("lt_30s", "< 30 s", 0, 30),
    ("30_60s", "30–60 s", 30, 60),
    ("1_2min", "1–2 min", 60, 120),
    ("2_5min", "2–5 min", 120, 300),
    ("5_15min", "5–15 min", 300, 900),
    ("gt_15min", "> 15 min", 900, None),
)

_PUBLISHED = PrefillOutcome.Status.PUBLISHED
_ABANDONED = PrefillOutcome.Status.ABANDONED
_PUBLISH = FieldCorrection.Stage.PUBLISH
_LATE = FieldCorrection.Stage.LATE


@dataclass(frozen=True)
class _Grouping:
    """How one group_by turns into GROUP BY columns, from any model that reaches the run."""

    group_by: str
    prefix: str  # the path from the queried model to PrefillRun: "", "run__", "outcome__run__"

    def columns(self) -> dict:
        p = self.prefix
        pv = {
            "g_pv_name": F(f"{p}prompt_version__name"),
            "g_pv_hash": F(f"{p}prompt_version__content_hash"),
        }
        if self.group_by == "day":
            return {"g_day": TruncDate(f"{p}created_at", tzinfo=timezone.get_current_timezone())}
        if self.group_by == "model":
            return {"g_model": F(f"{p}model")}
        if self.group_by == "prompt_version":
            return pv
        return {**pv, "g_model": F(f"{p}model"), "g_provider": F(f"{p}provider")}

    def names(self) -> list[str]:
        return list(self.columns())


def feedback_report(*, start: date, end: date, group_by: str) -> dict:
    """The whole report for runs created from `start` to `end` (both inclusive, local days)."""
    if group_by not in GROUP_BY_CHOICES:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_CHOICES)}.")
    if end < start:
        raise ValueError("end is before start.")
    window = _run_window(start, end)
    runs = PrefillRun.objects.filter(created_at__gte=window[0], created_at__lt=window[1])
    groups = _groups(runs, window, group_by)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group_by": group_by,
        "timezone": timezone.get_current_timezone_name(),
        "fields": list(DRAFT_FIELDS),
        "time_buckets": [{"key": key, "label": label} for key, label, *_ in TIME_BUCKETS],
        "groups": groups,
        "totals": _totals(groups, _medians(runs, window, group_by=None).get((), None)),
        "daily": _daily(runs, start, end),
        "worst": {
            "thumbs_down": _worst_thumbs_down(window),
            "most_corrected": _most_corrected(window),
        },
    }


def _run_window(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _in_window(prefix: str, window) -> Q:
    return Q(**{f"{prefix}created_at__gte": window[0], f"{prefix}created_at__lt": window[1]})


# --- per group -----------------------------------------------------------------------------------


def _groups(runs: QuerySet, window, group_by: str) -> list[dict]:
    counts = _run_counts(runs, _Grouping(group_by, ""))
    ratings = _rating_counts(window, _Grouping(group_by, "run__"))
    fields = _field_counts(window, _Grouping(group_by, "outcome__run__"))
    medians = _medians(runs, window, group_by=group_by)
    groups = []
    for key, row in counts.items():
        group = _group_figures(row, ratings.get(key, {}), fields.get(key, {}), medians.get(key))
        groups.append({"key": _key_dict(group_by, row), "label": _label(group_by, row), **group})
    groups.sort(key=lambda g: g["label"] if group_by == "day" else (-g["runs"], g["label"]))
    return groups


def _run_counts(runs: QuerySet, grouping: _Grouping) -> dict[tuple, dict]:
    buckets = {
        f"t_{key}": Count("pk", filter=_bucket_q(low, high)) for key, _, low, high in TIME_BUCKETS
    }
    rows = (
        runs.values(**grouping.columns())
        .annotate(
            runs=Count("pk"),
            succeeded=Count("pk", filter=Q(status=PrefillRun.Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=PrefillRun.Status.FAILED)),
            published=Count("pk", filter=Q(outcome__status=_PUBLISHED)),
            abandoned=Count("pk", filter=Q(outcome__status=_ABANDONED)),
            timed=Count("pk", filter=_bucket_q(0, None)),
            fields_changed=Sum("outcome__fields_changed", filter=Q(outcome__status=_PUBLISHED)),
            **buckets,
        )
        .order_by()
    )
    return {_key(grouping, row): row for row in rows}


def _bucket_q(low: int, high: int | None) -> Q:
    q = Q(outcome__status=_PUBLISHED, outcome__seconds_to_publish__gte=low)
    return q & Q(outcome__seconds_to_publish__lt=high) if high is not None else q


def _rating_counts(window, grouping: _Grouping) -> dict[tuple, dict]:
    rows = (
        SuggestionRating.objects.filter(_in_window("run__", window))
        .values(**grouping.columns())
        .annotate(
            up=Count("pk", filter=Q(rating=SuggestionRating.Rating.UP)),
            down=Count("pk", filter=Q(rating=SuggestionRating.Rating.DOWN)),
        )
        .order_by()
    )
    return {_key(grouping, row): row for row in rows}


def _field_counts(window, grouping: _Grouping) -> dict[tuple, dict[str, dict]]:
    """Per group and field: publish-stage corrections of runs that had a draft, late edits."""
    publish = Q(stage=_PUBLISH, outcome__run__draft__isnull=False)
    rows = (
        FieldCorrection.objects.filter(_in_window("outcome__run__", window))
        .values(**grouping.columns(), field_name=F("field"))
        .annotate(
            n=Count("pk", filter=publish),
            kept=Count("pk", filter=publish & Q(changed=False)),
            similarity_sum=Sum("similarity", filter=publish),
            late=Count("pk", filter=Q(stage=_LATE)),
        )
        .order_by()
    )
    result: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        result.setdefault(_key(grouping, row), {})[row["field_name"]] = row
    return result


def _medians(runs: QuerySet, window, *, group_by: str | None) -> dict[tuple, float]:
    """Median seconds to publish per group, in one query: the middle row(s) of each partition.

    A window function numbers the published runs of each group by time; only the one or two
    middle rows come back (row numbers (n+1)/2 and (n+2)/2 in integer division), so the data
    fetched is two rows per group, not every run. Portable to SQLite and PostgreSQL.
    """
    columns = _Grouping(group_by, "run__").columns() if group_by else {}
    partition = [F(name) for name in columns] or None
    rows = (
        PrefillOutcome.objects.filter(
            _in_window("run__", window), status=_PUBLISHED, seconds_to_publish__isnull=False
        )
        .annotate(
            **columns,
            position=Window(
                RowNumber(), partition_by=partition, order_by=F("seconds_to_publish").asc()
            ),
            size=Window(Count("pk"), partition_by=partition),
        )  # fmt: skip
        .filter(position__gte=(F("size") + 1) / 2, position__lte=(F("size") + 2) / 2)
        .values(*columns, "seconds_to_publish")
        .order_by()
    )
    middles: dict[tuple, list[int]] = {}
    for row in rows:
        key = tuple(row[name] for name in columns)
        middles.setdefault(key, []).append(row["seconds_to_publish"])
    return {key: sum(values) / len(values) for key, values in middles.items()}


def _key(grouping: _Grouping, row: dict) -> tuple:
    return tuple(row[name] for name in grouping.names())


def _key_dict(group_by: str, row: dict) -> dict:
    if group_by == "day":
        return {"day": row["g_day"].isoformat()}
    key = {}
    if "g_pv_name" in row:
        key["prompt_version"] = _pv_label(row)
    if "g_model" in row:
        key["model"] = row["g_model"]
    if "g_provider" in row:
        key["provider"] = row["g_provider"]
    return key


def _label(group_by: str, row: dict) -> str:
    if group_by == "day":
        return row["g_day"].isoformat()
    if group_by == "model":
        return row["g_model"]
    if group_by == "prompt_version":
        return _pv_label(row)
    return f"{_pv_label(row)} · {row['g_provider']}/{row['g_model']}"


def _pv_label(row: dict) -> str:
    """Same as PromptVersion.label, from the grouped columns."""
    return f"{row['g_pv_name']}@{row['g_pv_hash'][:10]}"


# --- figures -------------------------------------------------------------------------------------


def _rate(count: int, n: int) -> dict:
    return {"value": round(count / n, 4) if n else None, "count": count, "n": n}


def _group_figures(counts: dict, ratings: dict, fields: dict, median: float | None) -> dict:
    up, down = ratings.get("up", 0), ratings.get("down", 0)
    published, abandoned = counts["published"], counts["abandoned"]
    per_field = {name: _field_figures(fields.get(name, {})) for name in DRAFT_FIELDS}
    all_n = sum(f["n"] for f in per_field.values())
    all_kept = sum(f["kept"] for f in per_field.values())
    return {
        "runs": counts["runs"],
        "succeeded": counts["succeeded"],
        "failed": counts["failed"],
        "failure_rate": _rate(counts["failed"], counts["runs"]),
        "published": published,
        "abandoned": abandoned,
        "abandonment_rate": _rate(abandoned, published + abandoned),
        "thumbs_up": up,
        "thumbs_down": down,
        "thumbs_up_rate": _rate(up, up + down),
        "acceptance_rate": _rate(all_kept, all_n),
        "fields_changed": counts["fields_changed"] or 0,
        "fields": per_field,
        "late_corrections": sum(f["late_corrections"] for f in per_field.values()),
        "time_to_publish": {
            "n": counts["timed"],
            "median_seconds": median,
            "distribution": {key: counts[f"t_{key}"] for key, *_ in TIME_BUCKETS},
        },
    }


def _field_figures(row: dict) -> dict:
    n, kept, similarity = row.get("n", 0), row.get("kept", 0), row.get("similarity_sum") or 0.0
    return {
        "n": n,
        "kept": kept,
        "changed": n - kept,
        "acceptance_rate": _rate(kept, n)["value"],
        "correction_rate": _rate(n - kept, n)["value"],
        "mean_similarity": round(similarity / n, 4) if n else None,
        "similarity_sum": similarity,
        "late_corrections": row.get("late", 0),
    }


def _totals(groups: list[dict], median: float | None) -> dict:
    """All groups together: counts add up; rates are recomputed from the sums, not averaged."""
    counts = {
        name: sum(g[name] for g in groups)
        for name in ("runs", "succeeded", "failed", "published", "abandoned", "fields_changed")
    }
    counts["timed"] = sum(g["time_to_publish"]["n"] for g in groups)
    for key, *_ in TIME_BUCKETS:
        counts[f"t_{key}"] = sum(g["time_to_publish"]["distribution"][key] for g in groups)
    ratings = {
        "up": sum(g["thumbs_up"] for g in groups),
        "down": sum(g["thumbs_down"] for g in groups),
    }
    fields = {
        name: {
            "n": sum(g["fields"][name]["n"] for g in groups),
            "kept": sum(g["fields"][name]["kept"] for g in groups),
            "similarity_sum": sum(g["fields"][name]["similarity_sum"] for g in groups),
            "late": sum(g["fields"][name]["late_corrections"] for g in groups),
        }
        for name in DRAFT_FIELDS
    }
    return _group_figures(counts, ratings, fields, median)


# --- over time and worst cases -------------------------------------------------------------------


def _daily(runs: QuerySet, start: date, end: date) -> list[dict]:
    """Runs per local day, every day of the range (days without runs show as zeros)."""
    rows = (
        runs.values(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .annotate(
            runs=Count("pk"),
            succeeded=Count("pk", filter=Q(status=PrefillRun.Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=PrefillRun.Status.FAILED)),
            published=Count("pk", filter=Q(outcome__status=_PUBLISHED)),
            abandoned=Count("pk", filter=Q(outcome__status=_ABANDONED)),
        )
        .order_by()
    )
    by_day = {row.pop("day"): row for row in rows}
    empty = {"runs": 0, "succeeded": 0, "failed": 0, "published": 0, "abandoned": 0}
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [{"day": day.isoformat(), **by_day.get(day, empty)} for day in days]


def _run_admin_url(run_id) -> str:
    return reverse("admin:ai_prefill_prefillrun_change", args=[run_id])


def _run_summary(run: PrefillRun) -> dict:
    return {
        "run_id": str(run.pk),
        "run_created_at": timezone.localtime(run.created_at).isoformat(),
        "variant": f"{run.prompt_version.label} · {run.provider}/{run.model}",
        "run_status": run.status,
        "admin_url": _run_admin_url(run.pk),
    }


def _worst_thumbs_down(window) -> list[dict]:
    ratings = (
        SuggestionRating.objects.filter(_in_window("run__", window), rating="down")
        .exclude(comment="")
        .select_related("run__prompt_version")
        .order_by("-updated_at", "-pk")[:WORST_CASES_LIMIT]
    )
    return [
        {
            **_run_summary(r.run),
            "comment": r.comment,
            "rated_at": timezone.localtime(r.updated_at).isoformat(),
        }
        for r in ratings
    ]


def _most_corrected(window) -> list[dict]:
    outcomes = (
        PrefillOutcome.objects.filter(
            _in_window("run__", window), status=_PUBLISHED, fields_changed__gt=0
        )
        .select_related("run__prompt_version")
        .order_by("-fields_changed", "-published_at", "-pk")[:WORST_CASES_LIMIT]
    )
    return [
        {
            **_run_summary(o.run),
            "fields_changed": o.fields_changed,
            "seconds_to_publish": o.seconds_to_publish,
            "listing_id": o.listing_id,
        }
        for o in outcomes
    ]


def rating_get(*, run_id, user) -> SuggestionRating | None:
    """The seller's rating of a run, if any (None for a listing made without the AI)."""
    if run_id is None:
        return None
    return SuggestionRating.objects.filter(run_id=run_id, user=user).first()


def ratings_for_run(*, run_id) -> list[SuggestionRating]:
    """Every rating of one run (its seller's, in practice one), newest first, with the rater."""
    return list(
        SuggestionRating.objects.filter(run_id=run_id)
        .select_related("user")
        .order_by("-updated_at")
    )


# --- experiments (the staff API) -----------------------------------------------------------------


def experiments_for_staff() -> list[Experiment]:
    """Every experiment with its arms, newest first (two queries)."""
    return list(Experiment.objects.prefetch_related("arms").order_by("-created_at", "-id"))


def experiment_by_key(*, key: str) -> Experiment | None:
    return Experiment.objects.filter(key=key).first()
