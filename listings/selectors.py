"""Reads of listings and conversations. Views and the API call these; nothing here writes."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import BooleanField, Count, Max, Q, QuerySet
from django.db.models.expressions import RawSQL

from .models import Conversation, Listing, Message

SEARCH_CONFIG = "english"
# On PostgreSQL, migration 0004 adds the stored, GIN-indexed column `search_vector`
# (to_tsvector of title and description); the model does not declare it, Django never writes it.
MATCHES_SEARCH = "search_vector @@ websearch_to_tsquery(%s::regconfig, %s)"

# Tried in order; group 1 is what word_stem cuts off.
_PLURAL_ENDINGS = (
    re.compile(r"(ies)$"),  # batteries -> batter (battery -> batter below)
    re.compile(r"(?:s|x|z|ch|sh)(es)$"),  # boxes -> box, watches -> watch, glasses -> glass
    re.compile(r"[^s](s)$"),  # chairs -> chair, cameras -> camera; not glass
    re.compile(r"[^aeiou](y)$"),  # battery -> batter, baby -> bab; not toy
)
_MIN_STEM = 3

SORTS = {
    "newest": ("-created_at", "-id"),
    "price_asc": ("price_eur", "id"),
    "price_desc": ("-price_eur", "-id"),
}


@dataclass(frozen=True)
class ListingFilters:
    q: str = ""
    category: str = ""
    condition: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    sort: str = "newest"


def listing_search(*, filters: ListingFilters) -> QuerySet[Listing]:
    """Active listings matching the filters, sorted, with the seller joined for display."""
    qs = Listing.objects.filter(status=Listing.Status.ACTIVE).select_related("seller")
    if filters.q.strip():
        qs = _full_text(qs, filters.q)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.condition:
        qs = qs.filter(condition=filters.condition)
    if filters.min_price is not None:
        qs = qs.filter(price_eur__gte=filters.min_price)
    if filters.max_price is not None:
        qs = qs.filter(price_eur__lte=filters.max_price)
    return qs.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def _full_text(qs: QuerySet[Listing], text: str) -> QuerySet[Listing]:
    if connection.vendor == "postgresql":
        # websearch syntax: plain words are ANDed, "quoted phrases", -excluded, or.
        # The user text is a query parameter, never spliced into the SQL.
        matches = RawSQL(MATCHES_SEARCH, (SEARCH_CONFIG, text), output_field=BooleanField())  # noqa: S611
        return qs.filter(matches)
    return _words_search(qs, text)


def _words_search(qs: QuerySet[Listing], text: str) -> QuerySet[Listing]:
    """SQLite (embedded default): every word, cut by `word_stem`, in the title or description."""
    for word in text.split():
        stem = word_stem(word)
        qs = qs.filter(Q(title__icontains=stem) | Q(description__icontains=stem))
    return qs


def word_stem(word: str) -> str:
    """The start an English noun's singular and plural share: chairs -> chair, boxes -> box,
    batteries and battery -> batter; the possessive 's goes too.

    Only for the substring (LIKE) search: the text needs no stemming, since a text holding the
    singular or the plural holds this start. It is always a start of the word itself, so a word
    never finds less than it did unstemmed; no cut leaves fewer than 3 letters. PostgreSQL stems
    with its 'english' configuration instead (Snowball), which also knows verb forms.
    """
    word = word.lower()
    for possessive in ("'s", "’s"):
        word = word.removesuffix(possessive)
    for pattern in _PLURAL_ENDINGS:
        match = pattern.search(word)
        if match and match.start(1) >= _MIN_STEM:
            return word[: match.start(1)]
    return word


def listing_get(*, pk: int) -> Listing | None:
    """A listing with its seller; sold ones too (their page says so)."""
    return Listing.objects.select_related("seller").filter(pk=pk).first()


def listing_list_for_seller(*, seller) -> QuerySet[Listing]:
    return Listing.objects.filter(seller=seller).annotate(
        conversation_count=Count("conversations", distinct=True)
    )


def conversation_list_for_user(*, user) -> QuerySet[Conversation]:
    """The inbox: conversations where the user is the buyer or the seller, latest first."""
    return (
        Conversation.objects.filter(Q(buyer=user) | Q(listing__seller=user))
        .select_related("listing", "listing__seller", "buyer")
        .annotate(
            unread_count=Count(
                "messages", filter=Q(messages__read_at__isnull=True) & ~Q(messages__sender=user)
            ),
            last_at=Max("messages__created_at"),
        )
        .order_by("-last_message_at")
    )


def conversation_get_for_participant(*, pk: int, user) -> Conversation | None:
    """A conversation only its buyer and the listing's seller may read (staff use the admin)."""
    return (
        Conversation.objects.select_related("listing", "listing__seller", "buyer")
        .filter(pk=pk)
        .filter(Q(buyer=user) | Q(listing__seller=user))
        .first()
    )


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("sender")


def conversation_find(*, listing: Listing, buyer) -> Conversation | None:
    return Conversation.objects.filter(listing=listing, buyer=buyer).first()


def listing_for_run(*, run_id) -> Listing | None:
    """The listing made from a pre-fill run, if any (sold and removed ones too)."""
    return Listing.objects.filter(prefill_run_id=run_id).first()
