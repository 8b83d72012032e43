"""Which production runs go to the annotation queue, and why. Safe to run again: a run enters
the queue at most once (one task per run), and the random picks are a stable hash of the run id,
so a rerun picks the same runs."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import chain, zip_longest

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from ai_prefill.models import PrefillRun
from feedback.models import PrefillOutcome, SuggestionRating

from .models import AnnotationTask, SamplingPolicy

Reason = AnnotationTask.Reason
# The draft's category, or "unknown" (failed runs have no draft): what balancing takes turns on.
_CATEGORY = Coalesce(
    NullIf(KeyTextTransform("category", "draft"), Value("")),
    Value("unknown"),
    output_field=CharField(),
)


def runs_sample_for_annotation(
    *, policy: SamplingPolicy | None = None, now=None
) -> list[AnnotationTask]:
    """Create the day's tasks by policy, up to the daily cap; returns the tasks created.

    One sampler at a time (a lock on the policy row), so the beat task and the command never
    pick the same runs or pass the cap together, and every task returned was inserted.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = SamplingPolicy.objects.select_for_update().get(pk=SamplingPolicy.current().pk)
        policy = policy or locked
        room = policy.daily_cap - _created_today(now)
        if room <= 0:
            return []
        picked, seen = [], set()
        for reason in (Reason.THUMBS_DOWN, Reason.FAILED, Reason.HEAVY_CORRECTIONS, Reason.RANDOM):
            if len(picked) >= room:
                break
            rows = [row for row in _candidates(reason, policy, now) if row[0] not in seen]
            for run_id, category, detail in _balanced(rows) if policy.balance_categories else rows:
                if len(picked) >= room:
                    break
                seen.add(run_id)
                picked.append(_task(run_id, category, reason, detail, policy))
        return AnnotationTask.objects.bulk_create(picked)


def _created_today(now) -> int:
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return AnnotationTask.objects.filter(created_at__gte=midnight).count()


def _candidates(reason: str, policy: SamplingPolicy, now) -> Iterable[tuple]:
    """(run id, category, why) of the runs with this reason, oldest first. Filtered in SQL, and
    only small columns are read: never a run's draft or raw response."""
    runs = _recent_unqueued(policy, now).values_list(
        "pk", _CATEGORY, "error_type", "outcome__fields_changed"
    )
    if reason == Reason.RANDOM:
        return _random(runs, policy)
    condition = _condition(reason, policy)
    if condition is None:
        return []
    return [
        (pk, category, _why(reason, error, changed))
        for pk, category, error, changed in runs.filter(condition)
    ]


def _condition(reason: str, policy: SamplingPolicy):
    """The SQL filter of a reason, or None when the policy has it off."""
    if reason == Reason.THUMBS_DOWN and policy.sample_thumbs_down:
        return Exists(SuggestionRating.objects.filter(run=OuterRef("pk"), rating="down"))
    if reason == Reason.FAILED and policy.sample_failed:
        return Q(status=PrefillRun.Status.FAILED)
    if reason == Reason.HEAVY_CORRECTIONS and policy.heavy_corrections_min_fields:
        return Q(
            outcome__status=PrefillOutcome.Status.PUBLISHED,
            outcome__fields_changed__gte=policy.heavy_corrections_min_fields,
        )
    return None


def _why(reason: str, error_type: str, fields_changed: int | None) -> str:
    if reason == Reason.THUMBS_DOWN:
        return "the seller gave a thumbs down"
    if reason == Reason.FAILED:
        return f"failed: {error_type or 'unknown error'}"
    return f"{fields_changed} fields corrected by the seller"


def _random(runs, policy: SamplingPolicy) -> Iterator[tuple]:
    """The random share: a stable hash of the run id, so only ids (and categories) are read."""
    if policy.random_share <= 0:
        return
    why = f"random sample ({policy.random_share:.0%})"
    for run_id, category, _, _ in runs.iterator(chunk_size=2000):
        if _share(run_id, "random") < policy.random_share:
            yield run_id, category, why


def _recent_unqueued(policy: SamplingPolicy, now):
    return (
        PrefillRun.objects.filter(created_at__gte=now - timedelta(days=policy.lookback_days))
        .filter(status__in=PrefillRun.TERMINAL)
        .exclude(Exists(AnnotationTask.objects.filter(run=OuterRef("pk"))))
        .order_by("created_at", "pk")
    )


def _share(run_id, salt: str) -> float:
    """A stable number in [0, 1) per run: reruns make the same random choices."""
    digest = hashlib.sha256(f"{salt}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _balanced(rows: list) -> list:
    """Round-robin over categories, so one busy category does not fill the day's cap."""
    by_category = defaultdict(list)
    for row in rows:
        by_category[row[1]].append(row)
    rounds = zip_longest(*by_category.values())
    return [row for row in chain.from_iterable(rounds) if row is not None]


def _task(
    run_id, category: str, reason: str, detail: str, policy: SamplingPolicy
) -> AnnotationTask:
    double = _share(run_id, "double") < policy.double_annotation_share
    return AnnotationTask(
        run_id=run_id,
        reason=reason,
        reason_detail=detail,
        category=category,
        priority=AnnotationTask.PRIORITY[reason],
        required_annotations=2 if double else 1,
    )
