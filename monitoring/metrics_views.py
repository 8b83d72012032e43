"""GET /metrics for Prometheus, behind a bearer token (METRICS_BEARER_TOKEN).

No token configured: the address does not exist (404), so a deployment that did not ask for
metrics exposes nothing. A missing or wrong token: 401 with a Bearer challenge. The token is
compared in constant time (hmac.compare_digest).
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .metrics_exposition import CONTENT_TYPE, metrics_render

BEARER = "Bearer "
# The challenge of a 401, here and on a worker host's own /metrics (metrics_worker_server.py).
BEARER_CHALLENGE = 'Bearer realm="metrics"'


@never_cache
@require_GET
def metrics_view(request):
    expected = settings.METRICS_BEARER_TOKEN
    if not expected:
        raise Http404("Metrics are off (no METRICS_BEARER_TOKEN).")
    if not bearer_token_matches(request.headers.get("Authorization", ""), expected):
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = BEARER_CHALLENGE
        return response
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE)


def bearer_token_matches(header: str, expected: str) -> bool:
    """Does an Authorization header carry the expected bearer token? (constant time)"""
    given = header[len(BEARER) :] if header.startswith(BEARER) else ""
    return hmac.compare_digest(given.encode(), expected.encode())
