from datetime import UTC, datetime

from django import forms
from django.core import signing
from django.utils import timezone

from ai_prefill.selectors import prefill_run_get_owned
from feedback.models import SellSession
from feedback.services import sell_session_get_owned
from marketplace.forms import PriceField
from marketplace.photos import ALLOWED_HUMAN, PhotoRejected, photo_process
from marketplace.taxonomy import Category, Condition

from .models import Listing
from .selectors import SORTS, ListingFilters
from .services import EDITABLE_FIELDS, ListingFields

OPENED_SALT = "listings.sell.opened"
RUN_NOT_YOURS = "That AI suggestion is not yours or no longer exists."
SESSION_NOT_YOURS = (
    "This Sell form was not opened on your account. Your details are kept below: check them and "
    "publish again."
)
SORT_CHOICES = [
    ("newest", "Newest"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
]
assert {value for value, _ in SORT_CHOICES} == set(SORTS)


NARROWING_FILTERS = ("category", "condition", "min_price", "max_price", "sort")


class ListingFilterForm(forms.Form):
    """The browse page's query-string filters; prices as people type them ("12,50")."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.ChoiceField(
        required=False, choices=[("", "All categories"), *Category.choices]
    )
    condition = forms.ChoiceField(
        required=False, choices=[("", "Any condition"), *Condition.choices]
    )
    min_price = PriceField(required=False, label="Min €")
    max_price = PriceField(required=False, label="Max €")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError("The minimum price is above the maximum.")
        return data

    def narrows(self) -> bool:
        """A filter besides the search words is given, or something is wrong with one: the browse
        page then shows the filters unfolded on phones too. The words are in the search box."""
        return bool(self.errors) or any(self.data.get(name) for name in NARROWING_FILTERS)

    def to_filters(self) -> ListingFilters:
        data = self.cleaned_data
        return ListingFilters(
            q=data.get("q") or "",
            category=data.get("category") or "",
            condition=data.get("condition") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            sort=data.get("sort") or "newest",
        )


class ListingApiFilterForm(ListingFilterForm):
    """GET /api/listings/'s filters: the same, with prices as JSON writes numbers ("12.5")."""

    min_price = forms.DecimalField(required=False, min_value=0, decimal_places=2)
    max_price = forms.DecimalField(required=False, min_value=0, decimal_places=2)


class PhotoField(forms.FileField):
    """A file run through the photo intake; its cleaned value is a ProcessedPhoto."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", f"{ALLOWED_HUMAN}, one clear photo of the item.")
        super().__init__(**kwargs)
        self.widget.attrs.setdefault(
            "accept", "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"
        )

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload or upload is initial:
            return None
        try:
            return photo_process(upload)
        except PhotoRejected as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class ListingForm(forms.ModelForm):
    """The Sell and Edit form. On Sell, the photo may come from the seller's AI pre-fill run."""

    photo = PhotoField(required=False)
    # Hidden: its errors are shown with the photo (sell.html), since the run stands for the photo.
    prefill_run = forms.UUIDField(
        required=False, widget=forms.HiddenInput, error_messages={"invalid": RUN_NOT_YOURS}
    )
    # When the Sell form was first shown (signed, so a client cannot fake its time to publish).
    opened = forms.CharField(required=False, widget=forms.HiddenInput)
    # The sell session the page opened (sell.html renders it): publishing ends it. Optional, so
    # a form opened before sessions existed still publishes (and measures nothing); one that is
    # not the seller's is refused, since publishing would end someone else's session.
    sell_session = forms.UUIDField(
        required=False, widget=forms.HiddenInput, error_messages={"invalid": SESSION_NOT_YOURS}
    )

    class Meta:
        model = Listing
        fields = EDITABLE_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 6})}
        field_classes = {"price_eur": PriceField}

    def __init__(self, *args, user=None, photo_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.photo_required = photo_required
        if photo_required and not self.data.get("prefill_run"):
            # Not `required`, since the pre-fill run's photo may stand in for it (clean()
            # checks), and a file input's role takes no aria-required: its description says it.
            self.fields["photo"].widget.attrs["aria-describedby"] = "photo-help"
        if not photo_required:
            del self.fields["prefill_run"]
            del self.fields["opened"]
            del self.fields["sell_session"]
        elif not self.is_bound:
            self.fields["opened"].initial = signing.dumps(
                timezone.now().timestamp(), salt=OPENED_SALT
            )

    def clean_prefill_run(self):
        run_id = self.cleaned_data.get("prefill_run")
        if run_id is None:
            return None
        run = prefill_run_get_owned(run_id=run_id, user=self.user)
        if run is None:
            raise forms.ValidationError(RUN_NOT_YOURS)
        return run

    def clean_sell_session(self) -> SellSession | None:
        session_id = self.cleaned_data.get("sell_session")
        if session_id is None:
            return None
        session = sell_session_get_owned(session_id=session_id, user=self.user)
        if session is None:
            raise forms.ValidationError(SESSION_NOT_YOURS)
        return session

    def clean_opened(self) -> datetime | None:
        """The moment the form was first shown, or None if missing, forged or a day old."""
        try:
            stamp = signing.loads(
                self.cleaned_data.get("opened") or "", salt=OPENED_SALT, max_age=86400
            )
        except signing.BadSignature:
            return None
        return datetime.fromtimestamp(float(stamp), tz=UTC)

    def clean(self):
        data = super().clean()
        has_photo = data.get("photo") or data.get("prefill_run")
        # A refused photo or run already says why; "add a photo" would hide the real reason.
        refused = {"photo", "prefill_run"} & self.errors.keys()
        if self.photo_required and not has_photo and not refused:
            self.add_error("photo", "Add a photo of the item.")
        return data

    def clean_description(self):
        # Browsers send textarea line breaks as CRLF; store plain newlines.
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def listing_fields(self) -> ListingFields:
        return ListingFields(**{name: self.cleaned_data[name] for name in EDITABLE_FIELDS})

    def changed_listing_fields(self) -> dict:
        return {
            name: self.cleaned_data[name] for name in EDITABLE_FIELDS if name in self.changed_data
        }


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message", max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
