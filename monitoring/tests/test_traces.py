"""Each pre-fill provider call is one OpenTelemetry span with the GenAI attributes, read here
with the SDK's in-memory exporter; with no endpoint configured nothing is traced."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from monitoring import traces
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db

MODEL = "gpt-4.1-mini"


@pytest.fixture
def exported(settings):
    settings.AI_MODEL = MODEL
    settings.AI_RETRY_BACKOFF_MAX_SECONDS = 0
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = traces.tracer_provider_use(provider)
    yield exporter
    traces.tracer_provider_use(previous)


def _run(seller, fake_openai, capture, *behaviours) -> PrefillRun:
    fake_openai.script(*behaviours)
    with capture(execute=True):
        made = start_run(seller)
    return PrefillRun.objects.select_related("prompt_version").get(pk=made.pk)


def test_a_provider_call_is_a_span_with_gen_ai_attributes(
    exported, seller, fake_openai, django_capture_on_commit_callbacks
):
    run = _run(seller, fake_openai, django_capture_on_commit_callbacks, Behaviour.success())
    [span] = exported.get_finished_spans()
    [attempt] = run.attempt_log.all()

    assert span.name == f"chat {MODEL}"
    assert span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.usage.input_tokens"] == run.input_tokens > 0
    assert attributes["gen_ai.usage.output_tokens"] == run.output_tokens > 0
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.id"] == run.raw_response["id"]
    assert attributes["trova.prompt_version"] == run.prompt_version.label
    assert attributes["trova.arm"] == "production"
    assert attributes["trova.cost_usd"] == pytest.approx(float(run.cost_usd))
    assert "error.type" not in attributes
    assert span.status.status_code != StatusCode.ERROR
    # The call's own time, from the attempt row.
    started_us = round(attempt.started_at.timestamp() * 1e6)
    assert span.start_time == started_us * 1000
    assert span.end_time - span.start_time == attempt.latency_ms * 1_000_000


def test_a_failed_call_has_its_error_type_and_an_error_status(
    exported, seller, fake_openai, django_capture_on_commit_callbacks
):
    behaviours = (Behaviour.rate_limited(), Behaviour.success())
    _run(seller, fake_openai, django_capture_on_commit_callbacks, *behaviours)
    first, second = sorted(
        exported.get_finished_spans(), key=lambda s: s.attributes["trova.attempt"]
    )

    assert first.attributes["error.type"] == "rate_limited"
    assert first.status.status_code == StatusCode.ERROR
    assert "gen_ai.usage.input_tokens" not in first.attributes
    assert "error.type" not in second.attributes


def test_chat_completions_finish_reasons_are_read_from_the_choices():
    raw = {"choices": [{"finish_reason": "stop"}, {"finish_reason": "length"}]}
    assert traces.finish_reasons(raw) == ["stop", "length"]
    incomplete = {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}
    assert traces.finish_reasons(incomplete) == ["max_output_tokens"]


def test_without_an_endpoint_nothing_is_traced(
    settings, seller, fake_openai, django_capture_on_commit_callbacks
):
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""
    previous = traces.tracer_provider_use(None)
    try:
        _run(seller, fake_openai, django_capture_on_commit_callbacks, Behaviour.success())
        assert traces._tracer_provider() is None
    finally:
        traces.tracer_provider_use(previous)


class _OtlpCollector(ThreadingHTTPServer):
    """A local OTLP/HTTP receiver: keeps the protobuf bodies posted to /v1/traces."""

    def __init__(self):
        self.bodies: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                collector.bodies.append((self.path, self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_with_an_endpoint_the_span_is_sent_over_otlp_http(
    settings, seller, fake_openai, django_capture_on_commit_callbacks
):
    collector = _OtlpCollector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    settings.AI_MODEL = MODEL
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = f"http://127.0.0.1:{collector.server_port}/"
    previous = traces.tracer_provider_use(None)
    try:
        _run(seller, fake_openai, django_capture_on_commit_callbacks, Behaviour.success())
        traces.tracing_flush()
    finally:
        built = traces.tracer_provider_use(previous)
        if built is not None:
            built.shutdown()
        collector.shutdown()
    [(path, body)] = collector.bodies
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [span] = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert span.name == f"chat {MODEL}"
    service = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert service["service.name"] == "trova"
