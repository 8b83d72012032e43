"""Fixtures of monitoring's tests: the real-worker fixtures of ai_prefill's integration tests, and
the Django cache on the real Redis, where workers and beat record their heartbeats."""

import pytest
from django.conf import settings as django_settings

from ai_prefill.tests.conftest import (  # noqa: F401 - fixtures and the hook that shows worker logs
    celery_queue,
    celery_queues,
    integration_queue_prefix,
    integration_services,
    pytest_runtest_makereport,
    redis_outage,
    start_worker,
)
from monitoring.heartbeats import KINDS, this_host


@pytest.fixture
def redis_cache(request, settings):
    """This process's cache on the Redis the workers use (the test settings keep it in memory),
    with no heartbeat left from an earlier test."""
    request.getfixturevalue("integration_services")  # skips without PostgreSQL and Redis
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.REDIS_URL,
        }
    }
    from django.core.cache import cache

    keys = [
        f"monitoring:heartbeat:{kind}{host}" for kind in KINDS for host in ("", f":{this_host()}")
    ]
    cache.delete_many(keys)
    yield cache
    cache.delete_many(keys)
