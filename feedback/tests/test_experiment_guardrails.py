"""Guardrails: a breach pauses exactly that arm, says why in the audit log and emails staff once;
arms under their minimum sample are not judged; and, end to end, an arm whose model server
fails is paused and its sellers get production."""

import numpy as np
import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from ai_prefill.models import PrefillRun
from ai_prefill.prompt_registry import prompt_version_production
from ai_prefill.rollout import production_config_forget
from experiments.models import Arm, ExperimentEvent
from experiments.services import (
    ArmSpec,
    GuardrailSpec,
    assignment_for,
    experiment_pause,
    live_experiments_forget,
)
from feedback.experiment_guardrails import guardrails_check, results_path
from feedback.experiment_results import experiment_results
from feedback.tasks import experiment_guardrails_check_task
from feedback.tests.experiment_data import arm_fill, experiment_running, now_fixed
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db

THREE = [ArmSpec("control", is_control=True), ArmSpec("bad"), ArmSpec("fine")]


@pytest.fixture(autouse=True)
def _forget_live():
    live_experiments_forget()
    production_config_forget()
    yield
    live_experiments_forget()
    production_config_forget()


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"seller{i}") for i in range(9)]


@pytest.fixture
def engineer(staff_with):
    return staff_with("experiments.change_experiment", "experiments.view_experiment",
                      username="erin")  # fmt: skip


def _experiment(users, *, min_sample=30, control_fail=0.05):
    experiment = experiment_running(
        arms=THREE, guardrails=[GuardrailSpec("failed_or_empty", 0.2, min_sample)]
    )
    arms = {arm.key: arm for arm in experiment.arms.all()}
    rng, now = np.random.default_rng(11), now_fixed()
    fill = {"n": 120, "now": now, "runs": 1.0, "blank": 0.0}
    arm_fill(arms["control"], users[:3], rng, fail=control_fail, **fill)
    arm_fill(arms["bad"], users[3:6], rng, fail=0.6, **fill)
    arm_fill(arms["fine"], users[6:], rng, fail=0.05, **fill)
    return experiment, arms


def test_breach_pauses_exactly_that_arm_with_the_reason(
    users, engineer, staff, django_capture_on_commit_callbacks
):
    experiment, arms = _experiment(users)
    shown = experiment_results(experiment=experiment)
    bad_failures = next(a for a in shown["arms"] if a["key"] == "bad")["failures"]
    with django_capture_on_commit_callbacks(execute=True):
        breaches = guardrails_check()
    assert [(b.arm, b.metric, b.paused) for b in breaches] == [("bad", "failed_or_empty", True)]
    assert breaches[0].value == bad_failures["value"] and breaches[0].n == bad_failures["n"]
    statuses = dict(Arm.objects.filter(experiment=experiment).values_list("key", "status"))
    assert statuses == {"control": "active", "bad": "paused", "fine": "active"}
    event = ExperimentEvent.objects.get(action=ExperimentEvent.Action.GUARDRAIL_BREACHED)
    assert event.arm == arms["bad"] and event.actor is None
    value = f"{bad_failures['value']:.1%}"
    assert event.note == (
        f"Failed or empty drafts (share) of arm bad is {value}, above the limit 20.0% "
        f"(n = {bad_failures['n']})."
    )
    assert Arm.objects.get(pk=arms["bad"].pk).paused_reason == event.note
    assert event.detail["guardrails"][0]["threshold"] == 0.2
    # One email, to the staff who may change experiments (not to staff without the permission).
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [engineer.email] and staff.email not in email.to
    assert "prompt-v3/bad is paused" in email.subject
    assert event.note in email.body
    assert results_path(experiment) in email.body
    # The next minute's check: nothing new to pause, no second email.
    with django_capture_on_commit_callbacks(execute=True):
        assert experiment_guardrails_check_task.delay().get() == 0
    assert len(mail.outbox) == 1
    assert ExperimentEvent.objects.filter(action="guardrail_breached").count() == 1


