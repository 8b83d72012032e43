"""Accounts: sign-up's redirect and the login lockout on the site, the admin and the API token."""

import time
from datetime import timedelta

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

LIMIT = 3
ATTACKER, OTHER = "203.0.113.7", "198.51.100.20"
LOCKED = "Too many failed log-ins"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def admin_user(django_user_model):
    """Staff with no permission at all: enough to log in to the admin, nothing more."""
    return django_user_model.objects.create_user(
        username="adam", email="adam@example.com", password="pw-adam", is_staff=True
    )


# One way to log in per endpoint: (url, user fixture, the answer to a right password).
ENDPOINTS = {
    "site": ("/accounts/login/", "seller", 302),
    "admin": ("/admin/login/", "admin_user", 302),
    "api": ("/api/auth/token/", "seller", 200),
}


def _log_in(endpoint: str, username: str, password: str, ip: str, **headers):
    url, _, _ = ENDPOINTS[endpoint]
    credentials = {"username": username, "password": password}
    return Client().post(url, credentials, REMOTE_ADDR=ip, **headers)


def _assert_locked_out(endpoint: str, response):
    assert response.status_code == 429
    if endpoint == "api":
        detail = response.json()["detail"]
        assert detail.startswith(LOCKED) and "15 minutes" in detail
    else:
        page = response.content.decode()
        assert LOCKED in page and "15 minutes" in page
        assert 'class="topbar"' in page  # the site's layout, not a bare text answer
    assert int(response["Retry-After"]) > 0


@pytest.fixture(params=list(ENDPOINTS))
def endpoint(request):
    _, persona, _ = ENDPOINTS[request.param]
    user = request.getfixturevalue(persona)
    return request.param, user


def test_wrong_passwords_lock_the_username_from_any_address(endpoint):
    name, user = endpoint
    for _ in range(LIMIT - 1):
        assert _log_in(name, user.username, "wrong", ATTACKER).status_code != 429
    _assert_locked_out(name, _log_in(name, user.username, "wrong", ATTACKER))  # the limit
    # Even the right password, and from another address: the account waits out the cool-off.
    _assert_locked_out(name, _log_in(name, user.username, f"pw-{user.username}", OTHER))


def test_wrong_passwords_lock_the_address_for_every_username(endpoint):
    name, user = endpoint
    for i in range(LIMIT):
        _log_in(name, f"guess{i}", "wrong", ATTACKER)
    _assert_locked_out(name, _log_in(name, user.username, f"pw-{user.username}", ATTACKER))
    # The account itself is not locked: its owner logs in from elsewhere.
    assert (
        _log_in(name, user.username, f"pw-{user.username}", OTHER).status_code
        == (ENDPOINTS[name][2])
    )


def test_the_lock_ends_after_the_cool_off(endpoint, settings):
    name, user = endpoint
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(LIMIT):
        _log_in(name, user.username, "wrong", ATTACKER)
    assert _log_in(name, user.username, f"pw-{user.username}", ATTACKER).status_code == 429
    time.sleep(1.2)
    assert (
        _log_in(name, user.username, f"pw-{user.username}", ATTACKER).status_code
        == (ENDPOINTS[name][2])
    )


def test_fewer_failures_than_the_limit_do_not_lock(seller):
    for _ in range(LIMIT - 1):
        _log_in("site", "alice", "wrong", ATTACKER)
    assert _log_in("site", "alice", "pw-alice", ATTACKER).status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_address_lock(seller):
    """Without a trusted proxy in front, X-Forwarded-For is whatever the client wrote."""
    for i in range(LIMIT):
        _log_in("api", f"guess{i}", "wrong", ATTACKER, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = _log_in("api", "alice", "pw-alice", ATTACKER, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_locked(seller, settings):
    """One proxy in front: the address it appended to X-Forwarded-For is the client."""
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for i in range(LIMIT):
        _log_in("api", f"guess{i}", "wrong", proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {ATTACKER}")
    locked = _log_in("api", "alice", "pw-alice", proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert locked.status_code == 429
    # Another client behind the same proxy is not locked out.
    assert _log_in("api", "alice", "pw-alice", proxy, HTTP_X_FORWARDED_FOR=OTHER).status_code == 200


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


def _in_site_layout(response) -> str:
    page = response.content.decode()
    assert response.status_code == 200
    assert '<a class="brand" href="/">Trova</a>' in page  # the site's header, not the admin's
    assert "Django administration" not in page
    assert 'href="/admin/"' not in page
    return page


def test_password_reset_pages_and_mail_are_the_sites(anon_client, seller, settings, mailoutbox):
    settings.SITE_URL = "https://trova.example"
    assert "Reset your password" in _in_site_layout(anon_client.get("/accounts/password_reset/"))

    done = anon_client.post("/accounts/password_reset/", {"email": seller.email}, follow=True)
    assert "Check your email" in _in_site_layout(done)

    [mail] = mailoutbox
    assert mail.subject == "Reset your Trova password"
    assert mail.body.rstrip().endswith("The Trova team")
    assert "testserver" not in mail.body  # the link is on SITE_URL, not the request's host
    link = next(w for w in mail.body.split() if w.startswith("https://trova.example/accounts/"))

    confirm = anon_client.get(link.removeprefix("https://trova.example"), follow=True)
    assert "Choose a new password" in _in_site_layout(confirm)

    new_password = "a-new-trova-password-42"
    complete = anon_client.post(
        confirm.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Password changed" in _in_site_layout(complete)
    log_in = Client().post(
        "/accounts/login/", {"username": seller.username, "password": new_password}
    )
    assert log_in.status_code == 302
