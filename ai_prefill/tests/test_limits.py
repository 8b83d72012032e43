"""The per-seller limits of POST /api/prefill/ hold under parallel uploads, on PostgreSQL.

Before, the daily quota was count-then-insert and the burst limit a DRF cache throttle that
reads and rewrites its counter: 16 parallel uploads with a quota of 8 created 13 runs, and 8 got
through a 5/min burst limit. Now both are counted under a row lock on the seller.
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.services import burst_rate_parse
from marketplace.sample_images import render_item

PARALLEL = 16
PHOTO = render_item(shape="mug", color="red")


def _post_in_parallel(user, n: int) -> list[int]:
    """n uploads by one seller released at the same instant, each on its own connection."""
    barrier = threading.Barrier(n)
    codes, errors = [], []

    def upload():
        try:
            client = Client()
            client.force_login(user)
            photo = SimpleUploadedFile("mug.jpg", PHOTO, "image/jpeg")
            barrier.wait(timeout=30)
            codes.append(client.post("/api/prefill/", {"image": photo}).status_code)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return sorted(codes)


def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks across connections (make test and CI use it)")


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_never_exceed_the_daily_quota(seller, settings):
    _needs_postgresql()
    settings.AI_PREFILL_DAILY_QUOTA = 8
    settings.AI_PREFILL_BURST_RATE = "1000/min"
    codes = _post_in_parallel(seller, PARALLEL)
    assert codes == [202] * 8 + [429] * 8
    assert PrefillRun.objects.filter(user=seller).count() == 8


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_never_exceed_the_burst_limit(seller, other_seller, settings):
    _needs_postgresql()
    if settings.REDIS_URL:  # production's cache: what the old throttle raced on (8 of 5 passed)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": settings.REDIS_URL,
                "KEY_PREFIX": f"test-limits-{uuid.uuid4().hex}",
            }
        }
    settings.AI_PREFILL_DAILY_QUOTA = 100
    settings.AI_PREFILL_BURST_RATE = "5/min"
    codes = _post_in_parallel(seller, PARALLEL)
    assert codes == [202] * 5 + [429] * 11
    assert PrefillRun.objects.filter(user=seller).count() == 5
    # Per seller: another seller is not held back by the first one's burst.
    other = Client()
    other.force_login(other_seller)
    photo = SimpleUploadedFile("mug.jpg", PHOTO, "image/jpeg")
    assert other.post("/api/prefill/", {"image": photo}).status_code == 202


@pytest.mark.django_db
def test_the_burst_429_tells_the_seller_when_to_try_again(client_for, seller, settings):
    settings.AI_PREFILL_BURST_RATE = "2/min"
    client = client_for(seller)
    for _ in range(2):
        photo = SimpleUploadedFile("mug.jpg", PHOTO, "image/jpeg")
        assert client.post("/api/prefill/", {"image": photo}).status_code == 202
    # The oldest of the two started 20 s ago: the window frees a slot 40 s from now.
    oldest = PrefillRun.objects.order_by("created_at").first()
    PrefillRun.objects.filter(pk=oldest.pk).update(
        created_at=timezone.now() - timedelta(seconds=20)
    )
    response = client.post("/api/prefill/", {"image": SimpleUploadedFile("m.jpg", PHOTO)})
    assert response.status_code == 429
    detail = response.json()["detail"]
    assert detail.startswith("That was 2 AI suggestions in a short time. Wait 4")
    assert detail.endswith("or fill in the form yourself."), "the sentence, nothing added"
    assert 38 <= int(response["Retry-After"]) <= 41


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("10/min", (10, 60)), ("5/s", (5, 1)), ("100/hour", (100, 3600)), ("3/day", (3, 86400))],
)
def test_burst_rates_read_like_drf_rates(rate, expected):
    count, window = burst_rate_parse(rate)
    assert (count, window.total_seconds()) == expected
