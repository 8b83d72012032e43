"""Trova settings: every value is read here, once, from the environment.

The embedded default (no variables set) is a laptop demo: SQLite file, tasks run in-process,
console email. Production sets DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and
REDIS_URL; `manage.py check --deploy` then passes with no warnings.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from marketplace.storage_settings import media_origins, media_storages
from marketplace.task_queues import queue_declarations

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY in the environment (required when DEBUG is off).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First, so that its templates win over the contrib apps' of the same name: the admin's and
    # auth's registration/password_reset_* and logged_out (templates are found in app order).
    "marketplace",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "experiments",
    "ai_prefill",
    "feedback",
    "listings",
    "annotation",
    "monitoring",
]

MIDDLEWARE = [
    # First: counts and times every request, whatever a later middleware answers (/metrics).
    "monitoring.metrics_middleware.RequestMetricsMiddleware",
    # Next: every line logged while serving a request carries its id (monitoring/request_id.py).
    "monitoring.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "marketplace.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /healthz and /readyz, answered before CommonMiddleware checks the Host header: a container
    # probe asks 127.0.0.1, which production's ALLOWED_HOSTS does not list (health_views.py).
    "monitoring.health_views.HealthProbeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a login refused by the lockout into marketplace.accounts' page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.taxonomy",
                # `admin_banners` for admin/base_site.html: what fires now (monitoring alerts).
                "monitoring.alert_banner.admin_banners",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "marketplace.User"
# Axes' backend only refuses a locked-out login; ModelBackend then checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "listings:browse"
LOGOUT_REDIRECT_URL = "listings:browse"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Login lockout (django-axes): /accounts/login/, /admin/login/, POST /api/auth/token/ ----------
# Failures are counted per username and, separately, per client address: either reaching the
# limit within the cool-off refuses even the right password (429 with a sentence) until the
# cool-off has passed since the last try. Attempts are rows in the database (admin: Axes).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A try during the lockout starts the cool-off again, so "try again in N minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# A success must not wipe the failures: it would also wipe those against other accounts from
# the same address, so an attacker with one account could guess on forever.
AXES_RESET_ON_SUCCESS = False
# Failures are what the lockout needs; a row per successful login (address, browser) is not.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "marketplace.accounts.login_lockout_page"
AXES_CLIENT_IP_CALLABLE = "marketplace.accounts.client_ip"
# How many reverse proxies in front of the app append the client's address to X-Forwarded-For
# (nginx: `proxy_add_x_forwarded_for`). 0: the header is ignored and the connection's address
# counts, which is right when gunicorn faces the clients; behind a proxy that would count every
# client as the proxy, and a wrong count lets a client choose the address it is locked by.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Static and media --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end libraries come from npm (package.json, `npm ci`), never from a CDN; served as
# {% static "vendor/chartjs/chart.umd.min.js" %}.
STATICFILES_DIRS = [("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist")]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Media on S3-compatible object storage (AWS S3, MinIO, ...), so web and workers on several
# hosts share no disk. Setting the bucket is the one switch (docs/deploying.md: the buckets and
# their public-read policy); unset, MEDIA_ROOT and PRIVATE_MEDIA_ROOT hold the files.
# Keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by boto3 itself, or the host's role.
MEDIA_BUCKET = env.str("AWS_STORAGE_BUCKET_NAME", default="")
_media_where = {
    # Any S3-compatible server (MinIO, Ceph, R2, moto); unset: AWS.
    "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=""),
    "region": env.str("AWS_S3_REGION_NAME", default=""),
    # A public domain (a CDN) in front of the public media; the private files never use it.
    "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default=""),
}
# How long a signed URL to a private file stays valid. The site streams private files through
# its permission-checked views; a signed URL is only for code that asks storage.url().
PRIVATE_MEDIA_URL_EXPIRE_SECONDS = env.int("PRIVATE_MEDIA_URL_EXPIRE_SECONDS", default=300)
if MEDIA_BUCKET:
    _media_storages = media_storages(
        bucket=MEDIA_BUCKET,
        # Unset: the public media's bucket, under private/ (its policy opens media/ only).
        private_bucket=env.str("AWS_PRIVATE_STORAGE_BUCKET_NAME", default=""),
        signed_url_seconds=PRIVATE_MEDIA_URL_EXPIRE_SECONDS,
        **_media_where,
    )
    MEDIA_ORIGINS = media_origins(bucket=MEDIA_BUCKET, **_media_where)
else:
    _media_storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "private": {"BACKEND": "marketplace.storage.PrivateFileSystemStorage"},
    }
    MEDIA_ORIGINS = []
# Django serves /media/ itself in the embedded setup; behind a real web server set
# SERVE_MEDIA=false and let that serve the files. With object storage there is nothing local
# to serve, so never.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG) and not MEDIA_BUCKET
STORAGES = {
    **_media_storages,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Photo intake (marketplace/photos.py) --------------------------------------------------------
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=15 * 1024 * 1024)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=50_000_000)
PHOTO_DISPLAY_MAX_SIDE = env.int("PHOTO_DISPLAY_MAX_SIDE", default=1600)
PHOTO_THUMBNAIL_MAX_SIDE = env.int("PHOTO_THUMBNAIL_MAX_SIDE", default=400)
# Uploads above this size go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- AI pre-fill (ai_prefill) ---------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
# Any OpenAI-compatible server (Ollama, vLLM, LM Studio) or a local test server; unset: OpenAI.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
# "responses" (OpenAI) or "chat" (Chat Completions, better supported by compatible servers).
OPENAI_API_STYLE = env.str("OPENAI_API_STYLE", default="responses")
# No key: the offline baseline, so a laptop demo never needs the network.
# Empty counts as unset: docker-compose passes `AI_PROVIDER: ${AI_PROVIDER:-}` when .env has none.
AI_PROVIDER = env.str("AI_PROVIDER", default="") or ("openai" if OPENAI_API_KEY else "baseline")
AI_MODEL = env.str("AI_MODEL", default="gpt-4.1-mini")
AI_PROMPT_NAME = env.str("AI_PROMPT_NAME", default="listing_draft")
# One provider call; Celery owns the retries (the SDK's are off), so the task's time limits
# below are this plus a margin and the whole budget adds up.
AI_REQUEST_TIMEOUT_SECONDS = env.float("AI_REQUEST_TIMEOUT_SECONDS", default=20.0)
AI_MAX_ATTEMPTS = env.int("AI_MAX_ATTEMPTS", default=4)
AI_RETRY_BACKOFF_MAX_SECONDS = env.int("AI_RETRY_BACKOFF_MAX_SECONDS", default=30)
AI_TASK_SOFT_TIME_LIMIT = env.int(
    "AI_TASK_SOFT_TIME_LIMIT", default=int(AI_REQUEST_TIMEOUT_SECONDS) + 10
)
AI_TASK_TIME_LIMIT = env.int("AI_TASK_TIME_LIMIT", default=AI_TASK_SOFT_TIME_LIMIT + 10)
# How long the Sell page waits for a draft before handing the seller the empty form.
AI_PREFILL_BUDGET_SECONDS = env.float("AI_PREFILL_BUDGET_SECONDS", default=15.0)
# A run stuck queued or running this long (a lost message, a dead worker) is failed by the reaper,
# or by the seller's next poll when no worker or beat is up.
AI_RUN_STALE_AFTER_SECONDS = env.int("AI_RUN_STALE_AFTER_SECONDS", default=600)
# How often beat runs the reaper, which also re-dispatches a dead worker's run once its lease is
# over: that run is taken up again within lease + this + one delivery.
AI_RUN_REAP_EVERY_SECONDS = env.float("AI_RUN_REAP_EVERY_SECONDS", default=30.0)
# Per-seller limits: every call costs money.
AI_PREFILL_BURST_RATE = env.str("AI_PREFILL_BURST_RATE", default="10/min")
AI_PREFILL_DAILY_QUOTA = env.int("AI_PREFILL_DAILY_QUOTA", default=100)
# Image sent to the model: longest side in pixels and JPEG quality (512 suits detail "low").
AI_IMAGE_MAX_SIDE = env.int("AI_IMAGE_MAX_SIDE", default=512)
AI_IMAGE_JPEG_QUALITY = env.int("AI_IMAGE_JPEG_QUALITY", default=80)
# USD per million tokens (input, output), from the providers' price pages; update with them.
AI_PRICES_USD_PER_MILLION = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}
# Uploaded photos of pre-fill runs are private (owner and staff): stored outside MEDIA_ROOT.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "private-media")))

# --- Seller feedback (feedback) ------------------------------------------------------------------
# A run with no listing this long after it started counts as abandoned.
FEEDBACK_ABANDON_AFTER_HOURS = env.int("FEEDBACK_ABANDON_AFTER_HOURS", default=24)
# Monitoring rollups: how far back the every-minute refresh re-derives the minute buckets.
MONITORING_ROLLUP_LOOKBACK_MINUTES = env.int("MONITORING_ROLLUP_LOOKBACK_MINUTES", default=15)
# Edits of a listing this long after publishing still count as corrections of the suggestion.
# Opening the Sell form again within this goes on with the same sell session (a reload is not a
# new start, nor an abandonment of the first).
FEEDBACK_SELL_SESSION_RESUME_MINUTES = env.int("FEEDBACK_SELL_SESSION_RESUME_MINUTES", default=30)
FEEDBACK_LATE_CORRECTION_HOURS = env.int("FEEDBACK_LATE_CORRECTION_HOURS", default=72)

# --- Monitoring alerts (monitoring/alert_*.py, docs/monitoring.md ## Alerts) --------------------
# A Slack-compatible incoming webhook (POST {"text": ...}); unset: email only.
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Emailed besides the staff holding monitoring.receive_alert_notifications (e.g. an on-call list).
ALERT_EMAIL_RECIPIENTS = env.list("ALERT_EMAIL_RECIPIENTS", default=[])
# The threshold the shipped "cost today" rule starts with (staff may change it in admin).
ALERT_DAILY_COST_BUDGET_USD = env.float("ALERT_DAILY_COST_BUDGET_USD", default=20.0)
# A failed notification is tried again after 30 s, 60 s, 120 s, ... (at most an hour apart).
ALERT_NOTIFY_BACKOFF_SECONDS = env.int("ALERT_NOTIFY_BACKOFF_SECONDS", default=30)
ALERT_NOTIFY_BACKOFF_MAX_SECONDS = env.int("ALERT_NOTIFY_BACKOFF_MAX_SECONDS", default=3600)
ALERT_NOTIFY_MAX_ATTEMPTS = env.int("ALERT_NOTIFY_MAX_ATTEMPTS", default=10)

# --- Email ---------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Trova <no-reply@trova.example>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Celery and cache --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Must exceed the hard time limit and the longest retry countdown, or Redis redelivers a task
# that is still running (https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html).
# 300 s: above the pre-fill task's hard limit plus its longest retry countdown (a lease wait or
# the backoff cap), yet a message held by a worker that died whole comes back within minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
    # A publish to a broker that is down fails within a second instead of retrying for ~6 s
    # (kombu's default): the task then waits in the outbox (marketplace/outbox.py) and the
    # request answers at once.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "socket_connect_timeout": 2,
}
# One queue per kind of task, named <prefix><kind> (prefill, evals, maintenance, email): a long
# eval run never waits in front of a seller's pre-fill (marketplace/task_queues.py). The prefix
# lets deployments (or test sessions) share one Redis without sharing queues.
CELERY_QUEUE_PREFIX = env.str("CELERY_QUEUE_PREFIX", default="")
CELERY_TASK_ROUTES = ("marketplace.task_queues.task_route",)
# Every kind's queue: what `celery worker` consumes without -Q (one host runs everything).
CELERY_TASK_QUEUES = queue_declarations(prefix=CELERY_QUEUE_PREFIX)
# An eval run queued by staff (ai_prefill.tasks.eval_run_process) runs the whole eval set in one
# task: its own limits, far above the default's; the soft one marks the run broken, with why.
EVAL_TASK_TIME_LIMIT = env.int("EVAL_TASK_TIME_LIMIT", default=3600)
EVAL_TASK_SOFT_TIME_LIMIT = EVAL_TASK_TIME_LIMIT - 60
# No REDIS_URL: run tasks in-process, and let their errors surface instead of vanishing.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_RETRY_ON_WORKER_LOST = True  # a killed child: the task runs again (bounded)
CELERY_BEAT_SCHEDULE = {
    # Publishes tasks the broker could not take when their transaction committed.
    "outbox-relay": {"task": "marketplace.tasks.outbox_relay_task", "schedule": 10.0},
    # Re-dispatches runs whose worker died (lease over) and fails runs nobody finished.
    "prefill-runs-reap": {
        "task": "ai_prefill.tasks.prefill_runs_reap_task",
        "schedule": AI_RUN_REAP_EVERY_SECONDS,
    },
    "annotation-sample": {
        "task": "annotation.tasks.runs_sample_for_annotation_task",
        "schedule": 3600.0,
    },
    "feedback-mark-abandoned": {
        "task": "feedback.tasks.outcomes_mark_abandoned_task",
        "schedule": 900.0,
    },
    # Pauses an experiment arm that breaches a guardrail (the issue: checked every minute).
    "experiment-guardrails-check": {
        "task": "feedback.tasks.experiment_guardrails_check_task",
        "schedule": 60.0,
    },
    # Re-derives the recent dashboard buckets: what a failed on-finish refresh missed, and the
    # thumbs, sell sessions and corrections, which send no signal (within a minute).
    "monitoring-rollups-refresh": {
        "task": "monitoring.tasks.rollups_refresh_recent_task",
        "schedule": 60.0,
    },
    # Judges the alert rules (the issue: every minute); "for" durations count in these steps.
    "alerts-evaluate": {"task": "monitoring.alert_tasks.alerts_evaluate_task", "schedule": 60.0},
    # Sends alert notifications whose backoff is over (the first retry waits 30 s).
    "alert-notifications-retry": {
        "task": "monitoring.alert_tasks.alert_notifications_retry_task",
        "schedule": 30.0,
    },
    # Yesterday's drift report (monitoring/drift_services.py): hourly rather than once at
    # midnight, so a missed beat is made up within the hour and the day is built again until
    # every run created in it has finished; a final report is not rebuilt.
    "monitoring-drift-report": {"task": "monitoring.tasks.drift_report_task", "schedule": 3600.0},
}

# beat's default scheduler (schedule in a local file) that also records beat's heartbeat, so
# readiness and beat's own health check tell "beat down" from "worker down"
# (monitoring/heartbeats.py).
CELERY_BEAT_SCHEDULER = "monitoring.heartbeat_sources:HeartbeatScheduler"

# Socket timeouts: a Redis that accepts and never answers fails a cache call (a throttle count,
# a heartbeat, the readiness probe) in a few seconds instead of hanging the request or the worker.
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=2.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Health and readiness (monitoring/readiness.py, /readyz) -------------------------------------
# Each check's bound: the database's statement timeout, Redis's socket timeouts.
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=1.0)
# A worker or beat heartbeat older than this (they record every 15 s) means it is down.
READINESS_HEARTBEAT_MAX_AGE_SECONDS = env.int("READINESS_HEARTBEAT_MAX_AGE_SECONDS", default=120)
# More tasks waiting than this: the workers do not keep up (64 slots each; a pre-fill takes ~2 s).
READINESS_QUEUE_MAX_LENGTH = env.int("READINESS_QUEUE_MAX_LENGTH", default=1000)
# Unapplied migrations are looked up at most this often per process (reading them costs ~100 ms).
READINESS_MIGRATIONS_CACHE_SECONDS = env.int("READINESS_MIGRATIONS_CACHE_SECONDS", default=30)

# --- Metrics and traces (monitoring/metrics*.py, monitoring/traces.py; docs/monitoring.md) -------
# /metrics answers only with this bearer token; unset: 404, metrics are off.
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
# Where this process's prometheus_client writes its values (multiprocess mode for gunicorn
# workers and prefork children); prometheus_client reads the same variable itself.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Folders a scrape merges: the web's own and the workers' (a volume both write to).
METRICS_SCRAPE_DIRS = env.list(
    "METRICS_SCRAPE_DIRS", default=[PROMETHEUS_MULTIPROC_DIR] if PROMETHEUS_MULTIPROC_DIR else []
)
# A worker host's own /metrics: the Celery worker's parent serves its folders on this port
# (monitoring/metrics_worker_server.py); unset: no port. All interfaces, so Prometheus on another
# host can reach it; the bearer token guards it.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=None)
WORKER_METRICS_BIND = env.str("WORKER_METRICS_BIND", default="0.0.0.0")  # noqa: S104
# Pre-fill provider calls as OpenTelemetry spans to this OTLP/HTTP endpoint; unset: no tracing.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: DRF answers an anonymous call with the first class's WWW-Authenticate challenge,
    # so a 401 (`Token`); with the session first it would be a 403 with no challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    "DEFAULT_SCHEMA_CLASS": "marketplace.api_schema.ApiAutoSchema",
    # One error shape for every error answer, and body limits that hold for JSON too
    # (marketplace/api.py, api_parsing.py).
    "EXCEPTION_HANDLER": "marketplace.api.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "marketplace.api_parsing.JSONParser",
        "marketplace.api_parsing.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "marketplace.api_parsing.ContentNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trova API",
    "DESCRIPTION": "Classifieds listings with AI pre-fill from a photo. Prices in EUR.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI comes from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A listing's status is read (Listing) and written (PATCH); one enum, named, for both.
    "ENUM_NAME_OVERRIDES": {"ListingStatusEnum": "listings.models.Listing.Status"},
}

# --- Security headers ----------------------------------------------------------------------------
# Content-Security-Policy (django-csp 4, https://django-csp.readthedocs.io/en/latest/configuration.html):
# scripts only from this site's own files, never inline (a template that needs one gives it
# nonce="{{ request.csp_nonce }}"); Swagger UI's start-up script is served as a file too
# (SpectacularSwaggerSplitView). Inline styles stay allowed: Django admin, django-simple-history
# and Swagger UI write style attributes, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        # data: for the icons in Swagger UI's and the admin's CSS; blob: for the Sell page's
        # preview of the chosen photo; the object storage's public media, when configured.
        "img-src": [SELF, "data:", "blob:", *MEDIA_ORIGINS],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Permissions-Policy: marketplace/middleware.py turns off the browser features no page uses.

# --- Production safety (manage.py check --deploy) -----------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Container health checks ask over plain HTTP from inside the container; Prometheus
    # scrapes inside the private network, over plain HTTP (the token still applies).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# "json": one JSON object a line (time, level, logger, message, request_id, run_id and task_id
# when known, exception), what a log collector parses; "text": one readable line, for a terminal.
# The web process, the worker and beat all log through this (monitoring/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "expected_refusal": {"()": "marketplace.log_filters.ExpectedRefusalWithoutTraceback"},
        "log_context": {"()": "monitoring.logs.LogContextFilter"},
    },
    "formatters": {
        "json": {"()": "monitoring.logs.JsonFormatter"},
        "text": {"()": "monitoring.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["log_context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # One INFO line per HTTP request from the SDK's client is noise; every call is in the
        # run log.
        **{name: {"level": "WARNING"} for name in ("httpx", "httpx2", "openai")},
        # Axes: a warning per failed login and per lockout; its INFO steps are noise.
        "axes": {"level": "WARNING"},
        # A 403 or 404 the site meant to give: one line, no traceback.
        "django.request": {"filters": ["expected_refusal"]},
    },
}
