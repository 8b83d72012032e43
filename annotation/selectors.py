"""Reads of the annotation queue: what a review page shows, agreement between annotators, and
how fast the queue is worked."""

import statistics
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from ai_prefill.fields import same_value
from ai_prefill.schema import DRAFT_FIELDS
from feedback.models import FieldCorrection, PrefillOutcome

from .models import Annotation, AnnotationTask

# --- one task ---------------------------------------------------------------------------------


def task_for_review(*, task_id: int) -> AnnotationTask | None:
    """The task with its run and the run's outcome: one query."""
    return (
        AnnotationTask.objects.select_related("run", "run__outcome", "claimed_by")
        .filter(pk=task_id)
        .first()
    )


def seller_final_values(*, task: AnnotationTask) -> dict | None:
    """What the seller published, per field (FieldCorrection at publish), or None.

    None when the run was not published, or when nothing was recorded (a failed run suggested
    nothing, so its published fields are not corrections).
    """
    try:
        outcome = task.run.outcome
    except PrefillOutcome.DoesNotExist:
        return None
    if outcome.status != PrefillOutcome.Status.PUBLISHED:
        return None
    rows = FieldCorrection.objects.filter(
        outcome=outcome, stage=FieldCorrection.Stage.PUBLISH
    ).values_list("field", "final")
    values = dict(rows)
    return values or None


def best_guess(*, draft: dict | None, seller: dict | None) -> dict:
    """The values a review form starts from: the seller's where known, else the AI draft."""
    guess = {field: (draft or {}).get(field) for field in DRAFT_FIELDS}
    if seller:
        guess.update({field: seller[field] for field in DRAFT_FIELDS if field in seller})
    return guess


def task_photo(*, task_id: int):
    """The stored photo of the task's run (a FieldFile), or None if there is no such task or
    its photo is gone."""
    task = (
        AnnotationTask.objects.select_related("run")
        .only("pk", "run__id", "run__photo")
        .filter(pk=task_id)
        .first()
    )
    if task is None or not task.run.photo or not task.run.photo.storage.exists(task.run.photo.name):
        return None
    return task.run.photo


def task_annotations(*, task: AnnotationTask) -> list[Annotation]:
    """The task's non-skipped annotations with their annotators, first submitted first."""
    return list(
        task.annotations.filter(skipped=False)
        .select_related("annotator")
        .order_by("submitted_at", "pk")
    )


def annotations_side_by_side(*, annotations: list[Annotation]) -> dict:
    """Per field, each annotator's value and verdict, and whether their values differ
    (`same_value`, as the queue decides agreement)."""
    rows = []
    for name in DRAFT_FIELDS:
        cells = [
            {"value": a.values.get(name), "right": (a.verdicts or {}).get(name)}
            for a in annotations
        ]
        values = [c["value"] for c in cells]
        differ = any(not same_value(name, values[0], v) for v in values[1:])
        rows.append({"field": name, "cells": cells, "differ": differ})
    return {
        "annotators": [a.annotator for a in annotations],
        "rows": rows,
        "notes": [a.notes for a in annotations],
    }


@dataclass(frozen=True)
class Disagreements:
    total: int
    items: list[dict]  # {"task", "table"}: the first `limit` tasks, side by side


def tasks_in_disagreement(*, limit: int = 25) -> Disagreements:
    """Tasks whose annotators disagree, in queue order, with their annotations: three queries."""
    waiting = AnnotationTask.objects.filter(status=AnnotationTask.Status.DISAGREEMENT)
    tasks = list(waiting.select_related("run").order_by("priority", "created_at", "pk")[:limit])
    annotations = (
        Annotation.objects.filter(task__in=[t.pk for t in tasks], skipped=False)
        .select_related("annotator")
        .order_by("submitted_at", "pk")
    )
    by_task = defaultdict(list)
    for annotation in annotations:
        by_task[annotation.task_id].append(annotation)
    items = [
        {"task": t, "table": annotations_side_by_side(annotations=by_task[t.pk])} for t in tasks
    ]
    return Disagreements(total=waiting.count(), items=items)


# --- the queue list ---------------------------------------------------------------------------


def tasks_in_category(*, tasks, category: str | None):
    return tasks.filter(category=category) if category else tasks


def tasks_by_claim(*, tasks, claim: str | None, user, now=None):
    """ "mine": claimed by `user` with the lease running; "held": any running lease; "free":
    unclaimed or the lease ran out; anything else: all of `tasks`."""
    now = now or timezone.now()
    running = Q(claimed_by__isnull=False, lease_expires_at__gte=now)
    if claim == "mine":
        return tasks.filter(running, claimed_by=user)
    if claim == "held":
        return tasks.filter(running)
    if claim == "free":
        return tasks.exclude(running)
    return tasks


