from celery import shared_task
from django.utils import timezone

from experiments.models import ExperimentEvent
from marketplace.task_queues import QueueKind

from .experiment_guardrails import guardrail_notification_send, guardrails_check
from .services import outcomes_mark_abandoned, sell_sessions_mark_abandoned


@shared_task(queue_kind=QueueKind.MAINTENANCE)
def outcomes_mark_abandoned_task() -> int:
    """Runs and sell sessions that never became a listing in time."""
    return outcomes_mark_abandoned() + sell_sessions_mark_abandoned()


@shared_task(queue_kind=QueueKind.MAINTENANCE, soft_time_limit=50, time_limit=55)
def experiment_guardrails_check_task() -> int:
    """Every minute (beat): pause the arms of the live experiment that breach a guardrail.
    Within a minute, so two checks never overlap for long; arm_pause is idempotent anyway."""
    return sum(breach.paused for breach in guardrails_check())


@shared_task(
    queue_kind=QueueKind.EMAIL,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def experiment_guardrail_notify_task(event_id: int) -> None:
    """Email staff about one guardrail breach, once. Sent through the outbox (at least once):
    an event already notified is skipped. OSError covers SMTP connection trouble."""
    event = (
        ExperimentEvent.objects.select_related("experiment", "arm")
        .filter(pk=event_id, action=ExperimentEvent.Action.GUARDRAIL_BREACHED)
        .first()
    )
    if event is None or event.detail.get("notified_at"):
        return
    guardrail_notification_send(event=event)
    event.detail["notified_at"] = timezone.now().isoformat()
    event.save(update_fields=["detail"])
