"""Schemathesis over /api/schema/: no server error and no answer the schema does not document.

The Django app is called in-process (WSGI) inside the test's database transaction, as a signed-in
seller (a token) who owns listings and a pre-fill run. Nothing reaches the network, and nothing is
written to the repository: Hypothesis keeps no example database and its caches go to a temporary
folder.
"""

import ipaddress
import socket
import tempfile

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.authtoken.models import Token

from ai_prefill.tests.factories import start_run
from listings.tests.factories import ListingFactory

_HYPOTHESIS_HOME = tempfile.TemporaryDirectory(prefix="trova-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME.name)

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 12,
        # Bounded and repeatable: 8 generated cases per operation on top of the coverage phase's
        # boundary and invalid values (about 300 requests for the listings API alone, ~15 s).
        "generation": {"max-examples": 8, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        # Every other check runs. This one expects every schema-valid request to succeed, which
        # rules the schema cannot state make untrue: min_price <= max_price, a real photo, the
        # right password; those answers are documented 400s with a sentence.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)
# Loaded when pytest collects this module: schemathesis' pytest integration needs the schema up
# front (its fixture-based loader does not work with pytest 9.2), and the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=CONFIG)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Only this machine's services (the database, Redis) may be reached while schemathesis runs."""
    connect = socket.socket.connect

    def local_only(sock, address):
        inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        if inet and not _is_loopback(address[0]):
            raise AssertionError(f"the API contract test tried to reach {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction():
    """As Django's test client does: the request signals must not close the connection that holds
    the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seller_token(db, seller):
    ListingFactory.create_batch(2, seller=seller)
    start_run(seller)
    return Token.objects.create(user=seller).key


@schema.parametrize()
# One seller and their data serve all of an operation's cases, rolled back after it: on purpose.
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_api_answers_only_what_its_schema_documents(case, seller_token):
    case.call_and_validate(headers={"Authorization": f"Token {seller_token}"})
