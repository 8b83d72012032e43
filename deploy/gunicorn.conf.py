"""gunicorn settings for Trova's web processes: `gunicorn -c deploy/gunicorn.conf.py`.

Besides the usual settings, the master keeps prometheus_client's multiprocess folder
(PROMETHEUS_MULTIPROC_DIR, see monitoring/metrics_multiprocess.py): it empties the folder when
it starts, before any worker exists, and drops the live gauges of each worker that exits.
Command-line options override what is set here.
"""

import os
import sys
from pathlib import Path

# gunicorn loads this file by path; the project root makes `monitoring` importable here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
# No access log: the application logs its own line per request.


def on_starting(server):
    """In the master, before the first worker: a new deployment starts from empty files."""
    multiproc_dir_prepare(multiproc_dir_from_env(), wipe=True)


def child_exit(server, worker):
    """In the master, after a worker exited (or was killed): forget its live gauges."""
    multiproc_process_dead(worker.pid, multiproc_dir_from_env())
