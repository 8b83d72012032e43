"""Each shipped alert rule fires once and resolves once, driven by generated runs, thumbs,
heartbeats and drift reports read through the real sources (rollup buckets, the heartbeat
cache, the drift report), with the clock moved by time-machine as beat's minutes pass.

Runs and thumbs are inserted in bulk at the moments a test asks for, then the rollup buckets
are rebuilt from them once; at each simulated minute the rules read only buckets up to "now",
which is what they would have read then."""

import datetime as dt
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from ai_prefill.models import PrefillRun
from ai_prefill.prompt_registry import prompt_version_production
from feedback.models import SuggestionRating
from monitoring.alert_models import AlertNotification, AlertRule, AlertStatus
from monitoring.alert_services import alerts_evaluate
from monitoring.drift_services import drift_report_build
from monitoring.heartbeats import heartbeat_record
from monitoring.rollups import buckets_rebuild
from monitoring.tests.drift_factories import reference_generate, runs_generate

from .alert_webhook_server import WebhookServer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DRAFT = {"title": "Bike", "description": "A bike.", "category": "bikes", "condition": "good",
         "brand": "Gazelle", "color": "blue", "price_eur": 120.0}  # fmt: skip
FIRED_AND_RESOLVED = [
    (AlertStatus.OK, AlertStatus.PENDING),
    (AlertStatus.PENDING, AlertStatus.FIRING),
    (AlertStatus.FIRING, AlertStatus.RESOLVED),
]


@pytest.fixture
def alerting(staff_with, settings):
    """Staff who get the emails, and a webhook server, for the rule under test only."""
    staff_with("monitoring.receive_alert_notifications", username="oncall")
    with WebhookServer() as server:
        settings.ALERT_WEBHOOK_URL = server.url
        yield server


@pytest.fixture
def run_alerts(django_capture_on_commit_callbacks, alerting):
    """run_alerts(key, start, end, step, before=None) -> the transitions of rule `key` as beat
    would make them, evaluating at every step from start to end (the other rules disabled);
    `before(t)` runs at each step first. Checks one email and one webhook message per
    transition to firing and to resolved."""

    def run(key, *, start, end, step, before=None):
        AlertRule.objects.exclude(key=key).update(enabled=False)
        made = []
        with time_machine.travel(start, tick=False) as clock:
            moment = start
            while moment <= end:
                clock.move_to(moment)
                if before is not None:
                    before(moment)
                with django_capture_on_commit_callbacks(execute=True):
                    made += [(e.from_status, e.to_status) for e in alerts_evaluate()]
                moment += step
        notified = [m.subject.split("]")[0] + "]" for m in mail.outbox]
        assert notified == ["[FIRING]", "[RESOLVED]"], notified
        assert [t.split("]")[0] + "]" for t in alerting.texts()] == ["[FIRING]", "[RESOLVED]"]
        assert set(AlertNotification.objects.values_list("status", flat=True)) == {"sent"}
        return _without_pending_back_to_ok(made)

    return run


def _without_pending_back_to_ok(moves):
    """A pending condition that went away before its "for" is no alert: keep the rest."""
    return [move for move in moves if move != (AlertStatus.PENDING, AlertStatus.OK)]


def _spread(start: datetime, end: datetime, n: int) -> list[datetime]:
    step = (end - start) / n
    return [start + step * i + step / 2 for i in range(n)]


def runs_finished(user, moments, *, failed=False, upload_s=2.0, queue_s=0.3, cost="0.001"):
    """Runs finished at each moment, created `upload_s` before, claimed `queue_s` after."""
    version = prompt_version_production()
    runs = []
    for finished in moments:
        created = finished - timedelta(seconds=upload_s)
        runs.append(
            PrefillRun(
                user=user, prompt_version=version, provider="openai", model="gpt-4.1-mini",
                photo="prefill/x.jpg", thumbnail="prefill/t.jpg", image_sha256="0" * 64,
                status=PrefillRun.Status.FAILED if failed else PrefillRun.Status.SUCCEEDED,
                error_type="timeout" if failed else "", draft=None if failed else DRAFT,
                attempts=1, created_at=created,
                started_at=created + timedelta(seconds=queue_s), finished_at=finished,
                cost_usd=None if failed else Decimal(cost),
            )
        )  # fmt: skip
    _insert_keeping(runs, "created_at")
    return runs


def ratings_given(user, moment, *, up: int, down: int) -> None:
    """Thumbs given at `moment`, each on its own run (one rating per run, as sellers give)."""
    runs = runs_finished(user, [moment - MINUTE] * (up + down))
    ratings = [
        SuggestionRating(run=r, user=user, rating="up" if i < up else "down")
        for i, r in enumerate(runs)
    ]
    for rating in ratings:
        rating.created_at = moment
    _insert_keeping(ratings, "created_at")


