"""/healthz (liveness, no dependencies) and /readyz (readiness: 503 when a dependency fails)."""

import time

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.recorder import MigrationRecorder

from marketplace.task_queues import QueueKind, queue_name
from monitoring.heartbeats import heartbeat_age_seconds, heartbeat_record, worker_kind
from monitoring.readiness import migrations_check_forget
from tests.outage import RedisOutage, closed_port, hung_server


@pytest.fixture(autouse=True)
def _migrations_checked_afresh():
    migrations_check_forget()
    yield
    migrations_check_forget()


@pytest.fixture
def hung_redis():
    """A local server that accepts connections and never answers, like a Redis stuck on disk."""
    with hung_server() as port:
        yield port


@pytest.fixture
def redis_at(settings):
    """redis_at(port): the broker and the cache at a local port instead of the real Redis."""
    outages = []

    def point(port: int) -> None:
        outage = RedisOutage(settings)
        outage.dead_url = settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        outage.start()
        outages.append(outage)

    yield point
    for outage in outages:
        outage.end()


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(anon_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon_client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_probes_answer_a_container_probe_over_http_to_an_unlisted_host(client, settings):
    # Production: the site's domain only, HTTPS enforced; the probe asks http://127.0.0.1:8000.
    settings.ALLOWED_HOSTS = ["trova.example"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    assert client.get("/", HTTP_HOST="127.0.0.1:8000").status_code == 400  # the rest is guarded


@pytest.mark.django_db
def test_readyz_in_the_embedded_mode_skips_the_task_checks(anon_client, settings):
    settings.REDIS_URL = ""
    response = anon_client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {body["checks"][name]["status"] for name in ("database", "migrations")} == {"ok"}
    for name in ("broker", "queue", "worker", "beat"):
        assert body["checks"][name]["detail"].startswith("skipped: tasks run in-process")
    assert all(check["ms"] >= 0 for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_is_503_with_redis_unreachable(anon_client, redis_at):
    redis_at(closed_port())
    started = time.monotonic()
    response = anon_client.get("/readyz")
    body = response.json()
    assert response.status_code == 503, body
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["status"] == "fail"
    assert "ConnectionError" in body["checks"]["broker"]["detail"]
    for name in ("queue", "worker", "beat"):
        assert body["checks"][name] == {
            "status": "fail",
            "detail": "not checked: Redis is unreachable",
            "ms": 0.0,
        }
    assert body["checks"]["database"]["status"] == "ok"
    assert time.monotonic() - started < 1.0


@pytest.mark.django_db
def test_readyz_is_503_within_its_timeout_when_redis_hangs(
    anon_client, settings, redis_at, hung_redis
):
    settings.READINESS_TIMEOUT_SECONDS = 0.5
    redis_at(hung_redis)
    started = time.monotonic()
    response = anon_client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Timeout" in response.json()["checks"]["broker"]["detail"]
    assert 0.5 <= elapsed < 1.5  # one timeout, not one per check, and never a hang


def _unrecord_monitorings_last_migration() -> str:
    """Mark monitoring's newest migration unapplied (the plan to the leaf nodes skips an older one
    whose successor is recorded as applied); returns its name."""
    leaf = MigrationRecorder.Migration.objects.filter(app="monitoring").latest("id")
    leaf.delete()
    return leaf.name


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_unapplied(anon_client, settings):
    settings.REDIS_URL = ""
    assert anon_client.get("/readyz").status_code == 200
    migrations_check_forget()
    leaf = _unrecord_monitorings_last_migration()
    response = anon_client.get("/readyz")
    body = response.json()
    assert response.status_code == 503, body
    assert body["checks"]["migrations"] == {
        "status": "fail",
        "detail": f"1 unapplied: monitoring.{leaf}",
        "ms": body["checks"]["migrations"]["ms"],
    }


@pytest.mark.django_db
def test_the_migrations_answer_is_kept_briefly(anon_client, settings):
    settings.REDIS_URL = ""
    settings.READINESS_MIGRATIONS_CACHE_SECONDS = 60
    anon_client.get("/readyz")
    _unrecord_monitorings_last_migration()
    assert anon_client.get("/readyz").status_code == 200  # the answer of a moment ago
    settings.READINESS_MIGRATIONS_CACHE_SECONDS = 0
    assert anon_client.get("/readyz").status_code == 503


@pytest.mark.integration
@pytest.mark.django_db
def test_readyz_is_503_with_no_worker(anon_client, redis_cache, celery_queue):
    heartbeat_record(kind="beat")  # beat is up, no worker ever was
    response = anon_client.get("/readyz")
    body = response.json()
    assert response.status_code == 503, body
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["queue"]["status"] == "ok"
    assert body["checks"]["beat"]["status"] == "ok"
    assert body["checks"]["worker"] == {
        "status": "fail",
        "detail": "no worker-prefill heartbeat ever seen",
        "ms": body["checks"]["worker"]["ms"],
    }


@pytest.mark.integration
def test_readyz_is_503_when_no_worker_consumes_the_prefill_queue(
    anon_client, redis_cache, start_worker
):
    """Workers for every other kind, and beat, are up: sellers' photos still wait for nobody."""
    others = [kind for kind in QueueKind if kind != QueueKind.PREFILL]
    start_worker(beat=True, kinds=others)
    deadline = time.monotonic() + 20
    while heartbeat_age_seconds(kind="beat") is None and time.monotonic() < deadline:
        time.sleep(0.2)  # beat records its first heartbeat on its first tick
    response = anon_client.get("/readyz")
    checks = response.json()["checks"]
    assert response.status_code == 503, checks
    assert checks["beat"]["status"] == checks["queue"]["status"] == "ok"
    assert checks["worker"]["detail"] == "no worker-prefill heartbeat ever seen"
    assert heartbeat_age_seconds(kind="worker") < 20  # a worker is alive, only not for sellers


@pytest.mark.integration
def test_readyz_is_200_with_a_real_worker_and_beat(anon_client, redis_cache, start_worker):
    start_worker(beat=True)
    deadline = time.monotonic() + 20
    while True:
        response = anon_client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # beat records its first heartbeat on its first tick
    body = response.json()
    assert response.status_code == 200, body
    statuses = {name: check["status"] for name, check in body["checks"].items()}
    # Photos are on local disk here: the object storage check has nothing to ask.
    assert statuses == {
        **dict.fromkeys(("database", "migrations", "broker", "queue", "worker", "beat"), "ok"),
        "storage": "skipped",
    }


@pytest.mark.integration
@pytest.mark.django_db
def test_readyz_is_503_when_the_queue_is_longer_than_the_limit(
    anon_client, redis_cache, celery_queue, settings
):
    heartbeat_record(kind="worker", also=(worker_kind(QueueKind.PREFILL),))
    heartbeat_record(kind="beat")
    settings.READINESS_QUEUE_MAX_LENGTH = 2
    # Eval runs waiting on their own queue do not count: they delay no seller.
    redis.Redis.from_url(settings.REDIS_URL).rpush(queue_name(QueueKind.EVALS), *"abcdefgh")
    redis.Redis.from_url(settings.REDIS_URL).rpush(celery_queue, "a", "b", "c")
    response = anon_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["detail"] == (
        f"3 task(s) waiting in {celery_queue!r} (limit 2)"
    )


@pytest.mark.integration
@pytest.mark.django_db
def test_the_container_check_passes_only_with_this_hosts_recent_heartbeat(redis_cache, settings):
    with pytest.raises(CommandError, match="No worker heartbeat ever seen") as refused:
        call_command("monitoring_heartbeat_check", "--kind", "worker")
    assert refused.value.returncode == 1
    heartbeat_record(kind="worker")
    call_command("monitoring_heartbeat_check", "--kind", "worker")
    with pytest.raises(CommandError, match=r"s old \(> 0"):
        call_command("monitoring_heartbeat_check", "--kind", "worker", "--max-age", "0")


def test_the_container_check_says_there_is_nothing_to_check_without_redis(settings):
    settings.REDIS_URL = ""
    with pytest.raises(CommandError, match="tasks run in-process") as refused:
        call_command("monitoring_heartbeat_check", "--kind", "beat")
    assert refused.value.returncode == 2
