"""The Sell page when no draft comes, and when POST /api/prefill/ refuses with a sentence.

A stalled run used to make the page ask about it every 300 ms for two minutes (366 requests).
Now, once the draft is overdue, the page waits 0.5 s and then 1.5 times longer each time (at most
5 s), and stops AI_PREFILL_BUDGET_SECONDS + PREFILL_POLL_MARGIN_SECONDS after the photo was chosen.
With the defaults (15 + 15 s) and a first look at ~1.5 s, expected_polls(1.5, 30) is 11 requests
in those two minutes.
"""

import re
import uuid

import pytest
import redis
from playwright.sync_api import expect

from ai_prefill.models import PrefillRun
from ai_prefill.services import QUEUE_UNAVAILABLE_MESSAGE
from ai_prefill.tests.factories import start_run
from listings.views import PREFILL_POLL_MARGIN_SECONDS
from marketplace.celery import app as celery_app
from marketplace.sample_images import render_item
from tests.outage import RedisOutage

pytestmark = pytest.mark.browser

RUN_URL = re.compile(r"/api/prefill/[0-9a-f-]{36}/$")
STOPPED = (
    "No suggestion came for this photo. Please fill in the details yourself; your photo is kept."
)
# The page's schedule once a draft is overdue (listings/static/listings/sell.js).
OVERDUE_FIRST_S, OVERDUE_FACTOR, POLL_MAX_S = 0.5, 1.5, 5.0
# Browser timers never fire early, but the wait starts after the previous answer arrived.
SLACK_S = 0.25


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "armchair.jpg"
    path.write_bytes(render_item(shape="chair", color="blue"))
    return path


@pytest.fixture
def no_worker(settings):
    """Runs are queued through the real broker to queues nobody consumes: they never finish."""
    conf = celery_app.conf
    prefix = f"trova-nobody-{uuid.uuid4().hex[:12]}-"
    previous_eager = conf.task_always_eager
    settings.CELERY_QUEUE_PREFIX, conf.task_always_eager = prefix, False
    yield
    conf.task_always_eager = previous_eager
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        leftovers = [*client.keys(f"{prefix}*"), *client.keys(f"_kombu.binding*{prefix}*")]
        if leftovers:
            client.delete(*leftovers)


def open_sell(page, log_in, user) -> None:
    log_in(page, user)
    page.goto("/sell/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell an item")


def status(page):
    return page.locator("#prefill-status")


def expected_polls(first_s: float, stop_s: float) -> int:
    """How many GETs the schedule makes when the first one is at first_s and none answers."""
    polls, at, wait = 1, first_s, OVERDUE_FIRST_S
    while at < stop_s:
        at = min(at + wait, stop_s)  # the last wait ends at the stop, for one last look
        polls += 1
        wait = min(wait * OVERDUE_FACTOR, POLL_MAX_S)
    return polls


