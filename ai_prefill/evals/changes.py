"""What changed between two runs on the same item: one definition for every report.

A field *regressed* when it was correct in the earlier (baseline, "A") run and is wrong in the
later ("B") one, and was *fixed* the other way round. An item is a regression when any of its
fields regressed, even if it also fixed another (regressions are what a reviewer must not miss),
else a fix when any field was fixed, else unchanged. The admin's compare page, the run's JSON,
HTML, Markdown and table reports ("Newly failing" / "Newly fixed") all use these functions.
"""

from ..schema import DRAFT_FIELDS

REGRESSION, FIX, UNCHANGED = "regression", "fix", "unchanged"
GROUPS = (REGRESSION, FIX, UNCHANGED)


def field_change(*, before_correct: bool, after_correct: bool) -> str:
    if before_correct and not after_correct:
        return REGRESSION
    if after_correct and not before_correct:
        return FIX
    return UNCHANGED


def item_change(*, before: dict[str, bool], after: dict[str, bool]) -> str:
    """`before` / `after`: field name -> correct, for the same item in the two runs."""
    changes = {
        field_change(before_correct=before[name], after_correct=after[name]) for name in before
    }
    if REGRESSION in changes:
        return REGRESSION
    return FIX if FIX in changes else UNCHANGED


def correct_by_field(scores: dict) -> dict[str, bool]:
    """A stored result's `scores` JSON (a FieldScore per draft field, beside other figures)
    -> field name -> correct."""
    return {name: bool(scores[name]["correct"]) for name in DRAFT_FIELDS}
