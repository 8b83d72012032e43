"""HTTP request counts and latency by view, for Prometheus. First in MIDDLEWARE, so the time
covers every other middleware and a response any of them gives is counted too."""

import time

from django.urls import Resolver404, resolve

from . import metrics

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A request no URL pattern matched (404s, redirects by a middleware): one label value, never
# the path, so scanners cannot add series.
UNRESOLVED = "<unresolved>"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        metrics.http_requests_in_progress.inc()
        try:
            response = self.get_response(request)
        finally:
            metrics.http_requests_in_progress.dec()
        view = view_label(request)
        metrics.http_request_duration.labels(view=view).observe(time.perf_counter() - started)
        metrics.http_requests.labels(
            view=view, method=method_label(request.method), status=str(response.status_code)
        ).inc()
        return response


def view_label(request) -> str:
    """The matched pattern's name (namespace:name), else its route, never the concrete path.

    A request a middleware answered before URL resolution (the health probes, an HTTPS redirect)
    has no match yet: its path is resolved here, so /healthz is "healthz" and not lumped with
    the 404s."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNRESOLVED
    return match.view_name or match.route or UNRESOLVED


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "other"
