"""The staff feedback report: figures on a hand-built dataset, the API, the CSV and the admin page.

The dataset (runs created on 2025-03-10 and 2025-03-11, Europe/Berlin):

  variant A (prompt A, openai/gpt-a)
    A1 succeeded, published in 20 s, price 100 -> 90 (1 field changed), thumbs up
    A2 succeeded, published in 100 s, title and category changed, thumbs down "wrong category"
    A3 failed (no draft), published in 400 s: filled by hand, so no corrections
    A4 succeeded, abandoned
    A5 succeeded, still open (neither published nor abandoned)
  variant B (prompt B, openai/gpt-a), on the 11th
    B1 succeeded, published in 45 s, nothing changed, thumbs up
    B2 failed, abandoned, thumbs down without comment (created 23:30 local: still the 11th)
  variant C (prompt A, baseline/baseline-v1)
    C1 succeeded, published in 1000 s, colour changed; a late edit of the title
  outside the range: X1 on 2025-03-09 23:30 local (22:30 UTC): published, corrected, thumbs down
"""

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from ai_prefill.models import PrefillRun, PromptVersion
from feedback.models import PrefillOutcome
from feedback.selectors import feedback_report
from feedback.services import outcome_record_late_edit, outcome_record_publish, rating_set

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START, END = date(2025, 3, 10), date(2025, 3, 11)
DRAFT = {
    "title": "Red city bike",
    "description": "A red city bike with a basket.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "red",
    "price_eur": 100.0,
}
URL = "/api/reports/feedback/"


def _version(name: str) -> PromptVersion:
    return PromptVersion.objects.create(
        name=name, content_hash=(name * 64)[:64], instructions="i", user_text="u", schema_hash="s"
    )


def _run(user, version, *, model="gpt-a", provider="openai", failed=False, at=None):
    run = PrefillRun.objects.create(
        user=user,
        photo="prefill/x.jpg",
        thumbnail="prefill/x-thumb.jpg",
        image_sha256="0" * 64,
        prompt_version=version,
        provider=provider,
        model=model,
        status=PrefillRun.Status.FAILED if failed else PrefillRun.Status.SUCCEEDED,
        draft=None if failed else dict(DRAFT),
        error_type="timeout" if failed else "",
    )
    at = at or datetime(2025, 3, 10, 12, 0, tzinfo=BERLIN)
    PrefillRun.objects.filter(pk=run.pk).update(created_at=at)
    run.refresh_from_db()
    return run


def _publish(run, seconds: int, **changes):
    opened = run.created_at + timedelta(seconds=5)
    return outcome_record_publish(
        run=run,
        final_values={**DRAFT, **changes},
        listing_id=1,
        form_opened_at=opened,
        published_at=opened + timedelta(seconds=seconds),
    )


def _abandon(run):
    return PrefillOutcome.objects.create(run=run, status=PrefillOutcome.Status.ABANDONED)


@pytest.fixture
def dataset(seller):
    pv_a, pv_b = _version("a"), _version("b")
    day2 = datetime(2025, 3, 11, 12, 0, tzinfo=BERLIN)
    runs = {
        "A1": _run(seller, pv_a),
        "A2": _run(seller, pv_a),
        "A3": _run(seller, pv_a, failed=True),
        "A4": _run(seller, pv_a),
        "A5": _run(seller, pv_a),
        "B1": _run(seller, pv_b, at=day2),
        "B2": _run(seller, pv_b, failed=True, at=datetime(2025, 3, 11, 23, 30, tzinfo=BERLIN)),
        "C1": _run(seller, pv_a, model="baseline-v1", provider="baseline"),
        "X1": _run(seller, pv_a, at=datetime(2025, 3, 9, 23, 30, tzinfo=BERLIN)),
    }
    _publish(runs["A1"], 20, price_eur=90)
    rating_set(run=runs["A1"], user=seller, rating="up")
    _publish(runs["A2"], 100, title="Blue racing bike", category="sports-outdoors")
    rating_set(run=runs["A2"], user=seller, rating="down", comment="wrong category")
    _publish(runs["A3"], 400, title="Hand-written")
    _abandon(runs["A4"])
    _publish(runs["B1"], 45)
    rating_set(run=runs["B1"], user=seller, rating="up")
    _abandon(runs["B2"])
    rating_set(run=runs["B2"], user=seller, rating="down")
    outcome = _publish(runs["C1"], 1000, color="dark red")
    outcome_record_late_edit(
        run=runs["C1"],
        before={"title": DRAFT["title"]},
        after={"title": "Red Gazelle city bike"},
        at=outcome.published_at + timedelta(hours=1),
    )
    _publish(runs["X1"], 10, title="Out of range", brand="Other")
    rating_set(run=runs["X1"], user=seller, rating="down", comment="outside the range")
    return runs


