"""deploy/prometheus/alerts.yml: well-formed rules, the issue's default alerts, and no metric name
that /metrics does not expose (a typo there is an alert that can never fire)."""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from ai_prefill.evals.runner import eval_config_for
from ai_prefill.models import EvalRun, PrefillRun
from ai_prefill.rollout import production_config
from ai_prefill.tests.factories import start_run
from feedback.services import rating_set
from monitoring.drift_services import drift_report_build
from monitoring.heartbeats import heartbeat_record
from monitoring.tests.drift_factories import runs_generate
from tests.fake_openai import Behaviour

from .scrape import scrape

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
TOKEN = "alert-rules-token"

# The issue's defaults ("## Alerts"), by the name each has in alerts.yml.
DEFAULT_ALERTS = {
    "PrefillNoUsableDraftBurnRateFast",
    "PrefillNoUsableDraftBurnRateSlow",
    "PrefillUploadToDraftP95High",
    "PrefillCostOverDailyBudget",
    "PrefillQueueWaitP95High",
    "WorkerHeartbeatMissing",
    "BeatHeartbeatMissing",
    "ThumbsDownShareDoubled",
    "CategoryDrift",
}
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}  # fmt: skip
DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")


def _rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers that are not functions (followed by
    "("), keywords, label names (inside {} or after by/without) or template strings."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    expr = re.sub(r"\boffset\s+\w+", "", expr)
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word, rest = match.group(), expr[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS or DURATION.match(word):
            continue
        names.add(word)
    return names


def test_the_expression_parser_finds_metric_names_and_nothing_else():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y z"}[5m] offset 1d))) > 2 '
        'and on (job) max(b_total) or absent(c{kind="worker"})'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_every_rule_is_well_formed():
    rules = _rules()
    assert {r["alert"] for r in rules} >= DEFAULT_ALERTS
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["alert"]


def test_the_burn_rate_alerts_use_the_issue_windows_and_factors():
    rules = {r["alert"]: r["expr"] for r in _rules()}
    fast, slow = (
        rules["PrefillNoUsableDraftBurnRateFast"],
        rules["PrefillNoUsableDraftBurnRateSlow"],
    )
    assert "[1h]" in fast and "[5m]" in fast and fast.count("14.4 * 0.01") == 2
    assert "[6h]" in slow and "[30m]" in slow and slow.count("6 * 0.01") == 2


@pytest.fixture
def a_scrape_with_every_metric(
    seller, client, settings, fake_openai, django_capture_on_commit_callbacks
):
    """Runs, a retry, a failure, a rating, heartbeats, a drift report and a production eval run:
    every metric then has at least one series."""
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.AI_RETRY_BACKOFF_MAX_SECONDS = 0
    settings.REDIS_URL = ""  # the queue length is read from a broker only; added by hand below
    fake_openai.script(Behaviour.rate_limited(), Behaviour.success(), Behaviour.bad_request())
    with django_capture_on_commit_callbacks(execute=True):
        ok = start_run(seller)
    with django_capture_on_commit_callbacks(execute=True):
        start_run(seller)
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(run=PrefillRun.objects.get(pk=ok.pk), user=seller, rating="down")
    for kind in ("worker", "beat"):
        heartbeat_record(kind=kind)
    day = dt.date(2026, 3, 10)
    runs_generate(user=seller, day=day, categories={"bikes": 3})
    drift_report_build(day=day)
    production = production_config()
    EvalRun.objects.create(
        prompt_version=production.prompt_version,
        provider=production.provider,
        model=production.model,
        config_key=eval_config_for(
            prompt_version=production.prompt_version,
            provider=production.provider,
            model=production.model,
        ).config_key,
        dataset_version="d1",
        status=EvalRun.Status.COMPLETED,
        gate_passed=True,
        cost_usd=Decimal("0"),
        finished_at=timezone.now(),
    )
    return scrape(client, TOKEN)


@pytest.mark.django_db
def test_every_metric_an_alert_reads_is_exposed(a_scrape_with_every_metric):
    exposed = a_scrape_with_every_metric.names() | {"trova_celery_queue_length"}
    unknown = {
        rule["alert"]: sorted(metric_names(rule["expr"]) - exposed)
        for rule in _rules()
        if metric_names(rule["expr"]) - exposed
    }
    assert unknown == {}
    read = set().union(*(metric_names(rule["expr"]) for rule in _rules()))
    assert {"trova_prefill_no_usable_draft_total", "trova_heartbeat_age_seconds"} <= read
