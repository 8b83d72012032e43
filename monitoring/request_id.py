"""A request id for every web request: on its log lines, in its response, carried to its tasks.

Taken from an incoming X-Request-ID when it is a sane token (a proxy or load balancer in front
set it, so its logs and ours share the id); anything else (too long, odd characters that could
forge log lines or headers) is replaced by a fresh one. A client may choose its own id: the id
only labels log lines and runs, it is never trusted for anything else.
"""

import logging
import re
import time
import uuid

from marketplace.log_context import log_context_bound

from .health_views import PROBES

HEADER = "X-Request-ID"
SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}")

logger = logging.getLogger("monitoring.requests")


def request_id_for(header_value: str | None) -> str:
    """The incoming id when it is sane, else a new one (32 hex characters)."""
    if header_value and SANE.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE: every later middleware's and view's log line carries the id; one
    line per request at the end (INFO; health probes at DEBUG, they come every few seconds)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request.headers.get(HEADER))
        request.request_id = request_id
        started = time.perf_counter()
        with log_context_bound(request_id=request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            logger.log(
                logging.DEBUG if request.path_info in PROBES else logging.INFO,
                "%s %s %s",
                request.method,
                request.path_info,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path_info,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response
