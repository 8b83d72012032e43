"""manage.py smoke_check against a live server started by the test: pytest-django's live_server
(threaded, on the test database, with this process's settings), healthy or broken on purpose.

A healthy site here is what production has: PostgreSQL, the real Redis as broker (REDIS_URL as
`make test` sets it), and worker and beat heartbeats recorded in the cache the server reads; the
pre-fill runs in-process (eager) within the upload request, against the fake OpenAI server.
"""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import path
from django.views.generic import RedirectView
from rest_framework.authtoken.models import Token

from ai_prefill.models import PrefillRun
from listings.tests.factories import ListingFactory
from marketplace.photos import ALLOWED_HUMAN
from marketplace.task_queues import QueueKind
from marketplace.urls import urlpatterns as site_urlpatterns
from monitoring.heartbeats import heartbeat_record, worker_kind
from monitoring.readiness import migrations_check_forget
from tests.fake_openai import DEFAULT_DRAFT, Behaviour
from tests.outage import closed_port, hung_server

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"(?P<name>\S+) +(?P<status>ok|FAILED|skipped) +(?P<ms>\d+ ms|-)  (?P<detail>.*)")
NOT_TRIED = "not checked: /healthz got no answer"


def _broken_page(request):
    raise RuntimeError("the smoke check's broken page")


class BrokenPageSite:
    """A ROOT_URLCONF: the site with its home page failing."""

    urlpatterns = [path("", _broken_page), *site_urlpatterns]


class RedirectingSite:
    """A ROOT_URLCONF: the site with its home page sent elsewhere, as a proxy's login would."""

    urlpatterns = [
        path("", RedirectView.as_view(url="https://sso.example/login")),
        *site_urlpatterns,
    ]


