"""Monitoring's addresses outside the admin (included at the site root by marketplace.urls)."""

from django.urls import path

from . import health_views, metrics_views

urlpatterns = [
    path("metrics", metrics_views.metrics_view, name="metrics"),
    # Also answered by health_views.HealthProbeMiddleware before host checks; named here so that
    # reverse("healthz") and reverse("readyz") work, and a setup without the middleware still
    # serves them.
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
]
