"""The Celery app. Tasks live in each app's tasks.py and are discovered here.

A worker or beat that cannot work refuses to start (marketplace/startup.py): it prints one
sentence per problem and exits with status 1, before it takes any task.
"""

import gc
import os

from celery import Celery
from celery.signals import beat_init, worker_before_create_process, worker_init

from .startup import refuse_to_start_if_broken, settings_refusal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("trova")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _settings_or_one_sentence(**kwargs) -> None:
    # Sent just before Celery first reads Django's settings: in `celery worker` and `celery beat`
    # that is while parsing the command line, so settings.py's refusal (SECRET_KEY missing) would
    # come as a traceback through click. A SystemExit passes Celery's signal dispatch (it catches
    # Exception only) and exits 1 with the sentence. In a web process the settings are long read.
    refusal = settings_refusal()
    if refusal:
        raise SystemExit(refusal)


@worker_init.connect
def _refuse_to_start_a_broken_worker(sender=None, **kwargs) -> None:
    # Connected here, before any task module's receiver: the first thing a starting worker does.
    # No sender: not a worker starting but a test sending the signal by hand (Celery's Django
    # fixup ignores those too).
    if sender is not None:
        refuse_to_start_if_broken()


@beat_init.connect
def _refuse_to_start_a_broken_beat(**kwargs) -> None:
    refuse_to_start_if_broken()


@worker_before_create_process.connect
def _freeze_objects_before_fork(**kwargs) -> None:
    # A prefork child shares the parent's memory until it writes to a page. The garbage collector
    # writes into the header of every object it visits, so the first collection in a child
    # copied nearly all of the parent's objects (57 of ~65 MB per child). Frozen objects are
    # never visited, so they stay shared (https://docs.python.org/3/library/gc.html#gc.freeze).
    # Collecting first keeps garbage out of the frozen set; it costs ~45 ms before the first
    # child and next to nothing before the others (frozen objects are not visited again).
    gc.collect()
    gc.freeze()