def smoke(*args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run the command: (exit status, {check: (status, detail)}, summary line). Every line but
    the summary must be a check's line."""
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("smoke_check", *args, stdout=out)
    *lines, summary = out.getvalue().splitlines()
    checks = {}
    for line in lines:
        match = LINE.fullmatch(line)
        assert match, f"not a report line: {line!r}"
        checks[match["name"]] = (match["status"], match["detail"])
    return exited.value.code, checks, summary


@pytest.fixture(autouse=True)
def _no_token_unless_given(monkeypatch):
    monkeypatch.delenv("SMOKE_API_TOKEN", raising=False)
    migrations_check_forget()


@pytest.fixture
def healthy_site(live_server):
    """The live server with what a healthy deployment has: a worker and beat that recorded
    their heartbeats (readiness reads them from the cache, which the server shares); the worker
    consumes the pre-fill queue, which is what readiness asks for."""
    heartbeat_record(kind="worker", also=(worker_kind(QueueKind.PREFILL),))
    heartbeat_record(kind="beat")
    return live_server.url


@pytest.fixture
def smoke_token(seller, monkeypatch):
    """The smoke seller's API token, where the command reads it: the environment."""
    token = Token.objects.create(user=seller).key
    monkeypatch.setenv("SMOKE_API_TOKEN", token)
    return token


def test_passes_against_a_healthy_site_with_a_real_prefill(
    integration_services, healthy_site, smoke_token, fake_openai, django_assert_num_queries
):
    ListingFactory(title="Blue city bike")  # the API check reads a listing's fields
    fake_openai.script(Behaviour.success())
    with django_assert_num_queries(0):  # the command itself never touches a database
        code, checks, summary = smoke("--base-url", healthy_site + "/")
    run = PrefillRun.objects.get()
    assert run.status == "succeeded" and run.user.auth_token.key == smoke_token
    assert fake_openai.counts["/v1/responses"] == 1
    status, detail = checks.pop("prefill")
    assert status == "ok", detail
    label, title = re.escape(run.prompt_version.label), re.escape(repr(DEFAULT_DRAFT["title"]))
    assert re.fullmatch(
        rf"run {run.pk} drafted in \d+\.\d s by {run.model} \({label}\): title {title}, "
        rf"category bikes, color {DEFAULT_DRAFT['color']}",
        detail,
    ), detail
    assert checks == {
        "healthz": ("ok", "200"),
        "readyz": (
            "ok",
            "200: database ok, migrations ok, storage skipped, broker ok, queue ok, worker ok, "
            "beat ok",
        ),
        "page": ("ok", checks["page"][1]),
        "api": ("ok", "200: 1 listing(s) on the first page, 1 in all"),
        "schema": ("ok", checks["schema"][1]),
    }
    assert re.fullmatch(r"200 page 'Browse · Trova', \d+ KB", checks["page"][1])
    assert re.fullmatch(r"200: OpenAPI 3\.\d\.\d, \d+ paths", checks["schema"][1])
    assert code == 0
    assert summary == f"smoke check of {healthy_site} passed: 6 ok, 0 failed, 0 skipped"


def test_fails_against_a_port_with_nothing_listening():
    url = f"http://127.0.0.1:{closed_port()}"
    code, checks, summary = smoke("--base-url", url)
    assert code == 1
    assert checks == {
        "healthz": ("FAILED", "no answer: connection refused"),
        **{name: ("FAILED", NOT_TRIED) for name in ("readyz", "page", "api", "schema", "prefill")},
    }
    assert summary == (
        f"smoke check of {url} FAILED: 0 ok, 6 failed "
        "(healthz, readyz, page, api, schema, prefill), 0 skipped"
    )


@pytest.fixture
def silent_site():
    """Accepts connections and never answers, like a wedged process behind a live socket."""
    with hung_server() as port:
        yield f"http://127.0.0.1:{port}"


def test_a_site_that_never_answers_fails_within_the_timeout(silent_site):
    code, checks, _ = smoke("--base-url", silent_site, "--timeout", "0.3")
    assert code == 1
    assert checks["healthz"] == ("FAILED", "no answer: no answer within 0.3 s (timeout)")
    assert checks["readyz"] == ("FAILED", NOT_TRIED)


@pytest.mark.integration
def test_fails_when_readiness_fails_with_redis_unreachable(
    healthy_site, redis_outage, smoke_token, fake_openai
):
    code, checks, summary = smoke("--base-url", healthy_site, "--prefill", "dry-run")
    assert code == 1
    status, detail = checks["readyz"]
    not_checked = "not checked: Redis is unreachable"
    assert status == "FAILED"
    assert re.fullmatch(
        rf"503: broker: ConnectionError: .*Connection refused\.; queue: {not_checked}; "
        rf"worker: {not_checked}; beat: {not_checked}",
        detail,
    ), detail
    # The rest of the site still answers; only readiness says what is wrong.
    assert {name: status for name, (status, _) in checks.items()} == {
        "healthz": "ok", "readyz": "FAILED", "page": "ok", "api": "ok", "schema": "ok",
        "prefill": "ok",
    }  # fmt: skip
    assert summary == (f"smoke check of {healthy_site} FAILED: 5 ok, 1 failed (readyz), 0 skipped")


def test_fails_when_a_page_answers_500(healthy_site, settings):
    settings.ROOT_URLCONF = BrokenPageSite
    code, checks, summary = smoke("--base-url", healthy_site)
    assert code == 1
    assert checks["page"] == ("FAILED", "500 (expected 200): page 'Server error · Trova'")
    assert checks["prefill"] == (
        "skipped",
        "skipped: SMOKE_API_TOKEN is not set (no pre-fill was tried)",
    )
    assert summary == f"smoke check of {healthy_site} FAILED: 4 ok, 1 failed (page), 1 skipped"


def test_a_redirect_is_reported_not_followed(healthy_site, settings):
    settings.ROOT_URLCONF = RedirectingSite
    code, checks, _ = smoke("--base-url", healthy_site)
    assert code == 1
    assert checks["page"] == (
        "FAILED",
        "302 (expected 200): redirects to https://sso.example/login",
    )


def test_tls_to_a_site_that_does_not_speak_it_fails_saying_so(healthy_site):
    code, checks, _ = smoke("--base-url", healthy_site.replace("http://", "https://"))
    assert code == 1
    assert checks["healthz"] == ("FAILED", "no answer: TLS: WRONG_VERSION_NUMBER")


def test_fails_when_the_prefill_fails_at_the_provider(healthy_site, smoke_token, fake_openai):
    fake_openai.default = Behaviour.bad_request()
    code, checks, summary = smoke("--base-url", healthy_site)
    run = PrefillRun.objects.get()
    assert run.status == "failed" and run.error_type == "bad_request"
    assert code == 1
    assert checks["prefill"] == (
        "FAILED",
        f"run {run.pk} failed: bad_request: {run.error_message}",
    )
    assert summary == f"smoke check of {healthy_site} FAILED: 5 ok, 1 failed (prefill), 0 skipped"


@pytest.mark.integration
def test_a_prefill_over_its_budget_fails_saying_where_it_is(
    healthy_site, smoke_token, celery_queue
):
    # Queued on the real broker (this session's queue), and no worker takes it.
    code, checks, _ = smoke("--base-url", healthy_site, "--prefill-budget", "0.5")
    run = PrefillRun.objects.get()
    assert code == 1
    assert checks["prefill"] == ("FAILED", f"run {run.pk} still queued after 0.5 s")


def test_dry_run_proves_endpoint_token_and_validation_without_a_run(
    healthy_site, smoke_token, fake_openai
):
    code, checks, summary = smoke("--base-url", healthy_site, "--prefill", "dry-run")
    assert checks["prefill"] == (
        "ok",
        "dry run: 401 without the token, 400 with it: "
        f"This file is not an image we can read. Please upload a {ALLOWED_HUMAN} photo.",
    )
    assert code == 0, checks
    assert PrefillRun.objects.count() == 0 and sum(fake_openai.counts.values()) == 0


def test_a_refused_token_fails_the_prefill(healthy_site, monkeypatch):
    monkeypatch.setenv("SMOKE_API_TOKEN", "not-a-token-of-this-site")
    for mode, expected in (("run", "202 with the run id"), ("dry-run", "400 for a file")):
        code, checks, _ = smoke("--base-url", healthy_site, "--prefill", mode)
        assert code == 1
        assert checks["prefill"][0] == "FAILED"
        assert checks["prefill"][1].startswith(f"401 (expected {expected}")
        assert checks["prefill"][1].endswith("): Invalid token.")


def test_json_and_markdown_reports(healthy_site, tmp_path):
    out = io.StringIO()
    table = tmp_path / "smoke.md"
    with pytest.raises(SystemExit) as exited:
        args = ["--base-url", healthy_site, "--json", "--markdown", str(table)]
        call_command("smoke_check", *args, stdout=out)
    assert exited.value.code == 0
    report = json.loads(out.getvalue())
    assert report["passed"] is True and report["base_url"] == healthy_site
    assert [c["name"] for c in report["checks"]] == [
        "healthz", "readyz", "page", "api", "schema", "prefill",
    ]  # fmt: skip
    assert report["checks"][0] == {"name": "healthz", "status": "ok", "detail": "200",
                                   "ms": report["checks"][0]["ms"]}  # fmt: skip
    assert report["checks"][-1]["ms"] is None  # skipped
    lines = table.read_text().splitlines()
    assert lines[0] == f"### {report['summary']}"
    assert lines[2:5] == [
        "| check | result | ms | detail |",
        "| --- | --- | ---: | --- |",
        f"| healthz | ok | {report['checks'][0]['ms']} | 200 |",
    ]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--base-url", "staging.trova.example"], {},
         "--base-url must be an http(s) URL like https://trova.example, not "
         "'staging.trova.example'."),
        (["--base-url", "ftp://trova.example"], {},
         "--base-url must be an http(s) URL like https://trova.example, not "
         "'ftp://trova.example'."),
        (["--base-url", "https://trova.example", "--prefill", "run"], {},
         "--prefill run needs the smoke seller's API token in SMOKE_API_TOKEN."),
        (["--base-url", "https://trova.example", "--timeout", "0"], {},
         "--timeout must be above 0 seconds."),
    ],
)  # fmt: skip
def test_bad_usage_is_refused_with_exit_status_2(args, env, message):
    with pytest.raises(CommandError, match=re.escape(message)) as refused:
        call_command("smoke_check", *args)
    assert refused.value.returncode == 2


def test_from_the_command_line_without_a_database(healthy_site):
    """As a CI runner runs it: manage.py, its own process, a database that does not exist."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DATABASE_URL": f"postgres://nobody@127.0.0.1:{closed_port()}/none",
        "REDIS_URL": "",
    }
    env.pop("SMOKE_API_TOKEN", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", "smoke_check", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    passed = run("--base-url", healthy_site)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines()[-1] == (
        f"smoke check of {healthy_site} passed: 5 ok, 0 failed, 1 skipped"
    )
    failed = run("--base-url", f"http://127.0.0.1:{closed_port()}")
    assert failed.returncode == 1 and "healthz  FAILED" in failed.stdout
    usage = run("--base-url", "nonsense")
    assert usage.returncode == 2
    assert usage.stderr.strip() == (
        "CommandError: --base-url must be an http(s) URL like https://trova.example, not "
        "'nonsense'."
    )
