"""Helpers the benchmark scripts share (they import it as a sibling: `from common import ...`)."""

import os
import statistics
import time


def percentile(values: list[float], p: int) -> float | None:
    """The p-th percentile, interpolated between the closest ranks; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def wait_for_quiet_machine(max_load: float, max_wait: float) -> dict:
    """Wait (bounded) until the 1-minute load average is at most max_load; say what it was."""
    start = time.monotonic()
    first = os.getloadavg()
    load = first
    while load[0] > max_load and time.monotonic() - start < max_wait:
        print(f"  load average {load[0]:.2f} > {max_load}: waiting ...", flush=True)
        time.sleep(10)
        load = os.getloadavg()
    waited = time.monotonic() - start
    if load[0] > max_load:
        print(f"  WARNING: load average still {load[0]:.2f} after {waited:.0f} s; measuring anyway")
    return {
        "at_start": [round(x, 2) for x in first],
        "when_measuring": [round(x, 2) for x in load],
        "waited_s": round(waited),
    }
