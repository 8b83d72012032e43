"""The alert rules Trova ships with (docs/monitoring.md, ## Alerts, says why each number).

Plain data, no models: the data migration and `alert_rules_ensure_defaults` both read it, so a
fresh database and a repaired one get the same rules. Staff may edit them afterwards; ensuring
the defaults again never overwrites an edit (it only adds missing keys).
"""

from datetime import timedelta

from django.conf import settings

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# The shipped rule whose threshold is also the budget /metrics exposes (metrics_collectors.py).
COST_TODAY_RULE_KEY = "cost-today"


def default_rules() -> list[dict]:
    """Field values of each default rule, keyed by the AlertRule field names."""
    return [
        {
            "key": "no-usable-draft-burn-fast",
            "name": "No usable draft: error budget burning fast (1 h)",
            "description": "Over 14.4x the budget of a 99% objective over 1 h AND 5 min: 2% of "
            "the month's budget gone in an hour. Check the run log's errors.",
            "metric": "no_usable_draft_burn",
            "window": HOUR,
            "short_window": 5 * MINUTE,
            "objective": 0.99,
            "threshold": 14.4,
            "for_duration": timedelta(0),
            "min_samples": 10,
            "severity": "critical",
        },
        {
            "key": "no-usable-draft-burn-slow",
            "name": "No usable draft: error budget burning (6 h)",
            "description": "Over 6x the budget of a 99% objective over 6 h AND 30 min: 5% of "
            "the month's budget gone in six hours.",
            "metric": "no_usable_draft_burn",
            "window": 6 * HOUR,
            "short_window": 30 * MINUTE,
            "objective": 0.99,
            "threshold": 6.0,
            "for_duration": timedelta(0),
            "min_samples": 10,
            "severity": "critical",
        },
        {
            "key": "upload-to-draft-p95",
            "name": "Upload to draft p95 over 8 s",
            "description": "Sellers wait too long for a draft (the Sell page gives up at "
            "AI_PREFILL_BUDGET_SECONDS). Check queue wait and provider latency.",
            "metric": "upload_to_draft_p95_s",
            "window": 15 * MINUTE,
            "threshold": 8.0,
            "for_duration": 5 * MINUTE,
            "min_samples": 5,
            "severity": "warning",
        },
        {
            "key": COST_TODAY_RULE_KEY,
            "name": "AI cost today over the daily budget",
            "description": "Today's provider cost (since local midnight) passed the budget "
            "(ALERT_DAILY_COST_BUDGET_USD when the rule was created).",
            "metric": "cost_today_usd",
            "threshold": settings.ALERT_DAILY_COST_BUDGET_USD,
            "for_duration": timedelta(0),
            "severity": "warning",
        },
        {
            "key": "queue-wait-p95",
            "name": "Queue wait p95 over 5 s",
            "description": "Runs wait for a worker: too few workers, or one stuck.",
            "metric": "queue_wait_p95_s",
            "window": 10 * MINUTE,
            "threshold": 5.0,
            "for_duration": 5 * MINUTE,
            "min_samples": 5,
            "severity": "warning",
        },
        {
            "key": "worker-heartbeat",
            "name": "No worker heartbeat",
            "description": "No Celery worker has answered for 2 minutes: pre-fills are not made.",
            "metric": "worker_heartbeat_age_s",
            "threshold": 120.0,
            "for_duration": timedelta(0),
            "severity": "critical",
        },
        {
            "key": "beat-heartbeat",
            "name": "No beat heartbeat",
            "description": "Celery beat has not ticked for 3 minutes: reaping, outbox relay and "
            "these alerts stop.",
            "metric": "beat_heartbeat_age_s",
            "threshold": 180.0,
            "for_duration": timedelta(0),
            "severity": "critical",
        },
        {
            "key": "thumbs-down-doubling",
            "name": "Thumbs-down share doubled against last week",
            "description": "The thumbs-down share of the last 24 h is over twice that of the same "
            "24 h one week earlier (a prompt or model change, or a new kind of photo).",
            "metric": "thumbs_down_week_ratio",
            "window": 24 * HOUR,
            "threshold": 2.0,
            "for_duration": 30 * MINUTE,
            "min_samples": 20,
            "severity": "warning",
        },
        {
            "key": "category-drift",
            "name": "Suggested categories drifted",
            "description": "PSI of the suggested categories against the previous 28 days is "
            "over 0.25 (a significant shift) in the latest daily drift check.",
            "metric": "category_drift_psi",
            "threshold": 0.25,
            "for_duration": timedelta(0),
            "severity": "warning",
        },
    ]
