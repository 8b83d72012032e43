"""One scrape: every process's numbers plus the scrape-time collectors, in the text format."""

from functools import lru_cache

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from . import metrics  # noqa: F401 - the definitions must exist before the first scrape
from .metrics_collectors import scrape_collectors
from .metrics_merge import MultiprocessMerger
from .metrics_multiprocess import multiproc_files

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@lru_cache(maxsize=1)
def _collectors_registry(multiprocess: bool) -> CollectorRegistry:
    """The scrape-time collectors, and this process's own registry when not in multiprocess
    mode (there, this process's in-memory registry holds only its own numbers)."""
    registry = CollectorRegistry()
    if not multiprocess:
        registry.register(_ThisProcess())
    for collector in scrape_collectors():
        registry.register(collector)
    return registry


@lru_cache(maxsize=1)
def _merger(paths: tuple[str, ...]) -> MultiprocessMerger:
    return MultiprocessMerger()


class _ThisProcess:
    """Without multiprocess mode (laptop, tests): the default registry of this process."""

    def describe(self):
        return []

    def collect(self):
        return REGISTRY.collect()


def metrics_scrape_dirs() -> tuple[str, ...]:
    return tuple(path for path in settings.METRICS_SCRAPE_DIRS if path)


def metrics_render() -> bytes:
    """Every folder of METRICS_SCRAPE_DIRS merged as one set of processes (the web's own and
    the workers'), then the scrape-time collectors: no family is in both parts."""
    paths = metrics_scrape_dirs()
    collected = generate_latest(_collectors_registry(bool(paths)))
    if not paths:
        return collected
    return multiproc_render(paths) + collected


def multiproc_render(paths: tuple[str, ...]) -> bytes:
    """What the processes writing to these folders counted, merged as one set of processes
    (the part of a scrape that is not read from shared state at scrape time)."""
    return _merger(paths).render(multiproc_files(paths))
