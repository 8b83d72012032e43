"""A worker host's own /metrics server, in this process on a free local port: its answers to
paths and tokens, what it serves from its folders, and a port already taken."""

import logging
import socket
import urllib.error
import urllib.request

import pytest
from celery.signals import worker_ready, worker_shutdown
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from monitoring.metrics_worker_server import (
    worker_metrics_folders,
    worker_metrics_server_start,
    worker_metrics_server_stop,
)
from tests.outage import free_port

from .scrape import Scrape

TOKEN = "worker-metrics-token"


def get(url: str, header: str | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url)  # noqa: S310 - a local http URL we built
    if header is not None:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def folder(tmp_path):
    """A worker's folder holding one prefork child's count of a finished run."""
    values = MmapedDict(str(tmp_path / "counter_4242.db"))
    name, labels = "trova_prefill_runs_finished", ("status", "error_type")
    values.write_value(mmap_key(name, f"{name}_total", labels, ("succeeded", ""), "Runs."), 3, 0)
    values.close()
    return tmp_path


@pytest.fixture
def server(folder):
    running = worker_metrics_server_start(
        bind="127.0.0.1", port=0, token=TOKEN, folders=(str(folder),)
    )
    assert running is not None
    yield f"http://127.0.0.1:{running.server_address[1]}"
    worker_metrics_server_stop(running)


def test_the_right_token_gets_the_merged_numbers_of_the_folders(server):
    status, headers, body = get(f"{server}/metrics", f"Bearer {TOKEN}")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert Scrape(body).total("trova_prefill_runs_finished_total", status="succeeded") == 3
    # Shared state (database, broker) is the web's to serve, not every worker host's.
    assert "trova_eval_gate_passed" not in body and "trova_celery_queue_length" not in body


@pytest.mark.parametrize(
    "header", [None, "", "Bearer ", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, f"Token {TOKEN}"]
)
def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge(server, header):
    status, headers, body = get(f"{server}/metrics", header)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "trova_" not in body


@pytest.mark.parametrize("path", ["/", "/metricsx", "/metrics/", "/healthz"])
def test_any_other_path_is_404_even_with_the_token(server, path):
    status, _, body = get(f"{server}{path}", f"Bearer {TOKEN}")
    assert status == 404
    assert "trova_" not in body


def test_a_port_in_use_is_logged_and_no_server_starts(folder, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="monitoring.metrics_worker_server"):
            running = worker_metrics_server_start(
                bind="127.0.0.1", port=port, token=TOKEN, folders=(str(folder),)
            )
    assert running is None
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text


def test_the_folders_are_the_workers_own_then_the_scrape_dirs_once_each(settings):
    settings.PROMETHEUS_MULTIPROC_DIR = "/run/m/worker"
    settings.METRICS_SCRAPE_DIRS = ["/run/m/worker", "", "/run/m/other"]
    assert worker_metrics_folders() == ("/run/m/worker", "/run/m/other")
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    settings.METRICS_SCRAPE_DIRS = []
    assert worker_metrics_folders() == ()


def test_a_number_that_is_no_port_is_logged_and_no_server_starts(folder, caplog):
    with caplog.at_level(logging.ERROR, logger="monitoring.metrics_worker_server"):
        running = worker_metrics_server_start(
            bind="127.0.0.1", port=70000, token=TOKEN, folders=(str(folder),)
        )
    assert running is None
    assert "cannot listen on 127.0.0.1:70000" in caplog.text


def _refused(url: str) -> bool:
    try:
        get(url)
    except urllib.error.URLError as error:
        return isinstance(error.reason, ConnectionRefusedError)
    return False


@pytest.fixture
def worker_settings(settings, folder):
    """A worker's settings with the port on; the signals are sent by the test, as Celery's
    parent sends them."""
    settings.WORKER_METRICS_PORT = free_port()
    settings.WORKER_METRICS_BIND = "127.0.0.1"
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = str(folder)
    settings.METRICS_SCRAPE_DIRS = []
    yield settings
    worker_shutdown.send(sender=None)


def test_worker_ready_starts_the_server_and_worker_shutdown_stops_it(worker_settings):
    url = f"http://127.0.0.1:{worker_settings.WORKER_METRICS_PORT}/metrics"
    worker_ready.send(sender=None)
    status, _, body = get(url, f"Bearer {TOKEN}")
    assert status == 200 and "trova_prefill_runs_finished_total" in body
    worker_shutdown.send(sender=None)
    assert _refused(url)


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("METRICS_BEARER_TOKEN", "without METRICS_BEARER_TOKEN"),
        ("PROMETHEUS_MULTIPROC_DIR", "needs PROMETHEUS_MULTIPROC_DIR"),
    ],
)
def test_without_a_token_or_a_folder_no_port_opens_and_an_error_says_why(
    worker_settings, caplog, setting, error
):
    setattr(worker_settings, setting, "")
    with caplog.at_level(logging.ERROR, logger="monitoring.metrics_worker_server"):
        worker_ready.send(sender=None)
    assert error in caplog.text
    assert _refused(f"http://127.0.0.1:{worker_settings.WORKER_METRICS_PORT}/metrics")
