from django.urls import path

from .api import FeedbackReportCSVView, FeedbackReportView
from .api_experiments import ExperimentListView, ExperimentResultsView
from .api_ratings import RatingView

urlpatterns = [
    path("prefill/<uuid:run_id>/feedback/", RatingView.as_view(), name="prefill-feedback"),
    path("reports/feedback/", FeedbackReportView.as_view(), name="feedback-report"),
    path("experiments/", ExperimentListView.as_view(), name="experiment-list"),
    path(
        "experiments/<slug:key>/results/",
        ExperimentResultsView.as_view(),
        name="experiment-results",
    ),
    path(
        "reports/feedback.csv",
        FeedbackReportCSVView.as_view(),
        {"format": "csv"},
        name="feedback-report-csv",
    ),
]
