"""The annotation queue in admin, as an annotator and as staff."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import EvalCase, PrefillRun
from ai_prefill.tests.factories import start_run
from annotation.models import Annotation, AnnotationTask, SamplingPolicy
from annotation.sampling import runs_sample_for_annotation
from annotation.services import annotation_submit, task_claim_next
from feedback.services import outcome_record_publish, rating_set

pytestmark = pytest.mark.django_db

QUEUE = "/admin/annotation/annotationtask/"
NEXT = QUEUE + "next/"
AGREEMENT = QUEUE + "agreement/"


def _review_url(task) -> str:
    return f"{QUEUE}{task.pk}/review/"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _annotator(django_user_model, username: str):
    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, is_staff=True
    )
    user.groups.add(Group.objects.get(name="Annotators"))
    return user


@pytest.fixture
def annotator(django_user_model):
    return _annotator(django_user_model, "anna")


@pytest.fixture
def second_annotator(django_user_model):
    return _annotator(django_user_model, "ben")


@pytest.fixture
def lead(django_user_model):
    """Staff, not a superuser: an annotator who also holds `change_annotationtask` (agreement,
    adjudication, the promote action)."""
    user = _annotator(django_user_model, "lena")
    user.user_permissions.add(Permission.objects.get(codename="change_annotationtask"))
    return user


@pytest.fixture(autouse=True)
def _baseline(settings):
    settings.AI_PROVIDER = "baseline"


def _finished_run(seller, **photo):
    run = start_run(seller, **photo)
    prefill_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == PrefillRun.Status.SUCCEEDED and run.draft
    return run


def _sample(*, double: float = 0.0) -> list[AnnotationTask]:
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, double
    policy.save()
    picked = runs_sample_for_annotation(policy=policy)
    return list(
        AnnotationTask.objects.filter(run_id__in=[t.run_id for t in picked])
        .select_related("run")
        .order_by("pk")
    )


@pytest.fixture
def task(seller):
    run = _finished_run(seller, shape="bike", color="red")
    [created] = _sample()
    assert created.run_id == run.pk
    return created


def _form_data(task, **changes) -> dict:
    """What the review form posts when the annotator accepts its pre-filled values."""
    draft = task.run.draft
    data = {name: "" if draft.get(name) is None else draft[name] for name in draft}
    data["title"] = data["title"] or "Red bike"  # the offline baseline suggests no title
    data.update({"key_attributes": "", "notes": "", "_submit": "Submit and next"})
    data.update(changes)
    return data


# --- the queue and the review page ------------------------------------------------------------


def test_annotator_sees_the_queue_with_a_next_task_button(client_for, annotator, task):
    response = client_for(annotator).get(QUEUE)
    assert response.status_code == 200
    assert b"Next task" in response.content
    assert task.reason_detail.encode() in response.content


def test_annotator_claims_reviews_and_submits(client_for, annotator, task):
    client = client_for(annotator)

    response = client.post(NEXT)

    assert response.status_code == 302 and response["Location"] == _review_url(task)
    task.refresh_from_db()
    assert task.claimed_by == annotator and task.lease_expires_at > timezone.now()

    page = client.get(_review_url(task))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'src="{QUEUE}{task.pk}/photo/"' in html
    assert "not published" in html
    assert 'accesskey="s"' in html and 'accesskey="k"' in html and "autofocus" in html
    crumbs = f'&rsaquo; <a href="{QUEUE}">Annotation tasks</a>\n&rsaquo; {page.context["title"]}'
    assert crumbs in html
    form = page.context["form"]
    assert form.initial["category"] == task.run.draft["category"]
    verdicts = {row["name"]: row["right"] for row in page.context["rows"]}
    assert verdicts["title"] is True  # draft == best guess when unpublished

    photo = client.get(f"{QUEUE}{task.pk}/photo/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"

    response = client.post(_review_url(task), _form_data(task, category="furniture"))

    assert response.status_code == 302
    assert response["Location"] == QUEUE  # nothing else is queued
    assert "The queue is empty." in _messages(response)
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.DONE
    assert task.final_values["category"] == "furniture"
    annotation = Annotation.objects.get(task=task)
    assert annotation.annotator == annotator and annotation.verdicts["category"] is False
    assert annotation.verdicts["title"] is False, "a title typed where the draft had none"
    assert annotation.verdicts["condition"] is True and annotation.started_at is not None


def test_submit_goes_straight_to_the_next_task(client_for, annotator, seller):
    _finished_run(seller, shape="bike")
    _finished_run(seller, shape="chair", color="blue")
    first, second = _sample()
    client = client_for(annotator)
    client.post(NEXT)
    claimed = AnnotationTask.objects.get(claimed_by=annotator)

    response = client.post(_review_url(claimed), _form_data(claimed))

    other = second if claimed.pk == first.pk else first
    assert response["Location"] == _review_url(other)


def test_review_page_prefills_the_sellers_final_values_when_published(client_for, annotator, task):
    outcome_record_publish(
        run=task.run,
        final_values={**task.run.draft, "category": "furniture", "brand": "Gazelle"},
        listing_id=1,
        form_opened_at=None,
        published_at=timezone.now(),
    )
    client = client_for(annotator)
    client.post(NEXT)

    page = client.get(_review_url(task))

    form = page.context["form"]
    assert form.initial["category"] == "furniture" and form.initial["brand"] == "Gazelle"
    verdicts = {row["name"]: row["right"] for row in page.context["rows"]}
    assert verdicts["category"] is False and verdicts["title"] is True
    assert page.context["published"] is True


def test_missing_values_are_messages_not_errors(client_for, annotator, task):
    client = client_for(annotator)
    client.post(NEXT)

    # A title may be empty (a photo can show no sellable item); category and condition may not.
    response = client.post(_review_url(task), _form_data(task, condition="", category=""))

    assert response.status_code == 200
    text = " ".join(_messages(response))
    assert "Condition" in text and "Category" in text
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.OPEN and not task.annotations.exists()


def test_a_lost_lease_is_a_message(client_for, annotator, second_annotator, task):
    client = client_for(annotator)
    client.post(NEXT)
    AnnotationTask.objects.filter(pk=task.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    task_claim_next(annotator=second_annotator)  # takes the expired task

    response = client.post(_review_url(task), _form_data(task))

    assert response.status_code == 302 and response["Location"] == QUEUE
    assert any("not claimed by you" in m for m in _messages(response))
    assert not Annotation.objects.filter(annotator=annotator).exists()


def test_another_annotators_task_is_not_shown(client_for, annotator, second_annotator, task):
    task_claim_next(annotator=second_annotator)

    response = client_for(annotator).get(_review_url(task))

    assert response.status_code == 302
    assert any("not claimed by you" in m for m in _messages(response))


def test_skip_returns_the_task_to_others(client_for, annotator, second_annotator, task):
    client = client_for(annotator)
    client.post(NEXT)

    response = client.post(_review_url(task), {"_skip": "Skip", "notes": "blurry"})

    assert response.status_code == 302 and response["Location"] == QUEUE
    task.refresh_from_db()
    assert task.claimed_by is None and task.status == AnnotationTask.Status.OPEN
    assert Annotation.objects.get(task=task, annotator=annotator).skipped
    assert task_claim_next(annotator=annotator) is None  # not offered to the skipper again
    assert task_claim_next(annotator=second_annotator).pk == task.pk


def test_empty_queue_says_so(client_for, annotator):
    response = client_for(annotator).post(NEXT)

    assert response.status_code == 302 and response["Location"] == QUEUE
    assert "The queue is empty." in _messages(response)


def test_review_page_query_count_is_bounded(client_for, annotator, seller, task):
    outcome_record_publish(
        run=task.run,
        final_values=task.run.draft,
        listing_id=1,
        form_opened_at=None,
        published_at=timezone.now(),
    )
    # Many other tasks in the queue must not change what one review page costs.
    others = [
        AnnotationTask(run=start_run(seller), reason="random", category="bikes") for _ in range(5)
    ]
    AnnotationTask.objects.bulk_create(others)
    client = client_for(annotator)
    client.post(NEXT)
    client.get(_review_url(task))  # warm caches (content types, permissions)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(_review_url(task))

    assert response.status_code == 200
    assert len(queries) <= 10, [q["sql"] for q in queries]
    assert not any(
        "annotation_annotationtask" in q["sql"] and "WHERE" not in q["sql"] for q in queries
    )


def test_the_verdict_follows_the_values_whatever_is_posted(client_for, annotator, task):
    client = client_for(annotator)
    client.post(NEXT)
    assert task.run.draft["title"] in ("", None)

    # A client that still posts the old verdict inputs (all "right", as they defaulted) cannot
    # store "AI right" for a field the annotator corrected, nor "AI wrong" for one they kept.
    verdicts = {f"verdict_{name}": "right" for name in task.run.draft}
    client.post(
        _review_url(task),
        _form_data(task, title="Red bike", **{**verdicts, "verdict_condition": "wrong"}),
    )

    annotation = Annotation.objects.get(task=task)
    assert annotation.values["title"] == "Red bike"
    assert annotation.verdicts["title"] is False and annotation.verdicts["condition"] is True


def test_review_page_shows_the_verdicts_the_values_give(client_for, annotator, task):
    client = client_for(annotator)
    client.post(NEXT)

    html = client.get(_review_url(task)).content.decode()
    # A form that fails validation comes back with the verdicts of what was typed.
    again = client.post(_review_url(task), _form_data(task, title="Red bike", condition=""))

    assert 'name="verdict_' not in html, "no verdict to choose: it follows the values"
    assert '<output for="id_title" aria-live="polite" class="right">AI right</output>' in html
    assert f'data-verdicts-url="{QUEUE}{task.pk}/verdicts/"' in html
    assert '<script src="/static/annotation/review.js" defer></script>' in html
    shown = again.content.decode()
    assert again.status_code == 200
    assert '<output for="id_title" aria-live="polite" class="corrected">AI corrected</output>' in (
        shown
    )


def test_verdicts_of_typed_values_come_from_the_server(
    client_for, annotator, second_annotator, seller, task
):
    client = client_for(annotator)
    client.post(NEXT)
    url = f"{QUEUE}{task.pk}/verdicts/"
    typed = _form_data(task, title="", brand="  ")

    kept = client.post(url, typed)
    corrected = client.post(url, {**typed, "title": "Red bike", "price_eur": "12,50"})

    assert kept.status_code == 200
    assert kept.json()["verdicts"] == dict.fromkeys(task.run.draft, True)
    assert corrected.json()["verdicts"]["title"] is False
    assert corrected.json()["verdicts"]["price_eur"] is False
    assert not Annotation.objects.exists(), "a preview writes nothing"
    assert client.get(url).status_code == 405
    assert client_for(second_annotator).post(url, typed).status_code == 403, "not their task"
    seller.is_staff = True
    seller.save()
    assert client_for(seller).post(url, typed).status_code == 403, "no annotation permission"


# --- the task change form: read-only ----------------------------------------------------------


def test_leads_see_a_read_only_task_form_and_cannot_change_or_delete(
    client_for, django_user_model, lead, annotator, seller, task
):
    task_claim_next(annotator=annotator)
    for i in range(3):  # more users must not mean more <option>s
        _annotator(django_user_model, f"extra{i}")
    client = client_for(lead)
    url = reverse("admin:annotation_annotationtask_change", args=[task.pk])

    page = client.get(url)
    changed = client.post(
        url,
        {"status": "done", "final_values": '{"title": "x"}', "claimed_by": lead.pk,
         "promote_requested_by": lead.pk, "reason": "random", "priority": 0,
         "required_annotations": 1, "_save": "Save"},
    )  # fmt: skip
    deleted = client.post(
        reverse("admin:annotation_annotationtask_delete", args=[task.pk]), {"post": "yes"}
    )

    assert page.status_code == 200
    html = page.content.decode()
    for name in ("status", "final_values", "claimed_by", "lease_expires_at", "run",
                 "promote_requested_by", "promoted_case", "required_annotations"):  # fmt: skip
        assert f'name="{name}"' not in html, name
    assert "<option" not in html and 'name="_save"' not in html
    assert changed.status_code == 403 and deleted.status_code == 403
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.OPEN and task.final_values is None
    assert task.claimed_by == annotator and task.promote_requested_by is None


@pytest.fixture
def task_editor(staff_with):
    """Staff granted the model's change and delete permissions on tasks."""
    return staff_with(
        "annotation.view_annotationtask",
        "annotation.change_annotationtask",
        "annotation.delete_annotationtask",
    )


