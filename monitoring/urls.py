"""Monitoring's addresses outside the admin (included at the site root by marketplace.urls)."""

urlpatterns = []
