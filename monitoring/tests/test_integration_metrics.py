"""/metrics across processes, as deployed: a real gunicorn with 2 workers (deploy/gunicorn.conf.py)
and a real Celery prefork worker, on PostgreSQL and Redis, each writing prometheus_client's
multiprocess files to its own folder, the web's scrape merging both folders.

It shows what a single-process registry would hide: a run processed by a prefork child and
requests answered by a second gunicorn worker are in the one scrape; the masters empty their
folder at start; a process that exits loses its live gauges and keeps its counts.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ai_prefill.models import PrefillRun
from ai_prefill.tests.conftest import _parent_of, _worker_env
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

from .scrape import Scrape

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "integration-metrics-token"
STALE = "counter_999999.db"  # a file left by a process of an earlier deployment


class Gunicorn:
    """`gunicorn -c deploy/gunicorn.conf.py` in its own process group, on a free local port."""

    READY_TIMEOUT = 30.0

    def __init__(self, *, env: dict, log: Path, workers: int = 2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env, self.log, self.workers = env, log, workers
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        command += ["--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + self.READY_TIMEOUT
        while len(self.worker_pids()) < self.workers or not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        with contextlib.suppress(OSError):
            return get(f"{self.url}/healthz")[0] == 200
        return False

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(pid) for pid in children.read_text().split()} if children.exists() else set()

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 - a local http URL we built
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def metric_dirs(tmp_path):
    web, worker = tmp_path / "metrics" / "web", tmp_path / "metrics" / "worker"
    for folder in (web, worker):
        folder.mkdir(parents=True)
        (folder / STALE).write_bytes(b"left over from an earlier deployment")
    return web, worker


@pytest.fixture
def gunicorn(request, tmp_path, metric_dirs, celery_queues, fake_openai):
    web, worker = metric_dirs
    env = {
        **_worker_env(queue_prefix=celery_queues, openai_base_url=fake_openai.base_url),
        "PROMETHEUS_MULTIPROC_DIR": str(web),
        "METRICS_SCRAPE_DIRS": f"{web},{worker}",
        "METRICS_BEARER_TOKEN": TOKEN,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    server = Gunicorn(env=env, log=tmp_path / "gunicorn.log")
    yield server
    server.stop()


def _scrape(server: Gunicorn) -> Scrape:
    status, body = get(f"{server.url}/metrics", TOKEN)
    assert status == 200, body
    return Scrape(body)


def _post_photo(client) -> str:
    photo = SimpleUploadedFile("bike.jpg", render_item(shape="bike", color="blue"), "image/jpeg")
    response = client.post("/api/prefill/", {"image": photo})
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


def _pids_with(folder: Path, prefix: str) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob(f"{prefix}_*.db")}


def test_one_scrape_shows_a_prefork_child_run_and_both_gunicorn_workers(
    start_worker, gunicorn, metric_dirs, client_for, seller, fake_openai
):
    web, worker_dir = metric_dirs
    worker = start_worker(PROMETHEUS_MULTIPROC_DIR=str(worker_dir))
    assert not (worker_dir / STALE).exists(), "the worker's parent empties its folder at start"
    gunicorn.start()
    assert not (web / STALE).exists(), "gunicorn's master empties its folder at start"

    # A pre-fill processed by a prefork child of the Celery worker.
    fake_openai.script(Behaviour.success())
    run_id = _post_photo(client_for(seller))
    _wait(lambda: PrefillRun.objects.filter(pk=run_id, status="succeeded").exists(), 20, "the run")
    after_run = _wait(
        lambda: (s := _scrape(gunicorn)).total("trova_prefill_runs_finished_total") and s,
        10,
        "the finished run in the scrape",
    )
    assert after_run.total("trova_prefill_runs_finished_total", status="succeeded") == 1
    assert after_run.total("gen_ai_client_operation_duration_seconds_count", error_type="") == 1
    child_pids = {pid for pid in _pids_with(worker_dir, "counter") if pid != worker.proc.pid}
    assert child_pids and all(_parent_of(pid) == worker.proc.pid for pid in child_pids)

    # Requests until both gunicorn workers have answered some; every one is in the scrape.
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(_pids_with(web, "counter") & gunicorn.worker_pids()) < 2:
            assert sent < 400, "one gunicorn worker answered every request"
            statuses = list(pool.map(lambda _: get(f"{gunicorn.url}/healthz")[0], range(16)))
            assert statuses == [200] * 16
            sent += 16
    scraped = _scrape(gunicorn)
    healthz = {"view": "healthz", "method": "GET", "status": "200"}
    # The readiness probe in Gunicorn.start() counted too: at least one request more per start.
    startup = scraped.value("trova_http_requests_total", **healthz) - sent
    assert 1 <= startup <= 5
    assert scraped.total("trova_prefill_runs_finished_total", status="succeeded") == 1

    # A gunicorn worker that dies: the master drops its live gauge, its counts stay.
    victim = min(_pids_with(web, "counter") & gunicorn.worker_pids())
    assert (web / f"gauge_livesum_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: not (web / f"gauge_livesum_{victim}.db").exists(), 10, "child_exit cleanup")
    assert (web / f"counter_{victim}.db").exists()
    assert _scrape(gunicorn).value("trova_http_requests_total", **healthz) >= sent + startup

    # The Celery worker shutting down: each prefork child drops its live gauge on the way out.
    assert all((worker_dir / f"gauge_livesum_{pid}.db").exists() for pid in child_pids)
    os.kill(worker.proc.pid, signal.SIGTERM)  # warm shutdown of the main process
    worker.proc.wait(timeout=15)
    assert not any((worker_dir / f"gauge_livesum_{pid}.db").exists() for pid in child_pids)
    final = _scrape(gunicorn)
    assert final.total("trova_prefill_runs_finished_total", status="succeeded") == 1
