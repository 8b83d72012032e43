"""The admin banner while alerts fire: `admin_banners` for marketplace's admin/base_site.html.

The list is a callable, so the query runs only on a page that shows it (the admin's), never on
the public site's pages, which share the context processors.
"""

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from .alert_models import AlertSeverity
from .alert_selectors import alert_states_firing


def admin_banners(request) -> dict:
    def banners() -> list[dict]:
        user = getattr(request, "user", None)
        if user is None or not user.is_active or not user.is_staff:
            return []
        return [_banner(state) for state in alert_states_firing()]

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
