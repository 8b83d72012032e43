"""Monitoring's addresses outside the admin (included at the site root by marketplace.urls)."""

from django.urls import path

from . import metrics_views

urlpatterns = [
    path("metrics", metrics_views.metrics_view, name="metrics"),
]
