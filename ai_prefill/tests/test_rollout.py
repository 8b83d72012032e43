"""Arms as AI configurations: parse, serve, start with eval evidence, ship and roll back."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalCase, EvalRun, PrefillRun, ProductionConfig, PromptVersion
from ai_prefill.prompt_registry import prompt_version_production, prompt_versions_sync
from ai_prefill.rollout import (
    arm_config_parse,
    experiment_ship,
    experiment_start_checked,
    prefill_config_for,
    production_config,
    production_config_restore,
    production_config_set,
)
from ai_prefill.services import PREFILL_OFF_MESSAGE, PrefillOff, prefill_run_start
from ai_prefill.tests.factories import sample_photo
from experiments.models import Arm, Assignment, Experiment, ExperimentEvent
from experiments.services import (
    ArmSpec,
    assignment_for,
    experiment_create,
    srm_acknowledge,
)
from experiments.tests.factories import TEST_SALT, UserFactory, arm, experiment_running
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db
Action = ExperimentEvent.Action


@pytest.fixture(autouse=True)
def _production_from_the_environment(settings):
    """Production before any ship: the environment's settings (no ProductionConfig row)."""
    settings.AI_PROVIDER = "openai"
    settings.AI_MODEL = "gpt-prod"


@pytest.fixture
def production_version():
    prompt_versions_sync()
    return prompt_version_production()


@pytest.fixture
def new_version(production_version):
    """A second version of the production prompt (what a prompt experiment tries)."""
    return PromptVersion.objects.create(
        name=production_version.name,
        content_hash="f" * 64,
        instructions=production_version.instructions + "\nName the brand only if it is visible.",
        user_text=production_version.user_text,
        params={**production_version.params, "temperature": 0.3},
        schema_hash=production_version.schema_hash,
    )


def _baseline_arm(version) -> dict:
    return {"prompt_version": version.content_hash[:10], "provider": "baseline", "model": "x"}


def seller_in(experiment: Experiment, arm_key: str):
    """A new seller whom the hash puts in that arm (the salt is fixed: the same one every run)."""
    for _ in range(200):
        user = UserFactory()
        served = assignment_for(user=user)
        if served is not None and served.arm_key == arm_key:
            return user
    raise AssertionError(f"nobody in {arm_key} in 200 sellers")


# --- payloads ----------------------------------------------------------------------------------


def test_an_empty_payload_means_production(production_version):
    for payload in ({}, None, {"ai": "on"}):
        config = arm_config_parse(payload)
        assert (config.enabled, config.provider, config.model) == (True, "openai", "gpt-prod")
        assert config.prompt_version == production_version and config.arm_id is None


def test_off_means_no_ai():
    config = arm_config_parse({"ai": "off"})
    assert config.enabled is False and config.prompt_version is None
    assert config.describe() == "no AI (plain form)" and config.as_payload() == {"ai": "off"}


def test_a_configuration_payload(new_version):
    config = arm_config_parse(
        {"prompt_version": "F" * 12, "provider": "openai", "model": "gpt-4.1-nano"}
    )
    assert (config.prompt_version, config.provider, config.model) == (
        new_version,
        "openai",
        "gpt-4.1-nano",
    )
    assert config.as_payload() == {
        "prompt_version": "f" * 10,
        "provider": "openai",
        "model": "gpt-4.1-nano",
    }
    assert arm_config_parse(config.as_payload()) == config  # round trip
    baseline = arm_config_parse(_baseline_arm(new_version))
    assert (baseline.provider, baseline.model) == ("baseline", "baseline")  # the baseline has none


