"""The photo corpus pushed through the Sell page and the API: a bad file gets a clear answer and
leaves nothing behind in MEDIA_ROOT; a good one is stored upright, as RGB, without metadata."""

import io
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils.html import escape
from PIL import Image

from listings import services
from listings.models import Listing
from listings.services import ListingFields
from listings.tests.factories import ListingFactory
from marketplace.photos import PhotoRejected, photo_process
from marketplace.tests import corpus

pytestmark = pytest.mark.django_db

FIELDS = {
    "title": "Red mug",
    "description": "Holds tea.",
    "category": "home-kitchen",
    "condition": "good",
    "price_eur": "12.50",
    "brand": "",
    "color": "red",
}
# Django's and DRF's FileField refuse an empty upload before the intake sees it.
EMPTY_FILE = "The submitted file is empty."


def upload(filename: str, data: bytes) -> SimpleUploadedFile:
    # Browsers send the type they guess from the name, whatever the bytes are.
    return SimpleUploadedFile(filename, data, content_type="image/jpeg")


def media_files() -> list[str]:
    root = django_settings.MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def intake_message(data: bytes) -> str:
    if not data:
        return EMPTY_FILE
    with pytest.raises(PhotoRejected) as info:
        photo_process(ContentFile(data))
    return info.value.message


def post_sell(client, photo):
    return client.post("/sell/", {**FIELDS, "photo": photo})


def post_api(client, photo):
    return client.post("/api/listings/", {**FIELDS, "photo": photo})


def assert_sell_page_refuses(response, message: str) -> None:
    assert response.status_code == 200
    assert response.context["form"].errors["photo"] == [message]
    assert escape(message) in response.content.decode()


def assert_nothing_kept() -> None:
    assert Listing.objects.count() == 0
    assert media_files() == []


# Bad files


@pytest.mark.parametrize("bad", corpus.REJECTED, ids=lambda bad: bad.id)
def test_sell_page_shows_why_a_bad_file_was_refused(client_for, seller, bad):
    message = intake_message(bad.data)
    corpus.assert_human_sentence(message)
    response = post_sell(client_for(seller), upload(bad.filename, bad.data))
    assert_sell_page_refuses(response, message)
    assert_nothing_kept()


@pytest.mark.parametrize("bad", corpus.REJECTED, ids=lambda bad: bad.id)
def test_api_answers_400_with_the_reason_for_a_bad_file(client_for, seller, bad):
    message = intake_message(bad.data)
    response = post_api(client_for(seller), upload(bad.filename, bad.data))
    assert response.status_code == 400
    assert response.json() == {"detail": f"photo: {message}", "photo": [message]}
    assert_nothing_kept()


def test_oversized_file_is_refused_by_both_entry_points(settings, client_for, seller):
    photo = corpus.product_jpeg()
    settings.PHOTO_MAX_BYTES = 2048
    message = "The photo is too large; the limit is 2 KB."
    client = client_for(seller)
    assert_sell_page_refuses(post_sell(client, upload("big.jpg", photo)), message)
    response = post_api(client, upload("big.jpg", photo))
    body = {"detail": f"photo: {message}", "photo": [message]}
    assert (response.status_code, response.json()) == (400, body)
    assert_nothing_kept()


def test_api_edit_with_a_bad_photo_keeps_the_old_one(client_for, seller):
    listing = ListingFactory(seller=seller)
    before = media_files()
    bad = corpus.truncated_jpeg()
    body = encode_multipart(BOUNDARY, {"photo": upload("new.jpg", bad)})
    response = client_for(seller).patch(
        f"/api/listings/{listing.pk}/", body, content_type=MULTIPART_CONTENT
    )
    assert response.status_code == 400
    message = intake_message(bad)
    assert response.json() == {"detail": f"photo: {message}", "photo": [message]}
    listing.refresh_from_db()
    assert media_files() == before == sorted([listing.photo.name, listing.thumbnail.name])


# Good files


def assert_stored_upright_and_clean(listing: Listing) -> None:
    assert media_files() == sorted([listing.photo.name, listing.thumbnail.name])
    for field, size in ((listing.photo, (80, 120)), (listing.thumbnail, (80, 120))):
        with field.open("rb") as stored, Image.open(io.BytesIO(stored.read())) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", size)
            assert len(image.getexif()) == 0
            assert not {"exif", "comment", "icc_profile", "xmp"} & set(image.info)
            red, green, blue = image.getpixel((75, 5))  # the marker, now top-right
            assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("IMG_0001.jpg", corpus.sideways_jpeg_with_private_metadata),
        ("IMG_0002.HEIC", corpus.sideways_heic),
    ],
)
def test_sell_page_stores_a_phone_photo_upright_and_clean(client_for, seller, filename, make):
    response = post_sell(client_for(seller), upload(filename, make()))
    listing = Listing.objects.get()
    assert response.status_code == 302
    assert response.url == listing.get_absolute_url()
    assert listing.seller == seller
    assert_stored_upright_and_clean(listing)


def test_api_stores_a_phone_photo_upright_and_clean(client_for, seller):
    photo = corpus.sideways_jpeg_with_private_metadata()
    response = post_api(client_for(seller), upload("IMG_0001.jpg", photo))
    assert response.status_code == 201
    listing = Listing.objects.get()
    assert response.json()["photo_url"].endswith(listing.photo.url)
    assert_stored_upright_and_clean(listing)


# A failure after the files were written


def test_sell_page_removes_the_files_when_the_row_cannot_be_saved(monkeypatch, client_for, seller):
    def failing_save(self, *args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Listing, "save", failing_save)
    with pytest.raises(DatabaseError):
        post_sell(client_for(seller), upload("p.jpg", corpus.product_jpeg()))
    assert_nothing_kept()


def test_api_removes_the_files_when_model_validation_fails(monkeypatch, client_for, seller):
    def failing_clean(self, *args, **kwargs):
        assert len(media_files()) == 2  # the photo and thumbnail are on disk at this point
        raise ValidationError({"price_eur": ["Ensure this value is at most 1000000."]})

    monkeypatch.setattr(Listing, "full_clean", failing_clean)
    response = post_api(client_for(seller), upload("p.jpg", corpus.product_jpeg()))
    assert response.status_code == 400
    message = "Ensure this value is at most 1000000."
    assert response.json() == {"detail": f"price_eur: {message}", "price_eur": [message]}
    assert_nothing_kept()


def test_service_removes_the_files_for_a_price_only_the_model_refuses(seller):
    # Callers other than the form and the API (demo data, admin actions) skip their validation.
    photo = photo_process(ContentFile(corpus.product_jpeg()))
    fields = ListingFields(
        title="Yacht",
        description="Big.",
        category="other",
        condition="good",
        price_eur=Decimal("2000000"),
    )
    with pytest.raises(ValidationError) as info:
        services.listing_create(seller=seller, fields=fields, photo=photo)
    assert "price_eur" in info.value.message_dict
    assert_nothing_kept()