def _insert_keeping(objects: list, name: str) -> None:
    """bulk_create, then put back the `name` moments that auto_now_add overwrote."""
    moments = [getattr(obj, name) for obj in objects]
    type(objects[0]).objects.bulk_create(objects)
    for obj, moment in zip(objects, moments, strict=True):
        setattr(obj, name, moment)
    type(objects[0]).objects.bulk_update(objects, [name], batch_size=500)


def _rebuild(until: datetime) -> None:
    buckets_rebuild(since=until - timedelta(days=9), now=until)


# --- No usable draft: multi-window burn rate ------------------------------------------------------


def test_burn_fast_fires_on_a_burst_of_failures_and_resolves_when_it_stops(seller, run_alerts):
    runs_finished(seller, _spread(T0 - 60 * MINUTE, T0 - 5 * MINUTE, 100))
    runs_finished(seller, _spread(T0 - 5 * MINUTE, T0, 20), failed=True)  # 20 % in 5 min
    runs_finished(seller, _spread(T0 + MINUTE, T0 + 10 * MINUTE, 30))
    _rebuild(T0 + 20 * MINUTE)
    moves = run_alerts(
        "no-usable-draft-burn-fast", start=T0 - 10 * MINUTE, end=T0 + 15 * MINUTE, step=MINUTE
    )
    assert moves == FIRED_AND_RESOLVED
    rule = AlertRule.objects.get(key="no-usable-draft-burn-fast")
    firing = rule.events.get(to_status=AlertStatus.FIRING)
    assert firing.at == T0  # 16.7 % over the hour is 16.7x the 1 % budget; >= 14.4x only now
    assert firing.detail["window"] == {"runs": 120, "no_usable_draft": 20, "burn": 16.666667}
    # The last failure left the 5-minute window: the hour still holds all 20, yet it is over.
    assert rule.events.get(to_status=AlertStatus.RESOLVED).at == T0 + 5 * MINUTE


def test_burn_slow_fires_on_six_hours_of_failures_and_resolves(seller, run_alerts):
    runs_finished(seller, _spread(T0 - timedelta(hours=6), T0 - 30 * MINUTE, 300))
    runs_finished(seller, _spread(T0 - 30 * MINUTE, T0, 30), failed=True)
    runs_finished(seller, _spread(T0 + MINUTE, T0 + 30 * MINUTE, 100))
    _rebuild(T0 + timedelta(hours=1))
    moves = run_alerts(
        "no-usable-draft-burn-slow", start=T0 - 40 * MINUTE, end=T0 + 45 * MINUTE,
        step=5 * MINUTE,
    )  # fmt: skip
    assert moves == FIRED_AND_RESOLVED


def test_burn_rate_needs_both_windows(seller, run_alerts, alerting):
    """A long-past burst alone (the short window clean) does not fire: it is over."""
    runs_finished(seller, _spread(T0 - 60 * MINUTE, T0 - 30 * MINUTE, 20), failed=True)
    runs_finished(seller, _spread(T0 - 30 * MINUTE, T0, 60))
    _rebuild(T0)
    AlertRule.objects.exclude(key="no-usable-draft-burn-fast").update(enabled=False)
    with time_machine.travel(T0, tick=False):
        assert alerts_evaluate() == []  # 25 % over the hour, 0 % over 5 min


# --- Latency -------------------------------------------------------------------------------------


def test_upload_to_draft_p95_fires_after_its_for_and_resolves(seller, run_alerts):
    runs_finished(seller, _spread(T0 - 20 * MINUTE, T0 + 10 * MINUTE, 60), upload_s=12)
    runs_finished(seller, _spread(T0 + 10 * MINUTE, T0 + 45 * MINUTE, 70), upload_s=1)
    _rebuild(T0 + timedelta(hours=1))
    moves = run_alerts(
        "upload-to-draft-p95", start=T0 - 25 * MINUTE, end=T0 + 45 * MINUTE, step=MINUTE
    )
    assert moves == FIRED_AND_RESOLVED
    rule = AlertRule.objects.get(key="upload-to-draft-p95")
    pending, firing = (rule.events.get(to_status=s).at for s in ("pending", "firing"))
    assert firing - pending == 5 * MINUTE  # the rule's "for"


def test_queue_wait_p95_fires_after_its_for_and_resolves(seller, run_alerts):
    slow = _spread(T0 - 20 * MINUTE, T0 + 10 * MINUTE, 60)
    runs_finished(seller, slow, queue_s=9, upload_s=10)
    runs_finished(seller, _spread(T0 + 10 * MINUTE, T0 + 40 * MINUTE, 60), queue_s=0.2)
    _rebuild(T0 + timedelta(hours=1))
    moves = run_alerts("queue-wait-p95", start=T0 - 25 * MINUTE, end=T0 + 40 * MINUTE, step=MINUTE)
    assert moves == FIRED_AND_RESOLVED


# --- Cost ----------------------------------------------------------------------------------------


