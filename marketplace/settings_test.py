"""Settings for the test suite: production settings (DEBUG off) with test-only conveniences.

DATABASE_URL and REDIS_URL still come from the environment, so CI runs on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdefgh")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False  # the test client and the browser tests speak plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Throttle counters and other cache entries must not leak between tests (or test runs).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Parallel test sessions on one PostgreSQL server each need their own test database.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}  # noqa: F405
# Factories start dozens of runs per test through the service, which enforces the per-seller
# burst limit; the tests of that limit set their own rate.
AI_PREFILL_BURST_RATE = "10000/min"
