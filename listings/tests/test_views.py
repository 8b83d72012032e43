"""The website by persona: anonymous, seller, other seller, buyer, moderator and superuser."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from ai_prefill.tests.factories import start_run
from listings.models import Conversation, Listing
from listings.tests.factories import ConversationFactory, ListingFactory, MessageFactory
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


def test_detail_shows_everything_a_buyer_needs(anon_client, seller):
    listing = ListingFactory(
        seller=seller, title="Armchair", brand="IKEA", price_eur=Decimal("1250")
    )
    page = anon_client.get(listing.get_absolute_url()).content.decode()
    for text in ("Armchair", "IKEA", "1.250\u00a0€", "Alice Seller", listing.photo.url):
        assert text in page
    assert "Log in to contact the seller" in page


def test_missing_listing_is_404(anon_client):
    assert anon_client.get("/listings/999999/").status_code == 404


def test_browse_filters_and_paginates(anon_client):
    for i in range(30):
        ListingFactory(title=f"Lamp {i}", category="home-kitchen")
    ListingFactory(title="Tandem for two", category="bikes")
    page1 = anon_client.get("/", {"category": "home-kitchen"})
    assert page1.context["page"].paginator.count == 30
    assert "Tandem for two" not in page1.content.decode()
    page2 = anon_client.get("/", {"category": "home-kitchen", "page": 2})
    assert len(page2.context["page"].object_list) == 6


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"min_price": "50", "max_price": "5"}, "The minimum price is above the maximum."),
        ({"min_price": "abc"}, "Min €: Enter a price in euros, like 12,50 or 1.250,00."),
        ({"category": "moon"}, "Category: Select a valid choice. moon is not one of"),
    ],
)
def test_invalid_filters_list_nothing_and_say_why(anon_client, query, reason):
    ListingFactory(title="Kettle", price_eur=Decimal("20"))
    response = anon_client.get("/", query)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Kettle" not in html and "listing-card" not in html
    assert "No listings are shown: these filters cannot be applied." in html
    assert reason in html
    for name, value in query.items():
        assert f'name="{name}"' in html and (f'value="{value}"' in html or "selected" in html)


@pytest.mark.parametrize("url", ["/sell/", "/my/listings/", "/inbox/"])
def test_anonymous_is_sent_to_login(anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_sell_page_publishes_a_listing(client_for, seller):
    photo = SimpleUploadedFile("p.jpg", render_item(shape="chair", color="brown"), "image/jpeg")
    response = client_for(seller).post(
        "/sell/",
        {
            "photo": photo, "title": "Oak chair", "description": "Solid.", "category": "furniture",
            "condition": "good", "brand": "", "color": "brown", "price_eur": "30",
        },
    )  # fmt: skip
    listing = Listing.objects.get()
    assert response.status_code == 302 and response.url == listing.get_absolute_url()
    assert listing.seller == seller and listing.title == "Oak chair"


def test_my_listings_shows_only_mine(client_for, seller, other_seller):
    ListingFactory(seller=seller, title="Mine")
    ListingFactory(seller=other_seller, title="Theirs")
    page = client_for(seller).get("/my/listings/").content.decode()
    assert "Mine" in page and "Theirs" not in page


# Moderators change listings in admin (through the same services), not on the site; nor does a
# superuser, who holds every permission.
@pytest.mark.parametrize("persona", ["other_seller", "moderator", "superuser"])
def test_only_the_owner_edits_marks_sold_or_deletes_on_the_site(
    request, client_for, seller, persona
):
    listing = ListingFactory(seller=seller, title="Original")
    client = client_for(request.getfixturevalue(persona))
    pk = listing.pk
    assert client.get(f"/listings/{pk}/edit/").status_code == 403
    assert client.post(f"/listings/{pk}/edit/", {"title": "Hacked"}).status_code == 403
    assert client.post(f"/listings/{pk}/sold/").status_code == 403
    assert client.post(f"/listings/{pk}/delete/").status_code == 403
    listing.refresh_from_db()
    assert (listing.title, listing.status) == ("Original", "active")


@pytest.mark.parametrize("persona", ["other_seller", "staff"])
def test_only_the_owner_relists_on_the_site(request, client_for, seller, persona):
    listing = ListingFactory(seller=seller, status=Listing.Status.SOLD)
    client = client_for(request.getfixturevalue(persona))
    assert client.post(f"/listings/{listing.pk}/relist/").status_code == 403
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD
    assert client_for(seller).get(f"/listings/{listing.pk}/relist/").status_code == 405


def test_owner_edits_marks_sold_and_deletes(client_for, seller):
    listing = ListingFactory(seller=seller, title="Old title", category="bikes")
    client = client_for(seller)
    form = {
        "title": "New title", "description": listing.description, "category": "bikes",
        "condition": "good", "brand": "", "color": "", "price_eur": "5",
    }  # fmt: skip
    assert client.post(f"/listings/{listing.pk}/edit/", form).status_code == 302
    listing.refresh_from_db()
    assert (listing.title, listing.price_eur) == ("New title", Decimal("5"))
    client.post(f"/listings/{listing.pk}/sold/")
    listing.refresh_from_db()
    assert listing.status == "sold"
    client.post(f"/listings/{listing.pk}/delete/")
    assert not Listing.objects.exists()


def test_buyer_contacts_seller_from_the_listing_page(
    client_for, seller, buyer, django_capture_on_commit_callbacks
):
    listing = ListingFactory(seller=seller)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(buyer).post(f"/listings/{listing.pk}/contact/", {"body": "Hello!"})
    convo = Conversation.objects.get()
    assert response.status_code == 302 and response.url == convo.get_absolute_url()
    assert mail.outbox[0].to == [seller.email]


def test_seller_cannot_contact_own_listing(client_for, seller):
    listing = ListingFactory(seller=seller)
    response = client_for(seller).post(f"/listings/{listing.pk}/contact/", {"body": "Hi me"})
    assert response.status_code == 302
    assert not Conversation.objects.exists()


def test_anonymous_cannot_contact(anon_client, seller):
    listing = ListingFactory(seller=seller)
    response = anon_client.post(f"/listings/{listing.pk}/contact/", {"body": "Hi"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not Conversation.objects.exists()


# Moderators read conversations in admin only; the site's page is the two sides' own.
@pytest.mark.parametrize("persona", ["other_seller", "moderator", "superuser"])
def test_outsiders_cannot_read_or_write_a_conversation(request, client_for, seller, buyer, persona):
    convo = ConversationFactory(listing=ListingFactory(seller=seller), buyer=buyer)
    MessageFactory(conversation=convo, sender=buyer, body="My phone number is 0123")
    client = client_for(request.getfixturevalue(persona))
    assert client.get(convo.get_absolute_url()).status_code == 404
    assert client.post(convo.get_absolute_url(), {"body": "Intrude"}).status_code == 404
    assert "0123" not in client.get("/inbox/").content.decode()
    assert convo.messages.count() == 1


def test_seller_reads_and_answers_in_the_inbox(client_for, seller, buyer):
    convo = ConversationFactory(listing=ListingFactory(seller=seller, title="Lamp"), buyer=buyer)
    MessageFactory(conversation=convo, sender=buyer, body="Is the lamp available?")
    client = client_for(seller)
    inbox = client.get("/inbox/").content.decode()
    assert "Lamp" in inbox and "1 new" in inbox
    assert "Is the lamp available?" in client.get(convo.get_absolute_url()).content.decode()
    assert "1 new" not in client.get("/inbox/").content.decode()
    client.post(convo.get_absolute_url(), {"body": "Yes, it is."})
    assert convo.messages.last().body == "Yes, it is."


def test_signup_logs_the_new_user_in(anon_client, django_user_model):
    response = anon_client.post(
        "/accounts/signup/",
        {"username": "dora", "first_name": "Dora", "email": "dora@example.com",
         "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )  # fmt: skip
    assert response.status_code == 302
    assert anon_client.get("/sell/").status_code == 200
    assert django_user_model.objects.get(username="dora").email == "dora@example.com"


def test_signup_refuses_a_taken_email(anon_client, seller):
    response = anon_client.post(
        "/accounts/signup/",
        {"username": "other", "email": seller.email.upper(),
         "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )  # fmt: skip
    assert response.status_code == 200 and "already exists" in response.content.decode()


def test_password_reset_sends_an_email(anon_client, seller):
    response = anon_client.post("/accounts/password_reset/", {"email": seller.email})
    assert response.status_code == 302
    assert mail.outbox[0].to == [seller.email]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_login_and_logout(anon_client, seller):
    response = anon_client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert anon_client.get("/my/listings/").status_code == 200
    anon_client.post("/accounts/logout/")
    assert anon_client.get("/my/listings/").status_code == 302


def test_moderators_manage_listings_and_messages_in_admin(client_for, moderator, staff, seller):
    ListingFactory(seller=seller, title="Admin lamp")
    client = client_for(moderator)
    for url in (
        "/admin/listings/listing/",
        "/admin/listings/message/",
        "/admin/listings/conversation/",
    ):
        assert client.get(url).status_code == 200
        assert client_for(staff).get(url).status_code == 403  # staff without the permissions
        refused = client_for(seller).get(url)
        assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    page = client.get("/admin/listings/listing/", {"q": "lamp", "status__exact": "active"})
    assert "Admin lamp" in page.content.decode()


def test_non_staff_cannot_reach_admin(client_for, seller):
    assert client_for(seller).get("/admin/listings/listing/").status_code == 302


def test_sell_form_error_keeps_the_photo_of_the_prefill_run(client_for, seller):
    run = start_run(seller)
    response = client_for(seller).post(
        "/sell/",
        {"prefill_run": str(run.pk), "title": "", "description": "x", "category": "bikes",
         "condition": "good", "price_eur": "5"},
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200 and not Listing.objects.exists()
    assert "Your photo is kept" in page
    assert f"/api/prefill/{run.pk}/photo/?size=thumb" in page
    assert f'value="{run.pk}"' in page


SELL_FIELDS = {
    "title": "Bike", "description": "x", "category": "bikes", "condition": "good", "price_eur": "5",
}  # fmt: skip
NOT_YOURS = "That AI suggestion is not yours or no longer exists."


def _sell_with_run(client, run_value: str):
    response = client.post("/sell/", {"prefill_run": run_value, **SELL_FIELDS})
    assert response.status_code == 200 and not Listing.objects.filter(title="Bike").exists()
    return response.content.decode()


@pytest.mark.parametrize("forged", ["unknown", "not-a-uuid", "other-sellers"])
def test_sell_form_says_why_a_forged_prefill_run_is_refused(
    client_for, seller, other_seller, forged
):
    run_value = {
        "unknown": "00000000-0000-4000-8000-000000000000",
        "not-a-uuid": "forged",
        "other-sellers": lambda: str(start_run(other_seller).pk),
    }[forged]
    page = _sell_with_run(client_for(seller), run_value() if callable(run_value) else run_value)
    assert NOT_YOURS in page
    assert "Add a photo of the item." not in page


def test_sell_form_says_a_run_is_already_published(client_for, seller):
    run = start_run(seller)
    ListingFactory(seller=seller, prefill_run=run)
    page = _sell_with_run(client_for(seller), str(run.pk))
    assert "This photo is already published in a listing." in page
    assert "Add a photo of the item." not in page


def test_sell_form_says_the_photo_of_a_run_is_gone(client_for, seller):
    run = start_run(seller)
    run.photo.storage.delete(run.photo.name)
    page = _sell_with_run(client_for(seller), str(run.pk))
    assert "The photo of that AI suggestion is gone" in page
    assert "Add a photo of the item." not in page


def test_sell_form_without_photo_or_run_asks_for_a_photo(client_for, seller):
    page = _sell_with_run(client_for(seller), "")
    assert "Add a photo of the item." in page and NOT_YOURS not in page
