"""Where each alert metric comes from: one function per metric, reading only the interfaces of
the other areas of monitoring (rollup buckets, heartbeats, drift reports), never the run log.

A source returns a Reading. `value` None means "no data": the source is unavailable or has
nothing yet; the evaluator then leaves the rule's state as it is and records the note. A value
with `judged=False` (too few samples in the window) makes the condition false.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .alert_models import AlertRule


@dataclass(frozen=True)
class Reading:
    value: float | None
    detail: dict = field(default_factory=dict)
    note: str = ""
    judged: bool = True


Source = Callable[..., Reading]

# metric (AlertMetric value) -> source(rule=, now=) -> Reading
SOURCES: dict[str, Source] = {}

UNAVAILABLE = "source unavailable"


def source(metric: str) -> Callable[[Source], Source]:
    """Register the function as the source of `metric`."""

    def register(function: Source) -> Source:
        SOURCES[metric] = function
        return function

    return register


def reading_for(*, rule: AlertRule, now: datetime) -> Reading:
    function = SOURCES.get(rule.metric)
    if function is None:
        return Reading(value=None, note=UNAVAILABLE)
    return function(rule=rule, now=now)
