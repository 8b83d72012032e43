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
    assert _error(anon_client.get("/api/nothing\nhere/"), 404) == body
    assert _error(anon_client.get("/api/nothing", follow=True), 404) == body


@pytest.mark.django_db
def test_an_api_address_without_its_slash_still_redirects(anon_client):
    response = anon_client.get("/api/listings")
    assert response.status_code == 301 and response["Location"] == "/api/listings/"


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


# --- query parameters, checked alike (point 11) ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"min_price": "-1"}, "min_price: Ensure this value is greater than or equal to 0."),
        ({"max_price": "-0.5"}, "max_price: Ensure this value is greater than or equal to 0."),
        ({"min_price": ""}, "min_price: Give a value, or leave the parameter out."),
        ({"max_price": "cheap"}, "max_price: Enter a number."),
        ({"category": ""}, "category: Give a value, or leave the parameter out."),
        ({"sort": "cheapest"}, "sort: Select a valid choice. cheapest is not one of the"),
        ({"page": "0"}, "page: Use a whole number from 1 to 1,000,000."),
        ({"page": "two"}, "page: Use a whole number from 1 to 1,000,000."),
        ({"page": ""}, "page: Use a whole number from 1 to 1,000,000."),
        ({"page": "last"}, "page: Use a whole number from 1 to 1,000,000."),
        ({"min_price": "9", "max_price": "5"}, "The minimum price is above the maximum."),
    ],
)
def test_bad_listing_filters_get_a_400_with_a_sentence(anon_client, params, detail):
    body = _error(anon_client.get("/api/listings/", params), 400)
    assert body["detail"].startswith(detail)
    field = next(iter(params)) if len(params) == 1 else "non_field_errors"
    assert body[field] and all(isinstance(message, str) for message in body[field])


@pytest.mark.django_db
def test_an_empty_search_is_no_search(anon_client):
    assert anon_client.get("/api/listings/", {"q": "", "page": "1"}).status_code == 200


@pytest.mark.django_db
def test_a_page_past_the_last_is_a_404_with_a_sentence(anon_client):
    body = _error(anon_client.get("/api/listings/", {"page": "3"}), 404)
    assert body == {"detail": "There is no page 3 of these results."}


REPORT = "/api/reports/feedback/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"start": "10/03/2025"}, "start: start: use a date as YYYY-MM-DD."),
        ({"start": ""}, "start: Give a value, or leave the parameter out."),
        ({"group_by": "colour"}, "group_by: Select a valid choice."),
        ({"start": "2025-03-11", "end": "2025-03-10"}, "end must be on or after start."),
        ({"format": "xml"}, "format: Use one of: json, csv."),
    ],
)
def test_bad_report_parameters_get_a_400_with_a_sentence(client_for, report_viewer, params, detail):
    assert _error(client_for(report_viewer).get(REPORT, params), 400)["detail"].startswith(detail)


@pytest.mark.django_db
def test_a_csv_error_is_the_sentence(client_for, report_viewer):
    response = client_for(report_viewer).get("/api/reports/feedback.csv", {"group_by": "colour"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == "error"
    assert "group_by: Select a valid choice." in response.content.decode()


# --- the schema documents every error answer (point 11) ------------------------------------------


@pytest.fixture
def schema(db, anon_client):
    return anon_client.get("/api/schema/", {"format": "json"}).json()


def _codes(schema, method, path) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_the_error_shape_is_documented_once(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and error["properties"]["detail"]["type"] == "string"
    assert error["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


READ = {"400", "401"}  # 400: a malformed query string, on every operation
WRITE = {"400", "401", "403", "413", "415"}  # 403: CSRF with the session; body limits and types


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("get", "/api/listings/", {"200", "404", *READ}),
        ("post", "/api/listings/", {"201", *WRITE}),
        ("get", "/api/listings/{id}/", {"200", "404", *READ}),
        ("patch", "/api/listings/{id}/", {"200", "404", *WRITE}),
        ("delete", "/api/listings/{id}/", {"204", "403", "404", *READ}),
        ("post", "/api/auth/token/", {"200", "429", *WRITE}),  # 429: the log-in lockout
        ("post", "/api/prefill/", {"202", "429", "503", *WRITE}),
        ("get", "/api/prefill/{run_id}/", {"200", "404", *READ}),
        ("get", "/api/prefill/{run_id}/photo/", {"200", "404", *READ}),
        ("get", "/api/prefill/{run_id}/feedback/", {"200", "404", *READ}),
        ("post", "/api/prefill/{run_id}/feedback/", {"200", "404", *WRITE}),
        ("get", "/api/reports/feedback/", {"200", "403", *READ}),
    ],
)
def test_every_error_answer_is_documented_in_the_error_shape(schema, method, path, codes):
    responses = schema["paths"][path][method]["responses"]
    assert set(responses) == codes
    for code in codes - {"200", "201", "202", "204"}:
        content = responses[code]["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "WWW-Authenticate" in responses["401"]["headers"]
    if "429" in responses:
        assert "Retry-After" in responses["429"]["headers"]


def test_the_report_documents_its_csv_errors(schema):
    response = schema["paths"]["/api/reports/feedback/"]["get"]["responses"]["400"]
    assert response["content"]["text/csv"]["schema"] == {"type": "string"}


def test_anyone_may_ask_for_a_token_and_read_listings(schema):
    assert {} in schema["paths"]["/api/auth/token/"]["post"]["security"]
    assert {} in schema["paths"]["/api/listings/"]["get"]["security"]
    assert {} not in schema["paths"]["/api/listings/"]["post"]["security"]


def test_listing_filters_are_documented_as_the_api_checks_them(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/listings/"]["get"]["parameters"]
    }
    assert parameters["min_price"]["minimum"] == 0 and parameters["max_price"]["minimum"] == 0
    assert parameters["sort"]["enum"] == ["newest", "price_asc", "price_desc"]
    assert "phones-tablets" in parameters["category"]["enum"]
    assert parameters["page"] == {"type": "integer", "minimum": 1, "maximum": 1_000_000}
