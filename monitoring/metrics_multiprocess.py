"""prometheus_client's multiprocess mode: where each process writes its numbers, and their upkeep.

gunicorn workers and Celery prefork children are separate processes, each with its own memory:
a counter kept in memory would show only the process that happens to answer the scrape. With
PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps every process's values in files of that
folder (`counter_<pid>.db`, `histogram_<pid>.db`, `gauge_livesum_<pid>.db`, ...) and a scrape
merges them (https://prometheus.github.io/client_python/multiprocess/).

Upkeep, done by the deployment's master processes (deploy/gunicorn.conf.py, and the Celery
worker's parent through monitoring.receivers_metrics):
- the folder is created if missing, and emptied when a master starts, so numbers of an older
  deployment (with pids that may be reused) are not merged into the new one;
- when a process exits, its "live" gauge files are deleted (`mark_process_dead`): a dead
  process is no longer doing anything. Its counter and histogram files stay, so totals never
  go down while the deployment runs.

Each master empties only its own folder: web and worker write to different folders (e.g.
/run/trova-metrics/web and /run/trova-metrics/worker) and the scrape reads every folder in
METRICS_SCRAPE_DIRS, so a worker restart never deletes the files of running web processes.

No Django import here: gunicorn's master runs this before the application is loaded.
"""

import glob
import os
from pathlib import Path

from prometheus_client import multiprocess

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def multiproc_dir_from_env() -> str:
    """The folder this process writes to; "" when multiprocess mode is off (laptop, tests)."""
    return os.environ.get(ENV_VAR, "")


def multiproc_dir_prepare(path: str, *, wipe: bool) -> None:
    """Create the folder if missing; with `wipe`, delete the .db files of earlier processes."""
    if not path:
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    if wipe:
        for stale in glob.glob(os.path.join(path, "*.db")):
            Path(stale).unlink(missing_ok=True)


def multiproc_process_dead(pid: int, path: str) -> None:
    """Forget the live gauges of a process that exited (its counters and histograms stay)."""
    if path:
        multiprocess.mark_process_dead(pid, path)


def multiproc_files(paths) -> list[str]:
    """Every value file of the given folders, for one merged scrape."""
    files = []
    for path in paths:
        if path:
            files.extend(glob.glob(os.path.join(path, "*.db")))
    return files
