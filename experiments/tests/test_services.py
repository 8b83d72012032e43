"""Experiment lifecycle through the services: create, start, ramp, pause, arms, audit, exposure."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from experiments import selectors
from experiments.assignment import is_enrolled
from experiments.models import Arm, Assignment, Experiment, ExperimentEvent, Exposure, Guardrail
from experiments.services import (
    ArmSpec,
    GuardrailSpec,
    arm_pause,
    arm_resume,
    assignment_for,
    experiment_create,
    experiment_draft_check,
    experiment_end,
    experiment_pause,
    experiment_ramp,
    experiment_resume,
    experiment_start,
    exposure_log,
    live_experiments_forget,
    srm_acknowledge,
)

from .factories import AssignmentFactory, UserFactory, arm, experiment_running

pytestmark = pytest.mark.django_db

TWO_ARMS = [ArmSpec(key="control", is_control=True), ArmSpec(key="variant")]
Action = ExperimentEvent.Action


def _create(key="exp", arms=TWO_ARMS, **kwargs) -> Experiment:
    return experiment_create(key=key, hypothesis="Faster.", arms=arms, **kwargs)


def _arms_of(users) -> dict[int, str | None]:
    """user id -> the arm key assignment_for serves now (None: production)."""
    served = {user.pk: assignment_for(user=user) for user in users}
    return {pk: (a.arm_key if a else None) for pk, a in served.items()}


def _log(experiment) -> list[tuple[str, str | None]]:
    events = ExperimentEvent.objects.filter(experiment=experiment).order_by("at", "id")
    return [(e.action, e.actor.username if e.actor else None) for e in events]


# --- create and start --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arms", "sentence"),
    [
        ([ArmSpec(key="control", is_control=True)], "at least two arms"),
        ([ArmSpec(key="a"), ArmSpec(key="b")], "Exactly one arm must be the control"),
        (
            [ArmSpec(key="a", is_control=True), ArmSpec(key="b", is_control=True)],
            "Exactly one arm must be the control",
        ),
        ([ArmSpec(key="a", is_control=True), ArmSpec(key="a")], "its own key"),
        ([ArmSpec(key="a", is_control=True), ArmSpec(key="b", weight=0)], "weight of at least 1"),
    ],
)
def test_create_refuses_bad_arms_with_a_sentence(arms, sentence, staff):
    with pytest.raises(ValidationError, match=sentence):
        _create(arms=arms, actor=staff)
    assert not Experiment.objects.exists() and not Arm.objects.exists()


def test_create_makes_a_draft_nobody_is_in(staff, seller):
    experiment = _create(
        arms=[ArmSpec(key="control", is_control=True), ArmSpec(key="v", weight=3)],
        guardrails=[GuardrailSpec(metric=Guardrail.Metric.FAILED_OR_EMPTY, threshold=0.1)],
        actor=staff,
        enrollment_percent=100,
    )
    assert experiment.status == Experiment.Status.DRAFT and len(experiment.salt) == 16
    assert [(a.key, a.position, a.weight, a.is_control) for a in experiment.arms.all()] == [
        ("control", 0, 1, True),
        ("v", 1, 3, False),
    ]
    assert experiment.guardrails.get().threshold == 0.1
    assert assignment_for(user=seller) is None  # a draft serves nobody
    assert _log(experiment) == [(Action.CREATED, "sam")]


def test_start_serves_enrolled_sellers_and_cannot_run_twice(staff, seller):
    experiment = _create(actor=staff, enrollment_percent=100)
    experiment_start(experiment=experiment, actor=staff)
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING and experiment.started_at
    served = assignment_for(user=seller)
    assert served.experiment_key == "exp" and served.arm_key in {"control", "variant"}
    assert served.is_control is (served.arm_key == "control")
    with pytest.raises(ValidationError, match="is running; it cannot become running"):
        experiment_start(experiment=experiment, actor=staff)
    assert _log(experiment) == [(Action.CREATED, "sam"), (Action.STARTED, "sam")]


def test_nobody_outside_enrollment_or_signed_out_is_assigned(staff):
    experiment = experiment_running(actor=staff, enrollment_percent=5)
    users = UserFactory.create_batch(60)
    outside = [u for u in users if not is_enrolled(experiment.salt, u.pk, 5)]
    assert outside, "some of 60 sellers are outside a 5% enrollment"
    assert all(assignment_for(user=u) is None for u in outside)
    assert assignment_for(user=AnonymousUser()) is None and assignment_for(user=None) is None
    assert not Assignment.objects.filter(user__in=outside).exists()


def test_one_live_experiment_per_surface(staff):
    first = experiment_running(actor=staff, key="first")
    second = _create(key="second", actor=staff)
    message = (
        "“first” is already live on the Sell form: end it first (one experiment at a time, "
        "so their effects cannot mix)."
    )
    with pytest.raises(ValidationError) as refused:
        experiment_start(experiment=second, actor=staff)
    assert refused.value.messages == [message]
    second.refresh_from_db()
    assert second.status == Experiment.Status.DRAFT
    assert not second.events.filter(action=Action.STARTED).exists()
    experiment_pause(experiment=first, actor=staff)  # paused is still live: still refused
    with pytest.raises(ValidationError, match="already live"):
        experiment_start(experiment=second, actor=staff)
    experiment_end(experiment=first, actor=staff)
    experiment_start(experiment=second, actor=staff)
    assert selectors.experiment_live() == second


def test_arms_and_weights_change_only_in_a_draft(staff):
    experiment = _create(actor=staff)
    experiment_draft_check(experiment=experiment)  # a draft: fine
    experiment_start(experiment=experiment, actor=staff)
    for state in (experiment, Experiment.objects.get(pk=experiment.pk)):
        with pytest.raises(ValidationError, match="cannot change: that would skew the split"):
            experiment_draft_check(experiment=state)


# --- ramp ----------------------------------------------------------------------------------------


def test_ramp_only_adds_sellers(staff):
    experiment = experiment_running(actor=staff, enrollment_percent=5)
    users = UserFactory.create_batch(400)
    served = {}
    counts = []
    for percent in (5, 25, 50, 100):
        if percent != 5:
            experiment_ramp(experiment=experiment, percent=percent, actor=staff)
        now = {pk: key for pk, key in _arms_of(users).items() if key is not None}
        # Everyone served before is served still, in the same arm; more are added.
        assert {pk: now[pk] for pk in served} == served
        assert len(now) > len(served)
        served = now
        counts.append(len(now))
    assert counts[-1] == 400
    assert 5 <= counts[0] <= 40 and 60 <= counts[1] <= 140 and 160 <= counts[2] <= 240, counts
    assert Assignment.objects.filter(experiment=experiment).count() == 400
    ramps = experiment.events.filter(action=Action.RAMPED).order_by("at", "id")
    assert [(e.detail["from"], e.detail["to"], e.actor) for e in ramps] == [
        ("5.00", "25.00", staff),
        ("25.00", "50.00", staff),
        ("50.00", "100.00", staff),
    ]


def test_ramp_down_or_sideways_is_refused(staff):
    experiment = experiment_running(actor=staff, enrollment_percent=25)
    sentence = (
        "Enrollment is 25.00%: it can only go up. To send everyone back to production, pause "
        "the experiment."
    )
    for percent in (5, 25):
        with pytest.raises(ValidationError) as refused:
            experiment_ramp(experiment=experiment, percent=percent, actor=staff)
        assert refused.value.messages == [sentence]
    for percent in (0, -5, 101):
        with pytest.raises(ValidationError, match="between 0 and 100%"):
            experiment_ramp(experiment=experiment, percent=percent, actor=staff)
    experiment.refresh_from_db()
    assert experiment.enrollment_percent == 25
    assert not experiment.events.filter(action=Action.RAMPED).exists()


def test_a_stale_copy_cannot_ramp_down(staff):
    experiment = experiment_running(actor=staff, enrollment_percent=5)
    stale = Experiment.objects.get(pk=experiment.pk)
    experiment_ramp(experiment=experiment, percent=50, actor=staff)
    with pytest.raises(ValidationError, match="Enrollment is 50.00%: it can only go up"):
        experiment_ramp(experiment=stale, percent=25, actor=staff)
    assert Experiment.objects.get(pk=experiment.pk).enrollment_percent == 50


def test_a_draft_or_ended_experiment_is_not_ramped(staff):
    draft = _create(actor=staff)
    with pytest.raises(ValidationError, match="Only a running or paused experiment"):
        experiment_ramp(experiment=draft, percent=50, actor=staff)


# --- sticky assignment ---------------------------------------------------------------------------


def test_the_first_assignment_wins_after_the_weights_change(staff):
    experiment = experiment_running(actor=staff)
    users = UserFactory.create_batch(40)
    before = _arms_of(users)
    assert set(before.values()) == {"control", "variant"}
    # Changed behind the services' back (the admin refuses it): 1 : 1000 would move about half.
    Arm.objects.filter(experiment=experiment, key="variant").update(weight=1000)
    live_experiments_forget()
    assert _arms_of(users) == before
    assert Assignment.objects.filter(experiment=experiment).count() == 40
    newcomers = _arms_of(UserFactory.create_batch(20))
    assert list(newcomers.values()).count("variant") >= 18  # new sellers follow the new weights


# --- kill switch and arms ------------------------------------------------------------------------


def test_pause_sends_everyone_to_production_at_once_and_resume_restores(staff):
    experiment = experiment_running(actor=staff)
    users = UserFactory.create_batch(10)
    before = _arms_of(users)
    assert None not in before.values()
    experiment_pause(experiment=experiment, actor=staff, reason="drafts look wrong")
    assert set(_arms_of(users).values()) == {None}
    assert set(_arms_of(UserFactory.create_batch(5)).values()) == {None}  # nobody new either
    experiment_resume(experiment=experiment, actor=staff)
    assert _arms_of(users) == before
    experiment_end(experiment=experiment, actor=staff)
    assert set(_arms_of(users).values()) == {None}
    with pytest.raises(ValidationError, match="The experiment is ended; it cannot become running"):
        experiment_resume(experiment=experiment, actor=staff)
    assert _log(experiment) == [
        (Action.CREATED, "sam"),
        (Action.STARTED, "sam"),
        (Action.PAUSED, "sam"),
        (Action.RESUMED, "sam"),
        (Action.ENDED, "sam"),
    ]
    assert experiment.events.get(action=Action.PAUSED).note == "drafts look wrong"


def test_a_paused_arm_serves_production_and_the_others_keep_theirs(staff):
    experiment = experiment_running(actor=staff)
    users = UserFactory.create_batch(30)
    before = _arms_of(users)
    variant = arm(experiment, "variant")
    assert arm_pause(arm=variant, actor=staff, reason="too slow") is True
    after = _arms_of(users)
    assert after == {pk: (key if key == "control" else None) for pk, key in before.items()}
    assert arm_pause(arm=Arm.objects.get(pk=variant.pk), actor=None, reason="again") is False
    paused = experiment.events.filter(action__in=[Action.ARM_PAUSED, Action.GUARDRAIL_BREACHED])
    assert [(e.action, e.actor, e.arm, e.note) for e in paused] == [
        (Action.ARM_PAUSED, staff, variant, "too slow")
    ]
    variant.refresh_from_db()
    assert variant.status == Arm.Status.PAUSED and variant.paused_reason == "too slow"
    assert arm_resume(arm=variant, actor=staff) is True
    assert arm_resume(arm=variant, actor=staff) is False
    assert _arms_of(users) == before  # the same sellers come back to the same arm


def test_a_guardrail_pause_is_logged_as_the_system(staff):
    experiment = experiment_running(actor=staff)
    variant = arm(experiment, "variant")
    detail = {"metric": "failed_or_empty", "value": 0.4}
    assert arm_pause(arm=variant, reason="40% failed", detail=detail) is True
    event = experiment.events.get(action=Action.GUARDRAIL_BREACHED)
    assert (event.actor, event.arm, event.note) == (None, variant, "40% failed")
    assert event.detail == detail


# --- audit, exposure, SRM ------------------------------------------------------------------------


def test_every_step_is_in_the_audit_log_with_who(staff_with, seller):
    alice, bob = staff_with(username="ann"), staff_with(username="ben")
    experiment = _create(actor=alice, enrollment_percent=5)
    experiment_start(experiment=experiment, actor=alice)
    experiment_ramp(experiment=experiment, percent=50, actor=bob)
    arm_pause(arm=arm(experiment, "variant"), actor=bob, reason="slow")
    arm_resume(arm=arm(experiment, "variant"), actor=alice)
    experiment_pause(experiment=experiment, actor=bob)
    experiment_resume(experiment=experiment, actor=alice)
    srm_acknowledge(experiment=experiment, actor=bob, note="bot traffic in variant, filtered")
    experiment_end(experiment=experiment, actor=alice, shipped_arm=arm(experiment, "control"))
    assert _log(experiment) == [
        (Action.CREATED, "ann"),
        (Action.STARTED, "ann"),
        (Action.RAMPED, "ben"),
        (Action.ARM_PAUSED, "ben"),
        (Action.ARM_RESUMED, "ann"),
        (Action.PAUSED, "ben"),
        (Action.RESUMED, "ann"),
        (Action.SRM_ACKNOWLEDGED, "ben"),
        (Action.SHIPPED, "ann"),
        (Action.ENDED, "ann"),
    ]
    experiment.refresh_from_db()
    assert experiment.shipped_arm.key == "control" and experiment.ended_at is not None
    assert experiment.srm_acknowledged_at is not None


def test_srm_acknowledge_needs_a_note(staff):
    experiment = experiment_running(actor=staff)
    with pytest.raises(ValidationError, match="Say what you found"):
        srm_acknowledge(experiment=experiment, actor=staff, note="  ")
    assert Experiment.objects.get(pk=experiment.pk).srm_acknowledged_at is None


def test_an_arm_of_another_experiment_cannot_be_shipped(staff):
    other = _create(key="other", actor=staff)
    experiment = experiment_running(actor=staff)
    with pytest.raises(ValidationError, match="belongs to another experiment"):
        experiment_end(experiment=experiment, actor=staff, shipped_arm=arm(other, "variant"))
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING


def test_exposure_is_logged_once_per_session(staff, seller):
    experiment_running(actor=staff)
    served = assignment_for(user=seller)
    session, other_session = uuid.uuid4(), uuid.uuid4()
    for _ in range(3):
        exposure_log(assignment=served, user=seller, session_id=session)
    exposure_log(assignment=served, user=seller, session_id=other_session)
    rows = Exposure.objects.order_by("exposed_at", "id")
    assert [(e.session_id, e.arm_id, e.user_id) for e in rows] == [
        (session, served.arm_id, seller.pk),
        (other_session, served.arm_id, seller.pk),
    ]


def test_assignment_counts_and_sample_ratio(staff):
    experiment = experiment_running(actor=staff)
    control, variant = arm(experiment, "control"), arm(experiment, "variant")
    assert selectors.assignment_counts(experiment=experiment) == {control.pk: 0, variant.pk: 0}
    AssignmentFactory.create_batch(45, arm=control)
    AssignmentFactory.create_batch(55, arm=variant)
    assert selectors.assignment_counts(experiment=experiment) == {control.pk: 45, variant.pk: 55}
    srm = selectors.sample_ratio(experiment=experiment)
    assert (srm.total, srm.checked, srm.mismatch) == (100, True, False)  # 45/55 of 100: p = 0.32
    assert srm.p_value == pytest.approx(0.3173, abs=1e-4)
    assert selectors.ship_blockers(experiment=experiment) == []
