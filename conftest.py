"""Project-wide fixtures: isolated media, in-process Celery, and personas."""

import os

import pytest
from django.core.cache import cache
from django.test import Client

from ai_prefill.polling import expected_run_seconds_forget
from ai_prefill.prompt_registry import prompt_version_for_new_run_forget
from ai_prefill.rollout import production_config_forget
from experiments.services import live_experiments_forget
from marketplace.celery import app as celery_app
from tests.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    # Process-wide memos (their rows vanish with each test's transaction): a running experiment
    # or a production configuration of the previous test must not serve this one's sellers.
    expected_run_seconds_forget()
    prompt_version_for_new_run_forget()
    production_config_forget()
    live_experiments_forget()


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
def superuser(django_user_model):
    """Holds every permission without being granted any. Only for a test that needs all of
    them, or that shows even a superuser is refused; never for what staff may do."""
    return _persona(django_user_model, "root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(django_user_model):
    """A staff member holding no permission: may log in to admin and see nothing there. The
    "lacking the permission" side of every staff page."""
    return _persona(django_user_model, "sam", is_staff=True)


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


# Staff as the roles get them: each holds exactly what its pages need (see the admins'
# `has_*_permission`, ai_prefill's `_require_view`, `ai_prefill.selectors._visible_to`, and
# feedback's `CanViewFeedbackReports`).

RUN_VIEWER_PERMS = ("ai_prefill.view_prefillrun",)
REPORT_VIEWER_PERMS = ("feedback.view_prefilloutcome",)
EVAL_ENGINEER_PERMS = (
    "ai_prefill.view_promptversion",
    "ai_prefill.view_promptlabelevent",
    "ai_prefill.view_evalcase",
    "ai_prefill.add_evalcase",
    "ai_prefill.change_evalcase",
    "ai_prefill.view_evalrun",
)
MODERATOR_PERMS = (
    "listings.view_listing",
    "listings.change_listing",
    "listings.delete_listing",
    "listings.view_conversation",
    "listings.view_message",
)


@pytest.fixture
def run_viewer(staff_with):
    """Staff who read the pre-fill run log (admin, and any run through the API)."""
    return staff_with(*RUN_VIEWER_PERMS, username="rita")


@pytest.fixture
def report_viewer(staff_with):
    """Staff who read the seller feedback report (admin page, JSON and CSV)."""
    return staff_with(*REPORT_VIEWER_PERMS, username="rex")


@pytest.fixture
def eval_engineer(staff_with):
    """Staff who work on prompts and evals: see prompt versions, label moves and eval runs, add
    and edit eval cases. Moving the production label needs `ai_prefill.change_promptlabel` on
    top."""
    return staff_with(*EVAL_ENGINEER_PERMS, username="eve")


@pytest.fixture
def prompt_owner(staff_with):
    """An eval engineer who may also move the production label (`change_promptlabel`)."""
    return staff_with(*EVAL_ENGINEER_PERMS, "ai_prefill.change_promptlabel", username="pat")


@pytest.fixture
def moderator(staff_with):
    """Staff who moderate listings in admin: view, change and delete listings, read
    conversations and messages."""
    return staff_with(*MODERATOR_PERMS, username="mo")


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
