"""The fake OpenAI server against the REAL openai SDK, for both the Responses and Chat APIs.

These tests pin down what the SDK raises or returns for each way a model call can go wrong; the
table in tests/fake_openai.py's docstring summarises them. If an SDK upgrade changes one, this file
says which.
"""

import concurrent.futures
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import openai
import pydantic
import pytest

from marketplace.taxonomy import Category, Condition
from tests.fake_openai import CATEGORIES, CONDITIONS, DEFAULT_DRAFT, Behaviour, FakeOpenAI, Usage

IMAGE = "data:image/jpeg;base64,/9j/"


class Draft(pydantic.BaseModel):
    title: str
    description: str
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    condition: Literal[CONDITIONS]  # type: ignore[valid-type]
    brand: str | None
    color: str | None
    price_eur: float | None


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def client(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=2) as c:
        yield c


def call_responses(client, **kwargs):
    return client.responses.parse(
        model="gpt-test",
        instructions="Describe the item in the photo as a marketplace listing.",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": IMAGE, "detail": "low"},
                ],
            }
        ],
        text_format=Draft,
        store=False,
        **kwargs,
    )


def call_chat(client, **kwargs):
    return client.chat.completions.parse(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "Describe the item in the photo as a listing."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
                ],
            },
        ],
        response_format=Draft,
        **kwargs,
    )


APIS = {"responses": call_responses, "chat": call_chat}
api = pytest.mark.parametrize("call", APIS.values(), ids=APIS.keys())


def test_fake_taxonomy_matches_the_projects():
    assert tuple(Category.values) == CATEGORIES
    assert tuple(Condition.values) == CONDITIONS
    Draft.model_validate(DEFAULT_DRAFT)


# --- success --------------------------------------------------------------------------------------


def test_responses_success_parses_the_draft_and_usage(fake, client):
    draft = {**DEFAULT_DRAFT, "title": "Espresso machine", "category": "home-kitchen"}
    fake.script(Behaviour.success(draft=draft))

    response = call_responses(client)

    assert response.status == "completed"
    assert response.output_parsed == Draft(**draft)
    assert response.model == "gpt-test"
    assert response.id.startswith("resp_")
    usage = response.usage
    assert usage.input_tokens > 85  # the image's fixed cost plus the text and the schema
    assert usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_chat_success_parses_the_draft_and_usage(fake, client):
    fake.script(
        Behaviour.success(usage=Usage(input_tokens=120, output_tokens=40, cached_tokens=64))
    )

    completion = call_chat(client)

    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.parsed == Draft(**DEFAULT_DRAFT)
    assert completion.model == "gpt-test"
    assert completion.usage.prompt_tokens == 120
    assert completion.usage.completion_tokens == 40
    assert completion.usage.total_tokens == 160
    assert completion.usage.prompt_tokens_details.cached_tokens == 64


@api
def test_success_without_usage_parses(fake, client, call):
    fake.script(Behaviour.success(include_usage=False))
    assert call(client).usage is None


@api
def test_draft_may_echo_the_request(fake, client, call):
    fake.default = Behaviour.success(draft=lambda body: {**DEFAULT_DRAFT, "title": body["model"]})
    result = call(client, extra_body={"model": "echo-me"})
    parsed = (
        result.output_parsed
        if hasattr(result, "output_parsed")
        else result.choices[0].message.parsed
    )
    assert parsed.title == "echo-me"


# --- what the SDK sends ---------------------------------------------------------------------------


