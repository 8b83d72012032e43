"""When a seller's page should ask about its run again: `poll_after_ms` in the pre-fill API.

A page that polled at a fixed interval asked several times before any draft could exist (the
provider alone takes seconds) and then noticed the draft up to one interval late. The server
knows better: recent runs tell how long a run takes, so the first question comes about when the
draft is due, and later ones come quickly while it is overdue. Each poll is a whole request for
the web server, so this is also the load that 50 sellers at once put on it (benchmarks/README.md).
"""

import statistics
from datetime import timedelta

from django.utils import timezone

from marketplace.memo import ProcessMemo

from .models import PrefillRun

POLL_MIN_MS = 300  # an overdue run: ask again soon, but not in a tight loop
POLL_MAX_MS = 2000  # never leave a seller waiting longer than this after the draft arrived
EXPECTED_WHEN_UNKNOWN_S = 1.5  # no recent runs to learn from (a fresh site, a quiet night)
RECENT_RUNS = 50
RECENT_WINDOW = timedelta(hours=1)
REFRESH_SECONDS = 30  # per process: one small query every 30 s, not one per request
# With no recent runs (a fresh site, a quiet hour), look again soon: the first drafts teach it.
UNKNOWN_REFRESH_SECONDS = 2


def poll_after_ms(run: PrefillRun) -> int | None:
    """Milliseconds until the run's page should ask again; None once the run is finished."""
    if run.status in PrefillRun.TERMINAL:
        return None
    elapsed = (timezone.now() - run.created_at).total_seconds()
    remaining_ms = (expected_run_seconds() - elapsed) * 1000
    return int(min(POLL_MAX_MS, max(POLL_MIN_MS, remaining_ms)))


def expected_run_seconds() -> float:
    """The median time from upload to finished draft of the recent successful runs."""
    learnt = _expected.get()
    return EXPECTED_WHEN_UNKNOWN_S if learnt is None else learnt


def expected_run_seconds_forget() -> None:
    """Learn again from the runs on the next call (tests; nothing in the app needs it)."""
    _expected.forget()


def _median_recent_duration() -> float | None:
    since = timezone.now() - RECENT_WINDOW
    # Newest first along the created_at index, so the query stays small on a large table.
    recent = (
        PrefillRun.objects.filter(created_at__gte=since, status=PrefillRun.Status.SUCCEEDED)
        .order_by("-created_at")
        .values_list("created_at", "finished_at")[:RECENT_RUNS]
    )
    durations = [(finished - created).total_seconds() for created, finished in recent]
    return statistics.median(durations) if durations else None


_expected = ProcessMemo(
    _median_recent_duration,
    refresh_seconds=REFRESH_SECONDS,
    none_refresh_seconds=UNKNOWN_REFRESH_SECONDS,
)