def _report(group_by="variant"):
    return feedback_report(start=START, end=END, group_by=group_by)


def _by_label(report) -> dict:
    return {group["label"]: group for group in report["groups"]}


VARIANT_A = "a@aaaaaaaaaa · openai/gpt-a"
VARIANT_B = "b@bbbbbbbbbb · openai/gpt-a"
VARIANT_C = "a@aaaaaaaaaa · baseline/baseline-v1"


def test_headline_figures_per_variant(dataset):
    groups = _by_label(_report())
    assert list(groups) == [VARIANT_A, VARIANT_B, VARIANT_C]  # most runs first
    a = groups[VARIANT_A]
    assert (a["runs"], a["succeeded"], a["failed"]) == (5, 4, 1)
    assert a["failure_rate"] == {"value": 0.2, "count": 1, "n": 5}
    assert (a["published"], a["abandoned"]) == (3, 1)
    # A5 is still open: it is neither published nor abandoned, so not in the denominator.
    assert a["abandonment_rate"] == {"value": 0.25, "count": 1, "n": 4}
    assert (a["thumbs_up"], a["thumbs_down"]) == (1, 1)
    assert a["thumbs_up_rate"] == {"value": 0.5, "count": 1, "n": 2}
    assert a["fields_changed"] == 3
    b = groups[VARIANT_B]
    assert (b["runs"], b["failed"], b["published"], b["abandoned"]) == (2, 1, 1, 1)
    assert b["abandonment_rate"]["value"] == 0.5
    assert b["thumbs_up_rate"] == {"value": 0.5, "count": 1, "n": 2}


def test_per_field_acceptance_counts_only_runs_that_had_a_draft(dataset):
    a = _by_label(_report())[VARIANT_A]
    # A1 and A2 had a draft; A3 failed, its hand-filled fields are not "corrections".
    assert {name: f["n"] for name, f in a["fields"].items()} == dict.fromkeys(DRAFT, 2)
    assert a["fields"]["price_eur"]["acceptance_rate"] == 0.5
    assert a["fields"]["price_eur"]["correction_rate"] == 0.5
    assert a["fields"]["title"]["acceptance_rate"] == 0.5
    assert a["fields"]["category"]["acceptance_rate"] == 0.5
    assert a["fields"]["brand"]["acceptance_rate"] == 1.0
    assert a["fields"]["category"]["mean_similarity"] == 0.5  # (1 + 0) / 2
    assert a["fields"]["price_eur"]["mean_similarity"] == 0.95  # (0.9 + 1) / 2
    assert a["acceptance_rate"] == {"value": round(11 / 14, 4), "count": 11, "n": 14}
    assert a["late_corrections"] == 0


def test_late_corrections_per_field(dataset):
    c = _by_label(_report())[VARIANT_C]
    assert c["fields"]["title"]["late_corrections"] == 1
    assert c["fields"]["title"]["acceptance_rate"] == 1.0  # at publish it was kept
    assert c["fields"]["color"]["acceptance_rate"] == 0.0
    assert c["late_corrections"] == 1


def test_time_to_publish_median_and_distribution(dataset):
    report = _report()
    a = _by_label(report)[VARIANT_A]["time_to_publish"]
    assert a["n"] == 3
    assert a["median_seconds"] == 100  # of 20, 100, 400
    assert a["distribution"] == {
        "lt_30s": 1, "30_60s": 0, "1_2min": 1, "2_5min": 0, "5_15min": 1, "gt_15min": 0,
    }  # fmt: skip
    totals = report["totals"]["time_to_publish"]
    assert totals["n"] == 5
    assert totals["median_seconds"] == 100  # of 20, 45, 100, 400, 1000
    assert totals["distribution"]["30_60s"] == 1 and totals["distribution"]["gt_15min"] == 1


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(dataset):
    b1_like = _run(dataset["B1"].user, dataset["B1"].prompt_version, at=dataset["B1"].created_at)
    _publish(b1_like, 55)
    b = _by_label(_report())[VARIANT_B]["time_to_publish"]
    assert (b["n"], b["median_seconds"]) == (2, 50)  # of 45 and 55