def test_responses_request_carries_image_store_false_and_strict_schema(fake, client):
    call_responses(client)

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == "Bearer test"
    body = request.body
    assert body["model"] == "gpt-test"
    assert body["store"] is False
    assert body["instructions"].startswith("Describe")
    image = body["input"][0]["content"][1]
    assert image == {"type": "input_image", "image_url": IMAGE, "detail": "low"}
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["name"] == "Draft"
    assert fmt["strict"] is True
    schema = fmt["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(DEFAULT_DRAFT)
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert schema["properties"]["condition"]["enum"] == list(CONDITIONS)
    assert fake.counts == {"/v1/responses": 1}


def test_chat_request_carries_image_and_strict_schema(fake, client):
    call_chat(client)

    (request,) = fake.requests
    assert request.path == "/v1/chat/completions"
    body = request.body
    assert body["messages"][1]["content"][1]["image_url"] == {"url": IMAGE, "detail": "low"}
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert fake.counts == {"/v1/chat/completions": 1}


# --- HTTP errors ----------------------------------------------------------------------------------


@api
def test_rate_limited_raises_rate_limit_error(fake, client, call):
    fake.script(Behaviour.rate_limited(retry_after=3))

    with pytest.raises(openai.RateLimitError) as caught:
        call(client)

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.code == "rate_limit_exceeded"


@api
def test_sdk_retry_honours_retry_after(fake, call):
    fake.script(Behaviour.rate_limited(retry_after=0.01), Behaviour.success())
    with fake.client(max_retries=1, timeout=2) as client:
        call(client)
    first, second = fake.requests
    assert second.headers["x-stainless-retry-count"] == "1"
    assert second.received_at - first.received_at < 0.4  # not the 0.5 s default backoff


@api
@pytest.mark.parametrize("status", [500, 503])
def test_server_error_raises_internal_server_error(fake, client, call, status):
    fake.script(Behaviour.server_error(status))

    with pytest.raises(openai.InternalServerError) as caught:
        call(client)

    assert caught.value.status_code == status
    assert caught.value.body["type"] == "server_error"


@api
@pytest.mark.parametrize(
    ("status", "error"),
    [(400, openai.BadRequestError), (401, openai.AuthenticationError)],
)
def test_client_errors_raise_their_status_error(fake, client, call, status, error):
    fake.script(Behaviour.bad_request(status))

    with pytest.raises(error) as caught:
        call(client)

    assert caught.value.status_code == status
    assert isinstance(caught.value, openai.APIStatusError)


# --- transport failures ---------------------------------------------------------------------------


@api
def test_hang_past_the_timeout_raises_api_timeout_error(fake, client, call):
    fake.script(Behaviour.hang(30))

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        call(client, timeout=0.3)

    assert time.monotonic() - started < 2


@api
def test_connection_reset_raises_connection_error_not_timeout(fake, client, call):
    fake.script(Behaviour.connection_reset())

    with pytest.raises(openai.APIConnectionError) as caught:
        call(client)

    assert type(caught.value) is openai.APIConnectionError
    # The next request gets a fresh connection and a normal answer.
    assert call(client) is not None


# --- answers that are not a usable draft ----------------------------------------------------------


def test_responses_refusal_has_no_parsed_output(fake, client):
    fake.script(Behaviour.refusal("I can't describe people."))

    response = call_responses(client)

    assert response.status == "completed"
    assert response.output_parsed is None
    refusal = response.output[0].content[0]
    assert refusal.type == "refusal"
    assert refusal.refusal == "I can't describe people."


def test_chat_refusal_sets_message_refusal(fake, client):
    fake.script(Behaviour.refusal("I can't describe people."))

    message = call_chat(client).choices[0].message

    assert message.refusal == "I can't describe people."
    assert message.parsed is None
    assert message.content is None


@api
def test_truncated_json_raises_pydantic_json_invalid(fake, client, call):
    fake.script(Behaviour.truncated_json())

    with pytest.raises(pydantic.ValidationError) as caught:
        call(client)

    assert [e["type"] for e in caught.value.errors()] == ["json_invalid"]
    assert not isinstance(caught.value, openai.OpenAIError)


@api
def test_invalid_enum_raises_pydantic_literal_error(fake, client, call):
    fake.script(Behaviour.invalid_enum())

    with pytest.raises(pydantic.ValidationError) as caught:
        call(client)

    errors = caught.value.errors()
    assert [(e["type"], e["loc"]) for e in errors] == [("literal_error", ("category",))]
    assert errors[0]["input"] == "spaceships"


def test_responses_incomplete_with_partial_text_raises_json_invalid(fake, client):
    fake.script(Behaviour.incomplete())

    with pytest.raises(pydantic.ValidationError) as caught:
        call_responses(client, max_output_tokens=16)

    assert [e["type"] for e in caught.value.errors()] == ["json_invalid"]


def test_responses_incomplete_without_text_returns_status_incomplete(fake, client):
    fake.script(Behaviour.incomplete(partial=False))

    response = call_responses(client)

    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_parsed is None


def test_chat_incomplete_raises_length_finish_reason_error(fake, client):
    fake.script(Behaviour.incomplete())

    with pytest.raises(openai.LengthFinishReasonError) as caught:
        call_chat(client, max_completion_tokens=16)

    assert not isinstance(caught.value, openai.APIError)
    assert caught.value.completion.choices[0].finish_reason == "length"
    assert caught.value.completion.usage.completion_tokens > 0


def test_chat_content_filter_raises_content_filter_error(fake, client):
    fake.script(Behaviour.incomplete("content_filter"))

    with pytest.raises(openai.ContentFilterFinishReasonError):
        call_chat(client)


def test_responses_content_filter_is_incomplete(fake, client):
    fake.script(Behaviour.incomplete("content_filter", partial=False))

    response = call_responses(client)

    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "content_filter"
    assert response.output_parsed is None


def test_responses_content_filter_with_partial_text_raises_json_invalid(fake, client):
    fake.script(Behaviour.incomplete("content_filter"))

    with pytest.raises(pydantic.ValidationError) as caught:
        call_responses(client)

    assert [e["type"] for e in caught.value.errors()] == ["json_invalid"]


# --- the server itself ----------------------------------------------------------------------------


def test_script_is_consumed_in_order_then_default(fake, client):
    fake.script(Behaviour.server_error(), Behaviour.rate_limited())
    fake.default = Behaviour.refusal("no")

    with pytest.raises(openai.InternalServerError):
        call_chat(client)
    with pytest.raises(openai.RateLimitError):
        call_responses(client)
    assert call_chat(client).choices[0].message.refusal == "no"
    assert call_chat(client).choices[0].message.refusal == "no"

    assert [r.behaviour for r in fake.requests] == [
        "server_error",
        "rate_limited",
        "refusal",
        "refusal",
    ]
    assert fake.counts == {"/v1/chat/completions": 3, "/v1/responses": 1}
    assert fake.pending == 0


def test_delayed_postpones_any_behaviour(fake, client):
    fake.script(Behaviour.rate_limited().delayed(0.2))

    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        call_chat(client)

    assert time.monotonic() - started >= 0.2


def test_unknown_path_is_404(fake, client):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="x", input="hi")
    assert fake.counts == {"/v1/embeddings": 1}


