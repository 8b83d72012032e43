"""/metrics from real pre-fill runs (the real OpenAI SDK against the local fake server): each
metric moves by what the runs did. Counters are process-wide, so tests compare a scrape before
and after."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ai_prefill import execution
from ai_prefill import signals as prefill_signals
from ai_prefill.evals.runner import eval_config_for
from ai_prefill.models import EvalRun, PrefillRun
from ai_prefill.rollout import production_config
from ai_prefill.tests.factories import start_run
from experiments.tests.factories import ArmFactory
from feedback.services import rating_set
from monitoring.alert_defaults import COST_TODAY_RULE_KEY
from monitoring.alert_models import AlertRule
from monitoring.alert_services import alert_rule_save
from tests.fake_openai import Behaviour

from .scrape import Scrape, scrape

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token"
MODEL = "gpt-4.1-mini"
CHAT_OPENAI = {
    "gen_ai_operation_name": "chat",
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": MODEL,
}


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.AI_MODEL = MODEL
    settings.AI_RETRY_BACKOFF_MAX_SECONDS = 0  # an in-process retry goes again at once


@pytest.fixture
def read(metrics_on, client):
    return lambda: scrape(client, TOKEN)


@pytest.fixture
def run_prefill(seller, django_capture_on_commit_callbacks):
    """run_prefill(*behaviours) -> the finished run, through upload, task and signals."""

    def run(fake_openai, *behaviours, **photo):
        fake_openai.script(*behaviours)
        with django_capture_on_commit_callbacks(execute=True):
            made = start_run(seller, **photo)
        return PrefillRun.objects.select_related("prompt_version").get(pk=made.pk)

    return run


def _delta(after: Scrape, before: Scrape, name: str, **labels) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_a_provider_call_is_a_gen_ai_duration_and_two_token_observations(
    read, run_prefill, fake_openai
):
    before = read()
    run = run_prefill(fake_openai, Behaviour.success())
    after = read()

    assert run.status == "succeeded"
    [attempt] = run.attempt_log.all()
    duration = "gen_ai_client_operation_duration_seconds"
    assert _delta(after, before, f"{duration}_count", **CHAT_OPENAI, error_type="") == 1
    assert _delta(after, before, f"{duration}_sum", **CHAT_OPENAI, error_type="") == pytest.approx(
        attempt.latency_ms / 1000
    )
    tokens = "gen_ai_client_token_usage"
    for token_type, count in (("input", run.input_tokens), ("output", run.output_tokens)):
        labels = {**CHAT_OPENAI, "gen_ai_token_type": token_type}
        assert _delta(after, before, f"{tokens}_count", **labels) == 1
        assert _delta(after, before, f"{tokens}_sum", **labels) == count > 0


def test_the_gen_ai_histograms_use_the_conventions_bucket_boundaries(
    read, run_prefill, fake_openai
):
    run_prefill(fake_openai, Behaviour.success())
    after = read()
    duration_edges = {
        float(dict(labels)["le"])
        for name, labels in after.samples
        if name == "gen_ai_client_operation_duration_seconds_bucket"
    }
    token_edges = {
        float(dict(labels)["le"])
        for name, labels in after.samples
        if name == "gen_ai_client_token_usage_bucket"
    }
    assert sorted(duration_edges)[:3] == [0.01, 0.02, 0.04] and 81.92 in duration_edges
    assert sorted(token_edges)[:3] == [1, 4, 16] and 67108864 in token_edges


def test_a_retried_run_has_one_observation_per_call_and_counts_once_finished(
    read, run_prefill, fake_openai
):
    before = read()
    run = run_prefill(fake_openai, Behaviour.rate_limited(), Behaviour.success())
    after = read()

    assert run.status == "succeeded" and run.attempts == 2
    duration = "gen_ai_client_operation_duration_seconds_count"
    assert _delta(after, before, duration, **CHAT_OPENAI, error_type="rate_limited") == 1
    assert _delta(after, before, duration, **CHAT_OPENAI, error_type="") == 1
    finished = "trova_prefill_runs_finished_total"
    labels = {"trova_prompt_version": run.prompt_version.label, "trova_arm": "production"}
    assert _delta(after, before, finished, status="succeeded", error_type="", **labels) == 1
    assert after.total(finished) - before.total(finished) == 1


def test_a_failed_run_counts_by_error_type_and_as_no_usable_draft(read, run_prefill, fake_openai):
    before = read()
    run = run_prefill(fake_openai, Behaviour.bad_request())
    after = read()

    assert run.status == "failed" and run.error_type == "bad_request"
    labels = {"trova_prompt_version": run.prompt_version.label, "trova_arm": "production"}
    finished = "trova_prefill_runs_finished_total"
    assert _delta(after, before, finished, status="failed", error_type="bad_request", **labels) == 1
    assert _delta(after, before, "trova_prefill_no_usable_draft_total", **labels) == 1
    no_cost = _delta(after, before, "trova_prefill_cost_usd_total", **_cost_labels(labels))
    assert no_cost == 0
    upload_to_draft = "trova_prefill_upload_to_draft_seconds_count"
    assert _delta(after, before, upload_to_draft) == 0  # no draft, so no upload-to-draft time


def _cost_labels(run_labels: dict) -> dict:
    return {"gen_ai_provider_name": "openai", "gen_ai_request_model": MODEL, **run_labels}


def test_a_succeeded_run_whose_draft_is_all_empty_is_no_usable_draft(read, seller):
    """The schema requires category and condition, so a provider cannot give this today; a run
    stored by an older schema can, and ai_prefill.outcomes counts it: so do the metrics."""
    run = start_run(seller)
    empty = dict.fromkeys(("title", "description", "category", "condition"), "")
    PrefillRun.objects.filter(pk=run.pk).update(
        status="succeeded", draft=empty, finished_at=timezone.now()
    )
    before = read()
    prefill_signals.send(prefill_signals.prefill_runs_finished, run_ids=[run.pk])
    after = read()
    labels = {"trova_prompt_version": run.prompt_version.label, "trova_arm": "production"}
    assert _delta(after, before, "trova_prefill_no_usable_draft_total", **labels) == 1
    finished = {"status": "succeeded", "error_type": "", **labels}
    assert _delta(after, before, "trova_prefill_runs_finished_total", **finished) == 1


def test_cost_queue_wait_and_upload_to_draft_come_from_the_finished_run(
    read, run_prefill, fake_openai
):
    before = read()
    run = run_prefill(fake_openai, Behaviour.success())
    after = read()

    labels = {"trova_prompt_version": run.prompt_version.label, "trova_arm": "production"}
    cost = _delta(after, before, "trova_prefill_cost_usd_total", **_cost_labels(labels))
    assert cost == pytest.approx(float(run.cost_usd)) and run.cost_usd > 0
    wait = "trova_prefill_queue_wait_seconds"
    assert _delta(after, before, f"{wait}_count") == 1
    assert _delta(after, before, f"{wait}_sum") == pytest.approx(
        (run.started_at - run.created_at).total_seconds()
    )
    draft = "trova_prefill_upload_to_draft_seconds"
    assert _delta(after, before, f"{draft}_count") == 1
    assert _delta(after, before, f"{draft}_sum") == pytest.approx(
        (run.finished_at - run.created_at).total_seconds()
    )


def test_runs_failed_in_bulk_are_counted_and_have_no_queue_wait(
    read, seller, settings, django_capture_on_commit_callbacks
):
    settings.AI_RUN_STALE_AFTER_SECONDS = 60
    runs = [start_run(seller) for _ in range(3)]  # queued: on_commit never ran their task
    PrefillRun.objects.filter(pk__in=[r.pk for r in runs]).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    before = read()
    with django_capture_on_commit_callbacks(execute=True):
        assert execution.prefill_runs_fail_stale() == 3
    after = read()

    labels = {"trova_prompt_version": runs[0].prompt_version.label, "trova_arm": "production"}
    finished = "trova_prefill_runs_finished_total"
    failed = {"status": "failed", "error_type": "worker_unavailable", **labels}
    assert _delta(after, before, finished, **failed) == 3
    assert _delta(after, before, "trova_prefill_no_usable_draft_total", **labels) == 3
    assert _delta(after, before, "trova_prefill_queue_wait_seconds_count") == 0


def test_a_run_chosen_by_an_experiment_arm_carries_the_arm(
    read, seller, fake_openai, django_capture_on_commit_callbacks
):
    arm = ArmFactory(key="short-prompt", experiment__key="prompt-length")
    queued = start_run(seller)
    PrefillRun.objects.filter(pk=queued.pk).update(arm=arm)
    fake_openai.script(Behaviour.success())
    before = read()
    with django_capture_on_commit_callbacks(execute=True):
        execution.prefill_run_execute(run_id=queued.pk)
    after = read()

    finished = "trova_prefill_runs_finished_total"
    labels = {
        "status": "succeeded",
        "error_type": "",
        "trova_prompt_version": queued.prompt_version.label,
        "trova_arm": "prompt-length/short-prompt",
    }
    assert _delta(after, before, finished, **labels) == 1


def test_thumbs_are_counted_by_rating(read, seller, django_capture_on_commit_callbacks):
    run = start_run(seller)
    before = read()
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(run=run, user=seller, rating="down")
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(run=run, user=seller, rating="up")  # changed its mind: counted again
    after = read()
    assert _delta(after, before, "trova_prefill_ratings_total", rating="down") == 1
    assert _delta(after, before, "trova_prefill_ratings_total", rating="up") == 1


def test_http_requests_are_counted_by_view_name_never_by_path(read, client):
    before = read()
    assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page-12345/").status_code == 404
    after = read()

    ok = {"view": "healthz", "method": "GET", "status": "200"}
    assert _delta(after, before, "trova_http_requests_total", **ok) == 1
    missing = {"view": "<unresolved>", "method": "GET", "status": "404"}
    assert _delta(after, before, "trova_http_requests_total", **missing) == 1
    assert _delta(after, before, "trova_http_request_duration_seconds_count", view="healthz") == 1
    assert "no-such-page" not in after.text


def test_the_eval_gate_of_the_latest_production_eval_run(read, settings):
    production = production_config()
    key = eval_config_for(
        prompt_version=production.prompt_version,
        provider=production.provider,
        model=production.model,
    ).config_key
    assert not read().has_family("trova_eval_gate_passed")  # never evaluated: absent

    def eval_run(*, config_key, passed, minutes_ago):
        made = EvalRun.objects.create(
            prompt_version=production.prompt_version,
            provider=production.provider,
            model=production.model,
            config_key=config_key,
            dataset_version="d1",
            status=EvalRun.Status.COMPLETED,
            gate_passed=passed,
            cost_usd=Decimal("0"),
            finished_at=timezone.now(),
        )
        EvalRun.objects.filter(pk=made.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )

    eval_run(config_key=key, passed=True, minutes_ago=10)
    labels = {
        "trova_prompt_version": production.prompt_version.label,
        "gen_ai_provider_name": production.provider,
        "gen_ai_request_model": production.model,
    }
    assert read().value("trova_eval_gate_passed", **labels) == 1
    eval_run(config_key="another-config", passed=False, minutes_ago=1)  # not production's
    assert read().value("trova_eval_gate_passed", **labels) == 1
    eval_run(config_key=key, passed=False, minutes_ago=5)  # production's newest: it failed
    after = read()
    assert after.has("trova_eval_gate_passed", **labels)
    assert after.value("trova_eval_gate_passed", **labels) == 0


def test_the_cost_budget_is_the_admin_rules_threshold_else_the_setting(read, settings):
    settings.ALERT_DAILY_COST_BUDGET_USD = 12.5
    rule = AlertRule.objects.get(key=COST_TODAY_RULE_KEY)  # shipped by the migration
    rule.threshold = 30.0
    alert_rule_save(rule=rule)
    assert read().value("trova_prefill_cost_budget_usd") == 30.0, "the rule staff edited"
    AlertRule.objects.filter(key=COST_TODAY_RULE_KEY).delete()
    assert read().value("trova_prefill_cost_budget_usd") == 12.5


def test_no_queue_length_when_tasks_run_in_process(read, settings):
    settings.REDIS_URL = ""
    assert not read().has_family("trova_celery_queue_length")