def test_totals_add_up_and_rates_are_recomputed(dataset):
    totals = _report()["totals"]
    assert (totals["runs"], totals["published"], totals["abandoned"]) == (8, 5, 2)
    assert totals["abandonment_rate"] == {"value": round(2 / 7, 4), "count": 2, "n": 7}
    assert totals["thumbs_up_rate"] == {"value": 0.5, "count": 2, "n": 4}
    assert totals["fields"]["title"]["n"] == 4  # A1, A2, B1, C1


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("prompt_version", {"a@aaaaaaaaaa": 6, "b@bbbbbbbbbb": 2}),
        ("model", {"gpt-a": 7, "baseline-v1": 1}),
        ("day", {"2025-03-10": 6, "2025-03-11": 2}),
    ],
)
def test_grouping(dataset, group_by, expected):
    report = _report(group_by)
    assert {label: g["runs"] for label, g in _by_label(report).items()} == expected
    assert sum(g["thumbs_down"] for g in report["groups"]) == 2


def test_grouping_by_prompt_version_merges_models(dataset):
    a = _by_label(_report("prompt_version"))["a@aaaaaaaaaa"]
    assert a["key"] == {"prompt_version": "a@aaaaaaaaaa"}
    assert a["fields"]["color"]["n"] == 3 and a["fields"]["color"]["kept"] == 2


def test_date_range_uses_local_days(dataset):
    only_day_one = feedback_report(start=START, end=START, group_by="variant")
    assert only_day_one["totals"]["runs"] == 6
    # X1 was created 2025-03-09 23:30 in Berlin (22:30 UTC): it belongs to the 9th only.
    the_ninth = feedback_report(start=date(2025, 3, 9), end=date(2025, 3, 9), group_by="model")
    assert the_ninth["totals"]["runs"] == 1
    assert the_ninth["worst"]["thumbs_down"][0]["comment"] == "outside the range"
    assert [d["day"] for d in only_day_one["daily"]] == ["2025-03-10"]


def test_daily_series_has_every_day_of_the_range(dataset):
    report = feedback_report(start=START, end=date(2025, 3, 13), group_by="variant")
    assert [(d["day"], d["runs"]) for d in report["daily"]] == [
        ("2025-03-10", 6), ("2025-03-11", 2), ("2025-03-12", 0), ("2025-03-13", 0),
    ]  # fmt: skip
    assert report["daily"][0]["published"] == 4 and report["daily"][1]["abandoned"] == 1


def test_worst_cases_link_to_the_run_admin_page(dataset):
    worst = _report()["worst"]
    assert [case["comment"] for case in worst["thumbs_down"]] == ["wrong category"]
    a2 = dataset["A2"]
    assert worst["thumbs_down"][0]["admin_url"] == reverse(
        "admin:ai_prefill_prefillrun_change", args=[a2.pk]
    )
    most = worst["most_corrected"]
    assert most[0]["run_id"] == str(a2.pk) and most[0]["fields_changed"] == 2
    assert {case["run_id"] for case in most} == {str(dataset[k].pk) for k in ("A1", "A2", "C1")}


def test_empty_range_has_no_groups_and_no_rates():
    report = _report()
    assert report["groups"] == []
    assert report["totals"]["abandonment_rate"] == {"value": None, "count": 0, "n": 0}
    assert report["totals"]["time_to_publish"]["median_seconds"] is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="group_by"):
        feedback_report(start=START, end=END, group_by="colour")
    with pytest.raises(ValueError, match="before"):
        feedback_report(start=END, end=START, group_by="day")


@pytest.mark.parametrize("group_by", ["variant", "prompt_version", "model", "day"])
def test_query_count_does_not_grow_with_the_data(
    dataset, seller, group_by, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        _report(group_by)
    pv_c = _version("c")
    for i in range(15):
        run = _run(seller, pv_c, model=f"m{i % 4}", at=datetime(2025, 3, 11, 9, i, tzinfo=BERLIN))
        _publish(run, 30 + i * 20, title=f"Title {i}")
        rating_set(run=run, user=seller, rating="down", comment=f"bad {i}")
    with django_assert_max_num_queries(8):
        report = _report(group_by)
    assert report["totals"]["runs"] == 23


# --- the API ---------------------------------------------------------------------------------


def test_api_is_for_staff_who_may_view_outcomes(
    anon_client, client_for, seller, staff, run_viewer, report_viewer
):
    assert anon_client.get(URL).status_code == 401
    for refused in (seller, staff, run_viewer):  # staff without `feedback.view_prefilloutcome`
        response = client_for(refused).get(URL)
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "Feedback reports are for staff who may view seller outcomes."
        )
    assert client_for(report_viewer).get(URL).status_code == 200


