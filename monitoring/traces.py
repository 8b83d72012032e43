"""Each pre-fill provider call as an OpenTelemetry span, for Langfuse, Phoenix, Jaeger or any
OTLP backend: sent only when OTEL_EXPORTER_OTLP_ENDPOINT is set (off by default: no exporter,
no thread, no cost).

The span follows the GenAI semantic conventions for an inference call
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): named
"{gen_ai.operation.name} {gen_ai.request.model}", kind CLIENT, with gen_ai.* attributes and the
project's trova.prompt_version, trova.arm and trova.cost_usd. It is written from the attempt row
after the call, with the call's own start and end (started_at, started_at + latency), so the
pre-fill code needs no tracing of its own.
"""

import threading
from datetime import UTC, datetime, timedelta

from django.conf import settings
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from ai_prefill.execution import estimate_cost_usd
from ai_prefill.models import PrefillAttempt, PrefillRun

from .metrics_record import OPERATION_CHAT, arm_label, attempt_error_type, prompt_version_label

TRACER_NAME = "trova.ai_prefill"
_lock = threading.Lock()
_provider: TracerProvider | None = None


def tracer_provider_use(provider: TracerProvider | None) -> TracerProvider | None:
    """Send spans to `provider` (tests: one with an in-memory exporter); returns the previous."""
    global _provider
    with _lock:
        previous, _provider = _provider, provider
    return previous


def _tracer_provider() -> TracerProvider | None:
    """This process's provider, built on first use: after a fork, so each gunicorn worker and
    prefork child has its own export thread. None when tracing is off."""
    global _provider
    if _provider is not None or not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return _provider
    # Imported here: the exporter pulls protobuf and requests, which no process needs while
    # tracing is off.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    with _lock:
        if _provider is None:
            endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
            provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "trova"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
            _provider = provider
    return _provider


def tracing_flush() -> None:
    """Export what is buffered (a prefork child about to exit)."""
    if _provider is not None:
        _provider.force_flush()


def provider_call_span(*, run: PrefillRun, attempt: PrefillAttempt) -> None:
    """Emit the span of one provider call, if tracing is on."""
    provider = _tracer_provider()
    if provider is None:
        return
    start = attempt.started_at
    end = start + timedelta(milliseconds=attempt.latency_ms)
    span = provider.get_tracer(TRACER_NAME).start_span(
        f"{OPERATION_CHAT} {run.model}",
        kind=SpanKind.CLIENT,
        start_time=_nanoseconds(start),
        attributes=span_attributes(run=run, attempt=attempt),
    )
    error_type = attempt_error_type(attempt)
    if error_type:
        span.set_status(Status(StatusCode.ERROR, attempt.error_message[:200]))
    span.end(end_time=_nanoseconds(end))


def span_attributes(*, run: PrefillRun, attempt: PrefillAttempt) -> dict:
    attributes = {
        "gen_ai.operation.name": OPERATION_CHAT,
        "gen_ai.provider.name": run.provider,
        "gen_ai.request.model": run.model,
        "trova.prompt_version": prompt_version_label(run),
        "trova.arm": arm_label(run),
        "trova.run_id": str(run.pk),
        "trova.attempt": attempt.number,
    }
    raw = attempt.raw_response if isinstance(attempt.raw_response, dict) else {}
    optional = {
        "gen_ai.response.id": raw.get("id"),
        "gen_ai.response.model": raw.get("model"),
        "gen_ai.usage.input_tokens": attempt.input_tokens,
        "gen_ai.usage.output_tokens": attempt.output_tokens,
        "gen_ai.response.finish_reasons": finish_reasons(raw) or None,
        "error.type": attempt_error_type(attempt) or None,
    }
    cost = estimate_cost_usd(run.model, attempt.input_tokens, attempt.output_tokens)
    if cost is not None:
        optional["trova.cost_usd"] = float(cost)
    attributes.update({key: value for key, value in optional.items() if value is not None})
    return attributes


def finish_reasons(raw: dict) -> list[str]:
    """Chat Completions: each choice's finish_reason. Responses has none: a completed response
    ended normally ("stop"), an incomplete one gives its reason (e.g. max_output_tokens)."""
    if "choices" in raw:
        return [c["finish_reason"] for c in raw["choices"] if c.get("finish_reason")]
    if raw.get("status") == "completed":
        return ["stop"]
    if raw.get("status") == "incomplete":
        return [(raw.get("incomplete_details") or {}).get("reason") or "incomplete"]
    return []


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanoseconds(moment) -> int:
    """Exact: a float timestamp would lose the microseconds' last digits."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
