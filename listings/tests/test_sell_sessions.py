"""The Sell page measures every sell session, in every experiment arm and outside experiments:
opened (with the exposure of an enrolled seller), published (time to publish, listing)."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.rollout import PrefillConfig, production_config_set
from ai_prefill.services import PREFILL_OFF_MESSAGE
from ai_prefill.tests.factories import start_run
from experiments.models import Assignment, Exposure
from feedback.models import PrefillOutcome, SellSession
from feedback.services import sell_session_open
from listings.forms import SESSION_NOT_YOURS
from listings.models import Listing
from listings.tests.factories import baseline_arm_payload, experiment_running, seller_in_arm
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db

FIELDS = {
    "title": "Red ball", "description": "A ball.", "category": "other", "condition": "good",
    "brand": "", "color": "red", "price_eur": "5",
}  # fmt: skip


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("ball.jpg", render_item(shape="ball", color="red"), "image/jpeg")


def _form_tag(response) -> str:
    return re.search(r'<form [^>]*id="sell-form"[^>]*>', response.content.decode()).group(0)


def _page_session(response) -> SellSession:
    """The session the page carries, checked to be the same in the form tag and the input."""
    html = response.content.decode()
    tagged = re.search(r'data-sell-session="([0-9a-f-]{36})"', _form_tag(response)).group(1)
    hidden = re.search(r'<input type="hidden" name="sell_session" value="([0-9a-f-]{36})"', html)
    assert hidden is not None and hidden.group(1) == tagged
    return SellSession.objects.get(pk=tagged)


def _ai_attribute(response) -> str:
    return re.search(r'data-ai="(on|off)"', _form_tag(response)).group(1)


def _backdate(session: SellSession, seconds: int) -> None:
    """As if the seller had opened the form `seconds` ago."""
    SellSession.objects.filter(pk=session.pk).update(
        opened_at=timezone.now() - timedelta(seconds=seconds)
    )


def _publish(client, session, **extra):
    data = {**FIELDS, "sell_session": str(session.pk), **extra}
    if "prefill_run" not in extra:
        data["photo"] = _photo()
    return client.post("/sell/", data)


def test_an_enrolled_seller_opens_a_session_in_their_arm_with_one_exposure(client_for):
    experiment = experiment_running(variant=baseline_arm_payload())
    seller = seller_in_arm(experiment, "variant")

    response = client_for(seller).get("/sell/")

    assert response.status_code == 200
    session = _page_session(response)
    variant = experiment.arms.get(key="variant")
    assert (session.user, session.experiment, session.arm) == (seller, experiment, variant)
    assert session.status == SellSession.Status.OPEN
    assert _ai_attribute(response) == "on"
    exposure = Exposure.objects.get()
    assert (exposure.user, exposure.arm, exposure.session_id) == (seller, variant, session.pk)
    assert Assignment.objects.get().arm == variant


def test_a_reload_resumes_the_session_without_a_second_exposure_or_assignment(client_for):
    experiment = experiment_running(variant=baseline_arm_payload())
    seller = seller_in_arm(experiment, "control")
    client = client_for(seller)

    first = _page_session(client.get("/sell/"))
    again = _page_session(client.get("/sell/"))

    assert again == first
    assert first.arm == experiment.arms.get(key="control")
    assert SellSession.objects.count() == 1
    assert Exposure.objects.count() == 1
    assert Assignment.objects.count() == 1


def test_a_no_ai_seller_gets_the_plain_form_and_cannot_start_a_run(client_for):
    experiment = experiment_running(variant={"ai": "off"})
    seller = seller_in_arm(experiment, "variant")
    client = client_for(seller)

    response = client.get("/sell/")

    assert _ai_attribute(response) == "off"
    html = response.content.decode()
    assert 'type="file" name="photo"' in html  # an ordinary file field, posted with the form
    for ai_part in ('id="prefill-status"', "data-prefill-url", 'id="suggestion-rating"'):
        assert ai_part not in html, ai_part
    assert Exposure.objects.get().arm.key == "variant"

    refused = client.post("/api/prefill/", {"image": _photo()})
    assert refused.status_code == 403
    assert refused.json() == {"detail": PREFILL_OFF_MESSAGE}
    assert not PrefillRun.objects.exists()


def test_publishing_without_ai_records_the_time_to_publish_and_the_listing(client_for):
    experiment = experiment_running(variant={"ai": "off"})
    seller = seller_in_arm(experiment, "variant")
    client = client_for(seller)
    session = _page_session(client.get("/sell/"))
    _backdate(session, 95)

    response = _publish(client, session)

    listing = Listing.objects.get()
    assert response.status_code == 302 and response.url == listing.get_absolute_url()
    session.refresh_from_db()
    assert session.status == SellSession.Status.PUBLISHED
    assert session.listing_id == listing.pk
    assert session.published_at == listing.created_at
    assert 95 <= session.seconds_to_publish < 100
    assert session.run is None
    assert not PrefillRun.objects.exists()


def test_publishing_from_a_draft_records_the_session_and_keeps_the_outcome(client_for):
    experiment = experiment_running(variant=baseline_arm_payload())
    seller = seller_in_arm(experiment, "variant")
    client = client_for(seller)
    page = client.get("/sell/")
    session = _page_session(page)
    run = start_run(seller, shape="ball", color="red")
    _backdate(session, 40)

    response = _publish(
        client, session, prefill_run=str(run.pk), opened=page.context["form"]["opened"].value()
    )

    assert response.status_code == 302
    listing = Listing.objects.get()
    session.refresh_from_db()
    assert (session.status, session.listing_id, session.run) == ("published", listing.pk, run)
    assert 40 <= session.seconds_to_publish < 45
    run.refresh_from_db()
    assert run.arm == experiment.arms.get(key="variant")
    # The signed opening time still feeds the pre-fill outcome, as before.
    outcome = PrefillOutcome.objects.get(run=run)
    assert outcome.listing_id == listing.pk and outcome.form_opened_at is not None


def test_a_seller_outside_any_experiment_is_measured_the_same_way(client_for, seller):
    client = client_for(seller)
    response = client.get("/sell/")
    session = _page_session(response)
    assert _ai_attribute(response) == "on"
    assert (session.experiment, session.arm) == (None, None)
    assert not Exposure.objects.exists()
    _backdate(session, 60)

    assert _publish(client, session).status_code == 302

    session.refresh_from_db()
    assert session.status == SellSession.Status.PUBLISHED
    assert session.listing_id == Listing.objects.get().pk
    assert 60 <= session.seconds_to_publish < 65


def test_with_ai_off_in_production_every_seller_gets_the_plain_form(client_for, seller):
    production_config_set(
        config=PrefillConfig(enabled=False, prompt_version=None, provider="", model=""),
        actor=None,
    )
    response = client_for(seller).get("/sell/")
    assert _ai_attribute(response) == "off"
    assert 'id="prefill-status"' not in response.content.decode()
    assert _page_session(response).arm is None


def test_a_form_that_comes_back_with_an_error_keeps_its_session(client_for, seller):
    client = client_for(seller)
    session = _page_session(client.get("/sell/"))

    response = _publish(client, session, title="")

    assert response.status_code == 200
    assert _page_session(response) == session
    assert SellSession.objects.count() == 1
    session.refresh_from_db()
    assert session.status == SellSession.Status.OPEN
    assert not Listing.objects.exists()


def test_a_session_that_is_not_the_sellers_is_refused_with_a_sentence(
    client_for, seller, other_seller
):
    theirs = sell_session_open(user=other_seller, assignment=None)
    client = client_for(seller)

    response = _publish(client, theirs)

    assert response.status_code == 200
    assert SESSION_NOT_YOURS in response.content.decode()
    assert not Listing.objects.exists()
    theirs.refresh_from_db()
    assert theirs.status == SellSession.Status.OPEN
    # The page comes back with the seller's own session, so publishing again works.
    own = _page_session(response)
    assert own.user == seller
    assert _publish(client, own).status_code == 302
    own.refresh_from_db()
    assert own.listing_id == Listing.objects.get().pk


def test_a_form_without_a_session_still_publishes(client_for, seller):
    response = client_for(seller).post("/sell/", {**FIELDS, "photo": _photo()})
    assert response.status_code == 302
    assert Listing.objects.count() == 1
    assert not SellSession.objects.filter(status=SellSession.Status.PUBLISHED).exists()
