from django.urls import path

from .api import FeedbackReportCSVView, FeedbackReportView
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
    path(
        "reports/feedback.csv",
        FeedbackReportCSVView.as_view(),
        {"format": "csv"},
        name="feedback-report-csv",
    ),
]
