"""Staff ramp a running experiment, read its results (charts drawn), and ship an arm."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ai_prefill.rollout import production_config_forget
from experiments.models import Experiment
from experiments.services import (
    ArmSpec,
    assignment_for,
    experiment_create,
    experiment_start,
    live_experiments_forget,
)
from feedback.models import SellSession

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}


@pytest.fixture
def experimenter(staff_with):
    """Staff who run experiments and may see (and roll back) the production configuration."""
    return staff_with(
        "experiments.view_experiment",
        "experiments.add_experiment",
        "experiments.change_experiment",
        "ai_prefill.view_productionconfig",
        username="xena",
    )


@pytest.fixture
def running(django_user_model, experimenter):
    """A running no-AI experiment at 5% with sell sessions in both arms."""
    live_experiments_forget()
    production_config_forget()
    experiment = experiment_create(
        key="no-ai-vs-prod",
        hypothesis="Without AI sellers publish as fast.",
        arms=[ArmSpec(key="control", is_control=True), ArmSpec(key="no-ai", payload={"ai": "off"})],
        actor=experimenter,
        enrollment_percent=100,
    )
    experiment_start(experiment=experiment, actor=experimenter)
    now = timezone.now()
    for i in range(16):
        user = django_user_model.objects.create_user(username=f"seller{i}", password="x")
        assignment = assignment_for(user=user)
        opened = now - timedelta(hours=2, minutes=i)
        SellSession.objects.create(
            user=user, experiment=experiment, arm_id=assignment.arm_id, opened_at=opened,
            status="published", published_at=opened + timedelta(seconds=60 + 10 * i),
            seconds_to_publish=60 + 10 * i,
        )  # fmt: skip
    # Enrolment back to 5% as if it had started there (ramping only goes up through services).
    Experiment.objects.filter(pk=experiment.pk).update(enrollment_percent=5)
    live_experiments_forget()
    yield experiment
    live_experiments_forget()
    production_config_forget()


def test_staff_ramp_read_the_results_and_ship_an_arm(page, experimenter, running):
    page.set_viewport_size(WIDE)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(experimenter.username)
    page.get_by_label("Password").fill("pw-" + experimenter.username)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"/admin/experiments/experiment/{running.pk}/change/")
    expect(page.get_by_role("button", name="Ramp to 5%")).to_have_count(0)
    page.get_by_role("button", name="Ramp to 25%").click()
    expect(page.locator(".messagelist")).to_contain_text("Enrollment raised to 25.00%.")
    expect(page.get_by_role("button", name="Ramp to 25%")).to_have_count(0)
    expect(page.get_by_role("button", name="Ramp to 50%")).to_be_visible()

    page.get_by_role("link", name="Results").first.click()
    expect(page.get_by_role("heading", name="Arms side by side")).to_be_visible()
    for chart in ("chart-km", "chart-sessions", "chart-median"):
        drawn = page.evaluate(
            """(id) => {
                const canvas = document.getElementById(id);
                return {chart: Boolean(Chart.getChart(canvas)), width: canvas.width,
                        height: canvas.height};
            }""",
            chart,
        )
        assert drawn["chart"] and drawn["width"] > 0 and drawn["height"] > 0, (chart, drawn)
    points = page.evaluate("() => Chart.getChart('chart-km').data.datasets[0].data.length")
    assert points > 0

    page.get_by_role("link", name="Ship an arm…").click()
    expect(page.locator("table.experiment-metrics")).to_contain_text("median time to publish")
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(2)
    for i in range(2):
        expect(radios.nth(i)).not_to_be_checked()
    page.get_by_role("radio", name="no-ai").check()
    page.get_by_label("Note (kept in the audit log):").fill("no AI publishes as fast")
    page.get_by_role("button", name="Ship this arm and end the experiment").click()
    expect(page.locator(".messagelist")).to_contain_text("Shipped arm no-ai")

    page.goto("/admin/ai_prefill/productionconfig/")
    expect(page.locator(".production-in-force")).to_contain_text("no AI (plain form)")
    expect(page.locator("#result_list")).to_contain_text("no-ai-vs-prod")
