"""manage.py simulate_sellers: synthetic sellers through the real pages and API, with the clock
moved by the behaviour model. One small run, checked from every side, and the refusals.

Transactional: the pre-fill run is handed to Celery when its transaction commits, which the
usual test transaction never does."""

import statistics
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from scipy.stats import binom

from ai_prefill.models import EvalCase, PrefillRun
from experiments.models import Arm, Assignment, Experiment, ExperimentEvent, Exposure
from feedback.models import SellSession, SuggestionRating
from listings import simulation
from listings.management.commands import simulate_sellers as command_module
from listings.models import Listing
from listings.simulation import SimulationError, SimulationPlan, simulation_run

pytestmark = pytest.mark.django_db(transaction=True)

# Enough sellers that every arm publishes some whatever the user ids (they differ with the tests
# run before on PostgreSQL): ~15 per arm, so no-ai publishes none with probability ~0.4^15.
SELLERS = 45
SPEEDUP = {"baseline": 0.5}
ABANDONMENT = {"no-ai": 0.4}  # and none in the other arms
MEDIAN, SPREAD = 300, 0.05  # a narrow spread: each arm's times sit close to its median
DAYS = 5


@pytest.fixture
def baseline_site(settings):
    settings.AI_PROVIDER = "baseline"
    return settings


def test_a_small_run_drives_every_arm_through_the_site(baseline_site, monkeypatch):
    """One run of the command, checked from every side (one run: each costs seconds)."""
    runs = []

    def spy(**kwargs):
        runs.append((kwargs["plan"], simulation_run(**kwargs)))
        return runs[-1][1]

    monkeypatch.setattr(command_module, "simulation_run", spy)
    out, started = StringIO(), timezone.now()
    call_command(
        "simulate_sellers", "--sellers", str(SELLERS), "--seed", "11", "--days", str(DAYS),
        "--effect", "baseline=0.5", "--abandonment", "no-ai=0.4", "--abandonment", "0",
        "--median-seconds", str(MEDIAN), "--sd-log-seconds", str(SPREAD),
        "--create-demo-experiment", "--i-know-this-is-not-production", stdout=out,
    )  # fmt: skip
    [(plan, outcomes)] = runs
    assert plan.effects == SPEEDUP and plan.abandonment == ABANDONMENT
    assert plan.default_abandonment == 0
    assert "Simulated sellers per arm" in out.getvalue() and "no-ai" in out.getvalue()
    _check_experiment_and_exposures(outcomes)
    _check_times_to_publish(outcomes)
    _check_abandonment(outcomes, started)
    _check_spread_over_days(outcomes, started)
    _check_no_ai_and_corrections(outcomes)
    _check_ratings(outcomes)


def _check_experiment_and_exposures(outcomes):
    experiment = Experiment.objects.get()
    assert experiment.status == Experiment.Status.RUNNING and experiment.enrollment_percent == 100
    assert {o.arm_key for o in outcomes} == {"control", "baseline", "no-ai"}
    session_ids = [o.session_id for o in outcomes]
    assert SellSession.objects.filter(pk__in=session_ids, experiment=experiment).count() == SELLERS
    assert Exposure.objects.filter(session_id__in=session_ids).count() == SELLERS
    assert Assignment.objects.filter(experiment=experiment).count() == SELLERS
    overridden = ExperimentEvent.objects.filter(action=ExperimentEvent.Action.EVIDENCE_OVERRIDDEN)
    assert {event.arm.key for event in overridden} == {"control", "baseline"}
    assert {event.note for event in overridden} == {"simulator demo"}
    assert Arm.objects.get(key="baseline").payload["provider"] == "baseline"
    assert set(experiment.guardrails.values_list("metric", flat=True)) == {
        "failed_or_empty",
        "p95_seconds_to_draft",
        "cost_per_published_usd",
    }


def _check_times_to_publish(outcomes):
    published = [o for o in outcomes if o.published]
    stored = {str(pk): s for pk, s in SellSession.objects.values_list("pk", "seconds_to_publish")}
    for outcome in published:
        assert stored[outcome.session_id] == pytest.approx(outcome.modelled_seconds, abs=5)
    for arm in ("control", "baseline", "no-ai"):
        seconds = [stored[o.session_id] for o in published if o.arm_key == arm]
        expected = MEDIAN * (1 - SPEEDUP.get(arm, 0))
        assert statistics.median(seconds) == pytest.approx(expected, rel=0.1), arm
    assert Listing.objects.count() == len(published)