@pytest.mark.parametrize(
    ("payload", "sentence"),
    [
        ({"ai": "off", "provider": "baseline"}, 'An arm with "ai": "off" takes nothing else.'),
        ({"ai": "maybe"}, "The arm's payload is not a configuration: ai: String should match"),
        ({"colour": "red"}, "The arm's payload is not a configuration: colour: Extra inputs"),
        (
            {"prompt_version": "ffff", "provider": "baseline"},
            "The arm's payload is not a configuration: prompt_version: String should have at "
            "least 10 characters",
        ),
        (["ffffffffff"], "The arm's payload is not a configuration: Input should be a valid dict"),
        (
            {"provider": "baseline"},
            'Give "prompt_version" and "provider" (and "model" for openai).',
        ),
        ({"prompt_version": "f" * 10}, 'Give "prompt_version" and "provider"'),
        (
            {"prompt_version": "f" * 10, "provider": "anthropic", "model": "c"},
            "Unknown provider 'anthropic': use openai or baseline.",
        ),
        ({"prompt_version": "f" * 10, "provider": "openai"}, 'An openai arm needs a "model".'),
        (
            {"prompt_version": "0123456789", "provider": "baseline"},
            "The prompt version '0123456789' matches no version.",
        ),
    ],
)
def test_bad_payloads_are_refused_with_a_sentence(payload, sentence, new_version):
    with pytest.raises(ValidationError) as refused:
        arm_config_parse(payload)
    [message] = refused.value.messages
    assert message.startswith(sentence), message


def test_an_ambiguous_prefix_is_refused(new_version):
    PromptVersion.objects.create(
        name=new_version.name, content_hash="f" * 10 + "0" * 54, instructions="i", user_text="u",
        schema_hash=new_version.schema_hash,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="matches more than one version"):
        arm_config_parse({"prompt_version": "f" * 10, "provider": "baseline"})
    assert arm_config_parse({"prompt_version": "f" * 11, "provider": "baseline"}).prompt_version


# --- who gets what -------------------------------------------------------------------------------


def test_outside_an_experiment_production_from_the_environment_then_the_database(
    seller, staff, new_version, production_version
):
    config = prefill_config_for(user=seller)
    assert (config.provider, config.model, config.prompt_version) == (
        "openai",
        "gpt-prod",
        production_version,
    )
    assert config.arm_id is None
    production_config_set(config=arm_config_parse(_baseline_arm(new_version)), actor=staff)
    config = prefill_config_for(user=seller)
    assert (config.provider, config.model, config.prompt_version) == (
        "baseline",
        "baseline",
        new_version,
    )
    assert config.arm_id is None


def test_an_arm_seller_gets_the_arm_configuration(staff, new_version):
    experiment = experiment_running(actor=staff, payloads={"variant": _baseline_arm(new_version)})
    seller = seller_in(experiment, "variant")
    config = prefill_config_for(user=seller)
    assert (config.provider, config.prompt_version) == ("baseline", new_version)
    variant = arm(experiment, "variant")
    assert (config.arm_id, config.arm_key, config.experiment_key) == (
        variant.pk,
        "variant",
        experiment.key,
    )
    control = prefill_config_for(user=seller_in(experiment, "control"))
    assert (control.provider, control.model) == ("openai", "gpt-prod")  # {}: production
    assert control.arm_id == arm(experiment, "control").pk


def _photo():
    return SimpleUploadedFile("item.jpg", render_item(shape="mug", color="red"), "image/jpeg")


def test_a_run_of_an_arm_seller_records_the_arm_configuration(
    client_for, staff, new_version, django_capture_on_commit_callbacks
):
    experiment = experiment_running(actor=staff, payloads={"variant": _baseline_arm(new_version)})
    seller = seller_in(experiment, "variant")
    with django_capture_on_commit_callbacks(execute=True):  # the task, queued on commit
        response = client_for(seller).post("/api/prefill/", {"image": _photo()})
    assert response.status_code == 202, response.content
    run = PrefillRun.objects.get(pk=response.json()["id"])
    assert run.arm == arm(experiment, "variant")
    assert (run.prompt_version, run.provider, run.model) == (new_version, "baseline", "baseline")
    assert run.status == PrefillRun.Status.SUCCEEDED  # the baseline ran in-process
    assert run.draft["category"]


