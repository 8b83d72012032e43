"""Metrics read at scrape time, from the database and the broker, instead of counted in a
process: the value is a fact of shared state, the same whichever process answers the scrape.

Each collector answers fast or not at all: a failing source is logged and its metric left out
(an absent series, which Prometheus's `absent()` can alert on), never a failed scrape.
"""

import logging

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from ai_prefill.evals.runner import eval_config_for
from ai_prefill.models import EvalRun
from ai_prefill.rollout import production_config
from marketplace.memo import ProcessMemo
from marketplace.task_queues import QueueKind, queue_name

from .alert_defaults import COST_TODAY_RULE_KEY
from .alert_models import AlertRule
from .drift import latest_drift
from .heartbeats import KINDS as HEARTBEAT_KINDS
from .heartbeats import heartbeat_age_seconds
from .readiness import queue_lengths

logger = logging.getLogger(__name__)

# The scrape budget is 50 ms in all: the broker gets a small part of it.
BROKER_TIMEOUT_SECONDS = 0.05


class EvalGateCollector:
    """trova_eval_gate_passed: did the latest completed eval run of the configuration production
    runs now (the newest ProductionConfig, else the environment; see ai_prefill/rollout.py)
    pass its gate? 1 or 0, absent when that configuration was never evaluated."""

    def describe(self):
        return []

    def collect(self):
        try:
            return _eval_gate_memo.get()
        except Exception:  # a scrape must not fail with the database
            logger.exception("metrics: the eval gate could not be read")
            return []


def _eval_gate_families() -> list:
    run = _latest_production_eval_run()
    if run is None or run.gate_passed is None:
        return []
    labels = ["trova_prompt_version", "gen_ai_provider_name", "gen_ai_request_model"]
    values = [run.prompt_version.label, run.provider, run.model]
    passed = GaugeMetricFamily(
        "trova_eval_gate_passed",
        "1 if the latest eval run of production's configuration passed its gate, else 0.",
        labels=labels,
    )
    passed.add_metric(values, 1.0 if run.gate_passed else 0.0)
    finished = GaugeMetricFamily(
        "trova_eval_gate_finished_timestamp_seconds",
        "When that eval run finished (Unix time).",
        labels=labels,
    )
    finished.add_metric(values, (run.finished_at or run.created_at).timestamp())
    return [passed, finished]


def _latest_production_eval_run() -> EvalRun | None:
    production = production_config()
    if not production.enabled:  # production is "no AI": nothing is evaluated
        return None
    key = eval_config_for(
        prompt_version=production.prompt_version,
        provider=production.provider,
        model=production.model,
    ).config_key
    return (
        EvalRun.objects.filter(status=EvalRun.Status.COMPLETED, config_key=key)
        .select_related("prompt_version")
        .order_by("-created_at", "-id")
        .first()
    )


class CeleryQueueCollector:
    """trova_celery_queue_length{queue}: messages waiting in the broker for a worker, one series
    per queue kind (prefill, evals, maintenance, email). Absent when tasks run in-process (no
    REDIS_URL) or the broker does not answer in time."""

    def __init__(self):
        self._client = None
        self._client_url = ""

    def describe(self):
        return []

    def collect(self):
        if not settings.REDIS_URL:
            return
        queues = {queue_name(kind): kind for kind in QueueKind}
        try:
            lengths = queue_lengths(self._broker(), list(queues))
        except redis.RedisError as exc:
            logger.warning("metrics: the broker's queue lengths could not be read: %s", exc)
            return
        family = GaugeMetricFamily(
            "trova_celery_queue_length",
            "Messages waiting in the broker queue of a kind of task (all priorities).",
            labels=["queue"],
        )
        for queue, kind in queues.items():
            family.add_metric([kind], float(lengths[queue]))
        yield family

    def _broker(self) -> redis.Redis:
        if self._client is None or self._client_url != settings.REDIS_URL:
            self._client_url = settings.REDIS_URL
            self._client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=BROKER_TIMEOUT_SECONDS,
                socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            )
        return self._client