def test_api_report(dataset, client_for, report_viewer):
    response = client_for(report_viewer).get(URL, {"start": "2025-03-10", "end": "2025-03-11"})
    assert response.status_code == 200
    body = response.json()
    assert body["group_by"] == "variant"
    assert _by_label(body)[VARIANT_A]["abandonment_rate"]["n"] == 4


def test_api_defaults_to_the_last_30_days_by_variant(client_for, report_viewer):
    body = client_for(report_viewer).get(URL).json()
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    assert (end - start).days == 29
    assert body["group_by"] == "variant"
    assert len(body["daily"]) == 30


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "10/03/2025"}, "start: use a date as YYYY-MM-DD."),
        ({"end": "2025-02-30"}, "end: use a date as YYYY-MM-DD."),
        ({"start": "2025-03-11", "end": "2025-03-10"}, "end must be on or after start."),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "The range may span at most 366 days."),
    ],
)
def test_api_bad_dates(client_for, report_viewer, params, message):
    response = client_for(report_viewer).get(URL, params)
    assert response.status_code == 400
    assert message in str(response.json())


def test_api_bad_group_by(client_for, report_viewer):
    response = client_for(report_viewer).get(URL, {"group_by": "colour"})
    assert response.status_code == 400
    assert "group_by" in response.json()
    assert "colour is not one of the available choices" in str(response.json())


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("url", [URL + "?format=csv&", "/api/reports/feedback.csv?"])
def test_csv_export(dataset, client_for, report_viewer, url):
    response = client_for(report_viewer).get(
        url + "start=2025-03-10&end=2025-03-11&group_by=variant"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="feedback-variant-2025-03-10-2025-03-11.csv"'
    )
    rows = _csv_rows(response)
    assert [row["group"] for row in rows] == [VARIANT_A, VARIANT_B, VARIANT_C]
    a = rows[0]
    assert (a["runs"], a["published"], a["abandoned"], a["abandonment_rate"]) == (
        "5", "3", "1", "0.25",
    )  # fmt: skip
    assert (a["price_eur_acceptance"], a["price_eur_n"], a["brand_acceptance"]) == (
        "0.5", "2", "1.0",
    )  # fmt: skip
    assert a["median_seconds_to_publish"] == "100.0"
    assert rows[1]["thumbs_up_rate"] == "0.5"


def test_csv_of_an_empty_range_is_a_header(client_for, report_viewer):
    response = client_for(report_viewer).get("/api/reports/feedback.csv")
    lines = response.content.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("group,runs,succeeded")


def test_csv_error_is_readable(client_for, report_viewer):
    response = client_for(report_viewer).get("/api/reports/feedback.csv", {"group_by": "colour"})
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()


def test_csv_quotes_text_a_spreadsheet_would_run(client_for, report_viewer, seller):
    _run(seller, _version("=cmd"), at=datetime.now(BERLIN))
    rows = _csv_rows(client_for(report_viewer).get("/api/reports/feedback.csv"))
    assert rows[0]["group"].startswith("'=cmd")


def test_csv_is_for_staff_who_may_view_outcomes_only(client_for, seller, staff, report_viewer):
    for refused in (seller, staff):
        assert client_for(refused).get("/api/reports/feedback.csv").status_code == 403
    assert client_for(report_viewer).get("/api/reports/feedback.csv").status_code == 200


def test_openapi_schema_documents_the_report(client_for, report_viewer):
    schema = client_for(report_viewer).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/reports/feedback/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "group_by", "format"}
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "/api/reports/feedback.csv" not in schema["paths"]  # one operation, not two


# --- the admin page ----------------------------------------------------------------------------

REPORT_PAGE = "admin:feedback_feedbackreport_changelist"


