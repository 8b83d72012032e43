"""Reads of the alerts: what fires now (the admin banner)."""

from django.db.models import QuerySet

from .alert_models import AlertState, AlertStatus


def alert_states_firing() -> QuerySet[AlertState]:
    """The rules firing now, most severe and oldest first."""
    return (
        AlertState.objects.filter(status=AlertStatus.FIRING, rule__enabled=True)
        .select_related("rule")
        .order_by("rule__severity", "since", "rule__key")
    )
