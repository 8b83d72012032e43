"""POST /api/sell-sessions/<id>/events/: the Sell page's photo and draft marks, seller only."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from ai_prefill.tests.factories import start_run
from feedback.models import SellSession
from feedback.services import sell_session_open, sell_session_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(seller):
    return sell_session_open(user=seller, assignment=None)


def _url(session_id) -> str:
    return f"/api/sell-sessions/{session_id}/events/"


def _post(client, session_id, **body):
    return client.post(_url(session_id), body, content_type="application/json")


def test_choosing_a_photo_is_marked_once(client_for, seller, session):
    client = client_for(seller)

    assert _post(client, session.pk, event="photo_chosen").status_code == 204
    session.refresh_from_db()
    first = session.photo_chosen_at
    assert first is not None and session.draft_shown_at is None

    # A second photo does not move the mark: time to the first photo is what counts.
    assert _post(client, session.pk, event="photo_chosen").status_code == 204
    session.refresh_from_db()
    assert session.photo_chosen_at == first


def test_a_draft_shown_links_the_sellers_run(client_for, seller, session):
    run = start_run(seller)

    response = _post(client_for(seller), session.pk, event="draft_shown", run=str(run.pk))

    assert response.status_code == 204
    session.refresh_from_db()
    assert session.draft_shown_at is not None
    assert session.run == run


def test_someone_elses_session_is_not_found_and_unchanged(client_for, other_seller, session):
    response = _post(client_for(other_seller), session.pk, event="photo_chosen")
    assert response.status_code == 404
    assert _post(client_for(other_seller), uuid.uuid4(), event="photo_chosen").status_code == 404
    session.refresh_from_db()
    assert session.photo_chosen_at is None


@pytest.mark.parametrize("body", [{"event": "published"}, {"event": ""}, {}])
def test_an_unknown_event_is_refused(client_for, seller, session, body):
    response = _post(client_for(seller), session.pk, **body)
    assert response.status_code == 400
    assert "event" in response.json()
    session.refresh_from_db()
    assert (session.photo_chosen_at, session.draft_shown_at) == (None, None)


def test_a_run_that_is_not_the_sellers_is_refused(client_for, seller, other_seller, session):
    theirs = start_run(other_seller)
    client = client_for(seller)

    for run_id in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
        response = _post(client, session.pk, event="draft_shown", run=str(run_id))
        assert response.status_code == 400, run_id
        assert "run" in response.json()
    session.refresh_from_db()
    assert (session.draft_shown_at, session.run) == (None, None)


def test_marks_after_publishing_change_nothing(client_for, seller, session):
    sell_session_publish(session=session, listing_id=7, published_at=timezone.now())
    assert _post(client_for(seller), session.pk, event="photo_chosen").status_code == 204
    session.refresh_from_db()
    assert session.status == SellSession.Status.PUBLISHED
    assert session.photo_chosen_at is None


def test_anonymous_is_refused(anon_client, session):
    assert _post(anon_client, session.pk, event="photo_chosen").status_code == 401


def test_the_page_needs_its_csrf_token_and_a_token_client_does_not(seller, session):
    """The Sell page posts with the session cookie and X-CSRFToken; API clients use a token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(seller)
    assert _post(browser, session.pk, event="photo_chosen").status_code == 403
    browser.get("/sell/")  # sets the CSRF cookie, as the page does
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        _url(session.pk),
        {"event": "photo_chosen"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 204

    key = Token.objects.create(user=seller).key
    api = Client(enforce_csrf_checks=True)
    response = api.post(
        _url(session.pk),
        {"event": "draft_shown"},
        content_type="application/json",
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status_code == 204
    session.refresh_from_db()
    assert session.photo_chosen_at is not None and session.draft_shown_at is not None
