"""Writes of the pre-aggregated buckets (MetricBucket): recomputed from the source rows, never
incremented, so a refresh is idempotent and late or retried runs land where they belong.

- A run counts in the minute of its `finished_at` (finished runs only); a thumb in the minute it
  was first given (`SuggestionRating.created_at`, with its current value); a sell session in the
  minute it was published or abandoned; a publish-stage field correction in the minute it was
  recorded. Buckets are UTC.
- Minutes are computed from the source rows; an hour is the sum of its minute rows, a day the sum
  of its hour rows, so the three sizes always agree.
- Writing a bucket deletes its old rows and upserts the new ones in one transaction; the unique
  constraint with ON CONFLICT DO UPDATE keeps two workers refreshing the same bucket from ever
  storing it twice. On PostgreSQL the writers also take one transaction-level advisory lock, so
  two refreshes of overlapping buckets run one after the other instead of deadlocking on each
  other's rows (a refresh holds it for milliseconds; a rebuild for one day at a time).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, IntegerField, Q, Value, When

from ai_prefill.models import PrefillRun
from ai_prefill.outcomes import field_empty_q, no_usable_draft_q, run_outcome
from ai_prefill.schema import DRAFT_FIELDS
from feedback.models import FieldCorrection, SellSession, SuggestionRating

from . import histograms
from .rollup_models import MetricBucket

Size = MetricBucket.Size
STEP = {
    Size.MINUTE: timedelta(minutes=1),
    Size.HOUR: timedelta(hours=1),
    Size.DAY: timedelta(days=1),
}
DIMENSIONS = ("prompt_version_id", "provider", "model", "arm_id")
WRITE_BATCH = 2000
ADVISORY_LOCK_KEY = 0x7472_6F76_6131  # "trova1": the rollup writers' lock on PostgreSQL

Dims = tuple[int, str, str, int]


def floor_to(moment: datetime, size: str) -> datetime:
    """The start of the `size` bucket holding `moment`, in UTC."""
    moment = moment.astimezone(UTC)
    if size == Size.DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if size == Size.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def ceil_to(moment: datetime, size: str) -> datetime:
    start = floor_to(moment, size)
    return start if start == moment else start + STEP[size]


@dataclass
class Tally:
    """The figures of one bucket and dimension while they are added up."""

    runs: int = 0
    outcomes: Counter = field(default_factory=Counter)
    no_usable_draft: int = 0
    empty_fields: Counter = field(default_factory=Counter)
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    queue_wait_hist: Counter = field(default_factory=Counter)
    provider_latency_hist: Counter = field(default_factory=Counter)
    upload_to_draft_hist: Counter = field(default_factory=Counter)
    ratings_up: int = 0
    ratings_down: int = 0
    published: int = 0
    abandoned: int = 0
    corrections: dict = field(default_factory=dict)  # field -> [n, changed]

    COUNTS = ("runs", "no_usable_draft", "retries", "input_tokens", "output_tokens", "cost_usd",
              "ratings_up", "ratings_down", "published", "abandoned")  # fmt: skip
    COUNTERS = ("outcomes", "empty_fields", "queue_wait_hist", "provider_latency_hist",
                "upload_to_draft_hist")  # fmt: skip

    def merge(self, other: "Tally") -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in self.COUNTERS:
            getattr(self, name).update(getattr(other, name))
        for name, (n, changed) in other.corrections.items():
            mine = self.corrections.setdefault(name, [0, 0])
            mine[0] += n
            mine[1] += changed

    @classmethod
    def from_row(cls, row: dict) -> "Tally":
        """From a MetricBucket's stored values (a `.values()` dict)."""
        tally = cls()
        tally.add_row(row)
        return tally

    def add_row(self, row: dict) -> None:
        """Add a MetricBucket's stored values (a `.values()` dict) in place: the dashboard's
        merge of hundreds of rows, kept free of intermediate objects."""
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + row[name])
        self.outcomes.update(row["outcomes"])
        self.empty_fields.update(row["empty_fields"])
        for name in ("queue_wait_hist", "provider_latency_hist", "upload_to_draft_hist"):
            histogram = getattr(self, name)
            for index, count in row[name].items():
                histogram[int(index)] += count
        for name, (n, changed) in row["corrections"].items():
            mine = self.corrections.setdefault(name, [0, 0])
            mine[0] += n
            mine[1] += changed

    def as_fields(self) -> dict:
        values = {name: getattr(self, name) for name in self.COUNTS}
        values["outcomes"] = dict(sorted(self.outcomes.items()))
        values["empty_fields"] = dict(sorted(self.empty_fields.items()))
        for name in ("queue_wait_hist", "provider_latency_hist", "upload_to_draft_hist"):
            values[name] = histograms.as_stored(getattr(self, name))
        values["corrections"] = dict(sorted(self.corrections.items()))
        return values


