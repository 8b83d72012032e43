"""Benchmark-only Celery launcher: the worker with one OpenAI client per process (a what-if).

Not app code and not used by the app. `ai_prefill.providers.provider_get` builds a new
`openai.OpenAI` client for every provider call; its constructor builds a TLS context
(`ssl.create_default_context` -> `load_verify_locations` of the CA bundle, ~30 ms of CPU) and the
new client opens a new connection. This launcher caches the provider per process (at the first
task, so every prefork child gets its own client after the fork), to measure what the proposed
fix in the app would buy. `benchmarks/prefill_latency.py` uses it for configs ending in `+reuse`:

    .venv/bin/python benchmarks/prefill_latency.py --compare --configs threads:64,threads:64+reuse

Run directly it is the `celery` command: `python benchmarks/celery_reuse_client.py -A marketplace
worker ...`.
"""

import functools
import sys

from celery import signals


@signals.task_prerun.connect
def _reuse_provider_per_process(**_kwargs) -> None:
    from ai_prefill import execution

    if getattr(execution.provider_get, "bench_cached", False):
        return
    cached = functools.lru_cache(maxsize=None)(execution.provider_get)
    cached.bench_cached = True
    execution.provider_get = cached


if __name__ == "__main__":
    from celery.__main__ import main

    sys.argv[0] = "celery"
    main()
