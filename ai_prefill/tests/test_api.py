"""POST /api/prefill/ and GET /api/prefill/<id>/ by persona, with limits and bad photos."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.polling import EXPECTED_WHEN_UNKNOWN_S, POLL_MIN_MS, expected_run_seconds
from ai_prefill.tests.factories import start_run
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db


def _photo():
    return SimpleUploadedFile("item.jpg", render_item(shape="mug", color="red"), "image/jpeg")


def test_upload_answers_202_with_the_run_id(client_for, seller):
    response = client_for(seller).post("/api/prefill/", {"image": _photo()})
    assert response.status_code == 202
    run = PrefillRun.objects.get()
    body = response.json()
    # No runs to learn from yet: ask again after about the default expected duration.
    assert POLL_MIN_MS <= body.pop("poll_after_ms") <= EXPECTED_WHEN_UNKNOWN_S * 1000
    assert body == {"id": str(run.pk), "status": "queued"}
    assert run.user == seller and run.photo.storage.exists(run.photo.name)


def test_anonymous_cannot_start_or_read(anon_client, seller):
    run = start_run(seller)
    for response in (
        anon_client.post("/api/prefill/", {"image": _photo()}),
        anon_client.get(f"/api/prefill/{run.pk}/"),
        anon_client.get(f"/api/prefill/{run.pk}/photo/"),
    ):
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
        assert response.json()["detail"] == "Authentication credentials were not provided."
    assert PrefillRun.objects.count() == 1


def test_only_the_owner_and_staff_who_may_view_runs_read_a_run(
    client_for, seller, other_seller, staff, report_viewer, run_viewer
):
    run = start_run(seller)
    for outsider in (other_seller, staff, report_viewer):  # staff without `view_prefillrun`
        assert client_for(outsider).get(f"/api/prefill/{run.pk}/").status_code == 404
        assert client_for(outsider).get(f"/api/prefill/{run.pk}/photo/").status_code == 404
    for reader in (seller, run_viewer):
        assert client_for(reader).get(f"/api/prefill/{run.pk}/").status_code == 200
        photo = client_for(reader).get(f"/api/prefill/{run.pk}/photo/")
        assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


def test_status_answer_is_exact_for_owner_and_staff(client_for, seller, run_viewer):
    from ai_prefill import execution

    run = start_run(seller, shape="ball", color="red")
    execution.prefill_run_execute(run_id=run.pk)  # baseline provider, offline
    run.refresh_from_db()
    expected = {
        "id": str(run.pk),
        "status": "succeeded",
        "draft": run.draft,
        "error": None,
        "prompt_version": run.prompt_version.label,
        "model": "baseline",
        "poll_after_ms": None,  # finished: nothing more to ask
    }
    assert client_for(seller).get(f"/api/prefill/{run.pk}/").json() == expected
    assert client_for(run_viewer).get(f"/api/prefill/{run.pk}/").json() == expected


def test_a_status_poll_is_three_queries(client_for, seller, django_assert_max_num_queries):
    run = start_run(seller)
    client = client_for(seller)
    expected_run_seconds()  # learnt once per process every 30 s, not per poll
    with django_assert_max_num_queries(3):  # session, user, then the run with its version
        assert client.get(f"/api/prefill/{run.pk}/").json()["status"] == "queued"


def test_the_image_the_model_was_sent_is_shown_to_owner_and_staff_who_may_view_runs_only(
    client_for, seller, other_seller, staff, run_viewer
):
    run = start_run(seller)
    with run.model_image.open("rb") as stored:
        sent = stored.read()
    for viewer in (seller, run_viewer):
        answer = client_for(viewer).get(f"/api/prefill/{run.pk}/photo/?size=model")
        assert answer.status_code == 200 and b"".join(answer.streaming_content) == sent
    for outsider in (other_seller, staff):
        other = client_for(outsider).get(f"/api/prefill/{run.pk}/photo/?size=model")
        assert other.status_code == 404
    admin_page = f"/admin/ai_prefill/prefillrun/{run.pk}/change/"
    page = client_for(run_viewer).get(admin_page)
    assert f"/api/prefill/{run.pk}/photo/?size=model" in page.content.decode()
    assert client_for(staff).get(admin_page).status_code == 403
    run.model_image.delete(save=True)  # a run from before model images were stored
    missing = client_for(run_viewer).get(f"/api/prefill/{run.pk}/photo/?size=model")
    assert missing.status_code == 404


def test_run_photos_are_not_under_media_url(seller, settings):
    run = start_run(seller)
    assert str(settings.PRIVATE_MEDIA_ROOT) in run.photo.path
    assert str(settings.MEDIA_ROOT) not in run.photo.path
    with pytest.raises(ValueError):
        _ = run.photo.url


def test_bad_photo_is_a_400_and_leaves_nothing(client_for, seller, settings):
    bad = SimpleUploadedFile("fake.jpg", b"just text, not an image", "image/jpeg")
    response = client_for(seller).post("/api/prefill/", {"image": bad})
    assert response.status_code == 400
    assert "not an image" in response.json()["image"][0]
    assert not PrefillRun.objects.exists()
    assert not settings.PRIVATE_MEDIA_ROOT.exists() or not any(
        p.is_file() for p in settings.PRIVATE_MEDIA_ROOT.rglob("*")
    )


def test_missing_image_is_a_400(client_for, seller):
    response = client_for(seller).post("/api/prefill/", {})
    assert response.status_code == 400 and "image" in response.json()


def test_burst_limit_answers_429(client_for, seller, settings):
    settings.AI_PREFILL_BURST_RATE = "2/min"
    client = client_for(seller)
    codes = [client.post("/api/prefill/", {"image": _photo()}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert PrefillRun.objects.count() == 2


def test_daily_quota_answers_429_with_a_clear_message(client_for, seller, other_seller, settings):
    settings.AI_PREFILL_DAILY_QUOTA = 1
    assert client_for(seller).post("/api/prefill/", {"image": _photo()}).status_code == 202
    response = client_for(seller).post("/api/prefill/", {"image": _photo()})
    assert response.status_code == 429
    assert response.json()["detail"] == (
        "You have used today's 1 AI suggestions. Fill in the form yourself, or try again tomorrow."
    )
    assert int(response["Retry-After"]) > 0
    assert client_for(other_seller).post("/api/prefill/", {"image": _photo()}).status_code == 202


def test_failed_run_shows_the_error(
    client_for, seller, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.script(Behaviour.refusal("No."))
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(seller)
    body = client_for(seller).get(f"/api/prefill/{run.pk}/").json()
    assert body["status"] == "failed" and body["draft"] is None
    assert body["error"] == {"type": "refusal", "message": "No."}


def test_a_run_nobody_took_reads_as_failed_without_any_worker(client_for, seller, settings):
    """No worker and no beat (so no sweep): the seller's next poll still ends a stale run."""
    settings.AI_RUN_STALE_AFTER_SECONDS = 600
    queued = start_run(seller)  # its task never ran: nothing committed, nothing dispatched
    abandoned = start_run(seller)
    eleven_minutes_ago = timezone.now() - timedelta(minutes=11)
    PrefillRun.objects.update(created_at=eleven_minutes_ago)
    PrefillRun.objects.filter(pk=abandoned.pk).update(
        status="running", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = client_for(seller)

    body = client.get(f"/api/prefill/{queued.pk}/").json()
    assert body["status"] == "failed" and body["draft"] is None
    assert body["error"]["type"] == "worker_unavailable"
    assert "No worker took this run in time" in body["error"]["message"]
    assert client.get(f"/api/prefill/{abandoned.pk}/").json()["error"]["type"] == "worker_lost"
    assert PrefillRun.objects.filter(status="failed", finished_at__isnull=False).count() == 2


def test_a_young_or_live_run_is_left_alone_by_reads(client_for, seller, settings):
    settings.AI_RUN_STALE_AFTER_SECONDS = 600
    young, leased = start_run(seller), start_run(seller)
    PrefillRun.objects.filter(pk=leased.pk).update(
        status="running",
        created_at=timezone.now() - timedelta(minutes=11),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    client = client_for(seller)
    assert client.get(f"/api/prefill/{young.pk}/").json()["status"] == "queued"
    assert client.get(f"/api/prefill/{leased.pk}/").json()["status"] == "running"
