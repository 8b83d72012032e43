"""Sign-up. Log in, log out and password reset are Django's own views (django.contrib.auth.urls)."""

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods


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


def _next_url_on_this_site(request) -> str | None:
    """`?next=` only if it stays on this site (and on HTTPS when the request came over HTTPS),
    as Django's LoginView checks it: anything else would make sign-up an open redirect."""
    url = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else None
