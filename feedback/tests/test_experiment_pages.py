"""The results page's chart data (feedback/experiment_pages.py)."""

from feedback.experiment_pages import results_charts


def _arm(key, curve):
    return {"key": key, "time_to_publish": {"curve": curve}}


def test_the_survival_chart_ends_a_little_after_the_last_publish_of_any_arm():
    # Abandoned sessions are censored at the one-day window: the curves run flat to 1440 min.
    results = {
        "arms": [
            _arm("control", [[0, 0], [120, 0.4], [600, 0.8], [86400, 0.8]]),
            _arm("no-ai", [[0, 0], [300, 0.5], [900, 0.7], [86400, 0.7]]),
        ],
        "daily": [],
    }
    charts = results_charts(results)
    assert charts["km"]["x_max"] == round(15 * 1.15, 1)  # no-ai's last rise, at 900 s
    assert charts["km"]["datasets"][0]["data"][-1] == {"x": 1440.0, "y": 80.0}


def test_no_publish_leaves_the_axis_to_chart_js():
    results = {"arms": [_arm("control", [[0, 0], [86400, 0]])], "daily": []}
    assert results_charts(results)["km"]["x_max"] is None
