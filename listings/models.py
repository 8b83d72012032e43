import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from ai_prefill.models import PrefillRun
from marketplace.taxonomy import Category, Condition

MAX_PRICE_EUR = 1_000_000


def _photo_path(instance, filename: str) -> str:
    # Random names: a listing's photo URL must not reveal its seller, its id or the original name.
    return f"listings/{uuid.uuid4().hex}.jpg"


def _thumbnail_path(instance, filename: str) -> str:
    return f"listings/thumbs/{uuid.uuid4().hex}.jpg"


class Listing(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SOLD = "sold", "Sold"

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listings"
    )
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    category = models.CharField(max_length=32, choices=Category.choices)
    condition = models.CharField(max_length=16, choices=Condition.choices)
    brand = models.CharField(max_length=80, blank=True)
    color = models.CharField(max_length=40, blank=True)
    price_eur = models.DecimalField(
        "price (EUR)",
        max_digits=9,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_PRICE_EUR)],
    )
    photo = models.ImageField(
        upload_to=_photo_path, help_text="Upright RGB JPEG without metadata (marketplace.photos)."
    )
    thumbnail = models.ImageField(upload_to=_thumbnail_path, help_text="Small JPEG for lists.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    prefill_run = models.OneToOneField(
        PrefillRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="listing",
        help_text="The AI pre-fill run whose photo and suggestions this listing started from.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sold_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Browse: active listings, newest first, optionally one category; then by price.
            models.Index(fields=["status", "-created_at", "-id"], name="listing_status_new_idx"),
            models.Index(
                fields=["category", "status", "-created_at", "-id"], name="listing_cat_new_idx"
            ),
            models.Index(fields=["status", "price_eur"], name="listing_status_price_idx"),
            models.Index(fields=["seller", "-created_at"], name="listing_seller_idx"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("listings:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Conversation(models.Model):
    """One buyer talking to the seller about one listing."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="conversations")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations_as_buyer"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "buyer"], name="one_conversation_per_buyer")
        ]

    def __str__(self):
        return f"{self.buyer} about {self.listing}"

    def get_absolute_url(self):
        return reverse("listings:conversation", args=[self.pk])


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages_sent"
    )
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(
        null=True, blank=True, help_text="When the recipient first opened the conversation."
    )
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the recipient was emailed about it (once)."
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.sender}: {self.body[:40]}"
