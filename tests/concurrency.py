"""Running work at the same instant on several database connections, for the tests that prove a
limit or a "once" holds under parallel requests.

SQLite serialises every write, so such tests only mean something on PostgreSQL (as `make test`
and CI run them); elsewhere they skip, saying so (and TROVA_NO_SKIPS turns a skip into a failure).
"""

import threading

import pytest
from django.db import connection


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent connections (make test and CI use it)")


def in_parallel(functions, *, expected: tuple[type[Exception], ...] = (), timeout=120) -> list:
    """Call each function in its own thread and connection, released at the same instant, and
    return their results in order. An exception of an `expected` type is returned as that
    function's result (the answer a refused caller gets); any other fails the test."""
    barrier = threading.Barrier(len(functions))
    results, errors = [None] * len(functions), []

    def run(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except Exception as exc:
            results[index] = exc
            if not isinstance(exc, expected):
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    return results
