"""Fixed-bucket latency histograms: how the rollups store a distribution and read a percentile.

A duration in milliseconds falls in bucket `bisect_right(EDGES_MS, ms)`:
- bucket 0 is [0, 10 ms);
- bucket k (1..70) is [EDGES_MS[k-1], EDGES_MS[k]), the edges growing by 2**(1/4) (about
  19 %) from 10 ms to about 31 minutes;
- bucket 71 is everything from EDGES_MS[-1] (about 31 min) up.

Histograms are stored sparse, as {"bucket index": count} (JSON object keys are strings), so a
minute with three runs stores three numbers, and they merge by adding counts.

A percentile is read by nearest rank: the bucket holding the value of rank ceil(q * n) is exact,
the value inside it is not known and is reported as the bucket's geometric middle
sqrt(low * high). The true value lies in [low, high), so the worst-case relative error is
2**(1/8) - 1, about 9.05 %; in bucket 0 the answer is 5 ms, off by at most 5 ms; in the last
bucket the answer is its lower edge, a lower bound (durations that long are stale runs).
"""

import math
from bisect import bisect_right
from collections import Counter

FIRST_EDGE_MS = 10.0
GROWTH = 2 ** (1 / 4)
EDGE_COUNT = 71
EDGES_MS = tuple(FIRST_EDGE_MS * GROWTH**k for k in range(EDGE_COUNT))
WORST_RELATIVE_ERROR = 2 ** (1 / 8) - 1


def bucket_index(ms: float) -> int:
    """The bucket a duration of `ms` milliseconds falls in (negative clock skew counts as 0)."""
    return bisect_right(EDGES_MS, max(ms, 0.0))


def representative_ms(index: int) -> float:
    """The value reported for a percentile that falls in bucket `index`."""
    if index == 0:
        return FIRST_EDGE_MS / 2
    if index >= EDGE_COUNT:
        return EDGES_MS[-1]
    return math.sqrt(EDGES_MS[index - 1] * EDGES_MS[index])


def as_counter(stored: dict | None) -> Counter:
    """A stored histogram ({"3": 5}) as a Counter keyed by int bucket index."""
    return Counter({int(key): count for key, count in (stored or {}).items()})


def as_stored(histogram: Counter) -> dict:
    return {str(key): count for key, count in sorted(histogram.items()) if count}


def percentile_seconds(histogram: Counter, q: float) -> float | None:
    """The q-quantile (0 < q <= 1) in seconds by nearest rank; None for an empty histogram."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return representative_ms(index) / 1000
    raise AssertionError("unreachable: the ranks add up to the total")