Tallies = dict[tuple[datetime, Dims], Tally]


# --- from the source rows (minutes) ---------------------------------------------------------------


def _tally(tallies: Tallies, moment: datetime, dims: Dims) -> Tally:
    key = (floor_to(moment, Size.MINUTE), dims)
    if key not in tallies:
        tallies[key] = Tally()
    return tallies[key]


def _flag(q: Q) -> Case:
    return Case(When(q, then=Value(1)), default=Value(0), output_field=IntegerField())


def _ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds() * 1000


RUN_COLUMNS = (
    "finished_at", "created_at", "started_at", "status", "error_type", "attempts",
    "provider_latency_ms", "input_tokens", "output_tokens", "cost_usd", "nud",
)  # fmt: skip


def _add_runs(tallies: Tallies, start: datetime, end: datetime) -> None:
    """Finished runs, as plain tuples (a million of them in a rebuild): "no usable draft" and
    the empty fields are decided in the database by ai_prefill.outcomes' Q forms."""
    empty = {f"e_{name}": _flag(field_empty_q(name)) for name in DRAFT_FIELDS}
    rows = (
        PrefillRun.objects.filter(
            finished_at__gte=start, finished_at__lt=end, status__in=PrefillRun.TERMINAL
        )
        .annotate(nud=_flag(no_usable_draft_q()), **empty)
        .values_list(*RUN_COLUMNS, *empty, *DIMENSIONS[:3], "arm_id")
        .order_by()
    )
    width = len(RUN_COLUMNS)
    for row in rows.iterator(chunk_size=5000):
        dims = (row[-4], row[-3], row[-2], row[-1] or 0)
        empties = row[width : width + len(DRAFT_FIELDS)]
        _count_run(_tally(tallies, row[0], dims), row[:width], empties)


def _count_run(tally: Tally, run: tuple, empties: tuple) -> None:
    finished, created, started, status, error_type, attempts, latency, tokens_in, tokens_out, \
        cost, no_usable_draft = run  # fmt: skip
    tally.runs += 1
    tally.outcomes[run_outcome(status=status, error_type=error_type)] += 1
    tally.no_usable_draft += no_usable_draft
    if status == PrefillRun.Status.SUCCEEDED:
        for name, is_empty in zip(DRAFT_FIELDS, empties, strict=True):
            tally.empty_fields[name] += is_empty
    tally.retries += max(attempts - 1, 0)
    tally.input_tokens += tokens_in or 0
    tally.output_tokens += tokens_out or 0
    tally.cost_usd += cost or 0
    _observe(tally.queue_wait_hist, _ms(started, created))
    _observe(tally.provider_latency_hist, latency)
    _observe(tally.upload_to_draft_hist, _ms(finished, created))


def _observe(histogram: Counter, ms: float | None) -> None:
    if ms is not None:
        histogram[histograms.bucket_index(ms)] += 1


def _run_dims(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}" for name in DIMENSIONS)


def _dims(pv, provider, model, arm) -> Dims:
    return (pv or 0, provider or "", model or "", arm or 0)