# Even holding the change and delete permissions, or every permission (a superuser).
@pytest.mark.parametrize("persona", ["annotator", "lead", "task_editor", "superuser"])
def test_nobody_changes_or_deletes_a_task_by_hand(client_for, request, persona, task):
    url = reverse("admin:annotation_annotationtask_change", args=[task.pk])
    client = client_for(request.getfixturevalue(persona))

    response = client.post(url, {"status": "done", "final_values": "{}", "_save": "Save"})
    deleted = client.post(
        reverse("admin:annotation_annotationtask_delete", args=[task.pk]), {"post": "yes"}
    )

    assert response.status_code == 403 and deleted.status_code == 403
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.OPEN and task.final_values is None


def test_every_foreign_key_of_a_task_is_a_raw_id_field():
    from django.contrib import admin

    model_admin = admin.site._registry[AnnotationTask]
    keys = {f.name for f in AnnotationTask._meta.concrete_fields if f.is_relation}

    assert keys == {"run", "claimed_by", "promote_requested_by", "promoted_case"}
    assert keys <= set(model_admin.raw_id_fields)


# --- promotion --------------------------------------------------------------------------------


def test_promote_on_submit_creates_an_eval_case_with_provenance(client_for, annotator, task):
    client = client_for(annotator)
    client.post(NEXT)

    client.post(
        _review_url(task),
        _form_data(task, category="furniture", key_attributes="red, bike, red", promote="on"),
    )

    task.refresh_from_db()
    case = task.promoted_case
    assert case is not None
    assert case.source == EvalCase.Source.PROMOTED
    assert case.source_run_id == task.run_id and case.created_by == annotator
    assert case.expected_category == "furniture" and case.key_attributes == ["red", "bike"]
    assert case.image_sha256 == task.run.image_sha256


