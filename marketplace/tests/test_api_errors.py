"""The API's error answers: one JSON shape with a `detail` sentence, 401 with a challenge, body
limits, query parameters checked alike, and every error answer in the OpenAPI schema."""

import json

import pytest
from rest_framework.authtoken.models import Token

LIMIT = 2_621_440  # DATA_UPLOAD_MAX_MEMORY_SIZE
TOO_LARGE = "The request is too large: form fields or JSON may take at most 2.5 MB"


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].endswith("."), body
    return body


# --- bodies over Django's limits (issue 12, point 10) -------------------------------------------


@pytest.mark.django_db
def test_multipart_fields_over_the_limit_get_a_json_413(client_for, seller):
    fields = {"title": "Bike", "description": "x" * (LIMIT + 1)}
    body = _error(client_for(seller).post("/api/listings/", fields), 413)
    assert body["detail"].startswith(TOO_LARGE)


@pytest.mark.django_db
def test_a_json_body_over_the_limit_gets_a_json_413(anon_client):
    payload = json.dumps({"username": "alice", "password": "x" * (LIMIT + 1)})
    response = anon_client.post("/api/auth/token/", payload, content_type="application/json")
    assert _error(response, 413)["detail"].startswith(TOO_LARGE)


@pytest.mark.django_db
def test_too_many_fields_get_a_json_400(anon_client):
    form = "&".join(f"f{i}=1" for i in range(1001))
    response = anon_client.post(
        "/api/auth/token/", form, content_type="application/x-www-form-urlencoded"
    )
    assert "too many fields" in _error(response, 400)["detail"]


@pytest.mark.django_db
def test_the_site_pages_keep_django_html_400(anon_client):
    response = anon_client.get("/?" + "&".join(f"f{i}=1" for i in range(1001)))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_an_address_under_api_that_no_endpoint_matches_is_a_json_404(anon_client):
    body = _error(anon_client.get("/api/listings/1.5e-3/"), 404)
    assert body == {"detail": "There is no API endpoint at this address."}


# --- 401 for anonymous calls (point 11) --------------------------------------------------------


@pytest.mark.django_db
def test_a_bad_token_is_a_401_with_a_challenge(anon_client):
    response = anon_client.get("/api/listings/", HTTP_AUTHORIZATION="Token nope")
    assert _error(response, 401) == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"


NO_RUN = "/api/prefill/00000000-0000-0000-0000-000000000000/"


@pytest.mark.django_db
def test_session_and_token_both_still_sign_in(client_for, seller, anon_client):
    key = Token.objects.create(user=seller).key
    by_token = anon_client.get(NO_RUN, HTTP_AUTHORIZATION=f"Token {key}")
    assert _error(by_token, 404) == {"detail": "Not found."}
    assert _error(client_for(seller).get(NO_RUN), 404) == {"detail": "Not found."}
