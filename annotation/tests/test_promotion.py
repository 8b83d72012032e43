"""Promotion to the eval set goes through ai_prefill's eval-case service."""

import hashlib
from decimal import Decimal

import pytest

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from annotation import services
from annotation.models import SamplingPolicy
from annotation.sampling import runs_sample_for_annotation

pytestmark = pytest.mark.django_db

GIVE_AWAY = {
    "title": "Old chair", "description": "Free to collect.", "category": "furniture",
    "condition": "fair", "brand": None, "color": "brown", "price_eur": 0.0,
}  # fmt: skip


@pytest.fixture
def claimed(seller, django_user_model):
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, 0.0
    policy.save()
    run = start_run(seller, shape="chair", color="brown")
    prefill_run_execute(run_id=run.pk)
    assert PrefillRun.objects.get(pk=run.pk).status == PrefillRun.Status.SUCCEEDED
    runs_sample_for_annotation()
    annotator = django_user_model.objects.create_user("ann", is_staff=True)
    return services.task_claim_next(annotator=annotator), annotator


def test_a_give_away_keeps_its_price_of_zero_in_the_eval_set(claimed):
    task, annotator = claimed
    services.annotation_submit(task=task, annotator=annotator, values=GIVE_AWAY, promote=True)
    task.refresh_from_db()
    case = task.promoted_case
    assert case.expected_price_eur == Decimal("0.00"), "0 is a price, not 'no price'"
    assert case.expected()["price_eur"] == 0.0
    with case.image.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == case.image_sha256
    assert case.image_sha256 == task.run.image_sha256
    assert case.history.get().history_user == annotator
