"""Which cases an eval run uses, and the version (hash) of that selection."""

import hashlib

from ..models import EvalCase


def eval_cases_select(*, tags: list[str] | None = None, limit: int | None = None) -> list[EvalCase]:
    """Active cases, in a stable order; with tags, cases that carry every one of them.

    Tags are filtered in Python: the set is small (hundreds to a few thousand cases) and JSON
    containment lookups are not available on SQLite.
    """
    cases = list(EvalCase.objects.filter(is_active=True).order_by("key"))
    if tags:
        wanted = set(tags)
        cases = [case for case in cases if wanted <= set(case.tags)]
    return cases[:limit] if limit else cases


def dataset_version(cases: list[EvalCase]) -> str:
    """Hash of the cases and their expected values: equal versions mean the same questions."""
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.key):
        digest.update(f"{case.key}:{case.content_hash()};".encode())
    return digest.hexdigest()[:16]
