"""Accounts: sign-up's redirect."""

import pytest

pytestmark = pytest.mark.django_db


# --- Sign-up's redirect ---------------------------------------------------------------------------

SIGNUP = {
    "username": "dora", "first_name": "Dora", "email": "dora@example.com",
    "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42",
}  # fmt: skip


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_signup_does_not_redirect_to_another_site(anon_client, next_url):
    response = anon_client.post(f"/accounts/signup/?next={next_url}", SIGNUP)
    assert response.status_code == 302 and response.url == "/"


def test_signup_follows_next_on_this_site(anon_client):
    response = anon_client.post("/accounts/signup/?next=/sell/", SIGNUP)
    assert response.status_code == 302 and response.url == "/sell/"


def test_signup_over_https_does_not_redirect_to_plain_http(anon_client):
    response = anon_client.post(
        "/accounts/signup/?next=http://testserver/sell/", SIGNUP, secure=True
    )
    assert response.status_code == 302 and response.url == "/"
