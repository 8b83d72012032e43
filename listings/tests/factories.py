import functools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from listings.models import Conversation, Listing, Message
from marketplace.photos import photo_process
from marketplace.sample_images import render_item
from marketplace.taxonomy import Category, Condition


@functools.cache
def _sample_photo():
    return photo_process(ContentFile(render_item(shape="box", color="blue", size=(160, 120))))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    seller = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Item number {n}")
    description = "A perfectly ordinary item."
    category = Category.OTHER
    condition = Condition.GOOD
    brand = ""
    color = "blue"
    price_eur = Decimal("10.00")
    photo = factory.LazyFunction(lambda: ContentFile(_sample_photo().display, name="p.jpg"))
    thumbnail = factory.LazyFunction(lambda: ContentFile(_sample_photo().thumbnail, name="t.jpg"))


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    listing = factory.SubFactory(ListingFactory)
    buyer = factory.SubFactory(UserFactory)
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = factory.LazyAttribute(lambda m: m.conversation.buyer)
    body = "Is it still available?"
