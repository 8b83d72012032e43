"""An annotator works the queue in admin: Next task, correct a field, promote, submit; the
promoted case then runs in the eval suite."""

import importlib
import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from playwright.sync_api import expect

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import EvalCase, PrefillRun
from ai_prefill.tests.factories import start_run
from annotation.models import AnnotationTask, SamplingPolicy
from annotation.sampling import runs_sample_for_annotation

pytestmark = pytest.mark.browser

QUEUE = "/admin/annotation/annotationtask/"
_annotators_group = importlib.import_module("annotation.migrations.0002_annotators_group")


@pytest.fixture
def annotator(django_user_model):
    # live_server tests flush the database after each test, data-migration rows included: make
    # the group again the way its migration does, if an earlier test flushed it.
    group, _ = Group.objects.get_or_create(name=_annotators_group.GROUP)
    for app_label, codename in _annotators_group.PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    user = django_user_model.objects.create_user(username="anna", password="pw-anna", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def task(seller, settings):
    settings.AI_PROVIDER = "baseline"
    return sampled_task(seller)


def sampled_task(seller) -> AnnotationTask:
    """A finished baseline run of the seller's, sampled into the queue (the CSP walk uses it)."""
    run = start_run(seller, shape="chair", color="blue")
    prefill_run_execute(run_id=run.pk)  # a no-op if the on-commit task finished it already
    run.refresh_from_db()
    assert run.status == PrefillRun.Status.SUCCEEDED
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, 0.0
    policy.save()
    runs_sample_for_annotation(policy=policy)
    return AnnotationTask.objects.select_related("run").get(run=run)


def _log_in_as_anna(page) -> None:
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill("pw-anna")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Annotation tasks")).to_be_visible()


def test_annotator_corrects_promotes_and_the_case_is_evaluated(page, annotator, task, tmp_path):
    _log_in_as_anna(page)
    expect(page.get_by_role("link", name="Listings")).to_have_count(0)

    page.goto(QUEUE)
    page.get_by_role("button", name="Next task").click()

    expect(page).to_have_url(f"{QUEUE}{task.pk}/review/")
    expect(page.get_by_alt_text(f"The seller's photo for task {task.pk}")).to_be_visible()
    assert page.locator("img.photo, .photo img").evaluate("img => img.naturalWidth") > 0
    title = page.get_by_label("Title", exact=True)
    expect(title).to_be_focused()  # autofocus: typing starts at the first field
    expect(page.locator("#id_category")).to_have_value(task.run.draft["category"])

    title.fill("Blue armchair")
    page.locator("#id_category").select_option("furniture")
    expect(page.locator("tr.field-category td.verdict")).to_have_text("AI corrected")
    page.get_by_label("Key attributes").fill("armchair, blue")
    page.get_by_label("Promote to eval set").check()
    page.get_by_role("button", name="Submit and next").click()

    expect(page.locator(".messagelist")).to_contain_text("The queue is empty.")
    expect(page.locator(".messagelist")).to_contain_text("promoted as eval case")
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.DONE
    case = task.promoted_case
    assert case is not None and case.source == EvalCase.Source.PROMOTED
    assert case.expected_category == "furniture" and case.created_by == annotator
    assert case.key_attributes == ["armchair", "blue"]
    [annotation] = task.annotations.all()
    assert annotation.verdicts["title"] is False and annotation.verdicts["category"] is False
    assert annotation.verdicts["condition"] is True

    with pytest.raises(SystemExit):
        call_command(
            "run_evals", "--provider", "baseline", "--format", "json",
            "--output-dir", str(tmp_path),
        )  # fmt: skip
    [report] = tmp_path.rglob("*.json")
    keys = [item["key"] for item in json.loads(report.read_text())["cases"]]
    assert case.key in keys


def test_the_verdict_follows_the_value_as_the_annotator_types(page, annotator, task):
    assert not task.run.draft["title"], "the offline baseline suggests no title"
    assert task.run.draft["category"] != "furniture"
    _log_in_as_anna(page)
    page.goto(QUEUE)
    page.get_by_role("button", name="Next task").click()
    expect(page).to_have_url(f"{QUEUE}{task.pk}/review/")
    title = page.get_by_label("Title", exact=True)
    title_verdict = page.locator("tr.field-title td.verdict")
    category_verdict = page.locator("tr.field-category td.verdict")
    expect(title_verdict).to_have_text("AI right")
    expect(page.locator('input[name^="verdict_"]')).to_have_count(0)

    title.press_sequentially("Blue armchair")
    expect(title_verdict).to_have_text("AI corrected")
    title.fill("  ")  # blank is the draft's "no title"
    expect(title_verdict).to_have_text("AI right")
    page.locator("#id_category").select_option("furniture")
    expect(category_verdict).to_have_text("AI corrected")
    page.locator("#id_category").select_option(task.run.draft["category"])
    expect(category_verdict).to_have_text("AI right")
    title.fill("Blue armchair")
    expect(title_verdict).to_have_text("AI corrected")
    page.get_by_role("button", name="Submit and next").click()

    expect(page.locator(".messagelist")).to_contain_text("The queue is empty.")
    [annotation] = task.annotations.all()
    assert annotation.verdicts["title"] is False and annotation.verdicts["category"] is True
