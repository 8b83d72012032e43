"""A worker host's own GET /metrics, served by the Celery worker's main process.

On one host the web's /metrics merges the workers' folders too (METRICS_SCRAPE_DIRS on a shared
volume). A host that runs only workers has no web: with WORKER_METRICS_PORT and
METRICS_BEARER_TOKEN set, the worker's parent serves the folders of its processes (its own
PROMETHEUS_MULTIPROC_DIR plus METRICS_SCRAPE_DIRS) from a daemon thread, with the web's bearer
check and the web's merge of multiprocess files. Not the scrape-time collectors (database and
broker facts): the web serves those, and a copy from every worker host would count them twice.

The standard library's http.server is enough for one scraper every few seconds. A port that
cannot be bound is logged and the worker runs on: metrics are not worth a dead worker.
"""

import logging
import os
import socketserver
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from .metrics_exposition import CONTENT_TYPE, multiproc_render
from .metrics_views import BEARER_CHALLENGE, bearer_token_matches

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
_TEXT = "text/plain; charset=utf-8"


class WorkerMetricsServer(ThreadingHTTPServer):
    """GET /metrics with the bearer token: the merged numbers of `folders`."""

    daemon_threads = True  # a scrape in flight never holds up the worker's exit

    def __init__(self, address: tuple[str, int], *, token: str, folders: tuple[str, ...]):
        if not token or not folders:
            raise ValueError("A worker metrics server needs a token and at least one folder.")
        super().__init__(address, _MetricsHandler)
        self.token, self.folders = token, folders
        # One merger per process (metrics_exposition._merger) keeps an index of the files it
        # read; two scrapes at once would update it together.
        self._render_lock = threading.Lock()

    def server_bind(self):
        # HTTPServer's own also looks this host's name up (a DNS query that can hang the
        # worker's start where DNS is slow) only to fill server_name, which nothing here reads.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def render(self) -> bytes:
        with self._render_lock:
            return multiproc_render(self.folders)


class _MetricsHandler(BaseHTTPRequestHandler):
    server: WorkerMetricsServer

    def do_GET(self):
        if self.path.split("?", 1)[0] != METRICS_PATH:
            self._answer(HTTPStatus.NOT_FOUND, b"Not found.\n")
        elif not bearer_token_matches(self.headers.get("Authorization", ""), self.server.token):
            challenge = {"WWW-Authenticate": BEARER_CHALLENGE}
            self._answer(HTTPStatus.UNAUTHORIZED, b"A valid bearer token is required.\n", challenge)
        else:
            self._answer_metrics()

    def _answer_metrics(self) -> None:
        try:
            body = self.server.render()
        except Exception:  # a broken file must not kill the thread; the scrape shows it failed
            logger.exception("worker metrics: the scrape could not be rendered")
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, b"The metrics could not be read.\n")
            return
        self._answer(HTTPStatus.OK, body, {"Cache-Control": "no-cache"}, content_type=CONTENT_TYPE)

    def _answer(self, status, body: bytes, headers=None, *, content_type: str = _TEXT) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        # A scrape every 15 s would fill the worker's log with access lines; keep them at debug.
        logger.debug("worker metrics: %s " + format, self.address_string(), *args)


def worker_metrics_server_start(
    *, bind: str, port: int, token: str, folders: tuple[str, ...]
) -> WorkerMetricsServer | None:
    """Serve in a daemon thread; None, with an error logged, when the port cannot be bound."""
    try:
        server = WorkerMetricsServer((bind, port), token=token, folders=folders)
    except (OSError, OverflowError):  # taken, not an address of this host, or not a port
        logger.exception("worker metrics: cannot listen on %s:%s; the worker runs on", bind, port)
        return None
    thread = threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True)
    thread.start()
    logger.info("worker metrics: /metrics on %s:%s for %s", bind, port, ", ".join(folders))
    return server


def worker_metrics_server_stop(server: WorkerMetricsServer) -> None:
    server.shutdown()  # waits for serve_forever to return
    server.server_close()


def worker_metrics_folders() -> tuple[str, ...]:
    """The worker's own folder, then METRICS_SCRAPE_DIRS (which by default is that folder)."""
    folders = [settings.PROMETHEUS_MULTIPROC_DIR, *settings.METRICS_SCRAPE_DIRS]
    return tuple(dict.fromkeys(folder for folder in folders if folder))


# --- The worker's parent ------------------------------------------------------------------------

_running: WorkerMetricsServer | None = None


@worker_ready.connect(dispatch_uid="monitoring.metrics.worker_server_start")
def _worker_ready(**kwargs):
    """The parent, once its pool has started: worker_ready is sent by the main process only."""
    global _running
    if settings.WORKER_METRICS_PORT is None or _running is not None:
        return
    if not settings.METRICS_BEARER_TOKEN:
        logger.error("worker metrics: WORKER_METRICS_PORT is set without METRICS_BEARER_TOKEN")
        return
    folders = worker_metrics_folders()
    if not folders:  # prefork children count in their own memory: nothing the parent could read
        logger.error("worker metrics: WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR")
        return
    _running = worker_metrics_server_start(
        bind=settings.WORKER_METRICS_BIND,
        port=settings.WORKER_METRICS_PORT,
        token=settings.METRICS_BEARER_TOKEN,
        folders=folders,
    )


@worker_shutdown.connect(dispatch_uid="monitoring.metrics.worker_server_stop")
def _worker_shutdown(**kwargs):
    global _running
    if _running is not None:
        worker_metrics_server_stop(_running)
        _running = None


def _forget_in_child() -> None:
    """A pool child forked later (a recycled one) must not keep the listening socket open: the
    port would stay taken after the parent closed it, until that child exits."""
    global _running
    if _running is not None:
        _running.socket.close()
        _running = None


os.register_at_fork(after_in_child=_forget_in_child)
