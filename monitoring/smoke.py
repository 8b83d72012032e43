"""The smoke check: a deployed Trova checked from outside, over HTTP only (`manage.py smoke_check`).

It runs from a CI runner against staging or production, so it never touches a database and
imports no app model: what it knows of the site is what the site answers. Checks, in order:

- healthz: /healthz answers 200 (the process is up);
- readyz: /readyz answers 200; on 503 each failing check with its detail from the JSON;
- page: the browse page answers 200 with Trova's HTML (not a proxy's or a host's default page);
- api: GET /api/listings/ answers a page of listings as JSON;
- schema: /api/schema/ answers the OpenAPI document, with the routes this check relies on;
- prefill: with a token (SMOKE_API_TOKEN) a real pre-fill of a generated photo, polled until it
  has a draft or failed ("run"); or a "dry-run" proving the endpoint, the auth and the
  validation without a run or a provider call; or "skip".

A pre-fill run is a real run of a real seller account (it counts in the run log, the monitoring
dashboard and that seller's daily quota): the token must be a dedicated smoke seller's.
"""

import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from marketplace.sample_images import render_item

OK, FAILED, SKIPPED = "ok", "FAILED", "skipped"
RUN, DRY_RUN, SKIP = "run", "dry-run", "skip"
PREFILL_MODES = (RUN, DRY_RUN, SKIP)
TOKEN_ENV = "SMOKE_API_TOKEN"  # noqa: S105 - the variable's name, not a token
USER_AGENT = "trova-smoke-check/1"
# A listing on the API has these at least (listings/api.py ListingSerializer).
LISTING_KEYS = frozenset({"id", "title", "price_display", "status"})
# The routes the checks below use; the schema must still describe them.
SCHEMA_PATHS = ("/api/listings/", "/api/prefill/", "/api/prefill/{run_id}/")
NOT_A_PHOTO = b"This is not a photo: the smoke check's dry run expects a 400 for it.\n"
FINISHED = ("succeeded", "failed")  # a run's final statuses (GET /api/prefill/<id>/)
POLL_MIN_S, POLL_MAX_S = 0.2, 2.0
DETAIL_MAX = 300  # one line of a report, not a page of HTML
NO_ANSWER = "no answer: "


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # OK, FAILED or SKIPPED
    detail: str
    ms: float | None = None


@dataclass(frozen=True)
class SmokeConfig:
    base_url: str
    timeout: float = 10.0
    prefill: str = SKIP
    prefill_budget: float = 30.0
    token: str = ""


class BadBaseUrl(ValueError):
    """The base URL is not an http(s) URL of a site: bad usage, not a failed check."""


def base_url_clean(url: str) -> str:
    """`url` without a trailing slash, or BadBaseUrl with a sentence."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadBaseUrl(
            f"--base-url must be an http(s) URL like https://trova.example, not {url!r}."
        )
    if parts.query or parts.fragment:
        raise BadBaseUrl(f"--base-url takes no query or fragment: {url!r}.")
    return url.strip().rstrip("/")


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    location: str = ""  # where a redirect points

    def json(self):
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self) -> str:
        """What the body says in a few words: the API's `detail`, an HTML page's title, or its
        first characters."""
        if self.location:
            return f"redirects to {self.location}"
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            return _one_line(data["detail"])
        text = self.body.decode("utf-8", errors="replace")
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            return f"page {_one_line(title.group(1))!r}"
        return _one_line(text) or "(empty body)"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: the site at --base-url must answer itself (an http
    URL redirected to https, or a proxy's login page, is worth knowing; and urllib would turn a
    redirected upload into a GET)."""

    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises the 3xx as an HTTPError: an answer like any other


_OPENER = urllib.request.build_opener(_NoRedirects)


class Unreachable(Exception):
    """No HTTP answer at all (refused, timed out, TLS, unknown host); the message says which."""