def test_promote_action_promotes_once(client_for, lead, annotator, task):
    task_claim_next(annotator=annotator)
    annotation_submit(
        task=task,
        annotator=annotator,
        values={**task.run.draft},
    )
    client = client_for(lead)
    data = {"action": "promote_to_eval_set", "_selected_action": [task.pk]}

    first = client.post(QUEUE, data)
    second = client.post(QUEUE, data)

    assert "Promoted 1 task(s) to the eval set." in _messages(first)
    assert "Promoted 0 task(s) to the eval set." in _messages(second)
    assert "1 were promoted already." in _messages(second)
    assert EvalCase.objects.filter(source=EvalCase.Source.PROMOTED).count() == 1
    task.refresh_from_db()
    assert task.promoted_case.created_by == lead


def test_promote_action_refuses_open_tasks(client_for, lead, task):
    response = client_for(lead).post(
        QUEUE, {"action": "promote_to_eval_set", "_selected_action": [task.pk]}
    )

    assert any("no agreed values" in m for m in _messages(response))
    assert not EvalCase.objects.exists()


def test_annotators_do_not_get_the_promote_action(client_for, annotator, task):
    response = client_for(annotator).get(QUEUE)

    assert b"promote_to_eval_set" not in response.content


# --- what annotators may not reach ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/listings/listing/",
        "/admin/marketplace/user/",
        "/admin/ai_prefill/prefillrun/",
        "/admin/ai_prefill/evalrun/",
        "/admin/feedback/prefilloutcome/report/",
        "/admin/feedback/feedbackreport/",
        "/api/reports/feedback/",
        AGREEMENT,
        "/admin/annotation/agreementreport/",
        QUEUE + "adjudicate/",
        "/admin/annotation/samplingpolicy/",
    ],
)
def test_annotators_cannot_reach_other_pages(client_for, annotator, url):
    response = client_for(annotator).get(url)

    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert "/login/" in response["Location"]


