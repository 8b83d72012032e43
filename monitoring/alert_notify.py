"""Delivering alert notifications: an email to staff and a Slack-compatible webhook.

Each AlertNotification row is claimed with a conditional UPDATE (pending and due -> sending,
with a claim that expires), so the outbox's task and the retry sweep never send one row twice
at once. A failed send puts the row back to pending with an exponential backoff
(ALERT_NOTIFY_BACKOFF_SECONDS doubled per attempt, capped), until ALERT_NOTIFY_MAX_ATTEMPTS.
A worker that dies while sending leaves the row "sending" until its claim expires; the sweep
then takes it again (at least once: the message may then arrive twice).
"""

import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from marketplace.staff_recipients import staff_emails_with_permission

from .alert_models import AlertEvent, AlertNotification, AlertStatus

logger = logging.getLogger(__name__)

Status = AlertNotification.Status
RECIPIENT_PERMISSION = ("monitoring", "receive_alert_notifications")
# Longer than one send can take (the webhook's timeout, an SMTP exchange).
CLAIM_SECONDS = 120
# The retry sweep starts no send after this, well inside its task's 50 s soft time limit.
SWEEP_BUDGET_SECONDS = 30


class DeliveryError(Exception):
    """The channel refused or could not be reached; worth another try later."""


def alert_backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed try: base, 2 x base, 4 x base, ... capped."""
    seconds = settings.ALERT_NOTIFY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.ALERT_NOTIFY_BACKOFF_MAX_SECONDS))


def alert_notification_deliver(*, notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification if it is due and nobody else is sending it. True when sent now."""
    now = now or timezone.now()
    due = Q(status=Status.PENDING) | Q(status=Status.SENDING)
    claimed = AlertNotification.objects.filter(due, pk=notification_id, next_try_at__lte=now)
    if not claimed.update(
        status=Status.SENDING, attempts=F("attempts") + 1,
        next_try_at=now + timedelta(seconds=CLAIM_SECONDS),
    ):  # fmt: skip
        return False
    notification = AlertNotification.objects.select_related("event__rule").get(pk=notification_id)
    try:
        _send(notification)
    except DeliveryError as exc:
        _failed(notification, str(exc), now)
        return False
    except Exception as exc:  # a bug: still counted, so it cannot be retried forever
        logger.exception("alert notification %s: sending it raised", notification.pk)
        _failed(notification, f"{type(exc).__name__}: {exc}", now)
        return False
    AlertNotification.objects.filter(pk=notification.pk).update(
        status=Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _failed(notification: AlertNotification, error: str, now: datetime) -> None:
    gave_up = notification.attempts >= settings.ALERT_NOTIFY_MAX_ATTEMPTS
    logger.warning(
        "alert notification %s (%s) failed, attempt %d%s: %s", notification.pk,
        notification.channel, notification.attempts, ", giving up" if gave_up else "", error,
    )  # fmt: skip
    AlertNotification.objects.filter(pk=notification.pk).update(
        status=Status.FAILED if gave_up else Status.PENDING,
        next_try_at=now + alert_backoff(notification.attempts),
        last_error=error[:2000],
    )


def alert_notifications_retry_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Send the notifications whose backoff is over (and those a dead worker left "sending").
    Returns how many were sent."""
    now = now or timezone.now()
    due = AlertNotification.objects.filter(
        Q(status=Status.PENDING) | Q(status=Status.SENDING), next_try_at__lte=now
    ).order_by("next_try_at", "pk")
    started, sent = time.monotonic(), 0
    for pk in due.values_list("pk", flat=True)[:limit]:
        if time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            break  # the rest next time: stay inside the task's time limit when a channel hangs
        sent += alert_notification_deliver(notification_id=pk, now=now)
    return sent


# --- The channels --------------------------------------------------------------------------------


def _send(notification: AlertNotification) -> None:
    if notification.channel == AlertNotification.Channel.WEBHOOK:
        _send_webhook(notification.event)
    else:
        _send_email(notification.event)


def alert_recipients() -> list[str]:
    """Active staff holding monitoring.receive_alert_notifications (or superusers), plus the
    addresses of ALERT_EMAIL_RECIPIENTS."""
    app_label, codename = RECIPIENT_PERMISSION
    staff = staff_emails_with_permission(app_label=app_label, codename=codename)
    return sorted(set(staff) | set(settings.ALERT_EMAIL_RECIPIENTS))


def _send_email(event: AlertEvent) -> None:
    recipients = alert_recipients()
    if not recipients:
        raise DeliveryError(
            "no one to email: grant monitoring.receive_alert_notifications to staff, "
            "or set ALERT_EMAIL_RECIPIENTS"
        )
    try:
        send_mail(
            subject=alert_subject(event),
            message=alert_message(event),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from exc


def _send_webhook(event: AlertEvent) -> None:
    url = settings.ALERT_WEBHOOK_URL
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("ALERT_WEBHOOK_URL is not an http(s) address")
    body = json.dumps({"text": f"{alert_subject(event)}\n{alert_message(event)}"}).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    timeout = settings.ALERT_WEBHOOK_TIMEOUT_SECONDS
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc


# --- The words -----------------------------------------------------------------------------------


def alert_history_url(event: AlertEvent) -> str:
    path = reverse("admin:monitoring_alertevent_changelist")
    return f"{settings.SITE_URL.rstrip('/')}{path}?rule__id__exact={event.rule_id}"


def alert_subject(event: AlertEvent) -> str:
    word = "FIRING" if event.to_status == AlertStatus.FIRING else "RESOLVED"
    return f"[{word}] {event.rule.get_severity_display().split(' ')[0]}: {event.rule.name}"


def alert_message(event: AlertEvent) -> str:
    rule = event.rule
    value = "no value" if event.value is None else f"{event.value:.4g}"
    if event.to_status == AlertStatus.FIRING:
        head = f"Firing since {event.at:%Y-%m-%d %H:%M %Z}: {value} > {event.threshold:g}."
    else:
        head = f"Resolved at {event.at:%Y-%m-%d %H:%M %Z}: {value} <= {event.threshold:g}."
    return f"{head}\n{rule.description}\nHistory: {alert_history_url(event)}"
