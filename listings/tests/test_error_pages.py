"""Refusals a user meets (403, 404) are pages of the site, and expected ones log one line each,
never a traceback; only real errors (5xx) are worth a stack in the logs."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.views.defaults import server_error
from rest_framework.test import APIClient

from listings.tests.factories import ListingFactory
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def _assert_one_line_each(records: list[logging.LogRecord], path: str, requests: int = 1):
    assert records, "the refusal should still be logged"
    assert len(records) == requests
    for record in records:
        assert record.exc_info is None and record.exc_text is None
        assert path in record.getMessage() and "\n" not in record.getMessage()


def test_another_sellers_edit_page_is_a_styled_403_logged_without_a_traceback(
    client_for, seller, other_seller, caplog
):
    listing = ListingFactory(seller=seller)
    path = f"/listings/{listing.pk}/edit/"
    with caplog.at_level(logging.INFO):
        response = client_for(other_seller).get(path)
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in page and "Only the seller can change this listing." in page
    assert "Bob Other" in page  # the layout knows who is signed in
    _assert_one_line_each(_warnings(caplog), path)


def test_a_missing_page_is_a_styled_404_logged_in_one_line(anon_client, caplog):
    with caplog.at_level(logging.INFO):
        response = anon_client.get("/listings/999999/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="topbar"' in page and "This page does not exist" in page
    _assert_one_line_each(_warnings(caplog), "/listings/999999/")


def test_the_500_page_needs_no_context():
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page and "Trova" in page


@pytest.fixture
def api():
    return APIClient()


def test_api_refusals_log_one_line_without_a_traceback(api, seller, other_seller, settings, caplog):
    """NotAuthenticated, PermissionDenied, NotFound and Throttled, as DRF answers them."""
    settings.AI_PREFILL_BURST_RATE = "1/min"
    listing = ListingFactory(seller=seller)
    with caplog.at_level(logging.INFO):
        assert api.post("/api/prefill/").status_code == 401
        api.force_authenticate(other_seller)
        assert api.patch(f"/api/listings/{listing.pk}/", {"title": "x"}).status_code == 403
        assert api.get("/api/listings/999999/").status_code == 404
        # The burst limit counts started runs (a 400 starts none): start one, then the next is 429.
        assert api.post("/api/prefill/", {"image": _photo()}, format="multipart").status_code == 202
        assert api.post("/api/prefill/", {"image": _photo()}, format="multipart").status_code == 429
    records = _warnings(caplog)
    assert {r.status_code for r in records} >= {403, 404, 429}
    for record in records:
        assert record.exc_info is None and "\n" not in record.getMessage()


def _photo():
    return SimpleUploadedFile("mug.jpg", render_item(shape="mug", color="red"), "image/jpeg")
