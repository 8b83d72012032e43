"""The Experiment admin: staff holding only the experiment permissions create, start, ramp,
pause, read the results of, and ship an experiment; each write goes through a service."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ai_prefill.evals.dataset import dataset_version, eval_cases_select
from ai_prefill.evals.runner import eval_config_for
from ai_prefill.models import EvalRun
from ai_prefill.prompt_registry import prompt_version_production
from ai_prefill.rollout import production_config, production_config_forget
from experiments import services
from experiments.models import Arm, Assignment, Experiment, ExperimentEvent, Guardrail
from experiments.services import ArmSpec, live_experiments_forget
from feedback.models import SellSession

pytestmark = pytest.mark.django_db

EXPERIMENTER_PERMS = (
    "experiments.view_experiment",
    "experiments.add_experiment",
    "experiments.change_experiment",
)


@pytest.fixture(autouse=True)
def _fresh_memos():
    live_experiments_forget()
    production_config_forget()
    yield
    live_experiments_forget()
    production_config_forget()


@pytest.fixture
def experimenter(staff_with, client):
    user = staff_with(*EXPERIMENTER_PERMS, username="xena")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(staff_with):
    return staff_with("experiments.view_experiment", username="vic")


def _baseline_payload() -> dict:
    return {"prompt_version": prompt_version_production().content_hash[:12], "provider": "baseline"}


def _experiment(
    key="no-ai-test", *, variant=None, control=None, start=False, actor=None, **settings
):
    experiment = services.experiment_create(
        key=key,
        hypothesis="Without AI sellers publish as fast.",
        arms=[
            ArmSpec(key="control", is_control=True, payload=control or {}),
            ArmSpec(key="variant", payload=variant if variant is not None else {"ai": "off"}),
        ],
        **settings,
    )
    if start:
        services.experiment_start(experiment=experiment, actor=actor)
    return experiment


def _change_url(experiment) -> str:
    return reverse("admin:experiments_experiment_change", args=[experiment.pk])


def _action_url(experiment, action) -> str:
    return reverse("admin:experiments_experiment_action", args=[experiment.pk, action])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _inline_data(prefix, rows, *, initial=0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{name}": value for name, value in row.items()})
    return data


def _add_form(*, variant_payload='{"ai": "off"}', key="prompt-vs-none") -> dict:
    return {
        "key": key,
        "hypothesis": "Sellers publish faster with no AI at all.",
        "secondary_metrics": ["abandonment", "thumbs_up"],
        "minimum_effect": "0.2",
        "alpha": "0.05",
        "enrollment_percent": "5",
        **_inline_data(
            "arms",
            [
                {
                    "key": "control",
                    "description": "production",
                    "is_control": "on",
                    "weight": "1",
                    "payload": "{}",
                },
                {
                    "key": "no-ai",
                    "description": "plain form",
                    "weight": "1",
                    "payload": variant_payload,
                },
            ],
        ),  # fmt: skip
        **_inline_data(
            "guardrails",
            [{"metric": "failed_or_empty", "threshold": "0.1", "min_sample": "30"}],
        ),
    }


# --- create and edit ---------------------------------------------------------------------------


def test_staff_create_an_experiment_with_its_arms_and_guardrails(client, experimenter):
    page = client.get(reverse("admin:experiments_experiment_add"))
    assert page.status_code == 200
    assert "p95 time to draft 8" in page.content.decode()  # the suggested guardrails

    response = client.post(reverse("admin:experiments_experiment_add"), _add_form())

    assert response.status_code == 302, response.context and response.context["errors"]
    experiment = Experiment.objects.get(key="prompt-vs-none")
    assert experiment.status == Experiment.Status.DRAFT
    assert experiment.created_by == experimenter
    assert experiment.secondary_metrics == ["abandonment", "thumbs_up"]
    arms = list(experiment.arms.values_list("key", "is_control", "payload", "position"))
    assert arms == [("control", True, {}, 0), ("no-ai", False, {"ai": "off"}, 1)]
    guardrail = Guardrail.objects.get(experiment=experiment)
    assert (guardrail.metric, guardrail.threshold) == ("failed_or_empty", 0.1)
    created = ExperimentEvent.objects.get(experiment=experiment)
    assert (created.action, created.actor) == ("created", experimenter)


def test_a_payload_that_means_no_configuration_is_refused_with_its_sentence(client, experimenter):
    form = _add_form(variant_payload='{"provider": "openai"}')

    response = client.post(reverse("admin:experiments_experiment_add"), form)

    assert response.status_code == 200
    assert "Give &quot;prompt_version&quot; and &quot;provider&quot;" in response.content.decode()
    assert not Experiment.objects.exists()


def test_two_controls_are_refused_with_the_services_sentence(client, experimenter):
    form = _add_form()
    form["arms-1-is_control"] = "on"

    response = client.post(reverse("admin:experiments_experiment_add"), form)

    assert "Exactly one arm must be the control." in response.content.decode()
    assert not Experiment.objects.exists()


def test_a_draft_is_edited_through_the_service_and_shows_what_each_arm_does(client, experimenter):
    experiment = _experiment()
    arms = list(experiment.arms.all())
    form = _add_form(key=experiment.key)
    form.update(_inline_data("arms", [
        {"id": str(arms[0].pk), "experiment": str(experiment.pk), "key": "control",
         "is_control": "on", "weight": "1", "payload": "{}"},
        {"id": str(arms[1].pk), "experiment": str(experiment.pk), "key": "baseline",
         "weight": "3", "payload": json.dumps(_baseline_payload())},
    ], initial=2))  # fmt: skip

    response = client.post(_change_url(experiment), form)

    assert response.status_code == 302
    assert list(experiment.arms.values_list("key", "weight")) == [("control", 1), ("baseline", 3)]
    page = client.get(_change_url(experiment)).content.decode()
    assert "on baseline/baseline" in page
    assert f"production (now {production_config().describe()})" in page


def test_a_started_experiments_arms_are_read_only_and_a_change_is_refused(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)
    page = client.get(_change_url(experiment)).content.decode()
    assert 'name="arms-0-weight"' not in page

    response = client.post(_change_url(experiment), _add_form(key=experiment.key), follow=True)

    assert "The arms and weights of a started experiment cannot change" in " ".join(
        _messages(response)
    )
    assert list(experiment.arms.values_list("weight", flat=True)) == [1, 1]


def test_the_change_page_shows_the_sample_size_needed(client, experimenter):
    experiment = _experiment(minimum_effect=0.2)

    page = client.get(_change_url(experiment)).content.decode()

    assert "sessions per arm to detect a 20% faster time to publish at 80% power" in page
    assert "Assumed: the last 28 days have too few sessions" in page  # an empty site


# --- start -------------------------------------------------------------------------------------


def _passed_eval_run(payload) -> EvalRun:
    from ai_prefill.rollout import arm_config_parse

    config = arm_config_parse(payload)
    return EvalRun.objects.create(
        prompt_version=config.prompt_version, provider=config.provider, model=config.model,
        config_key=eval_config_for(prompt_version=config.prompt_version,
                                   provider=config.provider, model=config.model).config_key,
        dataset_version=dataset_version(eval_cases_select()), status=EvalRun.Status.COMPLETED,
        gate_passed=True,
    )  # fmt: skip


def test_start_is_refused_without_eval_evidence_and_accepted_with_a_reason(client, experimenter):
    experiment = _experiment(variant=_baseline_payload(), control={"ai": "off"})
    variant = experiment.arms.get(key="variant")
    page = client.get(_change_url(experiment)).content.decode()
    assert "Reason to start without a passed eval run" in page

    refused = client.post(_action_url(experiment, "start"), follow=True)
    assert "No passed eval run on the current eval set for: variant (" in " ".join(
        _messages(refused)
    )
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.DRAFT

    reason = "The baseline needs no model; checked by hand on ten photos."
    started = client.post(
        _action_url(experiment, "start"), {f"override_{variant.pk}": reason}, follow=True
    )

    assert "Started no-ai-test" in " ".join(_messages(started))
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    override = ExperimentEvent.objects.get(experiment=experiment, action="evidence_overridden")
    assert (override.note, override.actor, override.arm) == (reason, experimenter, variant)


def test_an_arm_with_a_passed_eval_run_starts_and_links_it(client, experimenter):
    experiment = _experiment(variant=_baseline_payload())
    run = _passed_eval_run(_baseline_payload())
    url = reverse("admin:ai_prefill_evalrun_change", args=[run.pk])
    assert url in client.get(_change_url(experiment)).content.decode()

    client.post(_action_url(experiment, "start"))

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    assert experiment.arms.get(key="variant").evidence["eval_run"] == run.pk
    assert url in client.get(_change_url(experiment)).content.decode()


# --- ramp, pause, arms -------------------------------------------------------------------------


def test_ramp_goes_up_only_lower_shares_are_not_offered_and_refused(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)
    page = client.get(_change_url(experiment)).content.decode()
    assert "Ramp to 25%" in page and "Ramp to 5%" not in page

    client.post(_action_url(experiment, "ramp"), {"percent": "25"})
    experiment.refresh_from_db()
    assert experiment.enrollment_percent == 25
    page = client.get(_change_url(experiment)).content.decode()
    assert "Ramp to 25%" not in page and "Ramp to 50%" in page

    lowered = client.post(_action_url(experiment, "ramp"), {"percent": "5"}, follow=True)

    assert "Enrollment is 25.00%: it can only go up." in " ".join(_messages(lowered))
    experiment.refresh_from_db()
    assert experiment.enrollment_percent == 25
    ramped = ExperimentEvent.objects.get(experiment=experiment, action="ramped")
    assert ramped.detail == {"from": "5.00", "to": "25.00"} and ramped.actor == experimenter


def test_pause_sends_everyone_to_production_and_resume_brings_the_arms_back(
    client, experimenter, seller
):
    experiment = _experiment(start=True, actor=experimenter, enrollment_percent=100)
    assert services.assignment_for(user=seller) is not None

    paused = client.post(_action_url(experiment, "pause"), {"reason": "odd drafts"}, follow=True)

    assert "every seller gets production" in " ".join(_messages(paused))
    assert services.assignment_for(user=seller) is None
    client.post(_action_url(experiment, "resume"))
    assert services.assignment_for(user=seller) is not None
    assert list(
        ExperimentEvent.objects.filter(experiment=experiment)
        .order_by("id")
        .values_list("action", "note")
    )[-2:] == [("paused", "odd drafts"), ("resumed", "")]


def test_pause_and_resume_one_arm(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)
    arm = experiment.arms.get(key="variant")

    client.post(_action_url(experiment, "arm-pause"), {"arm": arm.pk, "reason": "slow"})
    arm.refresh_from_db()
    assert (arm.status, arm.paused_reason) == (Arm.Status.PAUSED, "slow")
    assert "Resume arm variant" in client.get(_change_url(experiment)).content.decode()

    client.post(_action_url(experiment, "arm-resume"), {"arm": arm.pk})
    arm.refresh_from_db()
    assert arm.status == Arm.Status.ACTIVE


def test_end_needs_the_confirmation(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)

    unconfirmed = client.post(_action_url(experiment, "end"), follow=True)
    assert "Tick the box to confirm" in " ".join(_messages(unconfirmed))
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING

    client.post(_action_url(experiment, "end"), {"confirm": "yes"})
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.ENDED


# --- results and ship --------------------------------------------------------------------------


def _sessions(experiment, users, *, published_seconds=90):
    """Sell sessions in each arm, half published, as the sell page records them."""
    now = timezone.now()
    for user in users:
        assignment = services.assignment_for(user=user)
        for i in range(2):
            opened = now - timedelta(hours=3, minutes=i)
            SellSession.objects.create(
                user=user, experiment_id=assignment.experiment_id, arm_id=assignment.arm_id,
                opened_at=opened, status="published" if i == 0 else "open",
                published_at=opened + timedelta(seconds=published_seconds) if i == 0 else None,
                seconds_to_publish=published_seconds if i == 0 else None,
            )  # fmt: skip


@pytest.fixture
def sellers(django_user_model):
    return [
        django_user_model.objects.create_user(username=f"seller{i}", password="x")
        for i in range(12)
    ]


def _charts(page: str) -> dict:
    """The data the page hands to its chart script (json_script)."""
    tag = '<script id="experiment-charts" type="application/json">'
    return json.loads(page.split(tag)[1].split("</script>")[0])


def _results_url(experiment) -> str:
    return reverse("admin:experiments_experiment_results", args=[experiment.pk])


def _ship_url(experiment) -> str:
    return reverse("admin:experiments_experiment_ship", args=[experiment.pk])


def test_results_page_renders_without_sessions(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)

    response = client.get(_results_url(experiment))

    assert response.status_code == 200
    page = response.content.decode()
    charts = _charts(page)
    assert [d["label"] for d in charts["km"]["datasets"]] == ["control", "variant"]
    assert f"/api/experiments/{experiment.key}/results/?format=csv" in page


def test_results_page_shows_every_arm_and_the_charts_data(client, experimenter, sellers):
    experiment = _experiment(start=True, actor=experimenter, enrollment_percent=100)
    _sessions(experiment, sellers)

    response = client.get(_results_url(experiment))

    page = response.content.decode()
    for label in ("median time to publish", "published within 2 min", "cost per published"):
        assert label in page
    charts = _charts(page)
    assert sum(len(d["data"]) for d in charts["km"]["datasets"]) > 0
    assert charts["sessions"]["labels"]
    assert "Audit log" in page and "started" in page
    assert "not significant" in page  # the comparison against control, with its Holm decision
    assert "keep running" in page  # the recommendation in words


def test_a_sample_ratio_mismatch_shows_a_red_banner_and_blocks_ship(client, experimenter, sellers):
    experiment = _experiment(start=True, actor=experimenter)
    control = experiment.arms.get(key="control")
    users = type(experimenter).objects
    extra = [users.create_user(username=f"u{i}", password="x") for i in range(120)]
    Assignment.objects.bulk_create(
        Assignment(experiment=experiment, arm=control, user=user) for user in extra
    )

    results = client.get(_results_url(experiment)).content.decode()
    assert "srm-banner" in results and "Sample-ratio mismatch" in results
    ship = client.get(_ship_url(experiment)).content.decode()
    assert "Find the cause and acknowledge it first." in ship
    assert 'name="arm"' not in ship
    client.post(_ship_url(experiment), {"arm": control.pk})
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING

    client.post(_action_url(experiment, "srm-acknowledge"), {"note": "bot traffic in control"})
    assert 'name="arm"' in client.get(_ship_url(experiment)).content.decode()


def test_the_ship_page_preselects_no_arm_and_shipping_moves_production(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)
    variant = experiment.arms.get(key="variant")
    assert production_config().enabled

    page = client.get(_ship_url(experiment)).content.decode()
    assert page.count('type="radio" name="arm"') == 2
    assert "checked" not in page.split('class="ship-form"')[1]
    assert "median time to publish" in page

    response = client.post(_ship_url(experiment), {"arm": variant.pk, "note": "no AI is enough"})

    assert response.status_code == 302
    assert production_config().describe() == "no AI (plain form)"
    experiment.refresh_from_db()
    assert (experiment.status, experiment.shipped_arm) == (Experiment.Status.ENDED, variant)


def test_shipping_without_an_arm_chosen_ships_nothing(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)

    response = client.post(_ship_url(experiment), {"note": "forgot"})

    assert "Choose the arm to ship." in " ".join(_messages(response))
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["start", "ramp", "pause", "resume", "end", "arm-pause", "srm-acknowledge"]
)
def test_staff_without_the_change_permission_cannot_act(client, viewer, action):
    experiment = _experiment(start=action != "start")
    client.force_login(viewer)

    response = client.post(_action_url(experiment, action), {"percent": "50", "confirm": "yes"})

    assert response.status_code == 403
    ship = client.post(_ship_url(experiment), {"arm": experiment.arms.first().pk})
    assert ship.status_code == 403
    experiment.refresh_from_db()
    assert experiment.enrollment_percent == 5 and experiment.status != Experiment.Status.ENDED


def test_a_viewer_reads_the_results_without_the_action_buttons(client, viewer):
    experiment = _experiment(start=True)
    client.force_login(viewer)

    change = client.get(_change_url(experiment)).content.decode()
    results = client.get(_results_url(experiment))

    assert results.status_code == 200
    assert "Ramp to 25%" not in change and "Pause (kill switch)" not in change
    assert "Ship an arm" not in results.content.decode()


def test_actions_are_post_only(client, experimenter):
    experiment = _experiment(start=True, actor=experimenter)

    assert client.get(_action_url(experiment, "pause")).status_code == 405