def test_arms_under_min_sample_are_not_judged(users, engineer, django_capture_on_commit_callbacks):
    experiment, _ = _experiment(users, min_sample=500)
    with django_capture_on_commit_callbacks(execute=True):
        assert guardrails_check() == []
    assert not Arm.objects.filter(status=Arm.Status.PAUSED).exists()
    results = experiment_results(experiment=experiment)
    bad = next(a for a in results["arms"] if a["key"] == "bad")
    assert bad["failures"]["value"] > 0.2  # above the limit, but too few runs to say
    assert bad["guardrails"][0]["judged"] is False and bad["guardrails"][0]["breached"] is False
    assert mail.outbox == []


def test_control_breach_is_reported_not_paused(users, engineer, django_capture_on_commit_callbacks):
    _experiment(users, control_fail=0.6)
    with django_capture_on_commit_callbacks(execute=True):
        breaches = guardrails_check()
    assert {(b.arm, b.paused) for b in breaches} == {("control", False), ("bad", True)}
    assert Arm.objects.get(key="control").status == Arm.Status.ACTIVE
    assert len(mail.outbox) == 1


def test_nothing_is_checked_while_the_experiment_is_paused(users, engineer):
    experiment, _ = _experiment(users)
    experiment_pause(experiment=experiment, actor=engineer)
    assert guardrails_check() == []
    assert not Arm.objects.filter(status=Arm.Status.PAUSED).exists()


def _photo():
    return SimpleUploadedFile("item.jpg", render_item(shape="mug", color="red"), "image/jpeg")


def test_guardrail_breach_pauses_an_arm_with_the_local_openai_server_failing(
    fake_openai, settings, django_user_model, client_for, engineer, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """Sellers in an openai arm (production's prompt, the fake server's model) upload photos
    while the server answers 500s: the runs fail, the check pauses the arm, and the same sellers'
    next upload gets production (the offline baseline here) instead of the arm."""
    monkeypatch.setattr("ai_prefill.execution.random.uniform", lambda a, b: 0.0)
    settings.AI_MAX_ATTEMPTS = 2
    settings.AI_PROVIDER = "baseline"  # production; the arm is the only openai traffic
    production_config_forget()
    version = prompt_version_production()
    payload = {"prompt_version": version.content_hash[:10], "provider": "openai",
               "model": settings.AI_MODEL}  # fmt: skip
    experiment = experiment_running(
        arms=[ArmSpec("control", is_control=True), ArmSpec("openai", payload=payload)],
        guardrails=[GuardrailSpec("failed_or_empty", 0.5, 4)],
    )
    arm = experiment.arms.get(key="openai")
    sellers = []
    for i in range(40):
        user = django_user_model.objects.create_user(f"s{i}", password="pw")
        if assignment_for(user=user).arm_id == arm.pk:
            sellers.append(user)
        if len(sellers) == 4:
            break
    fake_openai.default = Behaviour.server_error(500)
    for seller in sellers:
        with django_capture_on_commit_callbacks(execute=True):
            assert client_for(seller).post("/api/prefill/", {"image": _photo()}).status_code == 202
    runs = PrefillRun.objects.filter(arm=arm)
    assert runs.count() == 4 and set(runs.values_list("status", flat=True)) == {"failed"}
    assert set(runs.values_list("provider", flat=True)) == {"openai"}
    assert fake_openai.counts  # the requests did reach the local server
    with django_capture_on_commit_callbacks(execute=True):
        breaches = guardrails_check()
    assert [(b.arm, b.paused, b.value) for b in breaches] == [("openai", True, 1.0)]
    assert Arm.objects.get(pk=arm.pk).status == Arm.Status.PAUSED
    assert len(mail.outbox) == 1
    for seller in sellers:
        with django_capture_on_commit_callbacks(execute=True):
            answer = client_for(seller).post("/api/prefill/", {"image": _photo()})
        run = PrefillRun.objects.get(pk=answer.json()["id"])
        assert (run.arm_id, run.provider, run.status) == (None, "baseline", "succeeded")
