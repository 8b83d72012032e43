"""What a finished pre-fill run gave the seller: one definition for every report that counts it
(experiment results and guardrails, the monitoring dashboard, its alerts and its metrics).

- The outcome of a run is "draft" when it succeeded, otherwise its error type (refusal,
  timeout, rate_limited, ... see ai_prefill.errors.ErrorType).
- A field is empty when its value is blank by `ai_prefill.fields.is_blank` (None, missing, "",
  whitespace).
- A run has "no usable draft" when it failed, or it succeeded with every field of the draft
  empty: the seller got nothing to start from either way.
"""

from django.db.models import Q

from .errors import ErrorType
from .fields import is_blank
from .models import PrefillRun
from .schema import DRAFT_FIELDS

DRAFT_OUTCOME = "draft"
OUTCOMES = (DRAFT_OUTCOME, *ErrorType.values)


def run_outcome(*, status: str, error_type: str) -> str:
    """ "draft" for a succeeded run, the error type of a failed one ("internal" if it has none)."""
    if status == PrefillRun.Status.SUCCEEDED:
        return DRAFT_OUTCOME
    return error_type or ErrorType.INTERNAL


def empty_fields(draft: dict | None) -> list[str]:
    """The draft fields with no value, in schema order (all of them for no draft)."""
    draft = draft or {}
    return [name for name in DRAFT_FIELDS if is_blank(draft.get(name))]


def has_no_usable_draft(*, status: str, draft: dict | None) -> bool:
    """For a finished run: failed, or every field of its draft empty."""
    if status == PrefillRun.Status.FAILED:
        return True
    return len(empty_fields(draft)) == len(DRAFT_FIELDS)


def field_empty_q(name: str) -> Q:
    """The database form of "this draft field is empty": JSON null, a missing key or "". A
    JSON query cannot trim, so a value of only spaces, which `empty_fields` counts as empty,
    is not matched here."""
    return (
        Q(**{f"draft__{name}": None})
        | Q(**{f"draft__{name}__isnull": True})
        | Q(**{f"draft__{name}": ""})
    )


def no_usable_draft_q() -> Q:
    """The database form of `has_no_usable_draft`, for finished runs."""
    every_field_empty = Q()
    for name in DRAFT_FIELDS:
        every_field_empty &= field_empty_q(name)
    succeeded_empty = Q(status=PrefillRun.Status.SUCCEEDED) & (
        Q(draft__isnull=True) | every_field_empty
    )
    return Q(status=PrefillRun.Status.FAILED) | succeeded_empty
