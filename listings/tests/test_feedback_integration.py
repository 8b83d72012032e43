"""Publishing from an AI suggestion tells feedback what the seller kept, changed, and when."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ai_prefill.execution import prefill_run_execute
from ai_prefill.tests.factories import start_run
from feedback.models import FieldCorrection, PrefillOutcome
from listings.forms import OPENED_SALT
from listings.models import Listing
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def suggested_run(seller):
    """A finished baseline run: title "", category other, condition good, colour red."""
    run = start_run(seller, shape="ball", color="red")
    prefill_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def _opened(seconds_ago: int) -> str:
    return signing.dumps(
        (timezone.now() - timedelta(seconds=seconds_ago)).timestamp(), salt=OPENED_SALT
    )


def _sell(client, run, opened_seconds_ago=95, **fields):
    data = {
        "prefill_run": str(run.pk), "title": "Red ball", "description": "A ball.",
        "category": "other", "condition": "good", "brand": "", "color": "red", "price_eur": "5",
        "opened": _opened(opened_seconds_ago),
        **fields,
    }  # fmt: skip
    return client.post("/sell/", data)


def test_publish_records_time_and_per_field_corrections(client_for, seller, suggested_run):
    response = _sell(client_for(seller), suggested_run, category="sports-outdoors", color=" Red ")
    assert response.status_code == 302
    outcome = PrefillOutcome.objects.get(run=suggested_run)
    listing = Listing.objects.get()
    assert outcome.status == "published" and outcome.listing_id == listing.pk
    assert 90 <= outcome.seconds_to_publish <= 120
    changed = {c.field: c for c in outcome.corrections.filter(changed=True)}
    # title and description were empty suggestions the seller filled; category was corrected;
    # " Red " is the suggested "red" with a case change: the same value (ai_prefill/fields.py).
    assert set(changed) == {"title", "description", "category", "price_eur"}
    assert changed["category"].similarity == 0.0
    assert outcome.fields_changed == 4
    kept = outcome.corrections.get(field="color")
    assert not kept.changed and kept.final == "Red", "kept as the seller typed it"
    assert not outcome.corrections.get(field="condition").changed


def test_a_forged_or_missing_opening_time_is_not_used(client_for, seller, suggested_run):
    _sell(client_for(seller), suggested_run, opened="forged-value")
    assert PrefillOutcome.objects.get(run=suggested_run).seconds_to_publish is None


def test_later_edits_within_the_window_are_late_corrections(
    client_for, seller, suggested_run, settings
):
    settings.FEEDBACK_LATE_CORRECTION_HOURS = 72
    client = client_for(seller)
    _sell(client, suggested_run)
    listing = Listing.objects.get()
    form = {
        "title": "Red ball", "description": "A ball.", "category": "sports-outdoors",
        "condition": "good", "brand": "", "color": "red", "price_eur": "4",
    }  # fmt: skip
    client.post(f"/listings/{listing.pk}/edit/", form)
    late = FieldCorrection.objects.filter(stage="late")
    assert {(c.field, c.suggested, c.final) for c in late} == {
        ("category", "other", "sports-outdoors"),
        ("price_eur", 5.0, 4.0),
    }
    PrefillOutcome.objects.filter(run=suggested_run).update(
        published_at=timezone.now() - timedelta(hours=73)
    )
    client.post(f"/listings/{listing.pk}/edit/", {**form, "price_eur": "3"})
    assert FieldCorrection.objects.filter(stage="late").count() == 2, "outside the window"


def test_a_listing_without_a_run_records_nothing(client_for, seller):
    photo = SimpleUploadedFile("p.jpg", render_item(shape="mug", color="red"), "image/jpeg")
    client_for(seller).post("/sell/", {
        "photo": photo, "title": "Mug", "description": "A mug.", "category": "home-kitchen",
        "condition": "good", "price_eur": "3",
    })  # fmt: skip
    assert Listing.objects.get().price_eur == Decimal("3")
    assert not PrefillOutcome.objects.exists()


def test_rating_api_is_for_the_runs_seller_and_changeable(
    client_for, seller, other_seller, suggested_run
):
    url = f"/api/prefill/{suggested_run.pk}/feedback/"
    assert client_for(other_seller).post(url, {"rating": "up"}).status_code == 404
    client = client_for(seller)
    assert client.get(url).status_code == 404
    assert client.post(url, {"rating": "sideways"}).status_code == 400
    first = client.post(url, {"rating": "up"}, content_type="application/json")
    assert first.status_code == 200 and first.json() == {"rating": "up", "comment": ""}
    changed = client.post(
        url, {"rating": "down", "comment": "Wrong category"}, content_type="application/json"
    )
    assert changed.json() == {"rating": "down", "comment": "Wrong category"}
    assert suggested_run.ratings.count() == 1
    assert client.get(url).json()["rating"] == "down"


def test_edit_page_shows_the_rating_of_its_run(client_for, seller, suggested_run):
    client = client_for(seller)
    _sell(client, suggested_run)
    client.post(f"/api/prefill/{suggested_run.pk}/feedback/", {"rating": "up"})
    page = client.get(f"/listings/{Listing.objects.get().pk}/edit/").content.decode()
    assert 'id="suggestion-rating"' in page and 'data-current="up"' in page