def test_cost_today_fires_over_the_budget_and_resolves_at_midnight(seller, run_alerts, settings):
    berlin = ZoneInfo("Europe/Berlin")
    settings.TIME_ZONE = "Europe/Berlin"
    rule = AlertRule.objects.get(key="cost-today")
    assert rule.threshold == settings.ALERT_DAILY_COST_BUDGET_USD == 20.0
    morning = datetime(2026, 3, 10, 8, 0, tzinfo=berlin)
    runs_finished(seller, _spread(morning, morning + timedelta(hours=10), 60), cost="1.00")
    _rebuild(morning + timedelta(days=1))
    moves = run_alerts(
        "cost-today", start=morning - timedelta(hours=1), end=morning + timedelta(hours=18),
        step=timedelta(hours=1),
    )  # fmt: skip
    assert moves == FIRED_AND_RESOLVED
    events = {e.to_status: e for e in rule.events.all()}
    assert events["firing"].at == morning + timedelta(hours=4)  # $24 of a $20 budget
    assert events["firing"].value == 24.0
    assert events["resolved"].at == datetime(2026, 3, 11, 0, 0, tzinfo=berlin)


# --- Heartbeats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind", "down_for"),
    [("worker-heartbeat", "worker-prefill", 3 * MINUTE), ("beat-heartbeat", "beat", 4 * MINUTE)],
)
def test_a_silent_heartbeat_fires_and_resolves_when_it_beats_again(run_alerts, key, kind, down_for):
    down_from, down_until = T0 + MINUTE, T0 + MINUTE + down_for

    def beat_unless_down(moment):
        if not down_from <= moment < down_until:
            heartbeat_record(kind=kind)

    moves = run_alerts(
        key, start=T0, end=down_until + 2 * MINUTE, step=MINUTE / 2, before=beat_unless_down
    )
    assert moves == FIRED_AND_RESOLVED
    rule = AlertRule.objects.get(key=key)
    assert rule.events.get(to_status=AlertStatus.RESOLVED).at == down_until


def test_a_heartbeat_never_recorded_fires():
    AlertRule.objects.exclude(key="worker-heartbeat").update(enabled=False)
    with time_machine.travel(T0, tick=False):
        assert [e.to_status for e in alerts_evaluate()] == ["pending", "firing"]
    state = AlertRule.objects.get(key="worker-heartbeat").state
    assert state.last_value == float("inf") and state.note == "no worker-prefill heartbeat recorded"


# --- Thumbs down ---------------------------------------------------------------------------------


def test_thumbs_down_share_doubling_against_last_week_fires_and_resolves(seller, run_alerts):
    ratings_given(seller, T0 - timedelta(days=7, hours=12), up=90, down=10)  # 10 %
    ratings_given(seller, T0 - timedelta(hours=1), up=70, down=30)  # 30 %: 3x
    ratings_given(seller, T0 + timedelta(hours=1), up=200, down=0)  # back to 10 %
    _rebuild(T0 + timedelta(hours=3))
    moves = run_alerts(
        "thumbs-down-doubling", start=T0, end=T0 + timedelta(hours=2), step=10 * MINUTE
    )
    assert moves == FIRED_AND_RESOLVED
    rule = AlertRule.objects.get(key="thumbs-down-doubling")
    firing = rule.events.get(to_status=AlertStatus.FIRING)
    assert (firing.at, firing.value) == (T0 + 30 * MINUTE, 3.0)
    assert rule.events.get(to_status=AlertStatus.RESOLVED).at == T0 + 70 * MINUTE


# --- Drift ---------------------------------------------------------------------------------------

DAY = dt.date(2026, 3, 10)
USUAL = {"bikes": 20, "furniture": 15, "fashion": 10, "electronics": 5}


def test_category_drift_fires_on_a_drifted_day_and_resolves_on_a_usual_one(seller, run_alerts):
    reference_generate(user=seller, day=DAY, per_day=USUAL)
    runs_generate(user=seller, day=DAY, categories={"fashion": 40, "electronics": 160})
    runs_generate(user=seller, day=DAY + dt.timedelta(days=1),
                  categories={k: v * 4 for k, v in USUAL.items()})  # fmt: skip
    berlin = ZoneInfo("Europe/Berlin")

    def daily_report(moment):  # what the hourly beat task builds: yesterday's report
        yesterday = moment.astimezone(berlin).date() - dt.timedelta(days=1)
        if yesterday >= DAY:
            drift_report_build(day=yesterday)

    start = datetime(2026, 3, 10, 23, 0, tzinfo=berlin)
    moves = run_alerts(
        "category-drift", start=start, end=start + timedelta(hours=26),
        step=timedelta(hours=1), before=daily_report,
    )  # fmt: skip
    assert moves == FIRED_AND_RESOLVED
    rule = AlertRule.objects.get(key="category-drift")
    firing = rule.events.get(to_status=AlertStatus.FIRING)
    assert firing.detail["day"] == "2026-03-10" and firing.value > 0.25
    assert rule.events.get(to_status=AlertStatus.RESOLVED).detail["day"] == "2026-03-11"
