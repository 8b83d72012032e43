"""Which production runs go to the annotation queue, and why. Safe to run again: a run enters
the queue at most once (one task per run), and the random picks are a stable hash of the run id,
so a rerun picks the same runs."""

import hashlib
from collections import defaultdict
from datetime import timedelta
from itertools import chain, zip_longest

from django.db.models import Exists, OuterRef
from django.utils import timezone

from ai_prefill.models import PrefillRun
from feedback.models import PrefillOutcome, SuggestionRating

from .models import AnnotationTask, SamplingPolicy

Reason = AnnotationTask.Reason


def runs_sample_for_annotation(
    *, policy: SamplingPolicy | None = None, now=None
) -> list[AnnotationTask]:
    """Create the day's tasks by policy, up to the daily cap; returns the new tasks."""
    policy = policy or SamplingPolicy.current()
    now = now or timezone.now()
    room = policy.daily_cap - _created_today(now)
    if room <= 0:
        return []
    candidates = _candidates(policy, now)
    picked, seen = [], set()
    for reason in (Reason.THUMBS_DOWN, Reason.FAILED, Reason.HEAVY_CORRECTIONS, Reason.RANDOM):
        runs = [(run, detail) for run, detail in candidates[reason] if run.pk not in seen]
        for run, detail in _balanced(runs) if policy.balance_categories else runs:
            if len(picked) >= room:
                break
            seen.add(run.pk)
            picked.append(_task(run, reason, detail, policy))
    AnnotationTask.objects.bulk_create(picked, ignore_conflicts=True)
    return picked


def _created_today(now) -> int:
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return AnnotationTask.objects.filter(created_at__gte=midnight).count()


def _candidates(policy: SamplingPolicy, now) -> dict[str, list]:
    runs = (
        PrefillRun.objects.filter(created_at__gte=now - timedelta(days=policy.lookback_days))
        .filter(status__in=PrefillRun.TERMINAL)
        .exclude(Exists(AnnotationTask.objects.filter(run=OuterRef("pk"))))
        .select_related("outcome")
        .annotate(
            thumbs_down=Exists(SuggestionRating.objects.filter(run=OuterRef("pk"), rating="down"))
        )
        .order_by("created_at", "pk")
    )
    found = defaultdict(list)
    for run in runs:
        reason, detail = _reason(run, policy)
        if reason:
            found[reason].append((run, detail))
    return found


def _reason(run: PrefillRun, policy: SamplingPolicy) -> tuple[str | None, str]:
    if policy.sample_thumbs_down and run.thumbs_down:
        return Reason.THUMBS_DOWN, "the seller gave a thumbs down"
    if policy.sample_failed and run.status == PrefillRun.Status.FAILED:
        return Reason.FAILED, f"failed: {run.error_type or 'unknown error'}"
    changed = _fields_changed(run)
    if policy.heavy_corrections_min_fields and changed >= policy.heavy_corrections_min_fields:
        return Reason.HEAVY_CORRECTIONS, f"{changed} fields corrected by the seller"
    if _share(run, "random") < policy.random_share:
        return Reason.RANDOM, f"random sample ({policy.random_share:.0%})"
    return None, ""


def _fields_changed(run: PrefillRun) -> int:
    try:
        outcome = run.outcome
    except PrefillOutcome.DoesNotExist:
        return 0
    return outcome.fields_changed if outcome.status == PrefillOutcome.Status.PUBLISHED else 0


def _share(run: PrefillRun, salt: str) -> float:
    """A stable number in [0, 1) per run: reruns make the same random choices."""
    digest = hashlib.sha256(f"{salt}:{run.pk}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _balanced(runs: list) -> list:
    """Round-robin over categories, so one busy category does not fill the day's cap."""
    by_category = defaultdict(list)
    for run, detail in runs:
        by_category[_category(run)].append((run, detail))
    rounds = zip_longest(*by_category.values())
    return [item for item in chain.from_iterable(rounds) if item is not None]


def _category(run: PrefillRun) -> str:
    return (run.draft or {}).get("category") or "unknown"


def _task(run: PrefillRun, reason: str, detail: str, policy: SamplingPolicy) -> AnnotationTask:
    double = _share(run, "double") < policy.double_annotation_share
    return AnnotationTask(
        run=run,
        reason=reason,
        reason_detail=detail,
        category=_category(run),
        priority=AnnotationTask.PRIORITY[reason],
        required_annotations=2 if double else 1,
    )
