"""Experiments as tests need them: rows by factory, or a running experiment through the services.

`experiment_running(...)` is the quick way to a live experiment: created and started by the real
services (so the audit log, the live memo and the constraints are what production sees).
"""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from experiments import services
from experiments.models import Arm, Assignment, Experiment, Surface
from experiments.services import ArmSpec

TEST_SALT = "trova-test-salt"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"seller{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class ExperimentFactory(factory.django.DjangoModelFactory):
    """A draft experiment row (no arms); start it with the services, not by setting status."""

    class Meta:
        model = Experiment

    key = factory.Sequence(lambda n: f"experiment-{n}")
    hypothesis = "A shorter prompt drafts faster, so sellers publish sooner."
    surface = Surface.SELL
    enrollment_percent = Decimal("100")
    salt = TEST_SALT


class ArmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Arm

    experiment = factory.SubFactory(ExperimentFactory)
    key = factory.Sequence(lambda n: f"arm-{n}")
    weight = 1
    position = factory.Sequence(int)
    payload = factory.LazyFunction(dict)


class AssignmentFactory(factory.django.DjangoModelFactory):
    """A stored assignment, bypassing the hash (to build a skewed split, say)."""

    class Meta:
        model = Assignment

    arm = factory.SubFactory(ArmFactory)
    experiment = factory.LazyAttribute(lambda a: a.arm.experiment)
    user = factory.SubFactory(UserFactory)


def experiment_running(
    *,
    actor=None,
    key: str = "prompt-v2-vs-v1",
    arms: list[ArmSpec] | None = None,
    enrollment_percent: Decimal | float = 100,
    payloads: dict[str, dict] | None = None,
    salt: str = TEST_SALT,
) -> Experiment:
    """Create and start an experiment on the Sell form through the services.

    Default arms: control (payload {}) and variant, weights 1:1, everyone enrolled. `payloads`
    replaces the default arms' payloads by key: {"variant": {"ai": "off"}}. The salt is fixed
    (not random as in production) so that who lands where is the same on every run.
    """
    if arms is None:
        payloads = payloads or {}
        arms = [
            ArmSpec(key="control", is_control=True, payload=payloads.get("control", {})),
            ArmSpec(key="variant", payload=payloads.get("variant", {})),
        ]
    experiment = services.experiment_create(
        key=key,
        hypothesis="The variant makes sellers publish faster.",
        arms=arms,
        actor=actor,
        enrollment_percent=enrollment_percent,
    )
    Experiment.objects.filter(pk=experiment.pk).update(salt=salt)
    experiment.salt = salt
    return services.experiment_start(experiment=experiment, actor=actor)


def arm(experiment: Experiment, key: str) -> Arm:
    return experiment.arms.get(key=key)