def _check_abandonment(outcomes, started):
    gave_up = [o for o in outcomes if not o.published]
    assert {o.arm_key for o in gave_up} == {"no-ai"}
    off = sum(o.arm_key == "no-ai" for o in outcomes)
    low, high = binom.interval(0.999, off, ABANDONMENT["no-ai"])
    assert low <= len(gave_up) <= high
    for outcome in gave_up:
        session = SellSession.objects.get(pk=outcome.session_id)
        assert session.listing_id is None and session.photo_chosen_at is None
        old = session.opened_at < started - timedelta(hours=24)
        expected = SellSession.Status.ABANDONED if old else SellSession.Status.OPEN
        assert session.status == expected
    assert any(s.status == SellSession.Status.ABANDONED for s in SellSession.objects.all())


def _check_spread_over_days(outcomes, started):
    opened = sorted(SellSession.objects.filter(pk__in=[o.session_id for o in outcomes])
                    .values_list("opened_at", flat=True))  # fmt: skip
    assert started - timedelta(days=DAYS) <= opened[0] and opened[-1] <= started
    assert opened[-1] - opened[0] > timedelta(days=DAYS / 2)


def _check_no_ai_and_corrections(outcomes):
    off = [o for o in outcomes if o.arm_key == "no-ai"]
    assert off and not any(o.ai for o in off)
    assert not PrefillRun.objects.filter(user__username__in=[o.username for o in off]).exists()
    for outcome in (o for o in off if o.published):
        session = SellSession.objects.get(pk=outcome.session_id)
        assert session.photo_chosen_at and session.draft_shown_at is None and session.run is None
    shown = [o for o in outcomes if o.draft_shown and o.published]
    assert shown
    for outcome in shown:
        session = SellSession.objects.select_related("run").get(pk=outcome.session_id)
        assert str(session.run_id) == outcome.run_id
        assert session.opened_at < session.photo_chosen_at <= session.draft_shown_at
        assert session.draft_shown_at < session.published_at
        listing = Listing.objects.get(pk=session.listing_id)
        case = EvalCase.objects.filter(image_sha256=session.run.image_sha256).first()
        # Corrected where the draft was wrong (the case's truth), whatever the draft said.
        assert (listing.category, listing.condition) == (
            case.expected_category,
            case.expected_condition,
        )


def _check_ratings(outcomes):
    rated = {o.run_id: o.rating for o in outcomes if o.rating}
    assert rated
    stored = SuggestionRating.objects.values_list("run_id", "rating")
    assert {str(run): rating for run, rating in stored} == rated


def test_requests_carry_the_csrf_token_the_pages_give(baseline_site, monkeypatch):
    """The sellers' browsers enforce CSRF: with a forged token, signing in is refused."""
    real = simulation._PageParser.handle_starttag

    def forge(self, tag, attrs):
        real(self, tag, attrs)
        if "csrfmiddlewaretoken" in self.hidden:
            self.hidden["csrfmiddlewaretoken"] = "forged" * 8

    monkeypatch.setattr(simulation._PageParser, "handle_starttag", forge)
    with pytest.raises(SimulationError, match="Signing in as sim-seller-1 answered 403"):
        simulation_run(plan=SimulationPlan(sellers=1, seed=1))


def test_refuses_without_debug_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="looks like production"):
        call_command("simulate_sellers", "--sellers", "1")
    assert not SellSession.objects.exists()


def test_an_unknown_arm_in_a_flag_is_refused(baseline_site):
    with pytest.raises(CommandError, match="No arm nope here; the arm keys are production"):
        call_command("simulate_sellers", "--effect", "nope=0.2", "--i-know-this-is-not-production")
    with pytest.raises(CommandError, match="takes ARM=NUMBER"):
        call_command("simulate_sellers", "--effect", "0.2", "--i-know-this-is-not-production")
    with pytest.raises(CommandError, match="takes ARM=NUMBER"):
        call_command("simulate_sellers", "--abandonment", "=0.2", "--i-know-this-is-not-production")
    assert not SellSession.objects.exists()
