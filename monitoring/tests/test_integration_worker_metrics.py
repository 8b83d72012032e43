"""A worker host's own /metrics, as deployed on a host without a web: a real Celery prefork worker
on PostgreSQL and Redis, its parent serving WORKER_METRICS_PORT, a pre-fill processed by one of
its pool children against the fake OpenAI server, and the scrape read over real HTTP.

Which process listens is read from /proc: only the worker's parent, never a pool child (not even
one forked after the server started), and nothing at all without WORKER_METRICS_PORT.
"""

import os
import signal
import socket
from pathlib import Path

import pytest

from ai_prefill.models import PrefillRun
from tests.fake_openai import Behaviour
from tests.outage import free_port

from .scrape import Scrape
from .test_integration_metrics import _post_photo, _wait, get

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "worker-host-metrics-token"
LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` holds a listening socket of (its own or inherited)."""
    port_of_inode = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN:
                port_of_inode[f"socket:[{fields[9]}]"] = int(fields[1].rsplit(":", 1)[1], 16)
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held.add(os.readlink(fd))
        except FileNotFoundError:  # closed while we looked
            continue
    return {port for inode, port in port_of_inode.items() if inode in held}


def _pool_children(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def _worker_with_metrics(start_worker, folder: Path, **overrides: str):
    return start_worker(
        PROMETHEUS_MULTIPROC_DIR=str(folder), METRICS_BEARER_TOKEN=TOKEN, **overrides
    )


def _scrape(url: str) -> Scrape:
    status, body = get(url, TOKEN)
    assert status == 200, body
    return Scrape(body)


def test_a_worker_host_serves_its_own_runs_to_a_scrape_with_the_token(
    start_worker, tmp_path, client_for, seller, fake_openai
):
    port = free_port()
    worker = _worker_with_metrics(
        start_worker,
        tmp_path / "metrics-worker",
        WORKER_METRICS_PORT=str(port),
        WORKER_METRICS_BIND="127.0.0.1",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    assert _listening_ports(worker.proc.pid) == {port}
    assert all(not _listening_ports(child) for child in _pool_children(worker.proc.pid))

    # A pre-fill processed by a prefork child; the parent's scrape shows it.
    fake_openai.script(Behaviour.success())
    run_id = _post_photo(client_for(seller))
    _wait(lambda: PrefillRun.objects.filter(pk=run_id, status="succeeded").exists(), 20, "the run")
    scraped = _wait(
        lambda: (s := _scrape(url)).total("trova_prefill_runs_finished_total") and s,
        10,
        "the finished run in the worker's scrape",
    )
    assert scraped.total("trova_prefill_runs_finished_total", status="succeeded") == 1
    assert scraped.total("gen_ai_client_operation_duration_seconds_count", error_type="") == 1
    assert scraped.total("gen_ai_client_token_usage_count") >= 1

    status, body = get(url)
    assert status == 401 and "trova_" not in body
    assert get(url, "wrong-token")[0] == 401

    # A pool child forked after the server started does not hold the port.
    victim = min(_pool_children(worker.proc.pid))
    os.kill(victim, signal.SIGKILL)
    replaced = _wait(
        lambda: len(now := _pool_children(worker.proc.pid) - {victim}) == 2 and now,
        15,
        "the pool to replace the killed child",
    )
    assert all(not _listening_ports(child) for child in replaced)

    # A warm shutdown closes the port: a restarted worker can listen on it again.
    os.kill(worker.proc.pid, signal.SIGTERM)
    worker.proc.wait(timeout=15)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        again.bind(("127.0.0.1", port))


def test_without_worker_metrics_port_the_worker_opens_no_port(start_worker, tmp_path):
    worker = _worker_with_metrics(start_worker, tmp_path / "metrics-worker")
    children = _pool_children(worker.proc.pid)
    assert children, "a prefork worker has pool children"
    for pid in (worker.proc.pid, *children):
        assert _listening_ports(pid) == set()
