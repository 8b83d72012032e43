"""`make superuser` works without a terminal (a script, CI, `docker exec` without -t)."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args, db: Path, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(DATABASE_URL=f"sqlite:///{db}", REDIS_URL="", **env)
    return subprocess.run(  # noqa: S603 - our own Makefile and manage.py with fixed arguments
        args, cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def migrated_db(tmp_path) -> Path:
    db = tmp_path / "db.sqlite3"
    result = _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], db, DEBUG="true")
    assert result.returncode == 0, result.stderr
    return db


def _superusers(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT username, email, is_superuser, is_staff FROM marketplace_user"
        ).fetchall()


def test_make_superuser_takes_the_account_from_the_environment_without_a_terminal(migrated_db):
    result = _run(
        ["make", "--no-print-directory", "superuser"], migrated_db,
        DJANGO_SUPERUSER_USERNAME="root", DJANGO_SUPERUSER_EMAIL="root@trova.example",
        DJANGO_SUPERUSER_PASSWORD="a-long-admin-passphrase-2026",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert _superusers(migrated_db) == [("root", "root@trova.example", 1, 1)]


def test_make_superuser_without_a_terminal_or_the_environment_fails_and_says_why(migrated_db):
    result = _run(["make", "--no-print-directory", "superuser"], migrated_db)
    assert result.returncode != 0
    assert "DJANGO_SUPERUSER_PASSWORD" in result.stderr
    assert _superusers(migrated_db) == []
