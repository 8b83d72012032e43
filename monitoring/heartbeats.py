"""Heartbeats of the Celery worker and beat: when each was last seen alive.

Stored in the Django cache, which is Redis when REDIS_URL is set, so the web processes (readiness,
alerts) and every container's own health check read what any worker or beat host wrote. Without
REDIS_URL the site runs tasks in-process: there is no worker or beat, and nothing records these.

Each record writes two keys: one for the kind ("any worker was alive at t") and one for the kind
on this host ("this container's worker was alive at t"), so a container's health check judges
itself and readiness judges the service. A worker also records one kind per queue kind it
consumes ("worker-prefill", "worker-evals", ...): readiness asks for a worker on the pre-fill
queue, which a worker on the maintenance queue alone is not. Ages are wall-clock differences
between hosts: they assume the hosts' clocks are synchronised (NTP), which a 2-minute threshold
tolerates easily.

Who records: the worker's main process, from its event loop every WORKER_EVERY seconds
(heartbeat_sources.WorkerHeartbeatStep), and beat from its own scheduler loop every BEAT_EVERY
seconds (heartbeat_sources.HeartbeatScheduler), so "beat down" and "worker down" are told apart.
"""

import socket
import time

from django.core.cache import cache

from marketplace.task_queues import QueueKind


def worker_kind(queue_kind: QueueKind) -> str:
    """The heartbeat kind of "a worker consuming this queue kind", e.g. "worker-prefill"."""
    return f"worker-{QueueKind(queue_kind)}"


# "worker": any worker at all (a container's own check); "worker-<queue kind>": a worker that
# consumes that queue, so a maintenance-only worker does not pass for one that takes pre-fills.
KINDS = ("worker", "beat", *(worker_kind(queue_kind) for queue_kind in QueueKind))
# How often each process records; readiness allows READINESS_HEARTBEAT_MAX_AGE_SECONDS (120).
WORKER_EVERY = 15.0
BEAT_EVERY = 15.0
# A host that stopped long ago drops out of the cache on its own (containers come and go).
KEEP_SECONDS = 7 * 24 * 3600


def heartbeat_record(*, kind: str, also: tuple[str, ...] = ()) -> None:
    """Record that a process of `kind` ("worker" or "beat") on this host is alive now, and of
    each kind in `also` (a worker's queue kinds), in one round trip."""
    now = time.time()
    keys = [key for k in (kind, *also) for key in (_key(k), _key(k, host=this_host()))]
    cache.set_many(dict.fromkeys(keys, now), timeout=KEEP_SECONDS)


def heartbeat_age_seconds(*, kind: str, host: str | None = None) -> float | None:
    """Seconds since any process of `kind` (or the one on `host`) recorded a heartbeat; None if
    none was ever seen (or for a week)."""
    seen = cache.get(_key(kind, host=host))
    if seen is None:
        return None
    # A clock a little behind another host's would give a negative age: that is "just now".
    return max(0.0, time.time() - float(seen))


def this_host() -> str:
    """The host name a process records under: in a container, the container's own name."""
    return socket.gethostname()


def _key(kind: str, *, host: str | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown heartbeat kind {kind!r}; one of {', '.join(KINDS)}")
    return f"monitoring:heartbeat:{kind}" + (f":{host}" if host else "")