class Site:
    """HTTP requests to one deployment, each bounded by `timeout` seconds."""

    def __init__(self, base_url: str, *, timeout: float, token: str = ""):
        self.base_url, self.timeout, self.token = base_url, timeout, token

    def get(self, path: str, *, accept: str, authenticated: bool = False) -> Answer:
        return self._send(path, "GET", accept=accept, authenticated=authenticated)

    def post_file(self, path: str, *, field: str, filename: str, content: bytes,
                  authenticated: bool) -> Answer:  # fmt: skip
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        )
        body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
        return self._send(
            path, "POST", accept="application/json", authenticated=authenticated, body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )  # fmt: skip

    def _send(self, path, method, *, accept, authenticated, body=None, content_type=None):
        # Only http(s): base_url_clean refused any other scheme.
        request = urllib.request.Request(self.base_url + path, data=body, method=method)  # noqa: S310
        request.add_header("Accept", accept)
        request.add_header("User-Agent", USER_AGENT)
        if content_type:
            request.add_header("Content-Type", content_type)
        if authenticated:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.headers.get_content_type(), response.read())
        except urllib.error.HTTPError as error:  # an answer, with a 3xx, 4xx or 5xx status
            with error:
                headers = error.headers
                return Answer(
                    error.code, headers.get_content_type(), error.read(), headers["Location"] or ""
                )
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(self._why(exc)) from None

    def _why(self, exc: Exception) -> str:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused"
        if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
            return f"no answer within {self.timeout:g} s (timeout)"
        if isinstance(reason, ssl.SSLCertVerificationError):
            return f"TLS: certificate not accepted ({reason.verify_message})"
        if isinstance(reason, ssl.SSLError):
            return f"TLS: {reason.reason or reason}"
        if isinstance(reason, OSError) and reason.strerror:
            return _one_line(reason.strerror)
        return _one_line(str(reason)) or type(reason).__name__


# --- The checks -------------------------------------------------------------------------------


def smoke_run(config: SmokeConfig) -> list[CheckResult]:
    """Every check in order. When /healthz gets no answer at all, the others are not tried (each
    would wait for the same timeout) and fail as "not checked"."""
    site = Site(config.base_url, timeout=config.timeout, token=config.token)
    checks: list[tuple[str, Callable[[], tuple[str, str]]]] = [
        ("healthz", lambda: _check_healthz(site)),
        ("readyz", lambda: _check_readyz(site)),
        ("page", lambda: _check_page(site)),
        ("api", lambda: _check_api(site)),
        ("schema", lambda: _check_schema(site)),
        ("prefill", lambda: _check_prefill(site, config)),
    ]
    results = [_timed("healthz", checks[0][1])]
    unreachable = results[0].detail.startswith(NO_ANSWER)
    for name, check in checks[1:]:
        if unreachable:
            results.append(CheckResult(name, FAILED, "not checked: /healthz got no answer"))
        else:
            results.append(_timed(name, check))
    return results


def _timed(name: str, check: Callable[[], tuple[str, str]]) -> CheckResult:
    started = time.perf_counter()
    try:
        status, detail = check()
    except Unreachable as exc:
        status, detail = FAILED, f"{NO_ANSWER}{exc}"
    except Exception as exc:  # noqa: BLE001 - a check reports what went wrong, it never crashes
        status, detail = FAILED, f"the check broke: {type(exc).__name__}: {exc}"
    ms = None if status == SKIPPED else round((time.perf_counter() - started) * 1000)
    return CheckResult(name, status, _one_line(detail, limit=DETAIL_MAX * 2), ms)


def _unexpected(answer: Answer, expected: str) -> tuple[str, str]:
    return FAILED, f"{answer.status} (expected {expected}): {answer.summary()}"


def _check_healthz(site: Site) -> tuple[str, str]:
    answer = site.get("/healthz", accept="application/json")
    if answer.status != 200:
        return _unexpected(answer, "200")
    if answer.json() != {"status": "ok"}:
        return FAILED, f"200 but not Trova's liveness answer: {answer.summary()}"
    return OK, "200"


