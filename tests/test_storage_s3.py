"""Media on S3-compatible object storage, against a real local S3 server (moto's server mode,
tests/s3.py): public listing photos by plain URL, private run photos and eval images refused
without a signature, the permission-checked views streaming them, deletes removing objects,
and a pre-fill run reading its image from the bucket.

What moto does not check (tests/s3.py): a signed URL's signature and expiry. For those the
tests recompute the signature as S3 does (tests/s3.py `sigv4_url_valid`) at chosen times."""

import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import EvalCase, PrefillRun, private_storage
from ai_prefill.tests.factories import start_run
from annotation import services as annotation_services
from annotation.models import SamplingPolicy
from annotation.sampling import runs_sample_for_annotation
from annotation.tests.test_promotion import GIVE_AWAY
from listings import services as listing_services
from listings.models import Listing
from listings.tests.factories import ListingFactory
from listings.tests.test_photo_uploads import post_sell, upload
from marketplace.sample_images import render_item
from marketplace.storage_s3 import PrivateS3Storage, PublicS3Storage
from marketplace.storage_settings import media_storages
from marketplace.tests import corpus
from monitoring.readiness import readiness_report
from tests.fake_openai import Behaviour
from tests.outage import hung_server
from tests.s3 import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    MotoS3Server,
    S3Buckets,
    anonymous_get,
    sigv4_url_valid,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
# Not the 300 s default: shows the configured lifetime is the one the URL carries.
SIGNED_URL_SECONDS = 120


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """One moto_server for the session. It raises (an error, never a skip) if it cannot start."""
    with MotoS3Server(tmp_path_factory.mktemp("moto") / "moto_server.log") as server:
        yield server


def _media_on(buckets: S3Buckets, settings, monkeypatch) -> S3Buckets:
    # The keys reach boto3 through the environment, as in production.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings.STORAGES = {
        **media_storages(
            bucket=buckets.public,
            private_bucket="" if buckets.public == buckets.private else buckets.private,
            endpoint_url=buckets.server.endpoint_url,
            region=REGION,
            signed_url_seconds=SIGNED_URL_SECONDS,
        ),
        "staticfiles": settings.STORAGES["staticfiles"],
    }
    return buckets


@pytest.fixture
def s3(moto_s3, settings, monkeypatch) -> S3Buckets:
    """Fresh public and private buckets, and the app's media stored in them."""
    return _media_on(S3Buckets.create(moto_s3), settings, monkeypatch)


def _local_files(settings) -> list[Path]:
    roots = (Path(settings.MEDIA_ROOT), Path(settings.PRIVATE_MEDIA_ROOT))
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def _signed_query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- public listing photos --------------------------------------------------------------------


def test_a_listing_photo_sold_through_the_sell_page_is_in_the_bucket_and_public(
    s3, client_for, seller, settings
):
    response = post_sell(client_for(seller), upload("IMG_0001.jpg", corpus.product_jpeg()))
    assert response.status_code == 302
    listing = Listing.objects.get()
    names = [listing.photo.name, listing.thumbnail.name]
    assert s3.keys(s3.public) == sorted(f"media/{name}" for name in names)
    assert s3.keys(s3.private) == [] and _local_files(settings) == []

    url = listing.photo.url
    assert url == s3.unsigned_url(s3.public, f"media/{listing.photo.name}")  # no signature
    status, body = anonymous_get(url)
    assert status == 200 and body == s3.read(s3.public, f"media/{listing.photo.name}")
    assert body.startswith(b"\xff\xd8")  # the JPEG the intake made
    page = client_for(seller).get(listing.get_absolute_url()).content.decode()
    assert url in page


def test_deleting_a_listing_removes_its_objects(s3, seller, django_capture_on_commit_callbacks):
    listing = ListingFactory(seller=seller)
    other = ListingFactory(seller=seller)
    assert len(s3.keys(s3.public)) == 4
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_delete(listing=listing, actor=seller)
    assert s3.keys(s3.public) == sorted(
        f"media/{name}" for name in (other.photo.name, other.thumbnail.name)
    )


