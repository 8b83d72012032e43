"""Writes of seller feedback: ratings, the outcome at publish, late corrections, abandonment."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Value
from django.utils import timezone

from ai_prefill.models import PrefillRun
from experiments.services import ArmAssignment, exposure_log

from . import signals
from .corrections import FieldChange, fields_changes
from .models import FieldCorrection, PrefillOutcome, SellSession, SuggestionRating

SELL_SESSION_EVENTS = ("photo_chosen", "draft_shown")


def rating_set(*, run: PrefillRun, user, rating: str, comment: str = "") -> SuggestionRating:
    """One rating per run and seller; giving another replaces it."""
    if run.user_id != user.pk:
        raise PermissionDenied("Only the seller who asked for the suggestion can rate it.")
    obj, _ = SuggestionRating.objects.update_or_create(
        run=run, user=user, defaults={"rating": rating, "comment": comment.strip()}
    )
    signals.send_suggestion_rated_on_commit(rating=obj.rating)
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


# --- sell sessions -------------------------------------------------------------------------------


def sell_session_open(*, user, assignment: ArmAssignment | None) -> SellSession:
    """The seller opened the Sell form. Opening it again soon (a reload, the back button) goes
    on with the same session, so a reload is neither an abandonment nor a new start: the session
    resumed is the seller's newest open one from the last FEEDBACK_SELL_SESSION_RESUME_MINUTES in
    the same arm. An enrolled seller's exposure is logged once per session."""
    since = timezone.now() - timedelta(minutes=settings.FEEDBACK_SELL_SESSION_RESUME_MINUTES)
    arm_id = assignment.arm_id if assignment else None
    session = (
        SellSession.objects.filter(
            user=user, status=SellSession.Status.OPEN, opened_at__gte=since, arm_id=arm_id
        )
        .order_by("-opened_at")
        .first()
    )
    if session is not None:
        # Its exposure was logged when it opened (a session keeps its arm): a reload of the Sell
        # page writes nothing, which keeps assignment within its 2 ms budget (a commit per GET
        # cost more; benchmarks/assignment_overhead.py).
        return session
    with transaction.atomic():
        session = SellSession.objects.create(
            user=user,
            experiment_id=assignment.experiment_id if assignment else None,
            arm_id=arm_id,
        )
        if assignment is not None:
            exposure_log(assignment=assignment, user=user, session_id=session.pk)
    return session


def sell_session_get_owned(*, session_id, user) -> SellSession | None:
    return SellSession.objects.filter(pk=session_id, user_id=user.pk).first()


def sell_session_mark(*, session: SellSession, event: str, run: PrefillRun | None = None) -> bool:
    """The seller chose a photo, or the AI's draft filled the form. The first time counts (a
    second photo does not move the mark); a run given is linked if it is the seller's. False if
    nothing changed."""
    if event not in SELL_SESSION_EVENTS:
        raise ValueError(f"unknown sell session event {event!r}")
    if run is not None and run.user_id != session.user_id:
        raise PermissionDenied("That AI suggestion belongs to someone else.")
    now = timezone.now()
    changed = SellSession.objects.filter(
        pk=session.pk, status=SellSession.Status.OPEN, **{f"{event}_at__isnull": True}
    ).update(**{f"{event}_at": now})
    if run is not None:  # the newest run shown; like the marks, only while the form is open
        changed += (
            SellSession.objects.filter(pk=session.pk, status=SellSession.Status.OPEN)
            .exclude(run=run)
            .update(run=run)
        )
    return bool(changed)


def sell_session_publish(
    *, session: SellSession, listing_id: int, published_at: datetime, run: PrefillRun | None = None
) -> bool:
    """The session ended in a listing. A publish after the session was marked abandoned still
    counts: the seller did publish. False if it was published already (once per session)."""
    if run is not None and run.user_id != session.user_id:
        raise PermissionDenied("That AI suggestion belongs to someone else.")
    seconds = max(0.0, (published_at - session.opened_at).total_seconds())
    fields = {
        "status": SellSession.Status.PUBLISHED,
        "published_at": published_at,
        "listing_id": listing_id,
        "seconds_to_publish": seconds,
        "abandoned_at": None,
    }
    if run is not None:
        fields["run"] = run
    return bool(
        SellSession.objects.filter(pk=session.pk)
        .exclude(status=SellSession.Status.PUBLISHED)
        .update(**fields)
    )


def sell_sessions_mark_abandoned(*, now: datetime | None = None) -> int:
    """Open sessions older than FEEDBACK_ABANDON_AFTER_HOURS: abandoned (one UPDATE, rerunnable)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.FEEDBACK_ABANDON_AFTER_HOURS)
    return SellSession.objects.filter(status=SellSession.Status.OPEN, opened_at__lt=cutoff).update(
        status=SellSession.Status.ABANDONED, abandoned_at=now
    )