def annotations_visible_to(*, annotations, user):
    """Leads (`annotation.change_annotationtask`) see every annotation; annotators only their
    own, so a double annotation stays independent."""
    if user.has_perm("annotation.change_annotationtask"):
        return annotations
    return annotations.filter(annotator=user)


# --- agreement --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldAgreement:
    field: str
    n: int
    table: tuple[tuple[int, int], tuple[int, int]]  # [first rater right/wrong][second right/wrong]
    observed: float | None  # share of tasks where both gave the same verdict
    kappa: float | None
    reason: str  # why kappa is n/a, else ""

    @property
    def display(self) -> str:
        return f"{self.kappa:.2f}" if self.kappa is not None else f"n/a ({self.reason})"


def cohen_kappa_2x2(table) -> tuple[float | None, str]:
    """Cohen's kappa of a 2x2 table of two raters' binary verdicts, or (None, why not).

    Kappa is undefined when chance agreement is 1: both raters gave one and the same verdict to
    every task (no variation to agree on), or when there are no tasks.
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    n = sum(sum(row) for row in table)
    if n == 0:
        return None, "no double-annotated tasks"
    rows = [sum(row) / n for row in table]
    cols = [sum(table[r][c] for r in range(2)) / n for c in range(2)]
    expected = sum(rows[i] * cols[i] for i in range(2))
    if expected >= 1.0 - 1e-12:
        return None, "every verdict is the same, so chance agreement is 100%"
    with warnings.catch_warnings():  # its variance estimate divides by zero on perfect tables
        warnings.simplefilter("ignore", RuntimeWarning)
        result = cohens_kappa([list(row) for row in table])
    return float(result.kappa), ""


def agreement_by_field(*, since=None) -> list[FieldAgreement]:
    """Per draft field, kappa between the first two non-skipped annotations of every task that
    has two (verdict True = "the AI was right")."""
    pairs = _verdict_pairs(since=since)
    result = []
    for field in DRAFT_FIELDS:
        table = [[0, 0], [0, 0]]
        for first, second in pairs:
            a, b = first.get(field), second.get(field)
            if isinstance(a, bool) and isinstance(b, bool):
                table[0 if a else 1][0 if b else 1] += 1
        n = sum(map(sum, table))
        kappa, reason = cohen_kappa_2x2(table)
        observed = (table[0][0] + table[1][1]) / n if n else None
        frozen = (tuple(table[0]), tuple(table[1]))
        result.append(FieldAgreement(field, n, frozen, observed, kappa, reason))
    return result


def _verdict_pairs(*, since=None) -> list[tuple[dict, dict]]:
    tasks = AnnotationTask.objects.annotate(
        done=Count("annotations", filter=Q(annotations__skipped=False))
    ).filter(done__gte=2)
    if since is not None:
        tasks = tasks.filter(created_at__gte=since)
    rows = (
        Annotation.objects.filter(task__in=tasks.values("pk"), skipped=False)
        .order_by("task_id", "submitted_at", "pk")
        .values_list("task_id", "verdicts")
    )
    by_task = defaultdict(list)
    for task_id, verdicts in rows:
        by_task[task_id].append(verdicts or {})
    return [(v[0], v[1]) for v in by_task.values() if len(v) >= 2]


# --- throughput -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorThroughput:
    annotator_id: int
    username: str
    done: int
    skipped: int
    median_seconds: float | None


def throughput_by_annotator(*, days: int = 7, now=None) -> list[AnnotatorThroughput]:
    """Per annotator over the last `days`: tasks done, skipped, and the median time from claim
    to submit of the done ones."""
    now = now or timezone.now()
    rows = Annotation.objects.filter(submitted_at__gte=now - timedelta(days=days)).values_list(
        "annotator_id", "annotator__username", "skipped", "started_at", "submitted_at"
    )
    names, done, skipped, seconds = {}, defaultdict(int), defaultdict(int), defaultdict(list)
    for annotator_id, username, was_skipped, started, submitted in rows:
        names[annotator_id] = username
        if was_skipped:
            skipped[annotator_id] += 1
            continue
        done[annotator_id] += 1
        if started is not None and submitted >= started:
            seconds[annotator_id].append((submitted - started).total_seconds())
    return sorted(
        (
            AnnotatorThroughput(
                annotator_id=pk,
                username=name,
                done=done[pk],
                skipped=skipped[pk],
                median_seconds=statistics.median(seconds[pk]) if seconds[pk] else None,
            )
            for pk, name in names.items()
        ),
        key=lambda row: (-row.done, row.username),
    )


def queue_counts() -> dict[str, int]:
    """Tasks per status (uses the queue index)."""
    counts = dict(AnnotationTask.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in AnnotationTask.Status.values}
