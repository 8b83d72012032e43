"""Every Prometheus metric Trova records in its processes, in one place (docs/monitoring.md
## Metrics lists them with their labels and the bound on their number of series).

Names: the OpenTelemetry GenAI semantic conventions rendered for Prometheus (dots become
underscores, the unit is appended: `gen_ai.client.operation.duration` in seconds is
`gen_ai_client_operation_duration_seconds`), and the project's own with a `trova_` prefix.
Labels never carry a user id: only values from small, known sets (status, error type, prompt
version label, experiment arm, provider, model, view name).

Metrics computed at scrape time from the database or Redis (eval gate, queue length, ...) are
collectors in monitoring/metrics_collectors.py, not here.
"""

from prometheus_client import Counter, Gauge, Histogram

from .metrics_multiprocess import multiproc_dir_from_env, multiproc_dir_prepare

# prometheus_client opens its value files as soon as a metric without labels is created, so the
# folder must exist before the definitions below.
multiproc_dir_prepare(multiproc_dir_from_env(), wipe=False)

# The bucket boundaries the GenAI conventions ask for ("SHOULD be specified with
# ExplicitBucketBoundaries"), https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
GEN_AI_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GEN_AI_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
# The alert thresholds (queue wait p95 5 s, upload-to-draft p95 8 s) are bucket edges, so
# histogram_quantile compares them without interpolating inside a bucket.
QUEUE_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300)
UPLOAD_TO_DRAFT_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 60, 120)
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

GEN_AI_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
)
RUN_LABELS = ("trova_prompt_version", "trova_arm")

gen_ai_operation_duration = Histogram(
    "gen_ai_client_operation_duration_seconds",
    "GenAI operation duration: one pre-fill provider call (OpenTelemetry GenAI conventions).",
    (*GEN_AI_LABELS, "error_type"),
    buckets=GEN_AI_DURATION_BUCKETS,
)
gen_ai_token_usage = Histogram(
    "gen_ai_client_token_usage",
    "Number of input and output tokens used per provider call (OpenTelemetry GenAI conventions).",
    (*GEN_AI_LABELS, "gen_ai_token_type"),
    buckets=GEN_AI_TOKEN_BUCKETS,
)

prefill_runs_finished = Counter(
    "trova_prefill_runs_finished",
    "Pre-fill runs that reached a final status, by status and error type ('' when succeeded).",
    ("status", "error_type", *RUN_LABELS),
)
prefill_no_usable_draft = Counter(
    "trova_prefill_no_usable_draft",
    "Finished runs that gave the seller no usable draft (failed, or every field empty).",
    RUN_LABELS,
)
prefill_queue_wait = Histogram(
    "trova_prefill_queue_wait_seconds",
    "From upload to the first claim by a worker, for finished runs a worker started.",
    buckets=QUEUE_WAIT_BUCKETS,
)
prefill_upload_to_draft = Histogram(
    "trova_prefill_upload_to_draft_seconds",
    "From upload to the draft being stored, for succeeded runs.",
    buckets=UPLOAD_TO_DRAFT_BUCKETS,
)
prefill_cost = Counter(
    "trova_prefill_cost_usd",
    "Estimated provider cost of finished runs, in US dollars.",
    ("gen_ai_provider_name", "gen_ai_request_model", *RUN_LABELS),
)
prefill_ratings = Counter(
    "trova_prefill_ratings",
    "Thumbs given by sellers on a suggestion (a changed rating counts again).",
    ("rating",),
)

http_requests = Counter(
    "trova_http_requests",
    "HTTP requests answered, by view (URL pattern name, never the path), method and status.",
    ("view", "method", "status"),
)
http_request_duration = Histogram(
    "trova_http_request_duration_seconds",
    "Time to answer an HTTP request, by view.",
    ("view",),
    buckets=HTTP_DURATION_BUCKETS,
)
# Live gauges: "livesum" adds the processes that are running now; an exited process's value
# is dropped with its file (mark_process_dead), so a worker killed mid-request is not counted
# as busy forever.
http_requests_in_progress = Gauge(
    "trova_http_requests_in_progress",
    "HTTP requests being answered now, over every web process.",
    multiprocess_mode="livesum",
)
celery_tasks_in_progress = Gauge(
    "trova_celery_tasks_in_progress",
    "Celery tasks running now, over every worker process.",
    multiprocess_mode="livesum",
)
