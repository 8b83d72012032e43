"""Which migrations of this code are not applied to the database: one definition, read by the
readiness probe (monitoring/readiness.py) and by the start-up refusal (marketplace/startup.py)."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader


def unapplied_migrations(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Every unapplied migration as "app.name", sorted; [] when the schema is what the code expects.

    Every node of the graph minus the applied ones, not a plan to the leaves: a plan skips an
    unapplied migration whose descendants are recorded as applied (a merge migration's parents).
    Reading the migration files takes ~100 ms: callers that ask often keep the answer a while.
    """
    loader = MigrationLoader(connections[using])
    unapplied = set(loader.graph.nodes) - set(loader.applied_migrations)
    return [f"{app}.{name}" for app, name in sorted(unapplied)]