def test_admin_report_page_for_staff_who_may_view_outcomes(dataset, client_for, report_viewer):
    response = client_for(report_viewer).get(
        reverse(REPORT_PAGE), {"start": "2025-03-10", "end": "2025-03-11", "group_by": "variant"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js"></script>' in html
    for canvas in ("chart-acceptance", "chart-rates", "chart-daily", "chart-time"):
        assert f'id="{canvas}"' in html
    assert reverse("admin:ai_prefill_prefillrun_change", args=[dataset["A2"].pk]) in html
    assert "wrong category" in html
    assert '25.0 %<br><span class="quiet">1 / 4</span>' in html  # A abandonment, its n
    # Per field, one column each (the figures stacked in the cell), so all seven fit the page.
    assert '<th class="num">color</th><th class="num">price_eur</th>' in html
    assert "/api/reports/feedback.csv?start=2025-03-10&amp;end=2025-03-11&amp;group_by=variant" in (
        html
    )


def test_admin_report_page_shows_form_errors(client_for, report_viewer):
    response = client_for(report_viewer).get(reverse(REPORT_PAGE), {"start": "nope"})
    assert response.status_code == 200
    assert "start: use a date as YYYY-MM-DD." in response.content.decode()


def test_admin_report_page_is_for_staff_who_may_view_outcomes_only(
    client_for, seller, staff, staff_with
):
    response = client_for(seller).get(reverse(REPORT_PAGE))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client_for(staff).get(reverse(REPORT_PAGE)).status_code == 403
    # The other feedback records' view permissions are not the report's.
    others = staff_with("feedback.view_suggestionrating", "feedback.view_fieldcorrection")
    assert client_for(others).get(reverse(REPORT_PAGE)).status_code == 403


def test_chartjs_is_served_from_npm_not_a_cdn():
    path = finders.find("vendor/chartjs/chart.umd.min.js")
    assert path, "run `npm ci`: Chart.js comes from node_modules via STATICFILES_DIRS"
    assert "node_modules" in path


@pytest.mark.parametrize("name", ["suggestionrating", "prefilloutcome", "fieldcorrection"], ids=str)
def test_admin_lists_are_read_only(dataset, client_for, staff_with, staff, name):
    # Even staff granted the model's add permission: nobody adds a seller's record by hand.
    client = client_for(staff_with(f"feedback.view_{name}", f"feedback.add_{name}"))
    assert client.get(reverse(f"admin:feedback_{name}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:feedback_{name}_add")).status_code == 403
    assert client_for(staff).get(reverse(f"admin:feedback_{name}_changelist")).status_code == 403


def test_outcome_page_shows_its_corrections_to_staff_who_may_view_outcomes(
    dataset, client_for, report_viewer, staff
):
    """Without `view_fieldcorrection`: the corrections are part of the outcome."""
    url = reverse("admin:feedback_prefilloutcome_change", args=[dataset["A1"].outcome.pk])
    html = client_for(report_viewer).get(url)
    assert html.status_code == 200
    assert "price_eur" in html.content.decode()
    assert client_for(staff).get(url).status_code == 403
    corrections = reverse("admin:feedback_fieldcorrection_changelist")
    assert client_for(report_viewer).get(corrections).status_code == 403  # their own list: no


def test_admin_report_form_shows_the_default_range(client_for, report_viewer):
    html = client_for(report_viewer).get(reverse(REPORT_PAGE)).content.decode()
    today = timezone.localdate()
    assert f'value="{today.isoformat()}"' in html
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in html


def test_the_report_has_its_own_entry_in_the_admin_index(client_for, staff_with):
    reader = staff_with("feedback.view_prefilloutcome")
    client = client_for(reader)
    url = reverse(REPORT_PAGE)
    assert url == "/admin/feedback/feedbackreport/"
    for index in ("/admin/", "/admin/feedback/"):
        html = client.get(index).content.decode()
        assert f'<a href="{url}">Feedback reports</a>' in html
    response = client.get(url)
    assert response.status_code == 200 and b"Headline figures" in response.content
    old = client.get("/admin/feedback/prefilloutcome/report/", {"group_by": "day"})
    assert old.status_code == 302 and old["Location"] == url + "?group_by=day"


def test_staff_without_the_outcomes_view_permission_get_no_report_entry(client_for, staff_with):
    client = client_for(staff_with("ai_prefill.view_prefillrun"))
    assert "Feedback report" not in client.get("/admin/").content.decode()
    assert client.get(reverse(REPORT_PAGE)).status_code == 403
    assert client.get("/admin/feedback/prefilloutcome/report/").status_code == 403
    assert client.get("/admin/feedback/feedbackreport/1/change/").status_code == 404
