"""Guardrails of the live experiment, checked every minute (feedback.tasks, Celery beat).

Each active arm's guardrail values are computed exactly as the results page shows them
(experiment_results.arm_run_metrics / arm_guardrails: one definition). A breach (enough runs to
judge, value above the threshold) pauses that arm through experiments.services.arm_pause, which
records the reason in the audit log and sends its sellers back to production within the kill
switch's refresh; only the check that actually paused it (arm_pause returned True) emails staff,
through the transactional outbox in the same transaction, so a second check, or a second beat
process, never sends a second email.

The control arm is judged and shown like the others but never paused: it serves production's
configuration, so pausing it would change nothing for its sellers and only end the comparison.
A control breach is a production problem, for the monitoring, not for this experiment.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from experiments.models import Arm, Experiment, ExperimentEvent
from experiments.selectors import experiment_live
from experiments.services import arm_pause
from marketplace.outbox import outbox_enqueue
from marketplace.staff_recipients import staff_emails_with_permission

from .experiment_results import arm_guardrails, arm_run_metrics, guardrail_sentence
from .models import SellSession

NOTIFY_TASK = "feedback.tasks.experiment_guardrail_notify_task"
NOTIFY_PERMISSION = ("experiments", "change_experiment")


@dataclass(frozen=True)
class GuardrailBreach:
    arm: str
    metric: str
    value: float
    threshold: float
    n: int
    paused: bool  # this check paused the arm (False: it was paused already, or is the control)


def guardrails_check(*, now: datetime | None = None) -> list[GuardrailBreach]:
    """Judge every active arm of the running experiment; pause the arms in breach. `now` is
    recorded in the pause's detail (the figures themselves are counts of finished runs)."""
    now = now or timezone.now()
    experiment = experiment_live()
    if experiment is None or experiment.status != Experiment.Status.RUNNING:
        return []
    guardrails = list(experiment.guardrails.all())
    arms = [arm for arm in experiment.arms.all() if arm.status == Arm.Status.ACTIVE]
    if not guardrails or not arms:
        return []
    runs = arm_run_metrics([arm.pk for arm in arms])
    published = _published(arms)
    breaches = []
    for arm in arms:
        found = [
            g
            for g in arm_guardrails(guardrails, runs=runs[arm.pk], published=published[arm.pk])
            if g["breached"]
        ]
        paused = bool(found) and not arm.is_control and _pause(experiment, arm, found, now)
        breaches += [
            GuardrailBreach(arm.key, g["metric"], g["value"], g["threshold"], g["n"], paused)
            for g in found
        ]
    return breaches


def _published(arms: list[Arm]) -> dict[int, int]:
    counts = dict(
        SellSession.objects.filter(arm__in=arms, status=SellSession.Status.PUBLISHED)
        .values_list("arm_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {arm.pk: counts.get(arm.pk, 0) for arm in arms}


@transaction.atomic
def _pause(experiment: Experiment, arm: Arm, breached: list[dict], now: datetime) -> bool:
    reason = "; ".join(guardrail_sentence(arm.key, g) for g in breached) + "."
    detail = {
        "guardrails": [
            {key: g[key] for key in ("metric", "value", "threshold", "n", "min_sample")}
            for g in breached
        ],
        "checked_at": now.isoformat(),
    }
    arm.experiment = experiment
    if not arm_pause(arm=arm, actor=None, reason=reason, detail=detail):
        return False  # paused meanwhile (another check, or staff): they were told already
    event = (
        ExperimentEvent.objects.filter(arm=arm, action=ExperimentEvent.Action.GUARDRAIL_BREACHED)
        .order_by("-at", "-id")
        .first()
    )
    outbox_enqueue(task=NOTIFY_TASK, args=[event.pk])
    return True


# --- the email (sent by a worker: feedback.tasks.experiment_guardrail_notify_task) ---------------


def results_path(experiment: Experiment) -> str:
    """The admin results page of the experiment (registered by the experiments admin)."""
    try:
        return reverse("admin:experiments_experiment_results", args=[experiment.pk])
    except NoReverseMatch:
        return f"/admin/experiments/experiment/{experiment.pk}/results/"


def guardrail_recipients() -> list[str]:
    """Active staff who may change experiments (directly or through a group), and superusers."""
    app_label, codename = NOTIFY_PERMISSION
    return staff_emails_with_permission(app_label=app_label, codename=codename)


def guardrail_notification_send(*, event: ExperimentEvent) -> int:
    """Email the breach to the staff who may act on it; returns how many were emailed."""
    recipients = guardrail_recipients()
    if not recipients:
        return 0
    context = {
        "experiment": event.experiment,
        "arm": event.arm,
        "event": event,
        "url": settings.SITE_URL.rstrip("/") + results_path(event.experiment),
    }
    send_mail(
        subject=f"Guardrail breached: {event.experiment.key}/{event.arm.key} is paused",
        message=render_to_string("feedback/email/guardrail_breached.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)
