"""Sign-up, the API token and the answer to a locked-out login. Log in, log out and password
reset are Django's own views (django.contrib.auth.urls; the reset mail's names and link come from
PasswordResetView below); django-axes counts failed logins."""

import ipaddress
import math
from urllib.parse import urlsplit

from axes.helpers import get_cool_off
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .api_schema import api_error

SITE_NAME = "Trova"


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="Buyers' messages and password resets go here.")
    first_name = forms.CharField(max_length=150, required=False, label="Name shown to buyers")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "first_name", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("listings:browse")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        next_url = _next_url_on_this_site(request)
        return HttpResponseRedirect(next_url) if next_url else redirect("listings:browse")
    return render(request, "registration/signup.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with the mail signed by the site and its link on SITE_URL, as every other mail's
    (without the Sites framework Django would use the request's host for both)."""

    @property
    def extra_email_context(self) -> dict[str, str]:
        site_url = urlsplit(settings.SITE_URL)
        return {"site_name": SITE_NAME, "protocol": site_url.scheme, "domain": site_url.netloc}


def _next_url_on_this_site(request) -> str | None:
    """`?next=` only if it stays on this site (and on HTTPS when the request came over HTTPS),
    as Django's LoginView checks it: anything else would make sign-up an open redirect."""
    url = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else None


# --- Login lockout (django-axes, settings AXES_*) -------------------------------------------------


def client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the address a login attempt came from.

    Behind TRUSTED_PROXY_COUNT reverse proxies, each appending the address it was reached from
    to X-Forwarded-For, the client is the entry the outermost proxy wrote, that many from the
    right; entries further left are whatever the client sent. With no proxy (0) the header is
    ignored, so a client cannot pick its own address.
    """
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if count and len(forwarded) >= count:
        try:
            return str(ipaddress.ip_address(forwarded[-count]))
        except ValueError:
            pass  # not written by a proxy we trust: fall back to the connection's address
    return request.META.get("REMOTE_ADDR")


def login_lockout_message(request) -> tuple[str, int]:
    """The sentence for a refused login, and the seconds until the next try may succeed.

    Every try during the lockout counts as a failure and starts the cool-off again (axes'
    AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the full cool-off is what is left.
    """
    seconds = math.ceil(get_cool_off(request).total_seconds())
    minutes = math.ceil(seconds / 60)
    wait = f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    message = (
        "Too many failed log-ins for this account or from your network. "
        f"Logging in is paused for your security: try again in {wait}."
    )
    return message, seconds


def login_lockout_page(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page a locked-out login on the site or the admin gets."""
    message, seconds = login_lockout_message(request)
    response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class TokenObtainView(ObtainAuthToken):
    # POST /api/auth/token/: DRF's view, plus a 429 with a sentence for a locked-out login.
    # Axes flags the request it was given, here DRF's own Request, which its middleware never
    # sees; without this the answer would be the usual "Unable to log in" 400.

    @extend_schema(
        description="A token for `Authorization: Token <key>`. Too many failed log-ins for a "
        "username or from an address pause logging in (429 with a sentence in `detail`).",
        responses={
            200: AuthTokenSerializer,
            429: api_error("Too many failed log-ins; `detail` says when to try again."),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if not getattr(request, "axes_locked_out", False):
                raise
        message, seconds = login_lockout_message(request)
        return Response({"detail": message}, status=429, headers={"Retry-After": str(seconds)})
