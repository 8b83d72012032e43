"""The AI pre-fill's admin: prompt diff and the production label, eval cases with history and
their private images, eval runs and the comparison of any two runs."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import (
    EvalCase,
    EvalResult,
    EvalRun,
    PrefillRun,
    PromptLabel,
    PromptLabelEvent,
    PromptVersion,
)
from ai_prefill.prompt_registry import prompt_version_production, prompt_versions_sync
from ai_prefill.tests.factories import start_run
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


def _run_evals(tmp_path, *args) -> EvalRun:
    with pytest.raises(SystemExit):
        call_command(
            "run_evals", "--provider", "baseline", "--format", "json",
            "--output-dir", str(tmp_path), *args,
        )  # fmt: skip
    return EvalRun.objects.order_by("-created_at", "-id").first()


@pytest.fixture
def two_runs(tmp_path):
    """Two baseline runs of the starter set; B (the newer) has A as its baseline."""
    starter_cases_load()
    run_a = _run_evals(tmp_path)
    run_b = _run_evals(tmp_path, "--baseline", str(run_a.pk))
    return run_a, run_b


@pytest.fixture
def new_version():
    """A second version of the production prompt, one instruction line longer."""
    prompt_versions_sync()
    current = prompt_version_production()
    return PromptVersion.objects.create(
        name=current.name,
        content_hash="f" * 64,
        instructions=current.instructions + "\nNever guess a ZEBRAPRINT pattern.",
        user_text=current.user_text,
        params={**current.params, "temperature": 0.7},
        schema_hash=current.schema_hash,
        description="stricter about patterns",
    )


def _set_correct(result: EvalResult, field: str, correct: bool) -> None:
    scores = dict(result.scores)
    scores[field] = {**scores[field], "correct": correct}
    EvalResult.objects.filter(pk=result.pk).update(scores=scores)


# --- who may see what -------------------------------------------------------------------------


def _pages(run_a, run_b, case) -> list[str]:
    return [
        reverse("admin:ai_prefill_promptversion_changelist"),
        reverse("admin:ai_prefill_promptversion_diff")
        + f"?a={run_a.prompt_version_id}&b={run_b.prompt_version_id}",
        reverse("admin:ai_prefill_promptlabelevent_changelist"),
        reverse("admin:ai_prefill_promptversion_change", args=[run_a.prompt_version_id]),
        reverse("admin:ai_prefill_evalcase_changelist"),
        reverse("admin:ai_prefill_evalcase_add"),
        reverse("admin:ai_prefill_evalcase_change", args=[case.pk]),
        reverse("admin:ai_prefill_evalcase_history", args=[case.pk]),
        reverse("admin:ai_prefill_evalrun_changelist"),
        reverse("admin:ai_prefill_evalrun_change", args=[run_b.pk]),
        reverse("admin:ai_prefill_evalrun_compare"),
        reverse("admin:ai_prefill_evalrun_compare") + f"?a={run_a.pk}&b={run_b.pk}",
    ]


def test_eval_engineers_see_every_page_other_staff_get_403_and_sellers_the_login(
    two_runs, client_for, eval_engineer, staff, run_viewer, seller
):
    case = EvalCase.objects.first()
    pages = _pages(*two_runs, case)
    engineer = client_for(eval_engineer)
    refused = [client_for(staff), client_for(run_viewer)]  # holding no eval permission
    seller_client = client_for(seller)
    for url in pages:
        assert engineer.get(url).status_code == 200, url
        for client in refused:
            assert client.get(url).status_code == 403, url
        response = seller_client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_each_custom_page_needs_the_view_permission_of_its_own_model(
    two_runs, client_for, staff, staff_with
):
    run_a, run_b = two_runs
    case = EvalCase.objects.first()
    compare = reverse("admin:ai_prefill_evalrun_compare") + f"?a={run_a.pk}&b={run_b.pk}"
    diff = reverse("admin:ai_prefill_promptversion_diff")
    image = reverse("admin:ai_prefill_evalcase_image", args=[case.pk])
    for url, perm in (
        (compare, "ai_prefill.view_evalrun"),
        (diff, "ai_prefill.view_promptversion"),
        (image, "ai_prefill.view_evalcase"),
    ):
        assert client_for(staff_with(perm)).get(url).status_code == 200, url
        others = [p for p in EVAL_PAGE_PERMS if p != perm]
        assert client_for(staff_with(*others)).get(url).status_code == 403, url
        assert client_for(staff).get(url).status_code == 403, url


EVAL_PAGE_PERMS = (
    "ai_prefill.view_evalrun",
    "ai_prefill.view_promptversion",
    "ai_prefill.view_evalcase",
)


# --- prompt versions: diff and the production label -------------------------------------------


def test_the_diff_page_shows_a_changed_line_side_by_side(new_version, client_for, eval_engineer):
    old = prompt_version_production()
    url = reverse("admin:ai_prefill_promptversion_diff") + f"?a={old.pk}&b={new_version.pk}"
    html = client_for(eval_engineer).get(url).content.decode()
    assert "ZEBRAPRINT" in html
    assert 'class="diff_add"' in html
    assert '"temperature":&nbsp;0.<span class="diff_chg">7</span>' in html
    assert "Schema hash <small>(identical)</small>" in html
    changelist = reverse("admin:ai_prefill_promptversion_changelist")
    assert f'&rsaquo; <a href="{changelist}">Prompt versions</a>\n&rsaquo; Diff' in html


def test_compare_action_redirects_to_the_diff_of_the_two_versions(
    new_version, client_for, eval_engineer
):
    old = prompt_version_production()
    response = client_for(eval_engineer).post(
        reverse("admin:ai_prefill_promptversion_changelist"),
        {"action": "compare_versions", "_selected_action": [new_version.pk, old.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"?a={old.pk}&b={new_version.pk}")


def test_moving_production_asks_first_then_moves_and_records_who_and_from_where(
    new_version, client_for, prompt_owner
):
    old = prompt_version_production()
    client = client_for(prompt_owner)
    url = reverse("admin:ai_prefill_promptversion_changelist")
    action = {"action": "move_production_label", "_selected_action": [new_version.pk]}

    confirm = client.post(url, action)
    assert confirm.status_code == 200
    assert "Production is now" in confirm.content.decode()
    assert prompt_version_production() == old  # nothing moved yet

    done = client.post(url, {**action, "confirm": "yes", "note": "run 12 passed"})
    assert done.status_code == 302
    assert prompt_version_production() == new_version
    event = PromptLabelEvent.objects.first()
    assert (event.from_version, event.to_version, event.moved_by, event.note) == (
        old,
        new_version,
        prompt_owner,
        "run 12 passed",
    )
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert message == f"Moved production from {old.label} to {new_version.label}."

    history = client.get(reverse("admin:ai_prefill_promptlabelevent_changelist")).content.decode()
    assert "run 12 passed" in history


def test_moving_production_needs_the_change_promptlabel_permission(
    new_version, client_for, staff_with, eval_engineer
):
    url = reverse("admin:ai_prefill_promptversion_changelist")
    move = {"action": "move_production_label", "_selected_action": [new_version.pk]}
    for refused in (staff_with("ai_prefill.view_promptversion"), eval_engineer):
        client_for(refused).post(url, {**move, "confirm": "yes"})
        assert PromptLabel.objects.get(name="production").version != new_version

    mover = staff_with("ai_prefill.view_promptversion", "ai_prefill.change_promptlabel")
    client_for(mover).post(url, {**move, "confirm": "yes"})
    assert PromptLabel.objects.get(name="production").version == new_version


# --- eval cases -------------------------------------------------------------------------------


def _case_form_data(case: EvalCase, **changes) -> dict:
    data = {
        "key": case.key,
        "tags": json.dumps(case.tags),
        "expected_title": case.expected_title,
        "expected_description": case.expected_description,
        "expected_category": case.expected_category,
        "expected_condition": case.expected_condition,
        "expected_brand": case.expected_brand,
        "expected_color": case.expected_color,
        "expected_price_eur": "" if case.expected_price_eur is None else case.expected_price_eur,
        "key_attributes": json.dumps(case.key_attributes),
        **({"is_active": "on"} if case.is_active else {}),
        **({"must_pass": "on"} if case.must_pass else {}),
    }
    return {**data, **changes}


def test_editing_a_case_records_who_changed_what(client_for, eval_engineer):
    starter_cases_load()
    case = EvalCase.objects.first()
    before = case.history.count()
    response = client_for(eval_engineer).post(
        reverse("admin:ai_prefill_evalcase_change", args=[case.pk]),
        _case_form_data(case, expected_brand="Acme"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert case.history.count() == before + 1
    latest = case.history.first()
    assert (latest.expected_brand, latest.history_user) == ("Acme", eval_engineer)
    assert latest.diff_against(latest.prev_record).changed_fields == ["expected_brand"]


def test_adding_a_case_processes_the_photo_and_records_the_author(client_for, eval_engineer):
    photo = SimpleUploadedFile("chair.png", render_item(shape="chair", color="red"))
    new = EvalCase(key="staff-red-chair", expected_category="furniture", expected_condition="good")
    response = client_for(eval_engineer).post(
        reverse("admin:ai_prefill_evalcase_add"),
        {**_case_form_data(new, key_attributes='["chair"]'), "photo": photo},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    case = EvalCase.objects.get(key="staff-red-chair")
    assert (case.created_by, case.source) == (eval_engineer, EvalCase.Source.STAFF)
    with case.image.open("rb") as stored:
        assert stored.read(3) == b"\xff\xd8\xff"  # the processed JPEG, not the PNG upload
    assert len(case.image_sha256) == 64


def test_a_case_needs_a_real_photo(client_for, eval_engineer):
    new = EvalCase(key="staff-bad", expected_category="furniture", expected_condition="good")
    url = reverse("admin:ai_prefill_evalcase_add")
    client = client_for(eval_engineer)
    missing = client.post(url, _case_form_data(new))
    assert "A new case needs a photo." in missing.content.decode()
    not_an_image = SimpleUploadedFile("x.jpg", b"hello, not a photo")
    bad = client.post(url, {**_case_form_data(new), "photo": not_an_image})
    assert "not an image we can read" in bad.content.decode()
    assert not EvalCase.objects.filter(key="staff-bad").exists()


def test_the_case_image_is_served_to_staff_who_may_view_cases_only(
    client_for, anon_client, staff_with, staff, seller
):
    starter_cases_load()
    case = EvalCase.objects.first()
    url = reverse("admin:ai_prefill_evalcase_image", args=[case.pk])
    viewer = client_for(staff_with("ai_prefill.view_evalcase"))
    full = viewer.get(url)
    assert full.status_code == 200
    assert full["Content-Type"] == "image/jpeg"
    thumb = viewer.get(url + "?size=thumb")
    assert thumb["Content-Type"] == "image/jpeg"
    assert len(thumb.content) < len(b"".join(full.streaming_content))
    assert client_for(staff).get(url).status_code == 403
    for client in (client_for(seller), anon_client):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_the_case_list_shows_thumbnails_through_the_staff_view(client_for, eval_engineer):
    starter_cases_load()
    html = client_for(eval_engineer).get(reverse("admin:ai_prefill_evalcase_changelist")).content
    case = EvalCase.objects.order_by("key").first()
    assert reverse("admin:ai_prefill_evalcase_image", args=[case.pk]) in html.decode()


# --- eval runs and their comparison -----------------------------------------------------------


def test_a_run_page_shows_metrics_and_comparison_as_tables(two_runs, client_for, eval_engineer):
    run_a, run_b = two_runs
    html = client_for(eval_engineer).get(
        reverse("admin:ai_prefill_evalrun_change", args=[run_b.pk])
    )
    html = html.content.decode()
    assert "<th>mean score</th>" in html
    assert "mcnemar_exact" in html and "p (Holm)" in html
    assert f"?a={run_a.pk}&amp;b={run_b.pk}" in html  # the link to compare with its baseline
    assert '"fields"' not in html  # no raw JSON


def test_compare_action_redirects_older_as_a(two_runs, client_for, eval_engineer):
    run_a, run_b = two_runs
    response = client_for(eval_engineer).post(
        reverse("admin:ai_prefill_evalrun_changelist"),
        {"action": "compare_runs", "_selected_action": [run_b.pk, run_a.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"?a={run_a.pk}&b={run_b.pk}")


def test_comparison_lists_regressions_then_fixes_then_unchanged(
    two_runs, client_for, eval_engineer, django_assert_max_num_queries
):
    run_a, run_b = two_runs
    results = list(run_b.results.select_related("case").order_by("case__key"))
    regressed, fixed = results[-1], results[-2]  # last in key order: only the sort moves them up
    right = next(f for f, s in regressed.scores.items() if f != "_case" and s["correct"])
    wrong = next(f for f, s in fixed.scores.items() if f != "_case" and not s["correct"])
    _set_correct(regressed, right, False)
    _set_correct(fixed, wrong, True)
    unchanged = results[0]

    url = reverse("admin:ai_prefill_evalrun_compare") + f"?a={run_a.pk}&b={run_b.pk}"
    client = client_for(eval_engineer)
    with django_assert_max_num_queries(8):  # 52 cases: no query per case
        html = client.get(url).content.decode()

    positions = [html.index(f'data-case="{r.case.key}"') for r in (regressed, fixed, unchanged)]
    assert positions == sorted(positions)
    assert "Regressions: right in A, wrong in B (1)" in html
    assert "Fixes: wrong in A, right in B (1)" in html
    assert "dataset versions differ" not in html


def test_comparison_warns_when_the_dataset_versions_differ(two_runs, client_for, eval_engineer):
    run_a, run_b = two_runs
    EvalRun.objects.filter(pk=run_a.pk).update(dataset_version="0" * 16)
    dropped = run_a.results.order_by("case__key")[:2]
    EvalResult.objects.filter(pk__in=[r.pk for r in dropped]).delete()
    shared = run_b.results.count() - 2

    url = reverse("admin:ai_prefill_evalrun_compare") + f"?a={run_a.pk}&b={run_b.pk}"
    html = client_for(eval_engineer).get(url).content.decode()
    assert f"compared on the {shared} shared items" in html
    assert "0 items only in A, 2 only in B" in html


def test_comparison_of_an_unknown_run_says_so(two_runs, client_for, eval_engineer):
    run_a, _ = two_runs
    url = reverse("admin:ai_prefill_evalrun_compare") + f"?a={run_a.pk}&b=999999"
    response = client_for(eval_engineer).get(url)
    assert response.status_code == 200
    assert "No eval run with id 999999" in response.content.decode()


def test_reverting_a_case_keeps_its_photo_and_hash_together(client_for, eval_engineer):
    starter_cases_load()
    case = EvalCase.objects.first()
    client = client_for(eval_engineer)
    first_record = case.history.first()
    photo = SimpleUploadedFile("new.png", render_item(shape="ball", color="green"))
    client.post(
        reverse("admin:ai_prefill_evalcase_change", args=[case.pk]),
        {**_case_form_data(case), "photo": photo},
    )
    case.refresh_from_db()
    assert case.image_sha256 != first_record.image_sha256

    revert = reverse("admin:ai_prefill_evalcase_simple_history", args=[case.pk, first_record.pk])
    response = client.post(revert, _case_form_data(case, expected_title="Reverted"))
    assert response.status_code == 302
    reverted = EvalCase.objects.get(pk=case.pk)
    assert reverted.expected_title == "Reverted"
    with reverted.image.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == reverted.image_sha256


def test_the_run_log_shows_a_run_nobody_finished_as_failed(client_for, seller, run_viewer):
    """No worker and no beat to sweep: the staff's view of the run log still tells the truth."""
    viewer = run_viewer
    stale, fresh = start_run(seller), start_run(seller)
    PrefillRun.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=1))

    page = client_for(viewer).get(reverse("admin:ai_prefill_prefillrun_changelist"))
    assert page.status_code == 200
    statuses = dict(PrefillRun.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: "failed", fresh.pk: "queued"}
    assert PrefillRun.objects.get(pk=stale.pk).error_type == "worker_unavailable"
    # Not a run id: the admin's own "doesn't exist" answer (a redirect), not a 500.
    not_a_run = client_for(viewer).get(
        reverse("admin:ai_prefill_prefillrun_change", args=["not-a-uuid"])
    )
    assert not_a_run.status_code == 302