class CostBudgetCollector:
    """trova_prefill_cost_budget_usd: the daily budget the cost alerts compare spending with. One
    number for both kinds of alert: the threshold of the admin's "cost today" rule (which staff
    may edit), else ALERT_DAILY_COST_BUDGET_USD; so alerts.yml holds no number of its own."""

    def describe(self):
        return []

    def collect(self):
        try:
            return _cost_budget_memo.get()
        except Exception:  # a scrape must not fail with the database
            logger.exception("metrics: the cost budget could not be read")
            return []


def _cost_budget_families() -> list:
    rule = AlertRule.objects.filter(key=COST_TODAY_RULE_KEY).only("threshold").first()
    budget = rule.threshold if rule is not None else settings.ALERT_DAILY_COST_BUDGET_USD
    family = GaugeMetricFamily(
        "trova_prefill_cost_budget_usd",
        "Daily budget for provider cost, in US dollars (the admin's cost-today alert rule).",
    )
    family.add_metric([], float(budget))
    return [family]


class HeartbeatCollector:
    """trova_heartbeat_age_seconds{kind}: seconds since any worker / beat was last seen alive
    (monitoring/heartbeats.py). Absent for a kind never seen, which the alert also covers."""

    def describe(self):
        return []

    def collect(self):
        family = GaugeMetricFamily(
            "trova_heartbeat_age_seconds",
            "Seconds since a process of this kind (worker, beat) recorded a heartbeat.",
            labels=["kind"],
        )
        for kind in HEARTBEAT_KINDS:
            try:
                age = heartbeat_age_seconds(kind=kind)
            except Exception:  # the cache (Redis) is down: no age rather than a failed scrape
                logger.exception("metrics: the %s heartbeat could not be read", kind)
                continue
            if age is not None:
                family.add_metric([kind], age)
        yield family


class DriftCollector:
    """trova_drift_psi{dimension} and trova_drift_drifted{dimension} of the latest daily drift
    report (monitoring/drift.py); absent before the first report."""

    def describe(self):
        return []

    def collect(self):
        try:
            return _drift_memo.get()
        except Exception:
            logger.exception("metrics: the latest drift report could not be read")
            return []


def _drift_families() -> list:
    report = latest_drift()
    if report is None:
        return []
    psi = GaugeMetricFamily(
        "trova_drift_psi",
        "Population stability index of the latest day against the 28 days before.",
        labels=["dimension"],
    )
    drifted = GaugeMetricFamily(
        "trova_drift_drifted",
        "1 if the latest daily report judged this dimension drifted (enough runs, PSI over "
        "its threshold), else 0.",
        labels=["dimension"],
    )
    for dimension, figures in sorted(report["dimensions"].items()):
        if figures.get("psi") is not None:
            psi.add_metric([dimension], float(figures["psi"]))
        drifted.add_metric([dimension], 1.0 if figures.get("drifted") else 0.0)
    return [psi, drifted]


# The eval gate and the drift report change a few times a day: read from the database at most
# every DB_REFRESH_SECONDS per process rather than on every scrape (they were ~10 of the 50 ms a
# scrape may take, benchmarks/metrics_scrape.py).
DB_REFRESH_SECONDS = 30.0
_eval_gate_memo = ProcessMemo(_eval_gate_families, refresh_seconds=DB_REFRESH_SECONDS)
_drift_memo = ProcessMemo(_drift_families, refresh_seconds=DB_REFRESH_SECONDS)
_cost_budget_memo = ProcessMemo(_cost_budget_families, refresh_seconds=DB_REFRESH_SECONDS)


def scrape_memos_forget() -> None:
    """The next scrape reads the database again (tests; a change made in this process)."""
    _eval_gate_memo.forget()
    _drift_memo.forget()
    _cost_budget_memo.forget()


def scrape_collectors() -> list:
    """A fresh set per process (each keeps its own broker connection)."""
    return [
        EvalGateCollector(),
        CeleryQueueCollector(),
        CostBudgetCollector(),
        HeartbeatCollector(),
        DriftCollector(),
    ]
