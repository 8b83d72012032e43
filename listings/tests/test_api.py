from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ai_prefill.tests.factories import start_run
from listings.models import Listing
from listings.tests.factories import ListingFactory
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def _as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _jpeg(name="item.jpg"):
    return SimpleUploadedFile(name, render_item(shape="ball", color="orange"), "image/jpeg")


NEW_LISTING = {
    "title": "Basketball",
    "description": "Grippy.",
    "category": "sports-outdoors",
    "condition": "good",
    "price_eur": "12.00",
}


def test_list_is_public_paginated_and_filtered(api):
    ListingFactory(title="Blue bike", category="bikes", price_eur=Decimal("100"))
    ListingFactory(title="Blue chair", category="furniture", price_eur=Decimal("1250"))
    ListingFactory(title="Sold bike", category="bikes", status=Listing.Status.SOLD)

    body = api.get("/api/listings/", {"category": "bikes"}).json()
    assert body["count"] == 1 and body["results"][0]["title"] == "Blue bike"
    body = api.get("/api/listings/", {"q": "blue", "sort": "price_desc"}).json()
    assert [r["title"] for r in body["results"]] == ["Blue chair", "Blue bike"]
    assert body["results"][0]["price_display"] == "1.250\u00a0€"
    assert body["results"][0]["photo_url"].startswith("http://testserver/media/")
    assert set(body) == {"count", "next", "previous", "results"}


def test_bad_filters_get_a_400_that_says_why(api):
    response = api.get("/api/listings/", {"min_price": "abc", "category": "moon"})
    assert response.status_code == 400
    assert {"min_price", "category"} <= set(response.json())


def test_detail_shows_sold_listings_too(api):
    listing = ListingFactory(status=Listing.Status.SOLD)
    response = api.get(f"/api/listings/{listing.pk}/")
    assert response.status_code == 200 and response.json()["status"] == "sold"


def test_anonymous_cannot_create(api):
    response = api.post("/api/listings/", {**NEW_LISTING, "photo": _jpeg()}, format="multipart")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Listing.objects.exists()


def test_create_with_photo(seller):
    client = _as(seller)
    response = client.post("/api/listings/", {**NEW_LISTING, "photo": _jpeg()}, format="multipart")
    assert response.status_code == 201, response.content
    listing = Listing.objects.get()
    assert listing.seller == seller and response.json()["id"] == listing.pk
    assert response.json()["seller"] == seller.display_name


def test_create_needs_a_photo_and_valid_fields(seller):
    client = _as(seller)
    response = client.post("/api/listings/", NEW_LISTING, format="multipart")
    assert response.status_code == 400 and "photo" in response.json()
    bad = {**NEW_LISTING, "category": "moon", "price_eur": "-1", "photo": _jpeg()}
    response = client.post("/api/listings/", bad, format="multipart")
    assert response.status_code == 400
    assert {"category", "price_eur"} <= set(response.json())
    assert not Listing.objects.exists()


def test_token_auth_works_for_api_clients(seller):
    token = Token.objects.create(user=seller)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post("/api/listings/", {**NEW_LISTING, "photo": _jpeg()}, format="multipart")
    assert response.status_code == 201