def _check_readyz(site: Site) -> tuple[str, str]:
    answer = site.get("/readyz", accept="application/json")
    report = answer.json()
    checks = report.get("checks") if isinstance(report, dict) else None
    if answer.status not in (200, 503) or not isinstance(checks, dict):
        return _unexpected(answer, "200 with the readiness JSON")
    if answer.status == 200:
        return OK, "200: " + ", ".join(f"{name} {c['status']}" for name, c in checks.items())
    failing = [f"{name}: {c['detail']}" for name, c in checks.items() if c["status"] == "fail"]
    return FAILED, "503: " + "; ".join(failing)


def _check_page(site: Site) -> tuple[str, str]:
    answer = site.get("/", accept="text/html")
    if answer.status != 200:
        return _unexpected(answer, "200")
    text = answer.body.decode("utf-8", errors="replace")
    # The site's own layout (marketplace/templates/base.html): its title and its brand link.
    trova = re.search(r"<title>[^<]*Trova</title>", text) and 'class="brand"' in text
    if answer.content_type != "text/html" or not trova:
        return FAILED, f"200 but not Trova's page ({answer.content_type}): {answer.summary()}"
    return OK, f"200 {answer.summary()}, {len(answer.body) // 1024} KB"


def _check_api(site: Site) -> tuple[str, str]:
    answer = site.get("/api/listings/", accept="application/json")
    if answer.status != 200:
        return _unexpected(answer, "200")
    page = answer.json()
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        return FAILED, f"200 but not a page of listings: {answer.summary()}"
    missing = {key for item in page["results"] for key in LISTING_KEYS - set(item)}
    if "count" not in page or missing:
        return FAILED, f"200 but listings lack {', '.join(sorted(missing or {'count'}))}"
    return OK, f"200: {len(page['results'])} listing(s) on the first page, {page['count']} in all"


def _check_schema(site: Site) -> tuple[str, str]:
    answer = site.get("/api/schema/", accept="application/vnd.oai.openapi+json")
    if answer.status != 200:
        return _unexpected(answer, "200")
    schema = answer.json()
    if not isinstance(schema, dict) or "openapi" not in schema:
        return FAILED, f"200 but not an OpenAPI document: {answer.summary()}"
    missing = [path for path in SCHEMA_PATHS if path not in schema.get("paths", {})]
    if missing:
        return FAILED, f"200 but the schema lacks {', '.join(missing)}"
    return OK, f"200: OpenAPI {schema['openapi']}, {len(schema['paths'])} paths"


# --- The pre-fill -------------------------------------------------------------------------------


def _check_prefill(site: Site, config: SmokeConfig) -> tuple[str, str]:
    if config.prefill == SKIP:
        why = "--prefill skip" if config.token else f"{TOKEN_ENV} is not set"
        return SKIPPED, f"skipped: {why} (no pre-fill was tried)"
    if config.prefill == DRY_RUN:
        return _prefill_dry_run(site)
    return _prefill_for_real(site, config.prefill_budget)


def _prefill_dry_run(site: Site) -> tuple[str, str]:
    """Two uploads of a file that is not a photo: without the token it must be refused (401),
    with it the API's validation must answer 400 with the error shape, naming the `image` field.
    Neither starts a run or calls the provider: the photo is refused before either."""
    upload = {"field": "image", "filename": "smoke.jpg", "content": NOT_A_PHOTO}
    anonymous = site.post_file("/api/prefill/", authenticated=False, **upload)
    if anonymous.status != 401:
        return _unexpected(anonymous, "401 without a token")
    answer = site.post_file("/api/prefill/", authenticated=True, **upload)
    if answer.status != 400:
        return _unexpected(answer, "400 for a file that is not a photo")
    error = answer.json() if isinstance(answer.json(), dict) else {}
    image_messages = error.get("image")
    if not isinstance(error.get("detail"), str) or not image_messages:
        return FAILED, f"400 but not the API's error shape for `image`: {answer.summary()}"
    return OK, f"dry run: 401 without the token, 400 with it: {image_messages[0]}"