def test_a_stalled_run_is_asked_about_less_and_less_often_then_no_more(
    page, log_in, seller, photo, settings, no_worker
):
    settings.AI_PREFILL_BUDGET_SECONDS = 6  # stop at 6 + 15 = 21 s, long enough to reach 5 s
    stop_s = settings.AI_PREFILL_BUDGET_SECONDS + PREFILL_POLL_MARGIN_SECONDS
    open_sell(page, log_in, seller)
    expect(page.locator("#sell-form")).to_have_attribute("data-poll-stop-ms", str(stop_s * 1000))
    asked = []
    page.on("request", lambda r: asked.append(r) if RUN_URL.search(r.url) else None)

    with page.expect_request(lambda r: r.method == "POST" and "/api/prefill/" in r.url) as sent:
        page.get_by_label("Photo of the item").set_input_files(photo)
    expect(status(page)).to_have_class(re.compile(r"\blate\b"), timeout=10_000)
    # The seller has the form to themselves meanwhile.
    page.get_by_label("Title").fill("Blue armchair")
    expect(status(page)).to_have_class(re.compile(r"\bstopped\b"), timeout=(stop_s + 5) * 1000)
    expect(status(page).locator(".message")).to_have_text(STOPPED)
    page.wait_for_timeout(2 * POLL_MAX_S * 1000)  # and it asks nothing more

    run = PrefillRun.objects.get(user=seller)
    assert run.status == PrefillRun.Status.QUEUED  # nobody worked on it
    expect(page.locator('#sell-form [name="prefill_run"]')).to_have_value(str(run.pk))
    expect(page.get_by_label("Title")).to_have_value("Blue armchair")
    expect(page.get_by_label("Description")).to_be_editable()

    # Start times as the browser recorded them (ms since the epoch), not when the test heard.
    posted = sent.value.timing["startTime"] / 1000
    times = [r.timing["startTime"] / 1000 - posted for r in asked]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    print(f"GETs of a stalled run in {stop_s + 2 * POLL_MAX_S:.0f} s: {len(times)} at", times)
    assert all(r.method == "GET" for r in asked)
    assert len(times) == pytest.approx(expected_polls(times[0], stop_s), abs=1), times
    assert gaps[0] >= OVERDUE_FIRST_S - 0.05, gaps  # not the server's 300 ms
    for earlier, later in zip(gaps[:-2], gaps[1:-1], strict=True):  # the last ends at the stop
        assert later >= min(earlier * OVERDUE_FACTOR, POLL_MAX_S) - SLACK_S, gaps
    assert max(gaps) == pytest.approx(POLL_MAX_S, abs=SLACK_S), gaps
    assert times[-1] == pytest.approx(stop_s, abs=1.0), times  # then nothing for 10 s


@pytest.fixture
def redis_down(settings):
    """The real 503: the broker (and the cache) unreachable, tasks not run in-process."""
    conf = celery_app.conf
    previous = conf.task_always_eager
    conf.task_always_eager = False
    outage = RedisOutage(settings)
    outage.start()
    yield
    outage.end()
    conf.task_always_eager = previous


@pytest.mark.parametrize("answer", ["quota", "burst", "queue-unreachable"])
def test_a_refusal_with_a_sentence_is_shown_to_the_seller_as_it_is(
    page, log_in, seller, photo, settings, fake_openai, answer, request
):
    if answer == "quota":
        settings.AI_PREFILL_DAILY_QUOTA = 0  # the real 429 of the daily quota
    elif answer == "burst":
        settings.AI_PREFILL_BURST_RATE = "1/min"  # the real 429 of the burst limit:
        start_run(seller)  # the seller's one pre-fill of this minute, a moment ago
    else:
        request.getfixturevalue("redis_down")  # the real 503 of an unreachable task queue
    calls_before = len(fake_openai.requests)
    open_sell(page, log_in, seller)

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/prefill/")
    ) as answered:
        page.get_by_label("Photo of the item").set_input_files(photo)
    response = answered.value
    assert response.status == (503 if answer == "queue-unreachable" else 429)
    detail = response.json()["detail"]
    expect(status(page)).to_have_class(re.compile(r"\bfailed\b"))
    expect(status(page).locator(".message")).to_have_text(detail)
    if answer == "quota":
        assert detail.startswith("You have used today's 0 AI suggestions.")
        assert not PrefillRun.objects.exists()
    elif answer == "burst":
        assert re.fullmatch(
            r"That was 1 AI suggestions in a short time\. Wait [0-9]+ seconds and try again, "
            r"or fill in the form yourself\.",
            detail,
        ), detail
        assert PrefillRun.objects.count() == 1
    else:
        assert detail == QUEUE_UNAVAILABLE_MESSAGE
        assert PrefillRun.objects.get().error_type == "queue_unavailable"
    assert len(fake_openai.requests) == calls_before, "a refused upload calls no model"
    page.get_by_label("Title").fill("Blue armchair")
    expect(page.get_by_label("Title")).to_have_value("Blue armchair")