def test_obtain_token_with_username_and_password(seller, api):
    response = api.post("/api/auth/token/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200 and response.json()["token"]


def test_owner_patches_and_deletes(seller):
    listing = ListingFactory(seller=seller, price_eur=Decimal("10"))
    client = _as(seller)
    response = client.patch(f"/api/listings/{listing.pk}/", {"price_eur": "7.50"}, format="json")
    assert response.status_code == 200 and response.json()["price_eur"] == "7.50"
    assert client.delete(f"/api/listings/{listing.pk}/").status_code == 204
    assert not Listing.objects.exists()


@pytest.mark.parametrize("method", ["patch", "delete", "put"])
def test_other_seller_cannot_change(seller, other_seller, method):
    listing = ListingFactory(seller=seller, price_eur=Decimal("10"))
    response = getattr(_as(other_seller), method)(
        f"/api/listings/{listing.pk}/", {"price_eur": "1"}, format="json"
    )
    assert response.status_code in (403, 405)
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("10")


def test_put_is_not_offered(seller):
    listing = ListingFactory(seller=seller)
    response = _as(seller).put(f"/api/listings/{listing.pk}/", NEW_LISTING, format="json")
    assert response.status_code == 405


def test_patch_cannot_change_the_owner(seller, other_seller):
    listing = ListingFactory(seller=seller)
    response = _as(seller).patch(
        f"/api/listings/{listing.pk}/",
        {"seller": other_seller.pk, "title": "New title"},
        format="json",
    )
    assert response.status_code == 200
    listing.refresh_from_db()
    assert (listing.seller, listing.title) == (seller, "New title")


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_owner_marks_sold_and_relists_through_patch(seller, fmt):
    listing = ListingFactory(seller=seller, title="Lamp")
    url = f"/api/listings/{listing.pk}/"
    response = _as(seller).patch(url, {"status": "sold", "title": "Old lamp"}, format=fmt)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["title"]) == ("sold", "Old lamp")
    listing.refresh_from_db()
    assert listing.status == "sold" and listing.sold_at is not None
    assert listing.title == "Old lamp"

    response = _as(seller).patch(url, {"status": "active"}, format=fmt)
    assert response.status_code == 200 and response.json()["status"] == "active"
    listing.refresh_from_db()
    assert listing.status == "active" and listing.sold_at is None


def test_an_unknown_status_is_refused_with_a_sentence(seller):
    listing = ListingFactory(seller=seller, title="Lamp")
    response = _as(seller).patch(
        f"/api/listings/{listing.pk}/", {"status": "gone", "title": "X"}, format="json"
    )
    message = "“gone” is not a status: use “active” (on sale) or “sold”."
    assert response.status_code == 400
    assert response.json() == {"detail": f"status: {message}", "status": [message]}
    listing.refresh_from_db()
    assert (listing.status, listing.title) == ("active", "Lamp")


def test_other_seller_cannot_mark_sold(seller, other_seller):
    listing = ListingFactory(seller=seller)
    response = _as(other_seller).patch(
        f"/api/listings/{listing.pk}/", {"status": "sold"}, format="json"
    )
    assert response.status_code == 403
    listing.refresh_from_db()
    assert listing.status == "active"


def test_a_new_listing_takes_no_status(seller):
    response = _as(seller).post(
        "/api/listings/", {**NEW_LISTING, "photo": _jpeg(), "status": "sold"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["status"] == ["Only when changing a listing: a new one is on sale."]
    assert not Listing.objects.exists()


def test_the_schema_documents_the_status_change(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["paths"]["/api/listings/{id}/"]["patch"]["requestBody"]["content"]
    for media_type in ("application/json", "multipart/form-data"):
        ref = body[media_type]["schema"]["$ref"].rsplit("/", 1)[-1]
        status = schema["components"]["schemas"][ref]["properties"]["status"]
        enum = status["allOf"][0]["$ref"].rsplit("/", 1)[-1]
        assert schema["components"]["schemas"][enum]["enum"] == ["active", "sold"]
        assert "`active` puts it back on sale" in status["description"]


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/listings/" in schema.json()["paths"]
    docs = api.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_create_from_a_prefill_run_takes_its_photo_and_links_it(seller, other_seller):
    run = start_run(seller)
    body = {**NEW_LISTING, "prefill_run": str(run.pk)}
    response = _as(other_seller).post("/api/listings/", body, format="multipart")
    assert response.status_code == 400 and "prefill_run" in response.json()
    response = _as(seller).post("/api/listings/", body, format="multipart")
    assert response.status_code == 201, response.content
    listing = Listing.objects.get()
    assert listing.prefill_run == run
    assert listing.photo.read() == run.photo.open("rb").read()
    again = _as(seller).post("/api/listings/", body, format="multipart")
    assert again.status_code == 400 and "already published" in str(again.json())