def _prefill_for_real(site: Site, budget: float) -> tuple[str, str]:
    started = time.monotonic()
    photo = render_item(shape="bike", color="blue", size=(480, 360))
    answer = site.post_file(
        "/api/prefill/", field="image", filename="smoke.jpg", content=photo, authenticated=True
    )
    run = answer.json()
    if answer.status != 202 or not isinstance(run, dict) or "id" not in run:
        return _unexpected(answer, "202 with the run id")
    run_id = run["id"]
    while True:
        if run.get("status") not in FINISHED:  # (the upload's answer may say it is finished)
            left = budget - (time.monotonic() - started)
            if left <= 0:
                return FAILED, f"run {run_id} still {run.get('status')} after {budget:g} s"
            wait = (run.get("poll_after_ms") or 0) / 1000
            time.sleep(min(max(wait, POLL_MIN_S), POLL_MAX_S, left))
        polled = site.get(f"/api/prefill/{run_id}/", accept="application/json", authenticated=True)
        run = polled.json()
        if polled.status != 200 or not isinstance(run, dict):
            return _unexpected(polled, f"200 for run {run_id}")
        if run.get("status") in FINISHED:
            return _prefill_outcome(run, time.monotonic() - started)


def _prefill_outcome(run: dict, seconds: float) -> tuple[str, str]:
    if run["status"] == "failed":
        error = run.get("error") or {}
        return FAILED, f"run {run['id']} failed: {error.get('type')}: {error.get('message')}"
    draft = run.get("draft")
    if not isinstance(draft, dict):
        return FAILED, f"run {run['id']} succeeded without a draft"
    # A draft passes, whatever it says: the baseline provider, for one, never writes a title.
    return OK, (
        f"run {run['id']} drafted in {seconds:.1f} s by {run.get('model')} "
        f"({run.get('prompt_version')}): title {draft.get('title')!r}, "
        f"category {draft.get('category')}, color {draft.get('color')}"
    )


# --- Reports ------------------------------------------------------------------------------------


def smoke_passed(results: list[CheckResult]) -> bool:
    return not any(result.status == FAILED for result in results)


def report_line(result: CheckResult) -> str:
    ms = "-" if result.ms is None else f"{result.ms} ms"
    return f"{result.name:<8} {result.status:<7} {ms:>8}  {result.detail}"


def summary_line(base_url: str, results: list[CheckResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (OK, FAILED, SKIPPED)}
    verdict = "passed" if smoke_passed(results) else "FAILED"
    failed = [r.name for r in results if r.status == FAILED]
    which = f" ({', '.join(failed)})" if failed else ""
    return (
        f"smoke check of {base_url} {verdict}: {counts[OK]} ok, {counts[FAILED]} failed{which}, "
        f"{counts[SKIPPED]} skipped"
    )


def report_json(base_url: str, results: list[CheckResult]) -> str:
    return json.dumps(
        {
            "base_url": base_url,
            "passed": smoke_passed(results),
            "summary": summary_line(base_url, results),
            "checks": [asdict(result) for result in results],
        },
        indent=2,
    )


def report_markdown(base_url: str, results: list[CheckResult]) -> str:
    """A table for a CI job summary ($GITHUB_STEP_SUMMARY)."""
    rows = [
        f"| {r.name} | {r.status} | {'' if r.ms is None else r.ms} | {_cell(r.detail)} |"
        for r in results
    ]
    return "\n".join(
        [
            f"### {summary_line(base_url, results)}",
            "",
            "| check | result | ms | detail |",
            "| --- | --- | ---: | --- |",
            *rows,
            "",
        ]
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _one_line(text: str, limit: int = DETAIL_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
