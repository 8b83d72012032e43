import functools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from ai_prefill.prompt_registry import prompt_version_production
from experiments.assignment import arm_index
from experiments.models import Experiment
from experiments.services import ArmSpec, experiment_create, experiment_start
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


# --- experiments on the Sell page ----------------------------------------------------------------


def baseline_arm_payload() -> dict:
    """An AI arm: the production prompt on the offline baseline provider."""
    return {"prompt_version": prompt_version_production().content_hash[:10], "provider": "baseline"}


def experiment_running(*, variant: dict, key: str = "sell-test") -> Experiment:
    """A running Sell experiment, everyone enrolled, half in the control (production) and half
    in `variant` (an arm payload: baseline_arm_payload(), {"ai": "off"}, ...)."""
    experiment = experiment_create(
        key=key,
        hypothesis="Sellers publish faster with the variant.",
        arms=[
            ArmSpec(key="control", payload={}, is_control=True),
            ArmSpec(key="variant", payload=variant),
        ],
        enrollment_percent=100,
    )
    return experiment_start(experiment=experiment, actor=None)


def seller_in_arm(experiment: Experiment, arm_key: str, *, prefix: str = "seller"):
    """A new seller (password "pw-<username>", as the personas) whose hashed arm is `arm_key`:
    with two equal arms, each new seller lands there with probability 1/2."""
    arms = list(experiment.arms.order_by("position"))
    wanted = [arm.key for arm in arms].index(arm_key)
    weights = [arm.weight for arm in arms]
    user_model = get_user_model()
    for n in range(64):
        username = f"{prefix}{n}"
        user = user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password=f"pw-{username}"
        )
        if arm_index(experiment.salt, user.pk, weights) == wanted:
            return user
        user.delete()
    raise AssertionError(f"no seller landed in {arm_key} in 64 tries")
