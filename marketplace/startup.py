"""A production process that cannot work refuses to start, saying why in one sentence per problem.

The web (gunicorn's master, deploy/gunicorn.conf.py), the Celery worker and beat
(marketplace/celery.py) ask before they take any work: better a deployment that stops at once with
"Refusing to start: ..." than one that answers every request or task with an error. Only with
DEBUG off: `make run` is never refused, and manage.py is not an entry point asked here (migrate
must run while migrations are unapplied).

Required: SECRET_KEY (settings.py refuses without it, in a sentence of its own), OPENAI_API_KEY
when the provider is openai, a database that answers, and every migration applied. Optional
secrets (METRICS_BEARER_TOKEN, ALERT_WEBHOOK_URL, ...) turn a feature off; they are not required.
"""

import os
import sys

import django
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from .migrations_state import unapplied_migrations

REFUSING = "Refusing to start: "
MIGRATIONS_NAMED = 5  # the rest as "...": the operator needs `migrate`, not the whole list


def start_refusals() -> list[str]:
    """One sentence per reason this production process cannot work; [] when it may start.

    Django must be set up. The database is asked once, without retries: a process that starts
    before its database is up is refused, and its supervisor (compose, systemd) starts it again.
    """
    if settings.DEBUG:
        return []
    refusals = _missing_secrets()
    unreachable = _database_unreachable()
    if unreachable:
        return [*refusals, unreachable]  # the migrations cannot be read either
    return [*refusals, *_unapplied_migrations()]


def settings_refusal() -> str | None:
    """The settings' own refusal (settings.py raises ImproperlyConfigured with a sentence, e.g.
    SECRET_KEY missing with DEBUG off) as one line, or None once the settings are loaded."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    try:
        settings.DEBUG  # noqa: B018 - reading one setting loads settings.py
    except ImproperlyConfigured as exc:
        return REFUSING + str(exc)
    return None


def refuse_to_start_if_broken() -> None:
    """For an entry point, before it takes work: every refusal on stderr, then exit status 1."""
    refusals = _refusals_at_start()
    if refusals:
        print("\n".join(refusals), file=sys.stderr, flush=True)
        raise SystemExit(1)


def _refusals_at_start() -> list[str]:
    refusal = settings_refusal()
    if refusal:
        return [refusal]
    if not apps.ready:  # gunicorn's master; a Celery worker has set Django up already
        django.setup()
    try:
        return start_refusals()
    finally:
        # Entry points fork their workers next: none may inherit this process's connection.
        connections.close_all()


def _missing_secrets() -> list[str]:
    missing = []
    if settings.AI_PROVIDER == "openai" and not settings.OPENAI_API_KEY:
        missing.append(
            REFUSING + "OPENAI_API_KEY is not set but AI_PROVIDER is openai (for a compatible "
            "server that needs no key, set any value)."
        )
    return missing


def _database_unreachable() -> str | None:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            REFUSING + f"the database {_database_named(connection.settings_dict)} cannot be "
            f"reached ({reason}); check DATABASE_URL and that the database is up."
        )
    return None


def _database_named(db: dict) -> str:
    """Where the database is, never its password."""
    if not db.get("HOST"):
        return repr(str(db["NAME"]))
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{db['NAME']!r} at {db['HOST']}{port}"


def _unapplied_migrations() -> list[str]:
    unapplied = unapplied_migrations()
    if not unapplied:
        return []
    count = len(unapplied)
    named = ", ".join(unapplied[:MIGRATIONS_NAMED]) + (", ..." if count > MIGRATIONS_NAMED else "")
    how_many = "1 migration is" if count == 1 else f"{count} migrations are"
    return [REFUSING + f"{how_many} not applied ({named}); run `manage.py migrate` first."]
