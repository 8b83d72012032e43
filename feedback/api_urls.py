from django.urls import path

from .api import FeedbackReportCSVView, FeedbackReportView
from .api_ratings import RatingView

urlpatterns = [
    path("prefill/<uuid:run_id>/feedback/", RatingView.as_view(), name="prefill-feedback"),
    path("reports/feedback/", FeedbackReportView.as_view(), name="feedback-report"),
    path(
        "reports/feedback.csv",
        FeedbackReportCSVView.as_view(),
        {"format": "csv"},
        name="feedback-report-csv",
    ),
]
