from django.urls import path

from .api import FeedbackReportCSVView, FeedbackReportView
from .api_experiments import ExperimentListView, ExperimentResultsView
from .api_ratings import RatingView
from .api_sessions import SellSessionEventView

urlpatterns = [
    path("prefill/<uuid:run_id>/feedback/", RatingView.as_view(), name="prefill-feedback"),
    path(
        "sell-sessions/<uuid:session_id>/events/",
        SellSessionEventView.as_view(),
        name="sell-session-events",
    ),
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
