"""The admin banner while alerts fire: `admin_banners` for marketplace's admin/base_site.html.

It reads only the facts the evaluator stored in the cache (monitoring.alert_selectors), so an
admin page pays no query for it; the list is a callable, so even that cache read happens only
on a page that shows it, never on the public site's pages, which share the context processors.

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
from .alert_selectors import alert_banner_facts

# Three missed evaluations of the every-minute beat task.
STALE_AFTER = timedelta(minutes=3)


def admin_banners(request) -> dict:
    def banners() -> list[dict]:
        user = getattr(request, "user", None)
        if user is None or not user.is_active or not user.is_staff:
            return []
        facts = alert_banner_facts()
        firing = [_banner(alert) for alert in (facts or {}).get("firing", [])]
        stalled = _stalled_banner(facts)
        return firing + ([stalled] if stalled else [])

    return {"admin_banners": banners}


def _local(moment) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _banner(alert: dict) -> dict:
    history = reverse("admin:monitoring_alertevent_changelist")
    return {
        "level": "error" if alert["severity"] == AlertSeverity.CRITICAL else "warning",
        "text": f"Alert firing: {alert['name']} (since {_local(alert['since'])}).",
        "url": f"{history}?rule__id__exact={alert['rule_id']}",
        "link_text": "Alert history",
    }


def _stalled_banner(facts: dict | None) -> dict | None:
    if not settings.REDIS_URL:
        return None
    if facts is not None:
        last = facts["last_evaluated"]
        if not facts["any_enabled"] or (last and timezone.now() - last < STALE_AFTER):
            return None
    when = _local(facts["last_evaluated"]) if facts and facts["last_evaluated"] else "none recorded"
    return {
        "level": "warning",
        "text": f"Alerts are not being evaluated (last evaluation: {when}): "
        "is celery beat running?",
        "url": reverse("admin:monitoring_alertrule_changelist"),
        "link_text": "Alert rules",
    }
