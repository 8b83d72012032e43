"""Parallel first requests and parallel ramps, each on its own PostgreSQL connection.

SQLite serialises every write, so these only mean something on PostgreSQL (as `make test` and CI
run them); elsewhere they skip, saying so.
"""

from functools import partial

import pytest
from django.core.exceptions import ValidationError

from experiments.models import Assignment, Experiment, ExperimentEvent
from experiments.services import assignment_for, experiment_end, experiment_ramp
from tests.concurrency import in_parallel, needs_postgresql

from .factories import UserFactory, experiment_running

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def test_concurrent_first_requests_of_a_seller_assign_once(staff):
    needs_postgresql()
    experiment = experiment_running(actor=staff)
    sellers = UserFactory.create_batch(12)
    for seller in sellers:
        served = in_parallel([lambda s=seller: assignment_for(user=s)] * THREADS)
        assert None not in served
        assert len({(a.arm_id, a.arm_key) for a in served}) == 1, served
        stored = Assignment.objects.filter(experiment=experiment, user=seller)
        assert list(stored.values_list("arm_id", flat=True)) == [served[0].arm_id]
    assert Assignment.objects.filter(experiment=experiment).count() == len(sellers)


def test_two_staff_ramping_at_once_never_lower_it(staff_with):
    needs_postgresql()
    ann, ben = staff_with(username="ann"), staff_with(username="ben")
    for round_number in range(6):
        experiment = experiment_running(actor=ann, key=f"ramp-{round_number}", enrollment_percent=5)
        # Each staff member ramps from their own copy of the page, as two browsers would.
        outcomes = in_parallel(expected=(ValidationError,), functions=[
            partial(experiment_ramp, experiment=Experiment.objects.get(pk=experiment.pk),
                    percent=percent, actor=actor)
            for percent, actor in ((25, ann), (50, ben))
        ])  # fmt: skip
        experiment.refresh_from_db()
        assert experiment.enrollment_percent == 50  # the larger one, whatever the order
        refused = [o for o in outcomes if isinstance(o, ValidationError)]
        assert len(refused) <= 1 and all("can only go up" in str(r) for r in refused)
        ramps = list(
            experiment.events.filter(action=ExperimentEvent.Action.RAMPED).order_by("at", "id")
        )
        assert 1 <= len(ramps) == 2 - len(refused)
        # An unbroken chain: 5 -> 50, or 5 -> 25 -> 50; never down, never from a stale value.
        steps = [(e.detail["from"], e.detail["to"]) for e in ramps]
        assert steps in ([("5.00", "50.00")], [("5.00", "25.00"), ("25.00", "50.00")]), steps
        experiment_end(experiment=experiment, actor=ann)
