"""/metrics answers only with the configured bearer token; without one it does not exist."""

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-metrics-token"


def test_without_a_configured_token_the_endpoint_does_not_exist(client, settings):
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, f"Token {TOKEN}"],
)
def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge(client, settings, header):
    settings.METRICS_BEARER_TOKEN = TOKEN
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"trova_" not in response.content


def test_the_right_token_gets_the_prometheus_text_format(client, settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE trova_http_requests_total counter" in response.content
    assert "no-cache" in response["Cache-Control"]


def test_only_get_is_allowed(client, settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405
