"""Timing of provider calls, shared by pre-fill runs and eval runs."""

import time


class Stopwatch:
    """Milliseconds spent inside `with stopwatch:` blocks; None until a block has run (the call
    never started, e.g. the image could not be prepared)."""

    def __init__(self):
        self.ms: int | None = None

    def __enter__(self):
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        self.ms = (self.ms or 0) + int((time.monotonic() - self._t0) * 1000)
        return False
