"""Project-wide fixtures: isolated media, in-process Celery, and personas."""

import pytest
from django.test import Client

from marketplace.celery import app as celery_app


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


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
