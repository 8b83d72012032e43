"""What every log line of one piece of work carries: the request id, and the run and task ids
when known, in a context variable (one per thread, and per asyncio task).

The kernel holds it because the layers that carry it are here and above: the outbox stores the
request id with a queued task (marketplace/outbox.py), the pre-fill stores it on its run. The
monitoring app sets it (per request, per Celery task), puts it on Celery messages and on every
log line; nothing here knows about monitoring.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

_fields: ContextVar[MappingProxyType] = ContextVar(
    "trova_log_context", default=MappingProxyType({})
)


def log_context() -> MappingProxyType:
    """The current fields: request_id, run_id, task_id (each only when known)."""
    return _fields.get()


def request_id_get() -> str:
    """The id of the web request this work was started by, or "" outside one."""
    return _fields.get().get("request_id", "")


def log_context_push(**fields: str) -> Token:
    """Add or replace fields until `log_context_pop(token)` (an empty value removes a field)."""
    merged = {**_fields.get(), **fields}
    return _fields.set(MappingProxyType({k: v for k, v in merged.items() if v}))


def log_context_pop(token: Token) -> None:
    _fields.reset(token)


@contextmanager
def log_context_bound(**fields: str) -> Iterator[None]:
    token = log_context_push(**fields)
    try:
        yield
    finally:
        log_context_pop(token)
