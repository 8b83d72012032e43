"""The website: browse, detail, contact, inbox, sell and "my listings". Thin: forms parse,
selectors read, services write."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feedback.selectors import rating_get
from marketplace.pagination import CappedCountPaginator

from . import selectors, services
from .forms import ListingFilterForm, ListingForm, MessageForm
from .models import Listing

PAGE_SIZE = 24
# The Sell page keeps asking about a late draft this long past AI_PREFILL_BUDGET_SECONDS, then
# stops: a draft that never comes (a stalled run, no worker) costs a few requests, not hundreds.
PREFILL_POLL_MARGIN_SECONDS = 15


@require_GET
def browse(request):
    form = ListingFilterForm(request.GET)
    if not form.is_valid():
        # Listing everything under filters the buyer believes applied would mislead: no results,
        # the reasons, and the form as they typed it.
        context = {"form": form, "page": None, "filters_open": form.narrows()}  # shows the errors
        return render(request, "listings/browse.html", context, status=400)
    filters = form.to_filters()
    page = CappedCountPaginator(selectors.listing_search(filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "listings/browse.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filters": filters,
            "filters_open": form.narrows(),
        },
    )


@require_GET
def detail(request, pk: int):
    listing = _listing_or_404(pk)
    conversation = None
    if request.user.is_authenticated and request.user.pk != listing.seller_id:
        conversation = selectors.conversation_find(listing=listing, buyer=request.user)
    return render(
        request,
        "listings/detail.html",
        {"listing": listing, "form": MessageForm(), "conversation": conversation},
    )


@login_required
@require_POST
def contact(request, pk: int):
    listing = _listing_or_404(pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            message = services.conversation_start(
                listing=listing, buyer=request.user, body=form.cleaned_data["body"]
            )
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _first_message(exc))
            return redirect(listing)
        messages.success(request, "Message sent. The seller will get an email about it.")
        return redirect(message.conversation)
    return render(request, "listings/detail.html", {"listing": listing, "form": form}, status=400)


@login_required
@require_GET
def inbox(request):
    conversations = selectors.conversation_list_for_user(user=request.user)
    page = Paginator(conversations, 30).get_page(request.GET.get("page"))
    return render(request, "listings/inbox.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def conversation(request, pk: int):
    convo = selectors.conversation_get_for_participant(pk=pk, user=request.user)
    if convo is None:
        raise Http404("No such conversation.")
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.conversation_reply(
                conversation=convo, sender=request.user, body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            messages.error(request, _first_message(exc))
        return redirect(convo)
    services.conversation_mark_read(conversation=convo, reader=request.user)
    context = {
        "conversation": convo,
        "chat": selectors.conversation_messages(conversation=convo),
        "form": form,
    }
    return render(request, "listings/conversation.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sell(request):
    form = ListingForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.listing_create(
                seller=request.user,
                fields=form.listing_fields(),
                photo=form.cleaned_data["photo"],
                prefill_run=form.cleaned_data["prefill_run"],
                form_opened_at=form.cleaned_data["opened"],
                sell_session=form.cleaned_data["sell_session"],
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your listing is live.")
            return redirect(listing)
    # A form that came back with an error goes on with its own session (the seller's time to
    # publish runs from the first opening); a first visit opens or resumes one.
    kept_session = form.cleaned_data.get("sell_session") if form.is_bound else None
    context = {
        "form": form,
        "sell": services.sell_form_open(user=request.user, session=kept_session),
        "kept_run": form.cleaned_data.get("prefill_run") if form.is_bound else None,
        "prefill_budget_ms": int(settings.AI_PREFILL_BUDGET_SECONDS * 1000),
        "prefill_poll_stop_ms": int(
            (settings.AI_PREFILL_BUDGET_SECONDS + PREFILL_POLL_MARGIN_SECONDS) * 1000
        ),
        "photo_max_side": settings.PHOTO_DISPLAY_MAX_SIDE,
    }
    return render(request, "listings/sell.html", context)


@login_required
@require_GET
def my_listings(request):
    listings = selectors.listing_list_for_seller(seller=request.user)
    return render(request, "listings/my_listings.html", {"listings": listings})


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    listing = _owned_listing_or_404(request, pk)
    form = ListingForm(
        request.POST or None,
        request.FILES or None,
        instance=listing,
        user=request.user,
        photo_required=False,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.listing_update(
                listing=listing,
                actor=request.user,
                changes=form.changed_listing_fields(),
                photo=form.cleaned_data["photo"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Listing updated.")
            return redirect(listing)
    rating = rating_get(run_id=listing.prefill_run_id, user=request.user)
    return render(
        request, "listings/edit.html", {"form": form, "listing": listing, "rating": rating}
    )


@login_required
@require_POST
def mark_sold(request, pk: int):
    listing = _owned_listing_or_404(request, pk)
    services.listing_mark_sold(listing=listing, actor=request.user)
    messages.success(request, f"“{listing.title}” is marked as sold.")
    return redirect("listings:mine")


@login_required
@require_POST
def relist(request, pk: int):
    listing = _owned_listing_or_404(request, pk)
    services.listing_relist(listing=listing, actor=request.user)
    messages.success(request, f"“{listing.title}” is back on sale.")
    return redirect("listings:mine")


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, pk: int):
    listing = _owned_listing_or_404(request, pk)
    if request.method == "POST":
        services.listing_delete(listing=listing, actor=request.user)
        messages.success(request, f"“{listing.title}” was deleted.")
        return redirect("listings:mine")
    return render(request, "listings/delete.html", {"listing": listing})


def _listing_or_404(pk: int) -> Listing:
    listing = selectors.listing_get(pk=pk)
    if listing is None:
        raise Http404("No such listing.")
    return listing


def _owned_listing_or_404(request, pk: int) -> Listing:
    listing = _listing_or_404(pk)
    if listing.seller_id != request.user.pk:
        raise PermissionDenied("Only the seller can change this listing.")
    return listing


def _first_message(exc: Exception) -> str:
    return exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