def _add_ratings(tallies: Tallies, start: datetime, end: datetime) -> None:
    rows = (
        SuggestionRating.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list("created_at", "rating", *_run_dims("run__"))
        .order_by()
    )
    for created, rating, *dims in rows.iterator(chunk_size=5000):
        tally = _tally(tallies, created, _dims(*dims))
        if rating == SuggestionRating.Rating.UP:
            tally.ratings_up += 1
        else:
            tally.ratings_down += 1


def _add_sessions(tallies: Tallies, start: datetime, end: datetime) -> None:
    """Published and abandoned sell sessions (feedback's unit of abandonment, in every arm).
    A session's arm is the one it was served; a session without a run has no prompt version."""
    dims = (*_run_dims("run__")[:3], "arm_id")
    for status, moment in (("published", "published_at"), ("abandoned", "abandoned_at")):
        rows = (
            SellSession.objects.filter(
                status=status, **{f"{moment}__gte": start, f"{moment}__lt": end}
            )
            .values_list(moment, *dims)
            .order_by()
        )
        for at, *values in rows.iterator(chunk_size=5000):
            tally = _tally(tallies, at, _dims(*values))
            setattr(tally, status, getattr(tally, status) + 1)


def _add_corrections(tallies: Tallies, start: datetime, end: datetime) -> None:
    """Publish-stage corrections of runs that had a draft: feedback's per-field correction share
    (feedback.selectors: changed / n over exactly these rows)."""
    rows = (
        FieldCorrection.objects.filter(
            stage=FieldCorrection.Stage.PUBLISH,
            outcome__run__draft__isnull=False,
            recorded_at__gte=start,
            recorded_at__lt=end,
        )
        .values_list("recorded_at", "field", "changed", *_run_dims("outcome__run__"))
        .order_by()
    )
    for at, name, changed, *dims in rows.iterator(chunk_size=5000):
        pair = _tally(tallies, at, _dims(*dims)).corrections.setdefault(name, [0, 0])
        pair[0] += 1
        pair[1] += int(changed)


def minute_tallies(*, start: datetime, end: datetime) -> Tallies:
    """Every minute bucket in [start, end) computed from the source rows."""
    tallies: Tallies = {}
    for add in (_add_runs, _add_ratings, _add_sessions, _add_corrections):
        add(tallies, start, end)
    return tallies


# --- rolled up from the smaller size ------------------------------------------------------------


def rolled_up(tallies: Tallies, size: str) -> Tallies:
    """Tallies of a smaller size summed into buckets of `size`."""
    result: Tallies = {}
    for (start, dims), tally in tallies.items():
        key = (floor_to(start, size), dims)
        if key not in result:
            result[key] = Tally()
        result[key].merge(tally)
    return result


def stored_tallies(*, size: str, start: datetime, end: datetime) -> Tallies:
    rows = MetricBucket.objects.filter(size=size, start__gte=start, start__lt=end).values()
    return {
        (row["start"], tuple(row[name] for name in DIMENSIONS)): Tally.from_row(row)
        for row in rows.iterator(chunk_size=2000)
    }


# --- writes --------------------------------------------------------------------------------------


