"""The production configuration's history in admin, and rolling back to an earlier one."""

import pytest
from django.urls import reverse

from ai_prefill.models import ProductionConfig
from ai_prefill.rollout import (
    PrefillConfig,
    production_config,
    production_config_forget,
    production_config_set,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/ai_prefill/productionconfig/"
OFF = PrefillConfig(enabled=False, prompt_version=None, provider="", model="")


@pytest.fixture(autouse=True)
def _fresh_memo():
    production_config_forget()
    yield
    production_config_forget()


@pytest.fixture
def operator(staff_with):
    return staff_with(
        "ai_prefill.view_productionconfig", "ai_prefill.change_productionconfig", username="opal"
    )


@pytest.fixture
def onlooker(staff_with):
    return staff_with("ai_prefill.view_productionconfig", username="otto")


def _restore_url(row) -> str:
    return reverse("admin:ai_prefill_productionconfig_restore", args=[row.pk])


def test_the_history_shows_what_is_in_force_and_who_changed_it(client, operator, settings):
    settings.AI_PROVIDER = "baseline"
    production_config_set(config=OFF, actor=operator, note="no AI wins", experiment_key="x1")
    client.force_login(operator)

    page = client.get(LIST_URL).content.decode()

    assert "In force now: <strong>no AI (plain form)</strong>" in page
    assert "no AI wins" in page and "x1" in page and "opal" in page
    # one button, for the earlier row (the environment's default recorded before the change)
    assert page.count("Roll back to this") == 1
    assert '<td class="field-provider">baseline</td>' in page


def test_rolling_back_restores_the_earlier_configuration(client, operator):
    before = production_config().describe()
    production_config_set(config=OFF, actor=operator, note="no AI wins")
    earlier = ProductionConfig.objects.order_by("changed_at", "id").first()
    client.force_login(operator)

    response = client.post(_restore_url(earlier), follow=True)

    assert production_config().describe() == before
    assert f"Rolled back: production is now {before}." in response.content.decode()
    newest = ProductionConfig.objects.first()
    assert (newest.enabled, newest.changed_by) == (True, operator)


def test_staff_who_may_only_view_see_no_button_and_cannot_roll_back(client, onlooker, operator):
    production_config_set(config=OFF, actor=operator)
    earlier = ProductionConfig.objects.order_by("changed_at", "id").first()
    client.force_login(onlooker)

    assert "Roll back to this" not in client.get(LIST_URL).content.decode()
    assert client.post(_restore_url(earlier)).status_code == 403
    assert production_config().describe() == "no AI (plain form)"


def test_roll_back_is_post_only(client, operator):
    production_config_set(config=OFF, actor=operator)
    client.force_login(operator)

    earlier = ProductionConfig.objects.order_by("changed_at", "id").first()
    assert client.get(_restore_url(earlier)).status_code == 405


def test_with_no_change_recorded_production_is_the_environment(client, operator, settings):
    settings.AI_PROVIDER = "baseline"
    client.force_login(operator)

    page = client.get(LIST_URL).content.decode()

    assert "on baseline/baseline</strong> (from the environment" in page
