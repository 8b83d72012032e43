"""Writes of seller feedback: ratings, the outcome at publish, late corrections, abandonment."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Value
from django.utils import timezone

from ai_prefill.models import PrefillRun

from .corrections import FieldChange, fields_changes
from .models import FieldCorrection, PrefillOutcome, SuggestionRating


def rating_set(*, run: PrefillRun, user, rating: str, comment: str = "") -> SuggestionRating:
    """One rating per run and seller; giving another replaces it."""
    if run.user_id != user.pk:
        raise PermissionDenied("Only the seller who asked for the suggestion can rate it.")
    obj, _ = SuggestionRating.objects.update_or_create(
        run=run, user=user, defaults={"rating": rating, "comment": comment.strip()}
    )
    return obj


@transaction.atomic
def outcome_record_publish(
    *,
    run: PrefillRun,
    final_values: dict,
    listing_id: int,
    form_opened_at: datetime | None,
    published_at: datetime,
) -> PrefillOutcome:
    """The seller published from this run: per-field corrections against what was suggested.

    A run that failed suggested nothing: its fields count as filled by hand, not as corrected.
    """
    changes = fields_changes(run.draft, final_values) if run.draft else []
    seconds = _seconds_between(form_opened_at, published_at)
    outcome, _ = PrefillOutcome.objects.update_or_create(
        run=run,
        defaults={
            "status": PrefillOutcome.Status.PUBLISHED,
            "listing_id": listing_id,
            "form_opened_at": form_opened_at,
            "published_at": published_at,
            "seconds_to_publish": seconds,
            "fields_changed": sum(change.changed for change in changes),
        },
    )
    outcome.corrections.filter(stage=FieldCorrection.Stage.PUBLISH).delete()
    _store(outcome, changes, FieldCorrection.Stage.PUBLISH)
    return outcome


def outcome_record_late_edit(*, run: PrefillRun, before: dict, after: dict, at: datetime) -> int:
    """An edit of the published listing within the window counts as a late correction."""
    outcome = PrefillOutcome.objects.filter(run=run, status=PrefillOutcome.Status.PUBLISHED).first()
    if outcome is None or outcome.published_at is None:
        return 0
    if at - outcome.published_at > timedelta(hours=settings.FEEDBACK_LATE_CORRECTION_HOURS):
        return 0
    changes = [c for c in fields_changes(before, after) if c.changed and c.field in after]
    _store(outcome, changes, FieldCorrection.Stage.LATE)
    return len(changes)


def outcomes_mark_abandoned(*, now: datetime | None = None) -> int:
    """Runs that never became a listing within the allowed time; returns how many were marked.

    One INSERT ... SELECT: the runs are chosen in SQL and never loaded, and a run that got an
    outcome meanwhile (a publish recorded at the same moment wins) is skipped by the database,
    so the count is of rows really inserted. Safe to run again.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.FEEDBACK_ABANDON_AFTER_HOURS)
    rows = (
        PrefillRun.objects.filter(created_at__lt=cutoff)
        .exclude(Exists(PrefillOutcome.objects.filter(run=OuterRef("pk"))))
        .annotate(
            abandoned=Value(PrefillOutcome.Status.ABANDONED),
            zero=Value(0),
            recorded=Value(timezone.now(), output_field=DateTimeField()),
        )
        .values("pk", "abandoned", "zero", "recorded")
        .order_by()
    )
    return _insert_new(PrefillOutcome, ("run", "status", "fields_changed", "recorded_at"), rows)


def _insert_new(model, fields: tuple[str, ...], rows) -> int:
    """INSERT INTO model (fields) SELECT <rows> ON CONFLICT DO NOTHING; returns the rows inserted.

    The ORM has no INSERT ... SELECT; PostgreSQL and SQLite (>= 3.24) both take this statement.
    """
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {select} ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _store(outcome: PrefillOutcome, changes: list[FieldChange], stage: str) -> None:
    FieldCorrection.objects.bulk_create(
        FieldCorrection(outcome=outcome, stage=stage, field=c.field, suggested=c.suggested,
                        final=c.final, changed=c.changed, similarity=c.similarity)
        for c in changes
    )  # fmt: skip


def _seconds_between(start: datetime | None, end: datetime) -> int | None:
    if start is None or start > end:
        return None
    return int((end - start).total_seconds())
