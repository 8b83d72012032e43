"""Reads of the alerts: what fires now (the admin banner)."""

from datetime import datetime

from django.db.models import Max, QuerySet

from .alert_models import AlertState, AlertStatus


def alert_states_firing() -> QuerySet[AlertState]:
    """The rules firing now, most severe and oldest first."""
    return (
        AlertState.objects.filter(status=AlertStatus.FIRING, rule__enabled=True)
        .select_related("rule")
        .order_by("rule__severity", "since", "rule__key")
    )


def alerts_last_evaluated() -> tuple[bool, datetime | None]:
    """(whether any rule is enabled, when the enabled rules were last judged; None: never)."""
    enabled = AlertState.objects.filter(rule__enabled=True)
    last = enabled.aggregate(last=Max("last_evaluated_at"))["last"]
    return enabled.exists(), last
