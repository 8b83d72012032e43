"""The listing admin goes through the listing services, as staff holding only the permissions
they need; and no admin of the project renders a <select> of a table that grows."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import RequestFactory

from ai_prefill.models import EvalCase, EvalRun, PrefillRun
from ai_prefill.tests.factories import start_run
from annotation.models import AnnotationTask
from feedback.models import FieldCorrection, PrefillOutcome
from feedback.services import rating_set
from listings import services
from listings.models import Conversation, Listing, Message
from listings.tests.factories import ListingFactory
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db

CHANGE, VIEW, DELETE = "listings.change_listing", "listings.view_listing", "listings.delete_listing"


def _change_url(listing) -> str:
    return f"/admin/listings/listing/{listing.pk}/change/"


def _form_data(listing, **changes) -> dict:
    data = {name: getattr(listing, name) for name in services.EDITABLE_FIELDS}
    return {**data, **changes}


def _files(listing) -> list[str]:
    return [listing.photo.name, listing.thumbnail.name]


def test_the_change_form_lists_no_prefill_runs(client_for, staff_with, seller):
    runs = [start_run(seller) for _ in range(4)]
    listing = ListingFactory(seller=seller, prefill_run=runs[0])
    html = client_for(staff_with(VIEW, CHANGE)).get(_change_url(listing)).content.decode()
    assert 'name="prefill_run"' not in html and 'name="seller"' not in html
    assert not [run for run in runs[1:] if str(run.pk) in html], "one option per run"


def test_a_moderator_replaces_the_photo_through_the_intake(
    client_for, staff_with, seller, django_capture_on_commit_callbacks
):
    listing = ListingFactory(seller=seller)
    old = _files(listing)
    png = SimpleUploadedFile("new.png", render_item(shape="mug", color="green", size=(2400, 1800)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff_with(VIEW, CHANGE)).post(
            _change_url(listing), {**_form_data(listing, price_eur="0"), "new_photo": png}
        )
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("0.00")
    with listing.photo.open("rb") as photo:
        assert photo.read(3) == b"\xff\xd8\xff", "the intake's JPEG, not the PNG upload"
    assert max(listing.photo.width, listing.photo.height) == 1600
    assert not [name for name in old if default_storage.exists(name)]


def test_a_moderator_types_the_price_as_the_site_shows_it(client_for, staff_with, seller):
    listing = ListingFactory(seller=seller, price_eur=Decimal("1250"))
    staff = client_for(staff_with(VIEW, CHANGE))
    assert 'value="1.250,00"' in staff.get(_change_url(listing)).content.decode()
    response = staff.post(_change_url(listing), _form_data(listing, price_eur="12,50"))
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("12.50")


def test_a_photo_the_intake_refuses_is_a_form_error(client_for, staff_with, seller):
    listing = ListingFactory(seller=seller)
    bad = SimpleUploadedFile("x.jpg", b"hello, not a photo")
    response = client_for(staff_with(VIEW, CHANGE)).post(
        _change_url(listing), {**_form_data(listing), "new_photo": bad}
    )
    assert response.status_code == 200
    assert "not an image we can read" in response.content.decode()


def test_deleting_in_admin_removes_the_files(
    client_for, staff_with, seller, django_capture_on_commit_callbacks
):
    one, two, three = (ListingFactory(seller=seller) for _ in range(3))
    client = client_for(staff_with(VIEW, DELETE))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/listings/listing/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/listings/listing/",
            {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
        )
    assert not Listing.objects.exists()
    files = [name for listing in (one, two, three) for name in _files(listing)]
    assert not [name for name in files if default_storage.exists(name)]


def test_staff_need_the_permission_for_each_change(client_for, staff_with, seller):
    listing = ListingFactory(seller=seller, title="Lamp")
    viewer = client_for(staff_with(VIEW))
    editor = client_for(staff_with(VIEW, CHANGE))
    assert viewer.post(_change_url(listing), _form_data(listing, title="X")).status_code == 403
    delete = f"/admin/listings/listing/{listing.pk}/delete/"
    assert editor.post(delete, {"post": "yes"}).status_code == 403
    assert editor.get("/admin/listings/listing/add/").status_code == 403, "sellers create them"
    listing.refresh_from_db()
    assert listing.title == "Lamp"
    response = editor.post(_change_url(listing), _form_data(listing, title="Desk lamp"))
    assert response.status_code == 302
    assert Listing.objects.get(pk=listing.pk).title == "Desk lamp"


def test_services_let_moderators_in_but_not_other_staff(staff_with, seller, other_seller):
    listing = ListingFactory(seller=seller)
    plain_staff = staff_with(VIEW)
    for actor in (other_seller, plain_staff):
        with pytest.raises(PermissionDenied):
            services.listing_update(listing=listing, actor=actor, changes={"title": "Mine"})
        with pytest.raises(PermissionDenied):
            services.listing_delete(listing=listing, actor=actor)
    services.listing_mark_sold(listing=listing, actor=staff_with(CHANGE))
    assert Listing.objects.get(pk=listing.pk).status == Listing.Status.SOLD


def test_a_moderators_edit_is_not_a_late_correction(staff_with, seller):
    run = start_run(seller)
    run.refresh_from_db()
    listing = services.listing_create(
        seller=seller, prefill_run=run,
        fields=services.ListingFields(
            title="Bike", description="A bike.", category="bikes", condition="good",
            price_eur=Decimal("50"),
        ),
    )  # fmt: skip
    services.listing_update(listing=listing, actor=staff_with(CHANGE), changes={"title": "Bicycle"})
    assert not FieldCorrection.objects.filter(stage="late").exists()
    services.listing_update(listing=listing, actor=seller, changes={"title": "Red bike"})
    assert FieldCorrection.objects.filter(stage="late", field="title").count() == 1


# --- every admin of the project --------------------------------------------------------------

# Tables that grow with use: a <select> of one renders every row.
BIG = {get_user_model(), PrefillRun, Listing, Conversation, Message, PrefillOutcome, EvalCase,
       EvalRun, AnnotationTask}  # fmt: skip
CHECKED_APPS = {"ai_prefill", "annotation", "feedback", "listings", "marketplace"}


def _forms_of(model_admin, request):
    """The add and change forms (and their inlines' forms) as a superuser would get them."""
    if model_admin.has_add_permission(request) or model_admin.has_change_permission(request):
        yield model_admin.model, model_admin.get_form(request)
        for inline in model_admin.get_inline_instances(request):
            if inline.has_add_permission(request, None) or inline.has_change_permission(request):
                yield inline.model, inline.get_formset(request).form


def test_no_admin_renders_a_select_of_a_big_table(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser  # every form of every admin: only a superuser gets them all
    offenders = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in CHECKED_APPS:
            continue
        for form_model, form in _forms_of(model_admin, request):
            for field in form_model._meta.get_fields():
                if not isinstance(field, models.ForeignKey) or field.related_model not in BIG:
                    continue
                widget = getattr(form.base_fields.get(field.name), "widget", None)
                widget = getattr(widget, "widget", widget)  # unwrap RelatedFieldWidgetWrapper
                if widget is not None and not isinstance(
                    widget, (ForeignKeyRawIdWidget, AutocompleteSelect)
                ):
                    offenders.append(f"{form_model.__name__}.{field.name}")
    assert offenders == []


# --- the pre-fill run's page shows what feedback and listings know of it ----------------------


def test_the_run_page_shows_the_sellers_rating_and_links_the_listing(
    client_for, staff_with, seller
):
    run = start_run(seller)
    rating_set(run=run, user=seller, rating="down", comment="Not a <chair>")
    listing = ListingFactory(seller=seller, prefill_run=run, title="Red bike")
    staff = staff_with("ai_prefill.view_prefillrun")
    response = client_for(staff).get(f"/admin/ai_prefill/prefillrun/{run.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "👎 Not helpful by alice — “Not a &lt;chair&gt;”" in html
    assert f'<a href="{_change_url(listing)}">Red bike</a> (Active, ' in html
    assert f'<a href="{listing.get_absolute_url()}">on the site</a>' in html


def test_the_run_page_says_when_nobody_rated_it_and_no_listing_was_made(
    client_for, staff_with, seller
):
    run = start_run(seller)
    html = (
        client_for(staff_with("ai_prefill.view_prefillrun"))
        .get(f"/admin/ai_prefill/prefillrun/{run.pk}/change/")
        .content.decode()
    )
    assert "not rated" in html and "none made from this run" in html
