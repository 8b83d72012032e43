from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace import accounts
from marketplace.api import api_not_found


def favicon(request):
    """Browsers ask for /favicon.ico on pages with no icon link (the admin)."""
    return redirect(static("marketplace/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("listings.api_urls")),
    path("api/", include("ai_prefill.api_urls")),
    path("api/", include("feedback.api_urls")),
    path("api/auth/token/", accounts.TokenObtainView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline: CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # After every API route: a JSON 404. Only for addresses ending in "/", so that APPEND_SLASH
    # still redirects /api/listings to /api/listings/.
    re_path(r"^api/[\s\S]*/$", api_not_found),
    path("", include("monitoring.urls")),
    path("", include("listings.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
