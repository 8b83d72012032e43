"""A prefork worker's parent builds the provider, loading what each pool child would otherwise
load on its first task, and freezes its objects before each fork so the children share them.

Each check runs in a fresh interpreter: the test process has long imported all of it.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAZY_MODULES = ("openai.resources.responses", "PIL.JpegImagePlugin", "PIL.PngImagePlugin")


def _run_fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DATABASE_URL": "sqlite://:memory:",
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_init_builds_the_provider_and_loads_what_its_first_call_would():
    result = _run_fresh(
        f"""
        import sys
        from celery.signals import worker_init
        from marketplace.celery import app

        app.loader.import_default_modules()  # the worker imports the tasks before worker_init
        def loaded():
            return [m for m in {LAZY_MODULES!r} if m in sys.modules]

        assert loaded() == [], loaded()

        worker_init.send(sender=None)  # (Celery's Django fixup ignores a signal without worker)
        assert loaded() == list({LAZY_MODULES!r}), loaded()

        from ai_prefill.providers import _openai_provider
        assert _openai_provider.cache_info().currsize == 1  # the children inherit the client
        print("ok")
        """,
        AI_PROVIDER="openai",
        OPENAI_API_KEY="sk-test-not-used",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_objects_are_frozen_before_the_pool_forks_a_child():
    result = _run_fresh(
        """
        import gc
        from celery.signals import worker_before_create_process
        import marketplace.celery

        assert gc.get_freeze_count() == 0
        worker_before_create_process.send(sender=None)
        assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
