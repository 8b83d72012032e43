"""Every scripted provider behaviour ends in the right run status and error type.

The real openai SDK talks to a local server that speaks the OpenAI protocol (tests/fake_openai.py),
through the real service and Celery task (in-process here; tests marked integration use a real
worker). Both API styles: Responses (OpenAI) and Chat Completions (compatible servers).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from tests.fake_openai import DEFAULT_DRAFT, Behaviour

pytestmark = pytest.mark.django_db

API_STYLES = ["responses", "chat"]


@pytest.fixture(params=API_STYLES)
def ai(request, fake_openai, settings, django_capture_on_commit_callbacks):
    """run(*behaviours) -> the finished PrefillRun, for each API style."""
    settings.OPENAI_API_STYLE = request.param
    settings.AI_REQUEST_TIMEOUT_SECONDS = 1.0
    settings.AI_MAX_ATTEMPTS = 3

    def run(user, *behaviours, default=None):
        fake_openai.script(*behaviours)
        if default is not None:
            fake_openai.default = default
        with django_capture_on_commit_callbacks(execute=True):
            started = start_run(user)
        return PrefillRun.objects.get(pk=started.pk)

    run.style = request.param
    run.server = fake_openai
    return run


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch):
    # In-process retries run at once (eager Celery ignores countdowns); keep Retry-After small.
    monkeypatch.setattr("ai_prefill.execution.random.uniform", lambda a, b: 0.0)


def test_success_stores_draft_usage_cost_and_timings(ai, seller):
    run = ai(seller, Behaviour.success())
    assert run.status == "succeeded" and run.error_type == ""
    assert run.draft == DEFAULT_DRAFT
    assert run.attempts == 1
    assert run.input_tokens > 0 and run.output_tokens > 0
    assert run.cost_usd > Decimal("0")
    assert run.provider_latency_ms is not None and run.finished_at >= run.started_at
    assert run.raw_response and run.image_bytes_sent > 0
    assert list(run.attempt_log.values_list("outcome", flat=True)) == ["ok"]


def test_rate_limited_then_success_retries(ai, seller):
    run = ai(seller, Behaviour.rate_limited(retry_after=0), Behaviour.success())
    assert run.status == "succeeded" and run.attempts == 2
    assert list(run.attempt_log.values_list("outcome", "http_status")) == [
        ("rate_limited", 429),
        ("ok", 200),
    ]
    assert ai.server.counts[_path(ai.style)] == 2


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        ({"retry-after-ms": "1500"}, 1.5),  # OpenAI's own header, alone
        ({"retry-after-ms": "2500", "retry-after": "1"}, 2.5),  # the precise one wins
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "soon"}, 0.0),  # unreadable: plain backoff (jitter is 0 here)
    ],
)
def test_a_429_waits_as_long_as_the_provider_asks(ai, seller, headers, expected_wait):
    ai.server.script(Behaviour.rate_limited(headers=headers))
    run = start_run(seller)  # queued: its task is not run, the service is called directly
    outcome = prefill_run_execute(run_id=run.pk)
    assert outcome.status == "queued"
    assert outcome.retry_in == pytest.approx(expected_wait)


def test_a_429_with_an_http_date_waits_until_then(ai, seller):
    then = datetime.now(UTC) + timedelta(seconds=30)
    ai.server.script(Behaviour.rate_limited(headers={"retry-after": format_datetime(then, True)}))
    outcome = prefill_run_execute(run_id=start_run(seller).pk)
    assert 27 <= outcome.retry_in <= 30


def test_repeated_5xx_fails_after_the_attempt_limit(ai, seller):
    run = ai(seller, default=Behaviour.server_error(503))
    assert run.status == "failed" and run.error_type == "server_error"
    assert run.attempts == 3
    assert "503" in run.error_message
    assert run.attempt_log.count() == 3 and run.finished_at is not None


def test_timeout_is_transient_and_recorded(ai, seller):
    run = ai(seller, Behaviour.hang(5), Behaviour.success())
    assert run.status == "succeeded" and run.attempts == 2
    assert run.attempt_log.first().outcome == "timeout"


def test_connection_reset_is_transient(ai, seller):
    run = ai(seller, Behaviour.connection_reset(), Behaviour.success())
    assert run.status == "succeeded"
    assert run.attempt_log.first().outcome == "connection"


@pytest.mark.parametrize(
    ("behaviour", "error_type"),
    [
        (Behaviour.refusal("I can't help with that."), "refusal"),
        (Behaviour.truncated_json(), "invalid_json"),
        (Behaviour.incomplete("max_output_tokens"), "incomplete"),
        (Behaviour.incomplete("max_output_tokens", partial=False), "incomplete"),
        (Behaviour.invalid_enum(), "schema"),
        (Behaviour.bad_request(400), "bad_request"),
        (Behaviour.bad_request(401), "auth"),
    ],
    ids=["refusal", "truncated", "incomplete", "incomplete-empty", "enum", "400", "401"],
)
def test_permanent_errors_fail_at_once_with_a_typed_error(ai, seller, behaviour, error_type):
    run = ai(seller, behaviour, default=Behaviour.success())
    assert run.status == "failed"
    assert run.error_type == error_type
    assert run.attempts == 1, "permanent errors are never retried"
    assert run.error_message
    assert run.raw_response is not None, "the provider's answer is kept for inspection"
    assert run.draft is None


def test_refusal_message_is_kept(ai, seller):
    run = ai(seller, Behaviour.refusal("Not a sellable item."))
    assert "Not a sellable item." in run.error_message


def test_seller_finishes_by_hand_after_a_failure(ai, seller, client_for):
    run = ai(seller, Behaviour.refusal())
    response = client_for(seller).post(
        "/sell/",
        {
            "prefill_run": str(run.pk), "title": "Handmade title", "description": "By hand.",
            "category": "bikes", "condition": "good", "price_eur": "90",
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert run.listing.title == "Handmade title"


def _path(style: str) -> str:
    return "/v1/responses" if style == "responses" else "/v1/chat/completions"