def test_annotators_admin_index_shows_only_annotation(client_for, annotator):
    response = client_for(annotator).get("/admin/")

    apps = [app["app_label"] for app in response.context["app_list"]]
    assert apps == ["annotation"]
    models = {m["object_name"] for m in response.context["app_list"][0]["models"]}
    assert models == {"AnnotationTask", "Annotation"}


def test_annotators_see_only_their_own_annotations(client_for, annotator, second_annotator, seller):
    _finished_run(seller)
    [task] = _sample()
    task_claim_next(annotator=second_annotator)
    annotation_submit(
        task=task,
        annotator=second_annotator,
        values={**task.run.draft},
    )

    response = client_for(annotator).get("/admin/annotation/annotation/")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_photo_needs_the_view_permission(client_for, seller, staff, staff_with, task):
    viewer = staff_with("annotation.view_annotationtask")
    seller.is_staff = True
    seller.save()

    shown = client_for(viewer).get(f"{QUEUE}{task.pk}/photo/")

    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert client_for(seller).get(f"{QUEUE}{task.pk}/photo/").status_code == 403
    assert client_for(staff).get(f"{QUEUE}{task.pk}/photo/").status_code == 403


# --- staff pages ------------------------------------------------------------------------------


def test_leads_see_agreement_and_adjudicate(client_for, lead, annotator, second_annotator, seller):
    _finished_run(seller)
    [task] = _sample(double=1.0)
    assert task.required_annotations == 2
    for person, category in ((annotator, "bikes"), (second_annotator, "furniture")):
        task_claim_next(annotator=person)
        annotation_submit(
            task=task,
            annotator=person,
            values={**task.run.draft, "category": category},
        )
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.DISAGREEMENT
    client = client_for(lead)
    refused = client_for(annotator).get(AGREEMENT)  # no `change_annotationtask`

    agreement = client.get(AGREEMENT)
    listing = client.get(QUEUE + "adjudicate/")
    form = client.get(f"{QUEUE}{task.pk}/adjudicate/")
    done = client.post(
        f"{QUEUE}{task.pk}/adjudicate/",
        {**_form_data(task), "category": "bikes", "promote": "on"},
    )

    assert refused.status_code == 403
    assert agreement.status_code == 200
    assert b"n/a (every verdict is the same" in agreement.content
    assert [row.username for row in agreement.context["throughput"]] == ["anna", "ben"]
    assert listing.status_code == 200 and b"furniture" in listing.content
    assert form.status_code == 200
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == AnnotationTask.Status.ADJUDICATED
    assert task.final_values["category"] == "bikes"
    assert task.promoted_case.created_by == lead