def test_latency_applies_to_every_answer_and_requests_run_concurrently():
    with FakeOpenAI(latency=0.3) as fake, fake.client(max_retries=0, timeout=5) as client:
        fake.script(*[Behaviour.rate_limited()] * 5)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            outcomes = list(pool.map(lambda _: _outcome(call_chat, client), range(30)))
        elapsed = time.monotonic() - started

    assert outcomes.count("RateLimitError") == 5
    assert outcomes.count("ok") == 25
    assert 0.3 <= elapsed < 1.5  # 30 answers of 0.3 s each, in parallel
    assert fake.max_in_flight >= 20
    arrivals = sorted(r.received_at for r in fake.requests)
    assert arrivals[-1] - arrivals[0] < 0.5


def _outcome(call, client):
    try:
        call(client)
    except openai.OpenAIError as err:
        return type(err).__name__
    return "ok"


def test_stop_returns_promptly_while_a_request_hangs_and_connections_idle():
    fake = FakeOpenAI().start()
    port = fake.port
    client = fake.client(max_retries=0, timeout=30)
    call_chat(client)  # leaves an idle keep-alive connection in the SDK's pool
    fake.script(Behaviour.hang(60))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        hanging = pool.submit(call_chat, client)
        assert fake.wait_for_requests(2)

        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 1.5
        with pytest.raises(openai.APIConnectionError):
            hanging.result(timeout=5)
    client.close()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_runs_as_its_own_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--latency", "0.05"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline().split()
        assert first_line[0] == "base_url"
        with openai.OpenAI(base_url=first_line[1], api_key="test", max_retries=0) as client:
            assert call_chat(client).choices[0].message.parsed == Draft(**DEFAULT_DRAFT)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert 'requests {"/v1/chat/completions": 1}' in stderr
