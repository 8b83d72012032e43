"""GET /api/experiments/ and /api/experiments/<key>/results/: who may call them, and the shapes
(the JSON answer is checked against the OpenAPI schema the API publishes)."""

import csv
import io

import numpy as np
import pytest
from django.test import Client

from experiments.services import live_experiments_forget
from feedback.experiment_results import CSV_ARM_COLUMNS, experiment_results
from feedback.tests.experiment_data import arm_fill, experiment_running, guardrails_default

pytestmark = pytest.mark.django_db

LIST = "/api/experiments/"
RESULTS = "/api/experiments/prompt-v3/results/"


@pytest.fixture(autouse=True)
def _forget_live():
    live_experiments_forget()
    yield
    live_experiments_forget()


@pytest.fixture
def viewer(staff_with):
    return staff_with("experiments.view_experiment", username="vera")


@pytest.fixture
def experiment(django_user_model):
    experiment = experiment_running(guardrails=guardrails_default(min_sample=10))
    users = [django_user_model.objects.create_user(f"s{i}") for i in range(6)]
    rng = np.random.default_rng(5)
    for i, arm in enumerate(experiment.arms.all()):
        arm_fill(arm, users[i * 3 : i * 3 + 3], rng, n=60, now=experiment.started_at)
    return experiment


@pytest.mark.parametrize("url", [LIST, RESULTS, RESULTS + "?format=csv"])
def test_only_staff_who_may_view_experiments(
    url, experiment, client_for, anon_client, viewer, staff, seller
):
    assert client_for(viewer).get(url).status_code == 200
    assert client_for(staff).get(url).status_code == 403  # staff without view_experiment
    assert client_for(seller).get(url).status_code == 403
    anonymous = anon_client.get(url)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"


def test_list(experiment, client_for, viewer):
    body = client_for(viewer).get(LIST).json()
    assert body == [
        {
            "key": "prompt-v3",
            "status": "running",
            "hypothesis": "Faster drafts",
            "enrollment_percent": 100.0,
            "arms": [
                {"key": "control", "weight": 1, "status": "active", "is_control": True},
                {"key": "variant", "weight": 1, "status": "active", "is_control": False},
            ],
            "started_at": body[0]["started_at"],
            "ended_at": None,
            "links": {
                "results": "http://testserver/api/experiments/prompt-v3/results/",
                "admin_results": f"http://testserver/admin/experiments/experiment/"
                f"{experiment.pk}/results/",
            },
        }
    ]
    assert body[0]["started_at"].startswith(experiment.started_at.date().isoformat())


def _validate_against_schema(response) -> None:
    """schemathesis' own response check, on the Django test client's answer."""
    import requests
    from schemathesis.core.transport import Response

    from tests.test_api_contract import schema

    request = requests.Request("GET", "http://testserver" + RESULTS).prepare()
    answer = Response(
        status_code=response.status_code,
        headers={key.lower(): [value] for key, value in response.headers.items()},
        content=response.content, request=request, elapsed=0.0, verify=False,
    )  # fmt: skip
    schema["/api/experiments/{key}/results/"]["GET"].validate_response(answer)


def test_results_json_is_experiment_results_and_matches_the_schema(experiment, client_for, viewer):
    response = client_for(viewer).get(RESULTS)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    expected = experiment_results(experiment=experiment)
    # The same computation (the open sessions' ages move with the clock: compare the rest).
    assert body["experiment"] == expected["experiment"]
    assert [a["sessions"] for a in body["arms"]] == [a["sessions"] for a in expected["arms"]]
    assert body["daily"] == expected["daily"] and body["srm"] == expected["srm"]
    assert body["arms"][1]["vs_control"]["logrank"]["p_value"] > 0
    _validate_against_schema(response)


@pytest.mark.parametrize("how", ["query", "accept"])
def test_results_csv(how, experiment, client_for, viewer):
    client = client_for(viewer)
    if how == "query":
        response = client.get(RESULTS + "?format=csv")
    else:
        response = client.get(RESULTS, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    disposition = 'attachment; filename="experiment-prompt-v3-results.csv"'
    assert response["Content-Disposition"] == disposition
    arms_part = response.content.decode().split("\r\n\r\n")[0]
    rows = list(csv.DictReader(io.StringIO(arms_part)))
    assert list(rows[0]) == list(CSV_ARM_COLUMNS)
    assert [r["arm"] for r in rows] == ["control", "variant"]


def test_unknown_experiment_is_404(client_for, viewer):
    response = client_for(viewer).get("/api/experiments/nope/results/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No experiment with that key."}


def test_token_auth(experiment, viewer):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=viewer)
    response = Client().get(LIST, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()[0]["key"] == "prompt-v3"
