"""/healthz (liveness) and /readyz (readiness), for docker-compose, load balancers and humans.

Liveness answers from the process alone, touching no database or Redis: a restart cannot cure a
dependency, so a down database must never make an orchestrator kill healthy web processes.
Readiness checks the dependencies (monitoring/readiness.py) and answers 503 when one fails.

HealthProbeMiddleware answers both before CommonMiddleware, which checks the Host header: a
container probe asks http://127.0.0.1:8000/readyz, and ALLOWED_HOSTS in production names the
site's domain, not 127.0.0.1. The plain-HTTP probe is also exempt from the HTTPS redirect
(SECURE_REDIRECT_EXEMPT). Nothing in these answers depends on the host asked for.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .readiness import FAIL, readiness_report


@never_cache
@require_GET
def healthz(request):
    """Liveness: this process runs and answers requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when every check passes or is skipped, 503 when one fails."""
    report = readiness_report()
    return JsonResponse(report, status=503 if report["status"] == FAIL else 200)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    """Serves the probes before host validation and sessions (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        return probe(request) if probe else self.get_response(request)
