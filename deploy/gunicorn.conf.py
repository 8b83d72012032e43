"""gunicorn settings for Trova's web processes: `gunicorn -c deploy/gunicorn.conf.py`.

Besides the usual settings, the master keeps prometheus_client's multiprocess folder
(PROMETHEUS_MULTIPROC_DIR, see monitoring/metrics_multiprocess.py): it empties the folder when
it starts, before any worker exists, and drops the live gauges of each worker that exits.
Command-line options override what is set here.

A web process that cannot work refuses to start (marketplace/startup.py): the master prints one
sentence per problem (unapplied migrations, a missing secret, no database) and exits with
status 1 before it forks any worker. Only with DEBUG off.
"""

import os
import sys
from pathlib import Path

# gunicorn loads this file by path; the project root makes `monitoring` importable here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marketplace.startup import refuse_to_start_if_broken  # noqa: E402
from monitoring.metrics_multiprocess import (  # noqa: E402
    multiproc_dir_from_env,
    multiproc_dir_prepare,
    multiproc_process_dead,
)

wsgi_app = "marketplace.wsgi"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gunicorn also reads WEB_CONCURRENCY itself; 3 as before on the compose host's 2 cores.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = 30
# No access log: the app logs one JSON line per request, with its request id
# (monitoring/request_id.py).
accesslog = None


def on_starting(server):
    """In the master, before the first worker: refuse to start a web that cannot work; else a new
    deployment starts from empty metrics files."""
    # Before the wipe: setting Django up here may create this master's own metrics files, which
    # no worker (each writes files of its own pid) should find.
    refuse_to_start_if_broken()
    multiproc_dir_prepare(multiproc_dir_from_env(), wipe=True)


def child_exit(server, worker):
    """In the master, after a worker exited (or was killed): forget its live gauges."""
    multiproc_process_dead(worker.pid, multiproc_dir_from_env())
