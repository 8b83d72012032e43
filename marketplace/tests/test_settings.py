import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment.update(env)
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="trova.example",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_an_empty_provider_variable_counts_as_unset():
    # docker-compose passes every variable it knows, empty when the host's .env has none.
    printed = "from django.conf import settings; print(settings.AI_PROVIDER)"
    for key, expected in (("", "baseline"), ("sk-test", "openai")):
        result = _manage("shell", "-c", printed, AI_PROVIDER="", OPENAI_API_KEY=key)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == expected
