"""The eval-case services every path goes through (starter set, promotion, admin), and the
admin's add/change pages as staff holding only the permissions they need."""

import hashlib
import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.text import slugify

from ai_prefill.evals.cases import eval_case_create, eval_case_update
from ai_prefill.evals.starter_set import SHAPE_NOUNS, starter_cases_load
from ai_prefill.models import EvalCase
from ai_prefill.tests.factories import sample_photo
from marketplace.demo_catalog import CATALOG
from marketplace.photos import photo_process
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db

VALUES = {
    "title": "Red ball", "description": "A red ball.", "category": "sports-outdoors",
    "condition": "good", "brand": None, "color": "red", "price_eur": 8.0,
}  # fmt: skip


def _create(**overrides) -> EvalCase:
    arguments = dict(
        key="case-1", image=sample_photo(shape="ball").display, values=VALUES,
        key_attributes=["ball"], tags=["sports-outdoors"], source=EvalCase.Source.STAFF,
    )  # fmt: skip
    return eval_case_create(**{**arguments, **overrides})


def _stored_sha(case: EvalCase) -> str:
    with case.image.open("rb") as stored:
        return hashlib.sha256(stored.read()).hexdigest()


def _private_files() -> set[str]:
    storage = EvalCase._meta.get_field("image").storage
    return set(storage.listdir("evals")[1]) if storage.exists("evals") else set()


def test_a_price_of_zero_is_a_price_and_prices_are_read_to_the_cent():
    free = _create(key="free", values={**VALUES, "price_eur": 0.0})
    assert free.expected_price_eur == Decimal("0.00")
    assert free.expected()["price_eur"] == 0.0, "a give-away, not 'no price'"
    text = _create(key="text-price", values={**VALUES, "price_eur": " 12.5 "})
    assert text.expected_price_eur == Decimal("12.50")
    blank = _create(key="no-price", values={**VALUES, "price_eur": "", "brand": "  "})
    assert (blank.expected_price_eur, blank.expected_brand) == (None, "")


def test_the_hash_is_of_the_stored_bytes_and_provenance_is_kept(eval_engineer):
    case = _create(created_by=eval_engineer)
    case.refresh_from_db()
    assert case.image_sha256 == _stored_sha(case)
    assert (case.source, case.created_by, case.history.get().history_user) == (
        "staff",
        eval_engineer,
        eval_engineer,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"values": {**VALUES, "price_eur": "12,50"}}, "Not a price"),
        ({"values": {**VALUES, "category": ""}}, "expected_category"),
        ({"values": {**VALUES, "size": "M"}}, "Not draft fields: size"),
        ({"source": EvalCase.Source.PROMOTED}, "needs the run"),
    ],
)
def test_invalid_cases_are_refused_and_store_nothing(overrides, message):
    with pytest.raises(ValidationError, match=message):
        _create(**overrides)
    assert not EvalCase.objects.exists()
    assert _private_files() == set()


def test_update_from_an_old_record_keeps_the_stored_photo_and_its_hash(eval_engineer):
    case = _create()
    stale = EvalCase.objects.get(pk=case.pk)
    stale.image_sha256 = "0" * 64  # what a history record from before a photo change holds
    updated = eval_case_update(
        case=stale, actor=eval_engineer, changes={"price_eur": 0, "tags": ["x"]}
    )
    updated.refresh_from_db()
    assert updated.image_sha256 == case.image_sha256 == _stored_sha(updated)
    assert (updated.expected_price_eur, updated.tags) == (Decimal("0.00"), ["x"])
    assert updated.history.first().history_user == eval_engineer


def test_update_refuses_provenance(eval_engineer):
    case = _create()
    with pytest.raises(ValidationError, match="cannot be changed: created_by, source"):
        eval_case_update(
            case=case, actor=eval_engineer, changes={"source": "starter", "created_by": None}
        )


def test_the_starter_set_goes_through_the_service():
    created, _ = starter_cases_load()
    assert created == EvalCase.objects.filter(source="starter").count() == 52
    case = EvalCase.objects.get(key="starter-001-bluetooth-speaker")
    assert case.image_sha256 == _stored_sha(case)


