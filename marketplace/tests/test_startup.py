"""A production process that cannot work refuses to start with one sentence per problem
(marketplace/startup.py): real gunicorn masters, Celery workers and beats, as subprocesses, on a
throwaway PostgreSQL database of their own that a test can put an unapplied migration into."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from psycopg import sql

from ai_prefill.tests.conftest import (  # noqa: F401 - fixtures
    CeleryWorker,
    _worker_env,
    celery_queues,
    integration_queue_prefix,
    integration_services,
)
from marketplace.startup import start_refusals
from marketplace.task_queues import QueueKind, queues_for
from monitoring.tests.test_integration_metrics import Gunicorn, get
from tests.outage import closed_port

ROOT = Path(__file__).resolve().parents[2]
OPENAI_MISSING = (
    "Refusing to start: OPENAI_API_KEY is not set but AI_PROVIDER is openai (for a compatible "
    "server that needs no key, set any value)."
)
SECRET_MISSING = (
    "Refusing to start: Set SECRET_KEY in the environment (required when DEBUG is off)."
)
START_TIMEOUT = 60  # a refusal comes within seconds; this only keeps a hung process from hanging


def _unapplied_sentence(*names: str) -> str:
    count = "1 migration is" if len(names) == 1 else f"{len(names)} migrations are"
    return (
        f"Refusing to start: {count} not applied ({', '.join(names)}); run `manage.py migrate` "
        "first."
    )


def _monitoring_leaf() -> str:
    """monitoring's newest migration: no other app's migration depends on the top layer's."""
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("monitoring")
    return leaf[1]


# --- start_refusals(), in this process ------------------------------------------------------------


@pytest.mark.django_db
def test_a_healthy_production_process_may_start(settings):
    settings.AI_PROVIDER, settings.OPENAI_API_KEY = "openai", "sk-set"
    assert start_refusals() == []


@pytest.mark.django_db
def test_a_missing_openai_key_is_a_refusal_only_for_the_openai_provider(settings):
    settings.OPENAI_API_KEY = ""
    settings.AI_PROVIDER = "openai"
    assert start_refusals() == [OPENAI_MISSING]
    settings.AI_PROVIDER = "baseline"
    assert start_refusals() == []


@pytest.mark.django_db
def test_unapplied_migrations_are_named_up_to_five():
    recorded = MigrationRecorder.Migration.objects.order_by("-id")
    one = recorded.filter(app="monitoring", name=_monitoring_leaf())
    one.delete()
    assert start_refusals() == [_unapplied_sentence(f"monitoring.{_monitoring_leaf()}")]
    six = list(recorded.values_list("app", "name")[:6])
    MigrationRecorder.Migration.objects.filter(pk__in=recorded.values("pk")[:6]).delete()
    (refusal,) = start_refusals()
    assert refusal.startswith("Refusing to start: 7 migrations are not applied (")
    assert refusal.endswith(", ...); run `manage.py migrate` first.")
    assert refusal.count(", ") == 5  # five named, then "..."
    assert all(f"{app}.{name}" in refusal for app, name in sorted(six)[:4])


@pytest.mark.django_db
def test_debug_never_refuses(settings):
    settings.DEBUG = True
    settings.AI_PROVIDER, settings.OPENAI_API_KEY = "openai", ""
    MigrationRecorder.Migration.objects.filter(app="monitoring").delete()
    assert start_refusals() == []


# --- Real entry points against a database of their own -----------------------------------------


@pytest.fixture(scope="module")
def startup_database(django_db_blocker):
    """A PostgreSQL database for this module's processes, migrated; dropped at the end."""
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: set DATABASE_URL as `make test` does.")
    db = connection.settings_dict
    name = f"{db['TEST']['NAME'] or 'test_' + db['NAME']}_startup"
    server = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"]}
    url = f"postgres://{db['USER']}@{server['host']}:{server['port']}/{name}"

    def admin(statement: str) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    admin("CREATE DATABASE {}")
    migrate = _run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        {**os.environ, "DATABASE_URL": url, "DEBUG": "true"},
    )
    assert migrate.returncode == 0, migrate.stderr
    yield url, server, name
    admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@pytest.fixture
def unapplied_migration(startup_database):
    """monitoring's newest migration unrecorded in the processes' database (as if this code were
    deployed before `migrate` ran); recorded again afterwards. Returns "monitoring.<name>"."""
    _, server, name = startup_database
    leaf = _monitoring_leaf()
    forget = "DELETE FROM django_migrations WHERE app = 'monitoring' AND name = %s"
    with psycopg.connect(dbname=name, autocommit=True, **server) as conn:
        conn.execute(forget, [leaf])
    yield f"monitoring.{leaf}"
    record = "INSERT INTO django_migrations (app, name, applied) VALUES ('monitoring', %s, now())"
    with psycopg.connect(dbname=name, autocommit=True, **server) as conn:
        conn.execute(record, [leaf])


@pytest.fixture
def process_env(startup_database, tmp_path):
    """The environment of a production process (DEBUG off) on the module's database, with no
    Redis (no worker or beat for the web's readiness to wait for) unless a test sets REDIS_URL."""
    env = _worker_env(queue_prefix="startup-tests-unused-", openai_base_url="http://127.0.0.1:9/v1")
    return {
        **env,
        "DATABASE_URL": startup_database[0],
        "REDIS_URL": "",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private-media"),
    }


