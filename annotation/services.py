"""Writes of the annotation queue: claim with a lease, submit, skip, adjudicate, promote."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ai_prefill.evals.cases import eval_case_create
from ai_prefill.fields import same_value, values_comparable
from ai_prefill.models import EvalCase
from ai_prefill.schema import DRAFT_FIELDS

from .models import Annotation, AnnotationTask, SamplingPolicy

Status = AnnotationTask.Status


def task_claim_next(*, annotator) -> AnnotationTask | None:
    """The annotator's current task, or the next open one, claimed with a lease.

    `select_for_update(skip_locked=True)` makes concurrent claims pass over each other's rows
    on PostgreSQL, so two annotators never get the same task; an expired lease frees a task.
    """
    now = timezone.now()
    lease = timedelta(minutes=SamplingPolicy.current().lease_minutes)
    with transaction.atomic():
        mine = _claimable(now).filter(claimed_by=annotator, lease_expires_at__gte=now).first()
        if mine is not None:
            return mine
        free = Q(claimed_by__isnull=True) | Q(lease_expires_at__lt=now)
        task = (
            _claimable(now)
            .filter(free)
            .exclude(annotations__annotator=annotator)
            .order_by("priority", "created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if task is None:
            return None
        task.claimed_by, task.claimed_at, task.lease_expires_at = annotator, now, now + lease
        task.save(update_fields=["claimed_by", "claimed_at", "lease_expires_at"])
        return task


def _claimable(now):
    return AnnotationTask.objects.filter(status=Status.OPEN).select_related("run")


def annotation_verdicts(*, draft: dict | None, values: dict) -> dict[str, bool | None]:
    """Per field, was the AI right? True exactly when the draft's value is the same value
    (`same_value`) as the annotator's; None for every field of a run with no draft (a failed
    run suggested nothing, so there is nothing to be right or wrong about; kappa skips None)."""
    if not draft:
        return {name: None for name in DRAFT_FIELDS}
    return {name: same_value(name, draft.get(name), values.get(name)) for name in DRAFT_FIELDS}


@transaction.atomic
def annotation_submit(*, task: AnnotationTask, annotator, values: dict, notes: str = "",
                      key_attributes: list[str] | None = None,
                      promote: bool = False) -> Annotation:  # fmt: skip
    """Record the annotator's values; the verdicts follow from them and the run's draft."""
    task = _holding(task, annotator)
    missing = set(DRAFT_FIELDS) - set(values)
    if missing:
        raise ValidationError(f"Missing values for: {', '.join(sorted(missing))}")
    verdicts = annotation_verdicts(draft=task.run.draft, values=values)
    annotation = Annotation.objects.create(
        task=task, annotator=annotator, values=values, verdicts=verdicts, notes=notes,
        key_attributes=key_attributes or [], started_at=task.claimed_at,
    )  # fmt: skip
    if promote and task.promote_requested_by_id is None:
        # With two annotators the task concludes later; the request must survive until then.
        task.promote_requested_by = annotator
        task.save(update_fields=["promote_requested_by"])
    _release(task)
    _conclude(task)
    if task.status == Status.DONE and task.promote_requested_by_id:
        # annotation.task is this instance: the caller reads status and case from it.
        task.promoted_case = eval_case_promote(task=task, annotator=task.promote_requested_by)
    return annotation


@transaction.atomic
def annotation_skip(*, task: AnnotationTask, annotator, notes: str = "") -> None:
    """Give the task back; it will not be offered to this annotator again."""
    task = _holding(task, annotator)
    Annotation.objects.create(
        task=task, annotator=annotator, skipped=True, notes=notes, started_at=task.claimed_at
    )
    _release(task)


def task_held_by(*, task: AnnotationTask, annotator) -> bool:
    """May this annotator submit or skip the task? The claim is what counts: an expired lease
    still holds until someone else takes the task (then claimed_by is theirs)."""
    return task.claimed_by_id == annotator.pk and task.status == Status.OPEN


def _holding(task: AnnotationTask, annotator) -> AnnotationTask:
    task = AnnotationTask.objects.select_for_update().select_related("run").get(pk=task.pk)
    if not task_held_by(task=task, annotator=annotator):
        raise PermissionDenied("This task is not claimed by you any more; take the next one.")
    return task


def _release(task: AnnotationTask) -> None:
    task.claimed_by = task.claimed_at = task.lease_expires_at = None
    task.save(update_fields=["claimed_by", "claimed_at", "lease_expires_at"])


def _conclude(task: AnnotationTask) -> None:
    done = list(task.annotations.filter(skipped=False).order_by("submitted_at"))
    if len(done) < task.required_annotations:
        return
    if len({values_comparable(a.values) for a in done}) == 1:
        task.status, task.final_values = Status.DONE, done[0].values
    else:
        task.status = Status.DISAGREEMENT
    task.save(update_fields=["status", "final_values"])


@dataclass(frozen=True)
class PromotionCounts:
    promoted: int
    already: int  # had an eval case before
    refused: int  # no agreed values yet (open or in disagreement)


def eval_cases_promote(*, tasks: QuerySet[AnnotationTask], annotator) -> PromotionCounts:
    """Promote each of these tasks (the admin action), one transaction per task, and count."""
    promoted = already = refused = 0
    for task in tasks.order_by("pk"):
        if task.promoted_case_id is not None:
            already += 1
            continue
        try:
            eval_case_promote(task=task, annotator=annotator)
        except ValidationError:
            refused += 1
        else:
            promoted += 1
    return PromotionCounts(promoted=promoted, already=already, refused=refused)


@transaction.atomic
def task_adjudicate(
    *, task: AnnotationTask, adjudicator, values: dict, promote: bool = False
) -> None:
    """Staff settle a disagreement by choosing the correct values."""
    task = AnnotationTask.objects.select_for_update().get(pk=task.pk)
    if task.status != Status.DISAGREEMENT:
        raise ValidationError("Only tasks with a disagreement need adjudication.")
    task.status, task.final_values = Status.ADJUDICATED, values
    task.save(update_fields=["status", "final_values"])
    if promote:
        eval_case_promote(task=task, annotator=adjudicator)


@transaction.atomic
def eval_case_promote(*, task: AnnotationTask, annotator) -> EvalCase:
    """Make the task's corrected values an eval case, once: a second call returns the same case."""
    task = (
        AnnotationTask.objects.select_for_update(of=("self",))
        .select_related("run", "promoted_case")
        .get(pk=task.pk)
    )
    if task.promoted_case is not None:
        return task.promoted_case
    if task.status not in (Status.DONE, Status.ADJUDICATED) or not task.final_values:
        raise ValidationError("Only reviewed tasks with agreed values can become eval cases.")
    case = _case_from(task, annotator)
    task.promoted_case = case
    try:
        task.save(update_fields=["promoted_case"])
    except IntegrityError:
        raise ValidationError("This task was promoted already.") from None
    return case


def _case_from(task: AnnotationTask, annotator) -> EvalCase:
    run = task.run
    attributes = next((a.key_attributes for a in task.annotations.all() if a.key_attributes), [])
    with run.photo.open("rb") as photo:  # the eval set keeps its own copy of the photo
        image = photo.read()
    return eval_case_create(
        key=f"promoted-{run.pk.hex[:16]}",
        image=image,
        values=task.final_values,
        key_attributes=attributes,
        tags=[task.final_values["category"], "promoted", task.reason],
        source=EvalCase.Source.PROMOTED,
        source_run=run,
        created_by=annotator,
    )