def _lock_writers() -> None:
    """Inside a transaction: wait for any other rollup writer to commit (PostgreSQL only;
    SQLite serialises writers by itself)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def _write(*, size: str, start: datetime, end: datetime, tallies: Tallies) -> int:
    """Replace the `size` buckets in [start, end) by `tallies` (delete, then upsert)."""
    MetricBucket.objects.filter(size=size, start__gte=start, start__lt=end).delete()
    rows = [
        MetricBucket(size=size, start=bucket_start, **dict(zip(DIMENSIONS, dims, strict=True)),
                     **tally.as_fields())
        for (bucket_start, dims), tally in sorted(tallies.items(), key=lambda item: item[0])
    ]  # fmt: skip
    value_fields = [*Tally.COUNTS, *Tally.COUNTERS, "corrections", "refreshed_at"]
    MetricBucket.objects.bulk_create(
        rows,
        batch_size=WRITE_BATCH,
        update_conflicts=True,
        unique_fields=["size", "start", *DIMENSIONS],
        update_fields=value_fields,
    )
    return len(rows)


def _refresh_range(start: datetime, end: datetime) -> None:
    """Minutes in [start, end) from the source, then the hours and days that hold them."""
    start, end = floor_to(start, Size.MINUTE), ceil_to(end, Size.MINUTE)
    _lock_writers()
    _write(size=Size.MINUTE, start=start, end=end, tallies=minute_tallies(start=start, end=end))
    for size in (Size.HOUR, Size.DAY):
        child = Size.MINUTE if size == Size.HOUR else Size.HOUR
        start, end = floor_to(start, size), ceil_to(end, size)
        children = stored_tallies(size=child, start=start, end=end)
        _write(size=size, start=start, end=end, tallies=rolled_up(children, size))


def buckets_refresh_minutes(*, minutes: list[datetime]) -> None:
    """Recompute the given minutes (and their hours and days), e.g. those runs just finished in."""
    starts = sorted({floor_to(moment, Size.MINUTE) for moment in minutes})
    for range_start, range_end in _contiguous(starts):
        with transaction.atomic():
            _refresh_range(range_start, range_end)


def _contiguous(starts: list[datetime]) -> list[tuple[datetime, datetime]]:
    ranges: list[list[datetime]] = []
    for start in starts:
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = start + STEP[Size.MINUTE]
        else:
            ranges.append([start, start + STEP[Size.MINUTE]])
    return [(a, b) for a, b in ranges]


def buckets_refresh_runs(*, run_ids) -> None:
    """Recompute the minutes the given runs finished in (the receiver of prefill_runs_finished)."""
    finished = PrefillRun.objects.filter(pk__in=list(run_ids), finished_at__isnull=False)
    buckets_refresh_minutes(minutes=list(finished.values_list("finished_at", flat=True)))


def buckets_refresh_recent(*, now: datetime, lookback: timedelta) -> None:
    """Re-derive the last `lookback` of minutes (what a receiver missed, ratings, sessions)."""
    with transaction.atomic():
        _refresh_range(now - lookback, now + STEP[Size.MINUTE])


def buckets_rebuild(*, since: datetime | None = None, now: datetime) -> int:
    """Every bucket from `since` (default: the first finished run) to now, a UTC day at a time.
    Returns the number of days rebuilt."""
    since = since or _first_source_moment()
    if since is None:
        MetricBucket.objects.all().delete()
        return 0
    day = floor_to(since, Size.DAY)
    days = 0  # each day replaces its own rows, so the dashboard keeps the others meanwhile
    while day <= now:
        with transaction.atomic():
            _rebuild_day(day)
        day += STEP[Size.DAY]
        days += 1
    return days


def _rebuild_day(day: datetime) -> None:
    end = day + STEP[Size.DAY]
    _lock_writers()
    minutes = minute_tallies(start=day, end=end)
    hours = rolled_up(minutes, Size.HOUR)
    _write(size=Size.MINUTE, start=day, end=end, tallies=minutes)
    _write(size=Size.HOUR, start=day, end=end, tallies=hours)
    _write(size=Size.DAY, start=day, end=end, tallies=rolled_up(hours, Size.DAY))


def _first_source_moment() -> datetime | None:
    sources = (
        (PrefillRun.objects.filter(finished_at__isnull=False), "finished_at"),
        (SuggestionRating.objects.all(), "created_at"),
        (SellSession.objects.exclude(status=SellSession.Status.OPEN), "opened_at"),
    )
    candidates = [
        queryset.order_by(moment).values_list(moment, flat=True).first()
        for queryset, moment in sources
    ]
    candidates = [moment for moment in candidates if moment is not None]
    return min(candidates) if candidates else None
