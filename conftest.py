"""Project-wide fixtures: isolated media, in-process Celery, and personas."""

import os

import pytest
from django.core.cache import cache
from django.test import Client

from ai_prefill.polling import expected_run_seconds_forget
from ai_prefill.prompt_registry import prompt_version_for_new_run_forget
from marketplace.celery import app as celery_app
from tests.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    # Process-wide memos of the pre-fill (their rows vanish with each test's transaction).
    expected_run_seconds_forget()
    prompt_version_for_new_run_forget()


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Unit tests run tasks in-process; tests marked `integration` use a real broker and worker."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(scope="session")
def _fake_openai_server():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(_fake_openai_server, settings):
    """A local server speaking the OpenAI protocol, with the app configured to use it.

    Script it per test: `fake_openai.script(Behaviour.rate_limited(), Behaviour.success())`.
    """
    server = _fake_openai_server
    server.reset()
    server.latency = 0.0
    settings.AI_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_API_STYLE = "responses"
    yield server
    server.reset()


def _persona(django_user_model, username: str, **extra):
    return django_user_model.objects.create_user(
        username=username, email=f"{username}@example.com", password="pw-" + username, **extra
    )


@pytest.fixture
def seller(django_user_model):
    return _persona(django_user_model, "alice", first_name="Alice Seller")


@pytest.fixture
def other_seller(django_user_model):
    return _persona(django_user_model, "bob", first_name="Bob Other")


@pytest.fixture
def buyer(django_user_model):
    return _persona(django_user_model, "carol", first_name="Carol Buyer")


@pytest.fixture
def staff(django_user_model):
    return _persona(django_user_model, "sam", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_with(django_user_model):
    """staff_with("app.codename", ...) -> a staff user (not a superuser) holding only those
    permissions: what a real moderator or engineer gets."""
    from django.contrib.auth.models import Permission

    made = []

    def make(*perms: str, username: str | None = None):
        user = _persona(django_user_model, username or f"staff{len(made) + 1}", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        made.append(user)
        return django_user_model.objects.get(pk=user.pk)  # no stale permission cache

    return make


@pytest.fixture
def anon_client():
    return Client()


@pytest.fixture
def client_for():
    """client_for(user) -> a Client logged in as that user."""

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


# --- No silent skips -----------------------------------------------------------------------------
# `make test` (and so CI) sets TROVA_NO_SKIPS=1: a skipped test there is a test that did not run,
# which would turn a missing browser or service into a green build.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("TROVA_NO_SKIPS") == "1" and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("TROVA_NO_SKIPS") == "1" and _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped; skips are not allowed here: "
            + ", ".join(_skipped[:10]),
            red=True,
        )
