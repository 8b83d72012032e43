"""From pre-fill facts (a provider call, finished runs, a rating) to metric observations.

Called by the receivers in monitoring/receivers_metrics.py; they only read rows, never write.
"""

from ai_prefill.models import PrefillAttempt, PrefillRun
from ai_prefill.outcomes import has_no_usable_draft

from . import metrics

# The GenAI conventions' gen_ai.operation.name for a chat completion, which is what both the
# Responses and the Chat Completions calls of the openai provider are (and what the offline
# baseline provider stands in for).
OPERATION_CHAT = "chat"
PRODUCTION_ARM = "production"
OK_OUTCOME = "ok"


def prompt_version_label(run: PrefillRun) -> str:
    """listing_draft@9951eb2c9b: a few values at a time (production and the running arms)."""
    return run.prompt_version.label if run.prompt_version_id else ""


def arm_label(run: PrefillRun) -> str:
    """The arm that chose the run's configuration as experiment/arm, or production."""
    if run.arm_id is None:
        return PRODUCTION_ARM
    return f"{run.arm.experiment.key}/{run.arm.key}"


def attempt_error_type(attempt: PrefillAttempt) -> str:
    """error.type of the call: "" when it succeeded, else the run's typed error."""
    return "" if attempt.outcome == OK_OUTCOME else attempt.outcome


def provider_call_record(*, run: PrefillRun, attempt: PrefillAttempt) -> None:
    """One provider call: its duration, and its tokens when the provider reported them."""
    labels = {
        "gen_ai_operation_name": OPERATION_CHAT,
        "gen_ai_provider_name": run.provider,
        "gen_ai_request_model": run.model,
    }
    metrics.gen_ai_operation_duration.labels(
        **labels, error_type=attempt_error_type(attempt)
    ).observe(attempt.latency_ms / 1000)
    for token_type, count in (("input", attempt.input_tokens), ("output", attempt.output_tokens)):
        if count is not None:
            metrics.gen_ai_token_usage.labels(**labels, gen_ai_token_type=token_type).observe(count)


def finished_runs(run_ids) -> list[PrefillRun]:
    """The runs a `prefill_runs_finished` signal names, with what their labels need."""
    return list(
        PrefillRun.objects.filter(pk__in=list(run_ids), status__in=PrefillRun.TERMINAL)
        .select_related("prompt_version", "arm__experiment")
        .only(
            "status",
            "error_type",
            "draft",
            "provider",
            "model",
            "cost_usd",
            "created_at",
            "started_at",
            "finished_at",
            "prompt_version__name",
            "prompt_version__content_hash",
            "arm__key",
            "arm__experiment__key",
        )
    )


def run_finished_record(run: PrefillRun) -> None:
    """A run reached its final status: outcome counters, waits and cost."""
    run_labels = {"trova_prompt_version": prompt_version_label(run), "trova_arm": arm_label(run)}
    metrics.prefill_runs_finished.labels(
        status=run.status, error_type=run.error_type or "", **run_labels
    ).inc()
    if has_no_usable_draft(status=run.status, draft=run.draft):
        metrics.prefill_no_usable_draft.labels(**run_labels).inc()
    if run.started_at is not None:
        metrics.prefill_queue_wait.observe(_seconds(run.created_at, run.started_at))
    if run.status == PrefillRun.Status.SUCCEEDED and run.finished_at is not None:
        metrics.prefill_upload_to_draft.observe(_seconds(run.created_at, run.finished_at))
    if run.cost_usd:
        metrics.prefill_cost.labels(
            gen_ai_provider_name=run.provider, gen_ai_request_model=run.model, **run_labels
        ).inc(float(run.cost_usd))


def rating_record(*, rating: str) -> None:
    metrics.prefill_ratings.labels(rating=rating).inc()


def _seconds(start, end) -> float:
    return max(0.0, (end - start).total_seconds())