def test_an_off_seller_gets_403_and_no_run(client_for, staff):
    experiment = experiment_running(actor=staff, payloads={"variant": {"ai": "off"}})
    seller = seller_in(experiment, "variant")
    response = client_for(seller).post("/api/prefill/", {"image": _photo()})
    assert response.status_code == 403
    assert response.json() == {"detail": PREFILL_OFF_MESSAGE}
    with pytest.raises(PrefillOff, match="not offered on your account"):
        prefill_run_start(user=seller, photo=sample_photo())
    assert not PrefillRun.objects.exists()


# --- start with evidence -------------------------------------------------------------------------


@pytest.fixture
def starter_set():
    starter_cases_load()
    assert EvalCase.objects.count() >= 30


def _run_evals(tmp_path, *args) -> EvalRun:
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "run_evals", "--format", "json", "--output-dir", str(tmp_path / "reports"), *args
        )
    assert exit_info.value.code == 0, "the gate should pass"
    return EvalRun.objects.order_by("-id").first()


def _draft(new_version, **payloads) -> Experiment:
    experiment = experiment_create(
        key="prompt-v2",
        hypothesis="A stricter prompt drafts brands right, so sellers correct less.",
        arms=[
            ArmSpec(key="control", is_control=True, payload={"ai": "off"}),
            ArmSpec(key="variant", payload=_baseline_arm(new_version)),
        ],
    )
    return experiment


def test_an_ai_arm_needs_a_passed_eval_run_of_its_configuration(
    staff, new_version, starter_set, tmp_path
):
    experiment = _draft(new_version)
    with pytest.raises(ValidationError) as refused:
        experiment_start_checked(experiment=experiment, actor=staff)
    assert refused.value.messages == [
        f"No passed eval run on the current eval set for: variant ({new_version.label} on "
        "baseline/baseline). Run manage.py run_evals for each, or give a reason to start "
        "without one."
    ]
    # A run on part of the set, or of another configuration, is no evidence.
    _run_evals(tmp_path, "--provider", "baseline", "--prompt-version", "f" * 10, "--limit", "8")
    _run_evals(tmp_path, "--provider", "baseline")  # the production prompt, not the arm's
    with pytest.raises(ValidationError, match="for: variant"):
        experiment_start_checked(experiment=experiment, actor=staff)
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.DRAFT

    evidence = _run_evals(tmp_path, "--provider", "baseline", "--prompt-version", "f" * 10)
    experiment_start_checked(experiment=experiment, actor=staff)
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING
    variant, control = arm(experiment, "variant"), arm(experiment, "control")
    assert variant.evidence == {
        "eval_run": evidence.pk,
        "config": f"{new_version.label} on baseline/baseline",
    }
    assert control.evidence == {"config": "no AI (plain form)"}  # no AI needs no eval
    assert not experiment.events.filter(action=Action.EVIDENCE_OVERRIDDEN).exists()


def test_a_written_reason_starts_without_evidence_and_is_audited(staff, new_version):
    experiment = _draft(new_version)
    variant = arm(experiment, "variant")
    with pytest.raises(ValidationError, match="for: variant"):  # a blank reason is no reason
        experiment_start_checked(experiment=experiment, actor=staff, overrides={variant.pk: " "})
    reason = "Same model and prompt as production apart from one line; evals run overnight."
    experiment_start_checked(experiment=experiment, actor=staff, overrides={variant.pk: reason})
    variant.refresh_from_db()
    assert variant.override_reason == reason and "eval_run" not in variant.evidence
    event = experiment.events.get(action=Action.EVIDENCE_OVERRIDDEN)
    assert (event.actor, event.arm, event.note) == (staff, variant, reason)


# --- ship and roll back --------------------------------------------------------------------------