def _run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=START_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _gunicorn(env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
    return _run([*command, "--workers", "1", "--bind", "127.0.0.1:0"], env)


def _celery(kind: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "celery", "-A", "marketplace", kind, "--loglevel", "INFO"]
    if kind == "worker":
        command += ["-Q", "startup-tests-unused", "--without-mingle", "--without-gossip"]
    else:
        command += ["--schedule", str(tmp_path / "beat-schedule")]
    return _run(command, env)


def _refused_with(result: subprocess.CompletedProcess, *sentences: str) -> None:
    """Exit status 1, and the sentences as whole lines of stderr, in order, with no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    lines = result.stderr.splitlines()
    assert lines[-len(sentences) :] == list(sentences), output
    assert "Traceback" not in output


@pytest.mark.integration
def test_gunicorn_refuses_to_start_without_the_openai_key(process_env):
    result = _gunicorn({**process_env, "OPENAI_API_KEY": ""})
    _refused_with(result, OPENAI_MISSING)
    assert "Booting worker" not in result.stderr  # refused in the master, before any worker


@pytest.mark.integration
def test_gunicorn_refuses_to_start_without_a_secret_key(process_env):
    _refused_with(_gunicorn({**process_env, "SECRET_KEY": ""}), SECRET_MISSING)


@pytest.mark.integration
def test_gunicorn_refuses_to_start_without_its_database(process_env):
    port = closed_port()
    url = f"postgres://postgres@127.0.0.1:{port}/trova"
    result = _gunicorn({**process_env, "DATABASE_URL": url, "OPENAI_API_KEY": ""})
    _refused_with(
        result,
        OPENAI_MISSING,
        f"Refusing to start: the database 'trova' at 127.0.0.1:{port} cannot be reached "
        f'(connection failed: connection to server at "127.0.0.1", port {port} failed: '
        "Connection refused); check DATABASE_URL and that the database is up.",
    )


@pytest.mark.integration
def test_gunicorn_refuses_to_start_with_an_unapplied_migration(process_env, unapplied_migration):
    _refused_with(_gunicorn(process_env), _unapplied_sentence(unapplied_migration))


@pytest.mark.integration
def test_a_healthy_gunicorn_starts_and_answers(process_env, tmp_path):
    server = Gunicorn(env=process_env, log=tmp_path / "gunicorn.log", workers=1)
    try:
        server.start()  # fails the test unless it answers /healthz
        status, body = get(f"{server.url}/readyz")
        assert status == 200, body
    finally:
        server.stop()


@pytest.mark.integration
def test_gunicorn_in_debug_starts_with_an_unapplied_migration(
    process_env, unapplied_migration, tmp_path
):
    """The laptop: DEBUG on is never refused (readiness still says what is wrong)."""
    server = Gunicorn(env={**process_env, "DEBUG": "true"}, log=tmp_path / "g.log", workers=1)
    try:
        server.start()
        status, body = get(f"{server.url}/readyz")
        assert status == 503 and unapplied_migration in body, body
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_celery_refuses_to_start_with_an_unapplied_migration(
    kind, process_env, unapplied_migration, tmp_path
):
    result = _celery(kind, process_env, tmp_path)
    _refused_with(result, _unapplied_sentence(unapplied_migration))
    assert "ready." not in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_celery_without_a_secret_key_says_so_in_one_sentence(kind, process_env, tmp_path):
    _refused_with(_celery(kind, {**process_env, "SECRET_KEY": ""}, tmp_path), SECRET_MISSING)


@pytest.mark.integration
def test_a_healthy_worker_starts(process_env, celery_queues, tmp_path):  # noqa: F811
    env = {**process_env, "CELERY_QUEUE_PREFIX": celery_queues}
    env["REDIS_URL"] = django_settings.REDIS_URL
    worker = CeleryWorker(env=env, queues=queues_for(QueueKind), log=tmp_path / "worker.log")
    try:
        worker.start()  # fails the test unless the worker logs "<node> ready."
    finally:
        worker.stop()


@pytest.mark.integration
def test_a_healthy_beat_starts_and_ticks(process_env, celery_queues, tmp_path):  # noqa: F811
    # Its tasks go to this session's queues; DEBUG logs for beat's "Waking up in ..." line.
    env = {**process_env, "CELERY_QUEUE_PREFIX": celery_queues}
    env["REDIS_URL"] = django_settings.REDIS_URL
    env["LOG_LEVEL"] = "DEBUG"
    command = [sys.executable, "-m", "celery", "-A", "marketplace", "beat", "--loglevel", "DEBUG"]
    command += ["--schedule", str(tmp_path / "beat-schedule")]
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        # After its first tick beat says when it wakes up next: past the start-up check.
        _wait_for(lambda: _ticked(log) or beat.poll() is not None)
        assert beat.poll() is None and _ticked(log), log.read_text(errors="replace")[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(beat.pid, 9)
        beat.wait(timeout=10)


def _ticked(log: Path) -> bool:
    return "beat: Waking up" in log.read_text(errors="replace")


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