def test_a_failed_object_delete_is_logged_not_raised(
    s3, seller, django_capture_on_commit_callbacks, caplog
):
    listing = ListingFactory(seller=seller)
    # A bucket whose policy now refuses deletes, to anyone: the delete after commit fails.
    s3.server.client().put_bucket_policy(
        Bucket=s3.public,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteObject",
                        "Resource": f"arn:aws:s3:::{s3.public}/*",
                    }
                ],
            }
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_delete(listing=listing, actor=seller)
    assert not Listing.objects.filter(pk=listing.pk).exists()
    assert "could not delete" in caplog.text
    assert len(s3.keys(s3.public)) == 2


# --- private run photos -----------------------------------------------------------------------


def test_a_prefill_runs_photos_are_private_and_signed_urls_are_short(
    s3, client_for, seller, settings, django_capture_on_commit_callbacks
):
    photo = SimpleUploadedFile("item.jpg", render_item(shape="mug", color="red"), "image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(seller).post("/api/prefill/", {"image": photo}).status_code == 202
    run = PrefillRun.objects.get()
    names = [run.photo.name, run.thumbnail.name, run.model_image.name]
    assert s3.keys(s3.private) == sorted(f"private/{name}" for name in names)
    assert s3.keys(s3.public) == [] and _local_files(settings) == []

    for name in names:  # no signature: refused, though the object exists
        assert anonymous_get(s3.unsigned_url(s3.private, f"private/{name}"))[0] == 403

    signed = run.photo.url
    query = _signed_query(signed)
    assert query["X-Amz-Expires"] == str(SIGNED_URL_SECONDS)
    status, body = anonymous_get(signed)
    assert status == 200 and body == s3.read(s3.private, f"private/{run.photo.name}")
    # What moto does not check: valid now, not once its lifetime is over, and no longer
    # valid at all when someone lengthens it.
    now = datetime.now(UTC)
    assert sigv4_url_valid(signed, now=now)
    assert not sigv4_url_valid(signed, now=now + timedelta(seconds=SIGNED_URL_SECONDS + 1))
    lengthened = signed.replace(
        f"X-Amz-Expires={SIGNED_URL_SECONDS}", f"X-Amz-Expires={SIGNED_URL_SECONDS * 100}"
    )
    assert not sigv4_url_valid(lengthened, now=now)


def test_the_photo_view_streams_a_run_photo_from_the_bucket_to_owner_and_staff_only(
    s3, client_for, seller, other_seller, staff, run_viewer
):
    run = start_run(seller)
    url = f"/api/prefill/{run.pk}/photo/"
    for reader in (seller, run_viewer):
        for size, name in (("", run.photo.name), ("thumb", run.thumbnail.name)):
            response = client_for(reader).get(url, {"size": size} if size else {})
            assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
            assert b"".join(response.streaming_content) == s3.read(s3.private, f"private/{name}")
    for outsider in (other_seller, staff):
        assert client_for(outsider).get(url).status_code == 404


def test_a_prefill_run_reads_the_image_it_sends_from_the_bucket(
    s3, client_for, seller, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.script(Behaviour.success())
    photo = SimpleUploadedFile("item.jpg", render_item(shape="chair", color="blue"), "image/jpeg")
    # Another image put in the bucket after the upload, before the task runs (on commit): the
    # model must be sent that one, so the task read the bucket, not a copy the web kept.
    swapped = render_item(shape="ball", color="green", size=(256, 256))
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(seller).post("/api/prefill/", {"image": photo}).status_code == 202
        run = PrefillRun.objects.get()
        key = f"private/{run.model_image.name}"
        s3.server.client().put_object(Bucket=s3.private, Key=key, Body=swapped)
    run.refresh_from_db()
    assert run.status == PrefillRun.Status.SUCCEEDED
    image_url = fake_openai.requests[0].body["input"][0]["content"][1]["image_url"]
    assert base64.b64decode(image_url.split(",", 1)[1]) == swapped


# --- private eval images ----------------------------------------------------------------------


def test_eval_images_load_into_the_private_bucket_and_the_admin_view_streams_them(
    s3, client_for, staff_with, staff, settings
):
    starter_cases_load()
    cases = list(EvalCase.objects.all())
    assert cases and s3.keys(s3.private) == sorted(f"private/{c.image.name}" for c in cases)
    assert s3.keys(s3.public) == [] and _local_files(settings) == []
    case = cases[0]
    key = f"private/{case.image.name}"
    assert anonymous_get(s3.unsigned_url(s3.private, key))[0] == 403
    assert anonymous_get(case.image.url)[0] == 200  # signed

    url = reverse("admin:ai_prefill_evalcase_image", args=[case.pk])
    viewer = client_for(staff_with("ai_prefill.view_evalcase"))
    full = viewer.get(url)
    assert full.status_code == 200 and b"".join(full.streaming_content) == s3.read(s3.private, key)
    thumb = viewer.get(url, {"size": "thumb"})  # made from the object in the bucket
    assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")
    assert client_for(staff).get(url).status_code == 403


def test_run_evals_reads_the_case_images_from_the_bucket(s3, settings, tmp_path):
    starter_cases_load()
    out_dir = tmp_path / "reports"
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "run_evals", "--provider", "baseline", "--format", "json", "--output-dir", str(out_dir)
        )
    assert exit_info.value.code == 0
    (report_file,) = out_dir.glob("eval-run-*.json")
    report = json.loads(report_file.read_text())
    assert len(report["cases"]) == EvalCase.objects.count()
    assert not [case for case in report["cases"] if case.get("error")]
    assert _local_files(settings) == []


def test_promoting_a_run_copies_its_photo_into_the_eval_set_in_the_bucket(
    s3, seller, client_for, staff_with, staff, django_user_model
):
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, 0.0
    policy.save()
    run = start_run(seller, shape="chair", color="brown")
    prefill_run_execute(run_id=run.pk)
    runs_sample_for_annotation()
    annotator = staff_with("annotation.view_annotationtask", "annotation.add_annotation")
    task = annotation_services.task_claim_next(annotator=annotator)
    run_photo = s3.read(s3.private, f"private/{run.photo.name}")

    photo_url = reverse("admin:annotation_task_photo", args=[task.pk])
    response = client_for(annotator).get(photo_url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == run_photo
    assert client_for(staff).get(photo_url).status_code == 403

    annotation_services.annotation_submit(
        task=task, annotator=annotator, values=GIVE_AWAY, promote=True
    )
    task.refresh_from_db()
    case_key = f"private/{task.promoted_case.image.name}"
    assert case_key.startswith("private/evals/") and s3.read(s3.private, case_key) == run_photo


# --- one bucket for both ----------------------------------------------------------------------


def test_with_one_bucket_only_the_public_prefix_is_readable(moto_s3, settings, monkeypatch, seller):
    s3 = _media_on(S3Buckets.create(moto_s3, shared=True), settings, monkeypatch)
    listing = ListingFactory(seller=seller)
    run = start_run(seller)
    keys = s3.keys(s3.public)
    assert f"media/{listing.photo.name}" in keys and f"private/{run.photo.name}" in keys
    assert anonymous_get(listing.photo.url)[0] == 200
    assert anonymous_get(s3.unsigned_url(s3.public, f"private/{run.photo.name}"))[0] == 403


# --- the backends' own rules (no server needed) ---------------------------------------------


def test_the_private_storage_never_hands_out_an_unsigned_url():
    with pytest.raises(ImproperlyConfigured):
        PrivateS3Storage(bucket_name="private", custom_domain="cdn.example.com")
    with pytest.raises(ImproperlyConfigured):
        PrivateS3Storage(bucket_name="private", querystring_auth=False)


def test_public_media_under_a_custom_domain_get_plain_urls(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    options = media_storages(bucket="media", custom_domain="cdn.example.com")
    public = PublicS3Storage(**options["default"]["OPTIONS"])
    assert public.url("listings/a.jpg") == "https://cdn.example.com/media/listings/a.jpg"
    private = PrivateS3Storage(**options["private"]["OPTIONS"])
    assert "X-Amz-Signature=" in private.url("evals/a.jpg")  # the domain is not theirs


def test_calls_to_the_store_are_bounded_and_signed_with_sigv4(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    options = media_storages(bucket="media", endpoint_url="http://127.0.0.1:9000")
    for entry, cls in (("default", PublicS3Storage), ("private", PrivateS3Storage)):
        config = cls(**options[entry]["OPTIONS"]).client_config
        assert (config.connect_timeout, config.read_timeout) == (5, 20)
        assert config.retries == {"mode": "standard", "max_attempts": 3}
        assert config.s3 == {"addressing_style": "path"} and config.signature_version == "s3v4"


def test_without_a_bucket_media_stays_on_local_disk(settings):
    assert settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    name = private_storage.save("prefill/x.jpg", SimpleUploadedFile("x.jpg", b"data"))
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / name).read_bytes() == b"data"
    with pytest.raises(ValueError, match="no public URL"):
        private_storage.url(name)


# --- settings: the one switch -------------------------------------------------------------------

_PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
try:
    resolve("/media/listings/a.jpg")
    media_route = True
except Resolver404:
    media_route = False
print(json.dumps({
    "default": settings.STORAGES["default"],
    "private": settings.STORAGES["private"],
    "serve_media": settings.SERVE_MEDIA,
    "media_route": media_route,
    "img_src": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"],
}, default=str))
"""


def _settings_with(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment = {
        **base,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DEBUG": "true",
        "SERVE_MEDIA": "true",
        **env,
    }
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_settings_switch_media_to_object_storage_on_the_bucket_variable():
    local = _settings_with()
    assert local["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert local["private"] == {"BACKEND": "marketplace.storage.PrivateFileSystemStorage"}
    assert local["serve_media"] is True and local["media_route"] is True
    assert local["img_src"] == ["'self'", "data:", "blob:"]

    s3 = _settings_with(
        AWS_STORAGE_BUCKET_NAME="trova-media",
        AWS_PRIVATE_STORAGE_BUCKET_NAME="trova-private",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        PRIVATE_MEDIA_URL_EXPIRE_SECONDS="60",
    )
    assert s3["default"]["BACKEND"] == "marketplace.storage_s3.PublicS3Storage"
    assert s3["default"]["OPTIONS"]["bucket_name"] == "trova-media"
    assert s3["private"]["BACKEND"] == "marketplace.storage_s3.PrivateS3Storage"
    assert s3["private"]["OPTIONS"]["bucket_name"] == "trova-private"
    assert s3["private"]["OPTIONS"]["querystring_expire"] == 60
    # SERVE_MEDIA=true is overruled: nothing local to serve.
    assert s3["serve_media"] is False and s3["media_route"] is False
    assert s3["img_src"] == ["'self'", "data:", "blob:", "http://127.0.0.1:9000"]


# --- readiness: the buckets answer ----------------------------------------------------------------


def test_readiness_asks_every_media_bucket(s3):
    check = readiness_report()["checks"]["storage"]

    assert check["status"] == "ok"
    assert check["detail"] == f"bucket(s) answer: {s3.public}, {s3.private}"


def test_readiness_fails_naming_the_error_when_a_bucket_is_gone(s3):
    s3.server.client().delete_bucket(Bucket=s3.private)

    report = readiness_report()

    assert report["status"] == "fail"
    check = report["checks"]["storage"]
    assert check["status"] == "fail"
    assert check["detail"].startswith("ClientError: An error occurred (404)"), check["detail"]


def test_readiness_gives_a_hung_store_one_timeout_and_fails(settings, monkeypatch):
    settings.READINESS_TIMEOUT_SECONDS = 0.5
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    with hung_server() as port:
        settings.STORAGES = {
            **media_storages(bucket="trova-media", endpoint_url=f"http://127.0.0.1:{port}"),
            "staticfiles": settings.STORAGES["staticfiles"],
        }
        started = time.monotonic()
        check = readiness_report()["checks"]["storage"]
        elapsed = time.monotonic() - started

    assert check["status"] == "fail"
    assert check["detail"] == "no answer from the object storage within 0.5 s (trova-media)"
    assert elapsed < 2.0  # one timeout, not botocore's 20 s read timeout times its retries


def test_readiness_skips_the_storage_check_on_local_disk():
    check = readiness_report()["checks"]["storage"]

    assert check["status"] == "skipped"
    assert check["detail"] == "skipped: photos are on local disk (no object storage configured)"
