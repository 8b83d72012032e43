"""Queues by kind (marketplace/task_queues.py): every task of ours has a kind, and the router
sends each kind to its own queue, whoever publishes it (.delay, the outbox by name, beat)."""

import pytest
from django.apps import apps
from django.conf import settings as django_settings

from marketplace.celery import app as celery_app
from marketplace.task_queues import (
    QueueKind,
    QueueKindMissing,
    queue_declarations,
    queue_kind_of,
    queue_kinds_named,
    queues_for,
    task_route,
)

# Where each kind is defined, one task per kind as the issue names them.
ONE_OF_EACH_KIND = {
    "ai_prefill.tasks.prefill_run_process": QueueKind.PREFILL,
    "ai_prefill.tasks.eval_run_process": QueueKind.EVALS,
    "marketplace.tasks.outbox_relay_task": QueueKind.MAINTENANCE,
    "listings.tasks.message_notify": QueueKind.EMAIL,
}


@pytest.fixture
def registered_tasks():
    celery_app.loader.import_default_modules()  # every app's tasks.py, as a worker imports them
    return dict(celery_app.tasks)


def _our_app_labels() -> set[str]:
    root = django_settings.BASE_DIR
    return {
        config.name
        for config in apps.get_app_configs()
        if str(config.path).startswith(str(root)) and ".venv" not in str(config.path)
    }


def test_every_task_of_our_apps_declares_its_queue_kind(registered_tasks):
    ours = {
        name: task
        for name, task in registered_tasks.items()
        if name.split(".")[0] in _our_app_labels() and ".tests." not in name
    }
    # The walk found every app's tasks, not an empty registry.
    apps_with_tasks = {"ai_prefill", "annotation", "feedback", "listings", "marketplace"}
    assert {name.split(".")[0] for name in ours} >= apps_with_tasks | {"monitoring"}
    assert set(ONE_OF_EACH_KIND) <= set(ours)
    missing = sorted(name for name, task in ours.items() if queue_kind_of(task) is None)
    assert missing == [], "declare queue_kind=QueueKind.<...> on these tasks"


def test_each_kind_is_routed_to_its_own_queue(registered_tasks, settings):
    settings.CELERY_QUEUE_PREFIX = ""
    routes = {
        name: task_route(name, (), {}, {}, task=registered_tasks[name]) for name in ONE_OF_EACH_KIND
    }
    assert routes == {name: {"queue": str(kind)} for name, kind in ONE_OF_EACH_KIND.items()}


def test_the_prefix_is_read_when_a_task_is_routed(settings):
    settings.CELERY_QUEUE_PREFIX = "staging-"
    assert task_route("listings.tasks.message_notify", (), {}, {}) == {"queue": "staging-email"}
    assert queues_for([QueueKind.PREFILL, QueueKind.EVALS]) == ["staging-prefill", "staging-evals"]
    assert queue_kinds_named(["staging-evals", "evals", "celery"]) == [QueueKind.EVALS]


def test_a_task_sent_by_name_is_routed_by_its_kind(registered_tasks, settings):
    """The outbox and beat publish by name (no task object): the router looks the kind up."""
    settings.CELERY_QUEUE_PREFIX = "p-"
    route = celery_app.amqp.router.route({}, "ai_prefill.tasks.eval_run_process", (), {}, None)
    assert route["queue"].name == "p-evals"
    route = celery_app.amqp.router.route({}, "ai_prefill.tasks.prefill_run_process", (), {}, None)
    assert route["queue"].name == "p-prefill"


def test_a_task_without_a_kind_is_refused_rather_than_lost(settings):
    @celery_app.task(name="marketplace.tests.kindless")
    def kindless():
        pass

    with pytest.raises(QueueKindMissing, match="kindless"):
        task_route(kindless.name, (), {}, {}, task=kindless)
    # Celery's own housekeeping tasks go with beat's periodic work.
    assert task_route("celery.backend_cleanup", (), {}, {}) == {"queue": "maintenance"}


def test_every_beat_entry_goes_to_the_maintenance_queue(registered_tasks, settings):
    """Beat sends its entries by name (celery.beat.Scheduler.apply_async): the router decides."""
    settings.CELERY_QUEUE_PREFIX = ""
    assert settings.CELERY_BEAT_SCHEDULE
    queues = {
        entry["task"]: celery_app.amqp.router.route({}, entry["task"], (), {}, None)["queue"].name
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert set(queues.values()) == {"maintenance"}, queues


def test_a_worker_without_q_consumes_every_kind_on_a_binding_of_its_own():
    declared = queue_declarations(prefix="x-")
    assert [q.name for q in declared] == ["x-prefill", "x-evals", "x-maintenance", "x-email"]
    assert len({(q.exchange.name, q.routing_key) for q in declared}) == 4
    assert [q.name for q in django_settings.CELERY_TASK_QUEUES] == queues_for(QueueKind)
