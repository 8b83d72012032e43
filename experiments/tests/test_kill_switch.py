"""The kill switch reaches another process: a pause here, production there within 5 seconds.

The other process is a real Python process on the production settings module and the test
database (as ai_prefill's integration worker is), polling `assignment_for` for an enrolled seller
the way the Sell page asks on every request. It prints the wall-clock time at which it first got
production; the test measures that from just before the pause.
"""

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ai_prefill.tests.conftest import _test_database_url  # the test database, as a URL
from experiments.services import LIVE_REFRESH_SECONDS, assignment_for, experiment_pause

from .factories import experiment_running

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PROMISE_SECONDS = 5.0

PROBE = """
import sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from experiments.services import assignment_for

user = get_user_model().objects.get(pk=int(sys.argv[1]))
served = assignment_for(user=user)
print("serving", served.arm_key if served else None, flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if assignment_for(user=user) is None:
        print("production", repr(time.time()), flush=True)
        break
    time.sleep(0.01)
else:
    print("still serving after 30 s", flush=True)
"""


def _probe_env() -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AI_"))}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",  # production settings, as deployed
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }


class Probe:
    """The second process, its stdout read line by line on a thread (so reads can time out)."""

    def __init__(self, user_id: int):
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", PROBE, str(user_id)],
            cwd=ROOT,
            env=_probe_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line.strip())

    def next_line(self, prefixes: tuple[str, ...], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(prefixes):
                return line
        pytest.fail(f"the probe said no {prefixes} in {timeout} s:\n{''.join(self.output)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def test_a_pause_reaches_another_process_within_5_seconds(staff, seller):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a second process on the test database (make test, CI)")
    experiment = experiment_running(actor=staff)
    served = assignment_for(user=seller)
    assert served is not None
    probe = Probe(seller.pk)
    try:
        assert probe.next_line(("serving",), timeout=30) == f"serving {served.arm_key}"
        time.sleep(LIVE_REFRESH_SECONDS / 2)  # pause somewhere inside the probe's refresh period
        paused_at = time.time()
        experiment_pause(experiment=experiment, actor=staff, reason="kill switch test")
        assert assignment_for(user=seller) is None  # this process: at once
        line = probe.next_line(("production", "still serving"), timeout=PROMISE_SECONDS + 5)
    finally:
        probe.stop()
    assert line.startswith("production"), line
    latency = float(line.split()[1]) - paused_at
    print(f"kill switch: the second process got production {latency:.3f} s after the pause")
    assert 0 < latency < PROMISE_SECONDS
