"""A value worth reading from the database only every few seconds per process."""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessMemo(Generic[T]):
    """`compute()` at most once per `refresh_seconds` in this process; thread-safe.

    For values that many requests read and that may lag a few seconds behind the database
    (how long runs take; which prompt version is in production). `forget()` makes the next
    `get()` compute again, for a change made by this process. A None from `compute()` (nothing
    to learn from yet) is computed again after `none_refresh_seconds`, when that is given.
    """

    def __init__(
        self,
        compute: Callable[[], T],
        *,
        refresh_seconds: float,
        none_refresh_seconds: float | None = None,
    ):
        self._compute = compute
        self._refresh_seconds = refresh_seconds
        self._none_refresh_seconds = (
            refresh_seconds if none_refresh_seconds is None else none_refresh_seconds
        )
        self._value: tuple[T, float] | None = None  # (value, time.monotonic() when computed)
        self._lock = threading.Lock()

    def get(self) -> T:
        current = self._value
        if current is not None and not self._stale(current):
            return current[0]
        with self._lock:  # one thread computes; the others wait for its value
            current = self._value
            if current is None or self._stale(current):
                self._value = current = (self._compute(), time.monotonic())
        return current[0]

    def forget(self) -> None:
        self._value = None

    def _stale(self, current: tuple[T, float]) -> bool:
        value, computed_at = current
        refresh = self._none_refresh_seconds if value is None else self._refresh_seconds
        return time.monotonic() - computed_at >= refresh
