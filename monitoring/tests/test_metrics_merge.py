"""The fast merge of multiprocess files gives the same text as prometheus_client's own merge,
on files written by real separate processes, scrape after scrape while they change."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from monitoring.metrics_merge import MultiprocessMerger
from monitoring.metrics_multiprocess import multiproc_files

ROOT = Path(__file__).resolve().parents[2]

# One process's observations through monitoring.metrics; `seed` varies the label values.
WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from monitoring import metrics
seed = int(sys.argv[2])
chat = dict(gen_ai_operation_name="chat", gen_ai_provider_name="openai")
for i in range(seed + 1):
    model = ["gpt-4.1-mini", "gpt-4.1"][i % 2]
    error = ["", "rate_limited"][(i + seed) % 2]
    metrics.gen_ai_operation_duration.labels(**chat, gen_ai_request_model=model,
                                             error_type=error).observe(0.3 * (i + 1) + seed)
    metrics.prefill_runs_finished.labels(status="failed" if error else "succeeded",
        error_type=error, trova_prompt_version="v@1", trova_arm="production").inc()
    metrics.http_requests.labels(view=f"v{seed}", method="GET", status="200").inc(i + 1)
    metrics.prefill_cost.labels(gen_ai_provider_name="openai", gen_ai_request_model=model,
        trova_prompt_version='quo"te\\back', trova_arm="x/y").inc(0.1)
metrics.prefill_queue_wait.observe(seed * 1.7)
metrics.http_requests_in_progress.inc(seed)
"""


def _write(folder: Path, seed: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", WRITER, str(ROOT), str(seed)], env=env, check=True)  # noqa: S603


def _library(files) -> list[str]:
    class Merged:
        def collect(self):
            return MultiProcessCollector.merge(files, accumulate=True)

    registry = CollectorRegistry()
    registry.register(Merged())
    return sorted(generate_latest(registry).decode().splitlines())


def _ours(merger, files) -> list[str]:
    return sorted(merger.render(files).decode().splitlines())


def test_the_fast_merge_equals_the_library_merge_as_files_change(tmp_path):
    web, worker = tmp_path / "web", tmp_path / "worker"
    for folder in (web, worker):
        folder.mkdir()
    for seed in range(3):
        _write(worker, seed)
    _write(web, 5)
    merger = MultiprocessMerger()
    files = multiproc_files([web, worker])
    assert len(files) > 4
    first = _ours(merger, files)
    assert first == _library(files)
    assert any('trova_prompt_version="quo\\"te\\\\back"' in line for line in first)

    # More processes and new series: new files, and new entries in files seen before.
    _write(worker, 4)
    pid_files = sorted(worker.glob("counter_*.db"))
    files = multiproc_files([web, worker])
    assert _ours(merger, files) == _library(files)

    # A live process adds a series and moves a value, in a file already indexed.
    grown = MmapedDict(str(pid_files[-1]))
    try:
        key, value, *_ = next(iter(grown.read_all_values()))
        grown.write_value(key, value + 100, 0.0)
        labels = ("view", "method", "status"), ("grown", "POST", "500")
        name = "trova_http_requests"
        grown.write_value(mmap_key(name, f"{name}_total", *labels, "help"), 7.0, 0.0)
    finally:
        grown.close()
    assert _ours(merger, files) == _library(files)
    assert any('view="grown"' in line for line in _ours(merger, files))

    # A process exits: its live gauges go; the layout follows.
    dead = int(pid_files[0].stem.split("_")[1])
    mark_process_dead(dead, str(worker))
    files = multiproc_files([web, worker])
    assert _ours(merger, files) == _library(files)

    # A folder emptied and written again (a new deployment; files replaced under old names).
    for stale in web.glob("*.db"):
        stale.unlink()
    _write(web, 1)
    files = multiproc_files([web, worker])
    assert _ours(merger, files) == _library(files)
    assert _ours(merger, files) != first


def test_no_files_no_text():
    assert MultiprocessMerger().render([]) == b""
