"""The admin banner while alerts fire: `admin_banners` for marketplace's admin/base_site.html.

The list is a callable, so the query runs only on a page that shows it (the admin's), never on
the public site's pages, which share the context processors.

Besides the firing rules it warns when the rules are not being judged at all: they are judged by
a beat task, so with beat down no alert can fire, the beat-heartbeat one included. Only with a
broker (REDIS_URL): without one there is no beat, by design.
"""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from .alert_models import AlertSeverity
from .alert_selectors import alert_states_firing, alerts_last_evaluated

# Three missed evaluations of the every-minute beat task.
STALE_AFTER = timedelta(minutes=3)


def admin_banners(request) -> dict:
    def banners() -> list[dict]:
        user = getattr(request, "user", None)
        if user is None or not user.is_active or not user.is_staff:
            return []
        stalled = _stalled_banner()
        return [_banner(state) for state in alert_states_firing()] + ([stalled] if stalled else [])

    return {"admin_banners": banners}


def _banner(state) -> dict:
    rule = state.rule
    since = date_format(timezone.localtime(state.since), "DATETIME_FORMAT")
    history = reverse("admin:monitoring_alertevent_changelist")
    return {
        "level": "error" if rule.severity == AlertSeverity.CRITICAL else "warning",
        "text": f"Alert firing: {rule.name} (since {since}).",
        "url": f"{history}?rule__id__exact={rule.pk}",
        "link_text": "Alert history",
    }


def _stalled_banner() -> dict | None:
    if not settings.REDIS_URL:
        return None
    any_enabled, last = alerts_last_evaluated()
    if not any_enabled or (last is not None and timezone.now() - last < STALE_AFTER):
        return None
    when = "never" if last is None else date_format(timezone.localtime(last), "DATETIME_FORMAT")
    return {
        "level": "warning",
        "text": f"Alerts are not being evaluated (last: {when}): is celery beat running?",
        "url": reverse("admin:monitoring_alertrule_changelist"),
        "link_text": "Alert rules",
    }
