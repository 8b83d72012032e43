"""One scrape: every process's numbers plus the scrape-time collectors, in the text format."""

from functools import lru_cache

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics  # noqa: F401 - the definitions must exist before the first scrape
from .metrics_collectors import scrape_collectors
from .metrics_multiprocess import multiproc_files

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _MergedFiles:
    """The value files of every folder in METRICS_SCRAPE_DIRS merged as one set of processes:
    the web's own and the workers' (MultiProcessCollector reads a single folder)."""

    def __init__(self, paths):
        self.paths = list(paths)

    def describe(self):
        return []

    def collect(self):
        return MultiProcessCollector.merge(multiproc_files(self.paths), accumulate=True)


@lru_cache(maxsize=1)
def _registry(paths: tuple[str, ...]) -> CollectorRegistry:
    registry = CollectorRegistry()
    if paths:
        # Multiprocess mode: this process's in-memory registry holds only its own numbers.
        registry.register(_MergedFiles(paths))
    else:
        registry.register(_ThisProcess())
    for collector in scrape_collectors():
        registry.register(collector)
    return registry


class _ThisProcess:
    """Without multiprocess mode (laptop, tests): the default registry of this process."""

    def describe(self):
        return []

    def collect(self):
        return REGISTRY.collect()


def metrics_scrape_dirs() -> tuple[str, ...]:
    return tuple(path for path in settings.METRICS_SCRAPE_DIRS if path)


def metrics_render() -> bytes:
    return generate_latest(_registry(metrics_scrape_dirs()))