def test_sampling_policy_is_edited_by_superusers_only(client_for, superuser, lead, staff_with):
    response = client_for(superuser).get("/admin/annotation/samplingpolicy/", follow=True)
    refused = client_for(lead).get("/admin/annotation/samplingpolicy/")
    # The rule is "superusers", not the model's permissions (SamplingPolicyAdmin).
    holder = staff_with("annotation.view_samplingpolicy", "annotation.change_samplingpolicy")
    policy_page = reverse(
        "admin:annotation_samplingpolicy_change", args=[SamplingPolicy.current().pk]
    )
    refused_too = [
        client_for(holder).get("/admin/annotation/samplingpolicy/"),
        client_for(holder).post(policy_page, {"random_share": "1", "daily_cap": "1"}),
    ]

    assert refused.status_code == 403
    assert [r.status_code for r in refused_too] == [403, 403]

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith(
        reverse("admin:annotation_samplingpolicy_change", args=[SamplingPolicy.current().pk])
    )


# --- admin views stay thin --------------------------------------------------------------------

QUERY_METHODS = {
    "objects", "filter", "exclude", "annotate", "aggregate", "select_related",
    "prefetch_related", "only", "defer", "order_by", "values_list", "select_for_update",
    "refresh_from_db", "count", "exists",
}  # fmt: skip


def test_the_annotation_admin_builds_no_query_of_its_own():
    """Queries live in annotation/selectors.py and rules in annotation/services.py; the admin
    calls them. A query written into an admin view is found here, with its line."""
    import ast
    import inspect

    import annotation.admin

    tree = ast.parse(inspect.getsource(annotation.admin))
    found = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in QUERY_METHODS
    ]

    assert found == []


def test_the_claim_filter_of_the_queue(client_for, annotator, second_annotator, seller):
    for _ in range(3):
        _finished_run(seller)
    first, second, free = _sample()
    task_claim_next(annotator=annotator)
    task_claim_next(annotator=second_annotator)
    AnnotationTask.objects.filter(pk=second.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    client = client_for(annotator)

    def shown(claim: str) -> set[int]:
        return {t.pk for t in client.get(QUEUE, {"claim": claim}).context["cl"].result_list}

    assert shown("mine") == {first.pk}
    assert shown("held") == {first.pk}
    assert shown("free") == {second.pk, free.pk}, "an expired lease frees the task"


def test_review_page_shows_the_sellers_thumbs_down_comment(client_for, annotator, seller):
    run = _finished_run(seller, shape="bike", color="red")
    rating_set(run=run, user=seller, rating="down", comment="It is a red bike, not a <chair>")
    [task] = _sample()
    client = client_for(annotator)
    assert client.post(NEXT)["Location"] == _review_url(task)
    html = client.get(_review_url(task)).content.decode()
    assert (
        "The seller rated the suggestion 👎 Not helpful: “It is a red bike, not a &lt;chair&gt;”."
        in html
    )


def test_review_page_says_when_the_seller_did_not_rate(client_for, annotator, task):
    client = client_for(annotator)
    client.post(NEXT)
    assert (
        "The seller did not rate the suggestion." in client.get(_review_url(task)).content.decode()
    )


def test_the_agreement_report_has_its_own_entry_in_the_admin_index(client_for, lead, annotator):
    report = "/admin/annotation/agreementreport/"
    entry = f'<a href="{report}">Agreement and throughput reports</a>'
    lead_client = client_for(lead)
    for index in ("/admin/", "/admin/annotation/"):
        assert entry in lead_client.get(index).content.decode()
    page = lead_client.get(report)
    assert page.status_code == 200
    assert b"Cohen's kappa" in page.content and "throughput" in page.context
    annotator_client = client_for(annotator)
    assert "Agreement and throughput" not in annotator_client.get("/admin/").content.decode()
    assert annotator_client.get(report).status_code == 403
