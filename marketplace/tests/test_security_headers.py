"""Every answer carries a Content-Security-Policy and a Permissions-Policy.

tests/browser/test_security_headers.py shows that the pages work under them in Chromium.
"""

import re

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/", "/accounts/login/", "/admin/login/", "/api/docs/", "/api/listings/", "/healthz"]


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("url", PAGES)
def test_every_answer_has_a_content_security_policy_without_inline_scripts(anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 200, url
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    scripts = policy["script-src"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "blob:"} & set(scripts)
    # A nonce only when the page used one; never a fixed one.
    assert all(re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{20,}'", s) for s in scripts[1:]), scripts
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.parametrize("url", PAGES)
def test_every_answer_turns_off_the_browser_features_no_page_uses(anon_client, url):
    response = anon_client.get(url)
    features = dict(
        item.strip().split("=", 1) for item in response["Permissions-Policy"].split(",")
    )
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()", feature


def test_swagger_ui_gets_its_start_up_script_from_a_file(anon_client):
    page = anon_client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    script = anon_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
