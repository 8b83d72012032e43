"""Reads of the alerts: what fires now, for the admin banner.

The banner is on every admin page, so it must cost no query there: the evaluator stores these
facts in the cache (Redis in production, shared by every web process) after each evaluation
and after a rule is saved, and the banner reads only the cache.
"""

import logging

from django.core.cache import cache
from django.db.models import Max

from .alert_models import AlertState, AlertStatus

logger = logging.getLogger(__name__)

BANNER_FACTS_KEY = "monitoring:alerts:banner"


def alert_banner_facts_compute() -> dict:
    """What fires (most severe, then oldest first) and when the enabled rules were last judged."""
    enabled = AlertState.objects.filter(rule__enabled=True)
    firing = (
        enabled.filter(status=AlertStatus.FIRING)
        .order_by("rule__severity", "since", "rule__key")
        .values("rule_id", "rule__name", "rule__severity", "since")
    )
    return {
        "firing": [
            {
                "rule_id": row["rule_id"],
                "name": row["rule__name"],
                "severity": row["rule__severity"],
                "since": row["since"],
            }
            for row in firing
        ],  # fmt: skip
        "any_enabled": enabled.exists(),
        "last_evaluated": enabled.aggregate(last=Max("last_evaluated_at"))["last"],
    }


def alert_banner_facts() -> dict | None:
    """The facts as the evaluator last stored them; None if none are stored (never evaluated,
    or the cache was emptied since) or the cache is unreachable: an admin page must not fail
    for its banner."""
    try:
        return cache.get(BANNER_FACTS_KEY)
    except Exception as exc:  # the cache backend's own error types vary (redis, memcached)
        logger.warning("alerts: the admin banner's facts could not be read: %s", exc)
        return None
