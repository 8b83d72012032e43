"""Writes of experiments: create, start, ramp, pause (the kill switch), end; assign and expose.

Every state change is one conditional UPDATE (or a constraint) in the database, so two staff
members or two processes cannot both win, and each is written to the audit log with who did it.
Other processes see a change within LIVE_REFRESH_SECONDS; this one at once.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.memo import ProcessMemo

from .assignment import arm_index, is_enrolled
from .models import Arm, Assignment, Experiment, ExperimentEvent, Exposure, Guardrail, Surface

# How stale a process's view of the live experiments may be: a pause reaches every process
# within this (the kill switch promises 5 seconds), at one small query per process this often.
LIVE_REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class LiveArm:
    id: int
    key: str
    weight: int
    payload: dict
    is_control: bool
    active: bool


@dataclass(frozen=True)
class LiveExperiment:
    id: int
    key: str
    salt: str
    enrollment_percent: Decimal
    arms: tuple[LiveArm, ...]

    def arm(self, arm_id: int) -> LiveArm | None:
        return next((arm for arm in self.arms if arm.id == arm_id), None)


@dataclass(frozen=True)
class ArmAssignment:
    """A seller in an arm that is serving now: what the layer above needs to act on it."""

    experiment_id: int
    experiment_key: str
    arm_id: int
    arm_key: str
    payload: dict = field(hash=False)
    is_control: bool


@dataclass(frozen=True)
class ArmSpec:
    key: str
    weight: int = 1
    payload: dict = field(default_factory=dict, hash=False)
    is_control: bool = False
    description: str = ""


@dataclass(frozen=True)
class GuardrailSpec:
    metric: str
    threshold: float
    min_sample: int = 30


def _live_load() -> dict[str, LiveExperiment]:
    experiments = Experiment.objects.filter(status=Experiment.Status.RUNNING).prefetch_related(
        "arms"
    )
    return {
        experiment.surface: LiveExperiment(
            id=experiment.pk,
            key=experiment.key,
            salt=experiment.salt,
            enrollment_percent=experiment.enrollment_percent,
            arms=tuple(
                LiveArm(
                    arm.pk,
                    arm.key,
                    arm.weight,
                    arm.payload,
                    arm.is_control,
                    arm.status == Arm.Status.ACTIVE,
                )
                for arm in experiment.arms.all()
            ),
        )  # fmt: skip
        for experiment in experiments
    }


_live = ProcessMemo(_live_load, refresh_seconds=LIVE_REFRESH_SECONDS)


def live_experiments_forget() -> None:
    """This process sees a change at once; the others within LIVE_REFRESH_SECONDS."""
    _live.forget()


def _changed() -> None:
    _live.forget()
    transaction.on_commit(_live.forget)


# --- assignment and exposure -------------------------------------------------------------------


def assignment_for(*, user, surface: str = Surface.SELL) -> ArmAssignment | None:
    """The arm this seller gets now, or None for production (no running experiment, not
    enrolled, or the arm is paused). The first assignment is stored and wins afterwards."""
    live = _live.get().get(surface)
    if live is None or user is None or not user.is_authenticated:
        return None
    arm_id = _stored_arm_id(live, user)
    if arm_id is None:
        if not is_enrolled(live.salt, user.pk, live.enrollment_percent):
            return None
        arm_id = _assign(live, user)
    arm = live.arm(arm_id)
    if arm is None or not arm.active:
        return None
    return ArmAssignment(live.id, live.key, arm.id, arm.key, arm.payload, arm.is_control)


def _stored_arm_id(live: LiveExperiment, user) -> int | None:
    return (
        Assignment.objects.filter(experiment_id=live.id, user_id=user.pk)
        .values_list("arm_id", flat=True)
        .first()
    )


def _assign(live: LiveExperiment, user) -> int:
    """Store the hashed arm; with parallel first requests of one seller the first insert wins
    (the unique constraint) and everyone reads that row back."""
    arm = live.arms[arm_index(live.salt, user.pk, [arm.weight for arm in live.arms])]
    Assignment.objects.bulk_create(
        [Assignment(experiment_id=live.id, arm_id=arm.id, user_id=user.pk)],
        ignore_conflicts=True,
    )
    return _stored_arm_id(live, user)


def exposure_log(*, assignment: ArmAssignment, user, session_id) -> None:
    """Once per sell session: a second call for the same session changes nothing."""
    Exposure.objects.bulk_create(
        [
            Exposure(
                experiment_id=assignment.experiment_id,
                arm_id=assignment.arm_id,
                user_id=user.pk,
                session_id=session_id,
            )
        ],
        ignore_conflicts=True,
    )


# --- lifecycle ---------------------------------------------------------------------------------


@transaction.atomic
def experiment_create(
    *,
    key: str,
    hypothesis: str,
    arms: list[ArmSpec],
    guardrails: list[GuardrailSpec] = (),
    actor=None,
    surface: str = Surface.SELL,
    minimum_effect: float = 0.2,
    alpha: float = 0.05,
    enrollment_percent: Decimal | float = 5,
    secondary_metrics: list[str] | None = None,
    salt: str | None = None,
) -> Experiment:
    """A draft experiment with its arms and guardrails; nobody is in it until it starts.
    `salt`: a fixed one (a seeded simulation); by default a random one."""
    arms_check(arms)
    experiment = Experiment(
        key=key, hypothesis=hypothesis, surface=surface, minimum_effect=minimum_effect,
        alpha=alpha, enrollment_percent=Decimal(str(enrollment_percent)), created_by=actor,
        secondary_metrics=list(secondary_metrics or []),
    )  # fmt: skip
    if salt:
        experiment.salt = salt
    experiment.full_clean()
    experiment.save()
    _arms_and_guardrails_create(experiment, arms, guardrails)
    _event(experiment, ExperimentEvent.Action.CREATED, actor, detail={"arms": len(arms)})
    return experiment


@transaction.atomic
def experiment_draft_update(
    *,
    experiment: Experiment,
    actor,
    arms: list[ArmSpec],
    guardrails: list[GuardrailSpec] = (),
    **fields,
) -> Experiment:
    """Edit a draft: its settings (`fields`: key, hypothesis, minimum_effect, alpha,
    enrollment_percent, secondary_metrics) and its arms and guardrails, replaced as given.
    Nobody is in a draft, so its arms can be rebuilt; a started experiment is refused."""
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    experiment_draft_check(experiment=locked)
    arms_check(arms)
    unknown = set(fields) - DRAFT_FIELDS
    if unknown:
        raise ValueError(f"Not a draft setting: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(experiment, name, value)
    experiment.enrollment_percent = Decimal(str(experiment.enrollment_percent))
    experiment.status = locked.status
    experiment.full_clean()
    experiment.save(update_fields=sorted(fields))
    experiment.arms.all().delete()
    experiment.guardrails.all().delete()
    _arms_and_guardrails_create(experiment, arms, guardrails)
    return experiment


DRAFT_FIELDS = frozenset(
    {"key", "hypothesis", "minimum_effect", "alpha", "enrollment_percent", "secondary_metrics"}
)


def _arms_and_guardrails_create(experiment, arms, guardrails) -> None:
    Arm.objects.bulk_create(
        Arm(experiment=experiment, key=spec.key, weight=spec.weight, payload=spec.payload,
            is_control=spec.is_control, description=spec.description, position=position)
        for position, spec in enumerate(arms)
    )  # fmt: skip
    Guardrail.objects.bulk_create(
        Guardrail(experiment=experiment, metric=g.metric, threshold=g.threshold,
                  min_sample=g.min_sample)
        for g in guardrails
    )  # fmt: skip


def arms_check(arms) -> None:
    """At least two arms, exactly one control, distinct keys, weights of at least 1.
    Takes ArmSpecs or Arm rows (anything with key, weight, is_control)."""
    if len(arms) < 2:
        raise ValidationError("An experiment needs at least two arms: a control and a variant.")
    if sum(bool(arm.is_control) for arm in arms) != 1:
        raise ValidationError("Exactly one arm must be the control.")
    keys = [arm.key for arm in arms]
    if len(set(keys)) != len(keys):
        raise ValidationError("Each arm needs its own key.")
    if any(arm.weight is None or arm.weight < 1 for arm in arms):
        raise ValidationError("Every arm needs a weight of at least 1.")


def experiment_draft_check(*, experiment: Experiment) -> None:
    """Arms and weights may only change before the start: afterwards the split is fixed."""
    if experiment.status != Experiment.Status.DRAFT:
        raise ValidationError(
            "The arms and weights of a started experiment cannot change: that would skew the "
            "split. End it and start a new experiment instead."
        )


@transaction.atomic
def experiment_start(
    *,
    experiment: Experiment,
    actor,
    evidence: dict[int, dict] | None = None,
    overrides: dict[int, str] | None = None,
) -> Experiment:
    """Draft -> running. `evidence` (arm id -> what allows it, e.g. an eval run) and
    `overrides` (arm id -> a written reason to start without it) are judged by the caller, the
    layer that knows what arms do; both are kept on the arms and in the audit log."""
    arms = list(experiment.arms.select_for_update())
    arms_check(arms)
    for arm in arms:
        arm.evidence = (evidence or {}).get(arm.pk, {})
        arm.override_reason = ((overrides or {}).get(arm.pk) or "").strip()
        arm.save(update_fields=["evidence", "override_reason"])
    _transition(experiment, [Experiment.Status.DRAFT], Experiment.Status.RUNNING,
                started_at=timezone.now())  # fmt: skip
    _event(experiment, ExperimentEvent.Action.STARTED, actor,
           detail={"enrollment_percent": str(experiment.enrollment_percent)})  # fmt: skip
    for arm in arms:
        if arm.override_reason:
            _event(experiment, ExperimentEvent.Action.EVIDENCE_OVERRIDDEN, actor,
                   arm=arm, note=arm.override_reason)  # fmt: skip
    return experiment


@transaction.atomic
def experiment_ramp(*, experiment: Experiment, percent: Decimal | float, actor) -> Experiment:
    """Raise the enrolled share. Only up: lowering it could not take anyone out (assignments
    are sticky) and would only make the numbers lie; pause the experiment instead."""
    percent = Decimal(str(percent)).quantize(Decimal("0.01"))
    if not 0 < percent <= 100:
        raise ValidationError("Enrollment is a share between 0 and 100%.")
    # Locked: two staff ramping at once go one after the other, and the audit log's "from" is
    # what the other one left, not what this caller's copy said.
    current = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if not current.is_live:
        raise ValidationError("Only a running or paused experiment can be ramped.")
    if current.enrollment_percent >= percent:
        experiment.enrollment_percent = current.enrollment_percent
        raise ValidationError(
            f"Enrollment is {current.enrollment_percent}%: it can only go up. To send "
            "everyone back to production, pause the experiment."
        )
    Experiment.objects.filter(pk=experiment.pk).update(enrollment_percent=percent)
    previous = current.enrollment_percent
    experiment.enrollment_percent = percent
    _event(experiment, ExperimentEvent.Action.RAMPED, actor,
           detail={"from": str(previous), "to": str(percent)})  # fmt: skip
    _changed()
    return experiment


@transaction.atomic
def experiment_pause(*, experiment: Experiment, actor, reason: str = "") -> Experiment:
    """The kill switch: every seller gets production within LIVE_REFRESH_SECONDS."""
    _transition(experiment, [Experiment.Status.RUNNING], Experiment.Status.PAUSED)
    _event(experiment, ExperimentEvent.Action.PAUSED, actor, note=reason)
    return experiment


@transaction.atomic
def experiment_resume(*, experiment: Experiment, actor) -> Experiment:
    _transition(experiment, [Experiment.Status.PAUSED], Experiment.Status.RUNNING)
    _event(experiment, ExperimentEvent.Action.RESUMED, actor)
    return experiment


@transaction.atomic
def experiment_end(
    *, experiment: Experiment, actor, shipped_arm: Arm | None = None, note: str = ""
) -> Experiment:
    """Stop for good; everyone gets production. With `shipped_arm`, the caller has made that
    arm production (ai_prefill.rollout.experiment_ship) in the same transaction."""
    if shipped_arm is not None and shipped_arm.experiment_id != experiment.pk:
        raise ValidationError("That arm belongs to another experiment.")
    _transition(experiment, list(Experiment.LIVE), Experiment.Status.ENDED,
                ended_at=timezone.now(), shipped_arm=shipped_arm)  # fmt: skip
    if shipped_arm is not None:
        _event(experiment, ExperimentEvent.Action.SHIPPED, actor, arm=shipped_arm, note=note)
    _event(experiment, ExperimentEvent.Action.ENDED, actor, note=note)
    return experiment


@transaction.atomic
def arm_pause(*, arm: Arm, actor=None, reason: str, detail: dict | None = None) -> bool:
    """Its sellers get production; False if it was paused already (a guardrail checked twice
    pauses once, and notifies once)."""
    updated = Arm.objects.filter(pk=arm.pk, status=Arm.Status.ACTIVE).update(
        status=Arm.Status.PAUSED, paused_reason=reason
    )
    if not updated:
        return False
    arm.status, arm.paused_reason = Arm.Status.PAUSED, reason
    action = (
        ExperimentEvent.Action.GUARDRAIL_BREACHED
        if actor is None
        else ExperimentEvent.Action.ARM_PAUSED
    )
    _event(arm.experiment, action, actor, arm=arm, note=reason, detail=detail or {})
    _changed()
    return True


@transaction.atomic
def arm_resume(*, arm: Arm, actor) -> bool:
    updated = Arm.objects.filter(pk=arm.pk, status=Arm.Status.PAUSED).update(
        status=Arm.Status.ACTIVE, paused_reason=""
    )
    if updated:
        arm.status, arm.paused_reason = Arm.Status.ACTIVE, ""
        _event(arm.experiment, ExperimentEvent.Action.ARM_RESUMED, actor, arm=arm)
        _changed()
    return bool(updated)


@transaction.atomic
def srm_acknowledge(*, experiment: Experiment, actor, note: str) -> Experiment:
    """A sample-ratio mismatch blocks shipping until someone says they looked into it, and why."""
    if not note.strip():
        raise ValidationError("Say what you found: the note is kept in the audit log.")
    Experiment.objects.filter(pk=experiment.pk).update(srm_acknowledged_at=timezone.now())
    experiment.refresh_from_db(fields=["srm_acknowledged_at"])
    _event(experiment, ExperimentEvent.Action.SRM_ACKNOWLEDGED, actor, note=note.strip())
    return experiment


def _transition(experiment: Experiment, sources: list[str], target: str, **fields) -> None:
    try:
        with transaction.atomic():
            updated = Experiment.objects.filter(pk=experiment.pk, status__in=sources).update(
                status=target, **fields
            )
    except IntegrityError:
        live = Experiment.objects.filter(
            surface=experiment.surface, status__in=Experiment.LIVE
        ).first()
        raise ValidationError(
            f"“{live}” is already live on the {experiment.get_surface_display()}: end it first "
            "(one experiment at a time, so their effects cannot mix)."
        ) from None
    if not updated:
        experiment.refresh_from_db(fields=["status"])
        raise ValidationError(
            f"The experiment is {experiment.get_status_display().lower()}; it cannot become "
            f"{Experiment.Status(target).label.lower()} from there."
        )
    experiment.status = target
    for name, value in fields.items():
        setattr(experiment, name, value)
    _changed()


def _event(experiment, action, actor, *, arm=None, note: str = "", detail=None) -> ExperimentEvent:
    return ExperimentEvent.objects.create(
        experiment=experiment, arm=arm, action=action, actor=actor, note=note, detail=detail or {}
    )
