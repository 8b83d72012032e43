"""Metrics read at scrape time: heartbeats, drift and the broker's queue length."""

import datetime as dt

import pytest
import redis
from django.conf import settings as django_settings

from marketplace.task_queues import QueueKind, queue_name, queues_for
from monitoring.drift_services import drift_report_build
from monitoring.heartbeats import heartbeat_record
from monitoring.tests.drift_factories import reference_generate, runs_generate

from .scrape import scrape

pytestmark = pytest.mark.django_db

TOKEN = "collector-test-token"
DAY = dt.date(2026, 3, 10)
USUAL = {"bikes": 20, "furniture": 15, "fashion": 10, "electronics": 5}


@pytest.fixture
def read(settings, client):
    settings.METRICS_BEARER_TOKEN = TOKEN
    return lambda: scrape(client, TOKEN)


def test_heartbeat_ages_are_exposed_for_the_kinds_seen(read):
    assert not read().has("trova_heartbeat_age_seconds", kind="worker")
    heartbeat_record(kind="worker")
    after = read()
    assert 0 <= after.value("trova_heartbeat_age_seconds", kind="worker") < 5
    assert not after.has("trova_heartbeat_age_seconds", kind="beat")  # never seen: absent


def test_the_latest_drift_report_gives_psi_and_drifted_per_dimension(read, seller):
    assert not read().has_family("trova_drift_psi")  # no report yet
    reference_generate(user=seller, day=DAY, per_day=USUAL)
    runs_generate(
        user=seller,
        day=DAY,
        categories={"bikes": 20, "furniture": 20, "fashion": 40, "electronics": 120},
    )
    report = drift_report_build(day=DAY)
    after = read()
    category = report.dimensions["category"]
    assert after.value("trova_drift_psi", dimension="category") == pytest.approx(category["psi"])
    assert after.value("trova_drift_drifted", dimension="category") == 1
    assert after.has("trova_drift_drifted", dimension="condition")
    assert after.value("trova_drift_drifted", dimension="condition") == 0


@pytest.fixture
def broker_queues(request, settings):
    """Queues of this test on the real Redis (REDIS_URL, a prefix of its own), emptied before
    and after; yields the Redis client."""
    request.getfixturevalue("integration_services")  # skips without PostgreSQL and Redis
    settings.REDIS_URL = django_settings.REDIS_URL
    settings.CELERY_QUEUE_PREFIX = f"trova-metrics-{request.node.name[:20]}-"
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    names = [
        f"{queue}{suffix}"
        for queue in queues_for(QueueKind)
        for suffix in ("", *(f"\x06\x16{p}" for p in (3, 6, 9)))
    ]
    client.delete(*names)
    yield client
    client.delete(*names)


def test_the_queue_length_counts_every_priority_list_of_each_kinds_queue(read, broker_queues):
    client = broker_queues
    before = read()
    assert {kind: before.value("trova_celery_queue_length", queue=kind) for kind in QueueKind} == {
        kind: 0 for kind in QueueKind
    }
    client.rpush(queue_name(QueueKind.PREFILL), "a", "b", "c")
    client.rpush(f"{queue_name(QueueKind.PREFILL)}\x06\x166", "urgent")
    client.rpush(queue_name(QueueKind.EVALS), "a run of 500 cases")
    after = read()
    assert after.value("trova_celery_queue_length", queue="prefill") == 4
    assert after.value("trova_celery_queue_length", queue="evals") == 1
    assert after.value("trova_celery_queue_length", queue="maintenance") == 0


def test_an_unreachable_broker_leaves_the_queue_length_out(read, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    after = read()
    assert not after.has_family("trova_celery_queue_length")
    assert after.has_family("trova_http_requests_total")  # the rest of the scrape is there