def test_the_starter_set_expects_only_what_its_pictures_show():
    """Title and description name the colour, the kind (the shape drawn) and the brand written
    on the item, nothing a picture cannot show ("12 h battery"); the brand is drawn on it."""
    starter_cases_load()
    cases = {case.key: case for case in EvalCase.objects.filter(source="starter")}
    for index, item in enumerate(CATALOG):
        case = cases[f"starter-{index + 1:03d}-{slugify(item.title)}"[:60]]
        noun = SHAPE_NOUNS[item.shape][0]
        seen = {item.color, item.brand.casefold(), *noun.casefold().split()}
        said = f"{case.expected_title} {case.expected_description}".casefold().rstrip(".")
        unseen = set(said.split()) - seen - {"with", "written", "on", "it"}
        assert not unseen, f"{case.key} expects what its picture cannot show: {unseen}"
        assert case.expected_brand == item.brand and case.expected_color == item.color
        picture = render_item(shape=item.shape, color=item.color, seed=index, label=item.brand)
        assert case.image_sha256 == photo_process(ContentFile(picture)).sha256


# --- admin, as staff with only the permissions they need -------------------------------------


def _form_data(case: EvalCase, **changes) -> dict:
    data = {
        "key": case.key, "tags": json.dumps(case.tags), "expected_title": case.expected_title,
        "expected_description": case.expected_description,
        "expected_category": case.expected_category,
        "expected_condition": case.expected_condition, "expected_brand": case.expected_brand,
        "expected_color": case.expected_color,
        "expected_price_eur": "" if case.expected_price_eur is None else case.expected_price_eur,
        "key_attributes": json.dumps(case.key_attributes),
        **({"is_active": "on"} if case.is_active else {}),
        **({"must_pass": "on"} if case.must_pass else {}),
    }  # fmt: skip
    return {**data, **changes}


def _png(shape="chair", color="red"):
    return SimpleUploadedFile(f"{shape}.png", render_item(shape=shape, color=color))


def test_staff_who_may_add_cases_add_one_as_themselves(client_for, staff_with):
    editor = staff_with("ai_prefill.view_evalcase", "ai_prefill.add_evalcase")
    new = EvalCase(key="free-chair", expected_category="furniture", expected_condition="good")
    response = client_for(editor).post(
        reverse("admin:ai_prefill_evalcase_add"),
        {**_form_data(new, expected_price_eur="0"), "photo": _png()},
    )
    case = EvalCase.objects.get(key="free-chair")
    assert response.status_code == 302
    logged = LogEntry.objects.get(user=editor)
    assert (logged.action_flag, logged.object_id) == (ADDITION, str(case.pk))
    assert (case.source, case.created_by, case.expected_price_eur) == ("staff", editor, 0)
    assert case.image_sha256 == _stored_sha(case)


def test_staff_who_may_only_view_cases_cannot_add_or_change_them(client_for, staff_with):
    case = _create()
    viewer = client_for(staff_with("ai_prefill.view_evalcase"))
    new = EvalCase(key="nope", expected_category="furniture", expected_condition="good")
    add_url = reverse("admin:ai_prefill_evalcase_add")
    add = viewer.post(add_url, {**_form_data(new), "photo": _png()})
    change_url = reverse("admin:ai_prefill_evalcase_change", args=[case.pk])
    change = viewer.post(change_url, _form_data(case, expected_brand="Acme"))
    assert (add.status_code, change.status_code) == (403, 403)
    assert not EvalCase.objects.filter(key="nope").exists()
    assert EvalCase.objects.get(pk=case.pk).expected_brand == ""


def test_replacing_a_case_photo_in_admin_removes_the_old_file(
    client_for, staff_with, django_capture_on_commit_callbacks
):
    case = _create()
    old = case.image.name.removeprefix("evals/")
    editor = staff_with("ai_prefill.view_evalcase", "ai_prefill.change_evalcase")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(editor).post(
            reverse("admin:ai_prefill_evalcase_change", args=[case.pk]),
            {**_form_data(case, expected_price_eur="0"), "photo": _png("ball", "green")},
        )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.expected_price_eur == 0 and case.image_sha256 == _stored_sha(case)
    assert _private_files() == {case.image.name.removeprefix("evals/")} != {old}
    assert case.history.first().history_user == editor