def test_ship_makes_the_arm_production_and_rollback_restores_it(
    staff, new_version, production_version
):
    experiment = experiment_running(actor=staff, payloads={"variant": _baseline_arm(new_version)})
    outsider = get_user_model().objects.create_user("outsider")
    control_seller = seller_in(experiment, "control")
    variant = arm(experiment, "variant")

    experiment_ship(experiment=experiment, arm=variant, actor=staff, note="faster, fewer edits")

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.ENDED and experiment.shipped_arm == variant
    shipped = experiment.events.get(action=Action.SHIPPED)
    assert (shipped.actor, shipped.arm, shipped.note) == (staff, variant, "faster, fewer edits")
    assert experiment.events.filter(action=Action.ENDED).count() == 1
    before, after = ProductionConfig.objects.order_by("id")
    assert (before.provider, before.model, before.prompt_version) == (
        "openai",
        "gpt-prod",
        production_version,
    )
    assert (after.provider, after.prompt_version, after.experiment_key) == (
        "baseline",
        new_version,
        experiment.key,
    )
    assert after.changed_by == staff
    assert prompt_version_production() == new_version  # the label moved
    for seller in (outsider, control_seller):  # nobody is in it any more
        config = prefill_config_for(user=seller)
        assert (config.provider, config.prompt_version, config.arm_id) == (
            "baseline",
            new_version,
            None,
        )

    with pytest.raises(ValidationError, match="The experiment has ended"):
        experiment_ship(experiment=experiment, arm=variant, actor=staff)
    assert ProductionConfig.objects.count() == 2

    production_config_restore(row=before, actor=staff)
    config = prefill_config_for(user=outsider)
    assert (config.provider, config.model, config.prompt_version) == (
        "openai",
        "gpt-prod",
        production_version,
    )
    assert ProductionConfig.objects.count() == 3 and production_config().enabled


def test_shipping_no_ai_turns_the_ai_off_for_everyone(client_for, staff, seller):
    experiment = experiment_running(actor=staff, payloads={"variant": {"ai": "off"}})
    experiment_ship(experiment=experiment, arm=arm(experiment, "variant"), actor=staff)
    assert prefill_config_for(user=seller).enabled is False
    assert client_for(seller).post("/api/prefill/", {"image": _photo()}).status_code == 403


def _skewed(experiment, control: int, variant: int) -> None:
    """Assignments written directly: a split the hash would never make (a bug, or bots)."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"skew{i}") for i in range(control + variant)
    )
    arms = [arm(experiment, "control")] * control + [arm(experiment, "variant")] * variant
    Assignment.objects.bulk_create(
        Assignment(experiment=experiment, arm=a, user=u) for a, u in zip(arms, users, strict=True)
    )


def test_a_sample_ratio_mismatch_blocks_ship_until_acknowledged(staff, new_version):
    experiment = experiment_running(actor=staff, payloads={"variant": _baseline_arm(new_version)})
    assert experiment.salt == TEST_SALT
    _skewed(experiment, control=900, variant=1100)  # 45/55 against 1:1, p = 8e-6
    with pytest.raises(ValidationError) as refused:
        experiment_ship(experiment=experiment, arm=arm(experiment, "variant"), actor=staff)
    [message] = refused.value.messages
    assert message.startswith("Sample-ratio mismatch (p = 7.7e-06): the split of sellers")
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING
    assert not ProductionConfig.objects.exists()

    srm_acknowledge(experiment=experiment, actor=staff, note="a crawler signed up 200 accounts")
    experiment_ship(experiment=experiment, arm=arm(experiment, "variant"), actor=staff)
    assert Experiment.objects.get(pk=experiment.pk).shipped_arm == arm(experiment, "variant")
    assert ProductionConfig.objects.first().experiment_key == experiment.key


def test_a_mild_skew_does_not_block(staff):
    experiment = experiment_running(actor=staff, payloads={"variant": {"ai": "off"}})
    _skewed(experiment, control=45, variant=55)  # p = 0.32: chance
    experiment_ship(experiment=experiment, arm=arm(experiment, "variant"), actor=staff)
    assert Arm.objects.get(pk=arm(experiment, "variant").pk) == experiment.shipped_arm
