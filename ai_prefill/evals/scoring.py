"""Scoring one eval case: the model's draft against the expected listing, field by field.

Pure functions on plain dicts (no database), so `run_evals`, tests and notebooks score the same
way. Every field gets a `FieldScore`: `score` in 0..1 (partial credit, for averages and paired
comparisons of variants) and `correct` (a strict yes/no, for accuracy with a Wilson interval and
McNemar tests). The rules, and why (docs/evals.md says the same at more length):

- category: exact slug match. The taxonomy is a closed set of slugs and a listing lives in one
  category; a near miss still files the item where buyers will not look, so there is no partial
  credit.
- condition: `correct` is an exact match; `condition_within_one` is reported beside it. Score 1 for
  exact, 0.5 for one step off on the best-to-worst scale (new, like-new, good, fair, for-parts),
  0 otherwise. Judging wear from one photo is hard and neighbouring grades are a matter of
  opinion even between annotators, so one step earns half credit; two steps changes what a buyer
  expects and earns none.
- brand: null-aware. No brand expected and none given is correct (the schema asks for null when
  the brand is not visible). A brand given where none is expected is wrong and flagged
  `invented_brand`: a hallucination, which is worse than a miss and reported separately. Both
  present: compared after normalising (casefold, accents, punctuation, spaces, and the connectors
  "&", "+", "and" dropped, so "Black+Decker" == "black & decker" == "Black and Decker"); correct
  when rapidfuzz `ratio` >= 90 (an Indel ratio: a missing letter passes from six letters up,
  a substituted one only from ten, and "Sony" vs "Sonos" is 67, because a near miss on a short
  brand is usually another brand); score = that similarity. Brand expected,
  none given: wrong, score 0, but not an invention. A placeholder instead of null ("Unknown",
  "N/A") is wrong (the seller has to delete it) but not an invention either.
- color: both sides are mapped to the canonical names of `marketplace.colors.NAMED_COLORS` with
  the synonym vocabulary `COLOR_SYNONYMS` (gray -> grey, navy -> blue, ...); multi-word values
  ("dark blue", "blue and white") take the first recognised colour word or phrase. Correct when
  the canonical names agree (score 1/0). A value with no recognised colour is compared as
  normalised text. Colour is a filter facet with a small palette, so what matters is landing in
  the same bucket, not matching the word. Both empty is correct.
- title, description: 0.5 * similarity + 0.5 * key-attribute recall (similarity only when the case
  lists no key attributes); correct when the score >= `TEXT_CORRECT_THRESHOLD` (0.6). Similarity
  is rapidfuzz `token_set_ratio` / 100 on normalised text: a good title can order its words
  differently ("Oak dining chair" / "Dining chair, oak") and a good description can add true
  detail, which `ratio` punishes heavily; `partial_ratio` compares characters, not words, so it
  rewards any matching substring. `token_set_ratio` is lenient the other way (an output whose
  words are a subset of the expected text scores 1.0: "chair" vs "Oak dining chair"), which is why
  recall of the case's key attributes, found anywhere in title + description, carries half the
  weight. An attribute is found when some run of output words (as many as the attribute has, or
  one fewer or more) matches it with rapidfuzz `ratio` >= 85 on normalised text, and every number
  in the attribute appears as a number in the output. Whole-word runs rather than plain
  `partial_ratio`, because partial_ratio finds short attributes inside unrelated words ("red" in
  "covered", "blue" in "bluetooth"); the number rule because one digit is a small edit but a
  different model ("iphone 12" vs "iphone 13"). Both empty is correct.
- price_eur: relative error |out - exp| / exp; correct within +-`price_tolerance` (default 30%:
  second-hand prices are a range, and a seller can live with a suggestion that close); score =
  max(0, 1 - relative error). Both null is correct, one null is wrong (score 0). Expected 0 (a
  give-away): correct, score 1, iff 0 <= output <= 1, since relative error is undefined.

`output is None` means the provider or the schema validation failed: every field scores 0 and is
wrong and the case is `failed`. Failures stay in the denominator; dropping them would make a
flaky variant look better than a reliable one.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass

from rapidfuzz import fuzz

from marketplace.taxonomy import CONDITION_ORDER, condition_distance

from ..fields import is_blank, same_value, text_key
from ..schema import DRAFT_FIELDS

FIELDS = DRAFT_FIELDS

TEXT_CORRECT_THRESHOLD = 0.6
"""Title/description score (0.5 similarity + 0.5 key-attribute recall) needed to count correct."""

BRAND_MATCH_RATIO = 90
"""rapidfuzz ratio (0..100) of the normalised brands needed to count correct."""

ATTRIBUTE_MATCH_RATIO = 85
"""rapidfuzz ratio (0..100) of an attribute against a run of output words needed to find it."""

CONDITION_NEIGHBOUR_SCORE = 0.5
"""Score for a condition one step away on the best-to-worst scale."""

FAILED_CATEGORY = "(failed)"
"""Predicted-category label for cases whose output failed, in the confusion matrix."""

_PRICE_EPSILON = 1e-9  # 130 vs 100 is a relative error of 0.30000000000000004

# Colour words and phrases -> canonical name in marketplace.colors.NAMED_COLORS. Matching is on
# normalised text (casefold, accents and punctuation removed), so "Off-White" is "off white".
# Decisions on contested names are explained in docs/evals.md ("Colour vocabulary").
_COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black", "jet", "jet black", "ebony", "onyx", "matte black", "blackish"),
    "white": (
        "white",
        "cream",
        "creme",
        "ivory",
        "off white",
        "offwhite",
        "eggshell",
        "pearl",
        "snow",
        "alabaster",
        "whitish",
    ),
    "grey": (
        "grey",
        "gray",
        "greyish",
        "grayish",
        "charcoal",
        "anthracite",
        "graphite",
        "gunmetal",
        "slate",
        "stone grey",
        "stone gray",
        "pearl grey",
        "pearl gray",
        "steel grey",
        "steel gray",
        "space grey",
        "space gray",
    ),
    "silver": (
        "silver",
        "silvery",
        "chrome",
        "chromed",
        "stainless",
        "stainless steel",
        "steel",
        "aluminium",
        "aluminum",
        "platinum",
        "nickel",
    ),
    "red": (
        "red",
        "reddish",
        "burgundy",
        "maroon",
        "bordeaux",
        "wine",
        "wine red",
        "claret",
        "crimson",
        "scarlet",
        "cherry",
        "ruby",
        "oxblood",
        "brick",
    ),
    "blue": (
        "blue",
        "bluish",
        "navy",
        "cobalt",
        "azure",
        "sapphire",
        "cerulean",
        "denim",
        "indigo",
        "turquoise",
        "teal",
        "aqua",
        "cyan",
        "petrol",
        "steel blue",
    ),
    "green": (
        "green",
        "greenish",
        "olive",
        "khaki green",
        "lime",
        "mint",
        "sage",
        "emerald",
        "jade",
        "forest",
    ),
    "yellow": ("yellow", "yellowish", "gold", "golden", "mustard", "lemon", "amber", "canary"),
    "orange": (
        "orange",
        "orangey",
        "coral",
        "peach",
        "apricot",
        "tangerine",
        "copper",
        "rust",
        "terracotta",
    ),
    "pink": ("pink", "pinkish", "rose", "rose gold", "blush", "salmon", "fuchsia", "magenta"),
    "purple": (
        "purple",
        "purplish",
        "violet",
        "lilac",
        "lavender",
        "mauve",
        "plum",
        "aubergine",
        "eggplant",
    ),
    "brown": (
        "brown",
        "brownish",
        "chocolate",
        "coffee",
        "mocha",
        "espresso",
        "cognac",
        "caramel",
        "chestnut",
        "walnut",
        "mahogany",
        "hazel",
        "bronze",
    ),
    "beige": (
        "beige",
        "tan",
        "khaki",
        "sand",
        "sandy",
        "camel",
        "taupe",
        "nude",
        "stone",
        "oatmeal",
        "ecru",
        "fawn",
        "champagne",
    ),
}

COLOR_SYNONYMS: dict[str, str] = {
    word: canonical for canonical, words in _COLOR_WORDS.items() for word in words
}
"""Normalised colour word or phrase -> canonical colour name (a key of NAMED_COLORS)."""

_MAX_COLOR_PHRASE_WORDS = max(len(phrase.split()) for phrase in COLOR_SYNONYMS)


@dataclass(frozen=True)
class FieldScore:
    score: float  # 0..1
    correct: bool
    note: str = ""


@dataclass(frozen=True)
class CaseScore:
    fields: dict[str, FieldScore]
    all_correct: bool
    condition_within_one: bool
    invented_brand: bool
    failed: bool

    def to_dict(self) -> dict:
        """JSON-ready: plain dicts, floats, bools and strings."""
        return {
            "fields": {name: asdict(field) for name, field in self.fields.items()},
            "all_correct": self.all_correct,
            "condition_within_one": self.condition_within_one,
            "invented_brand": self.invented_brand,
            "failed": self.failed,
        }


# --- normalisation ---------------------------------------------------------------------------


def normalize_brand(value: object) -> str:
    """Brand key: normalised text without spaces or the connectors '&', '+' and 'and'."""
    return "".join(word for word in text_key(value).split() if word != "and")


BRAND_PLACEHOLDERS = frozenset(
    {"unknown", "none", "null", "na", "nobrand", "unbranded", "generic", "notvisible"}
)
"""Normalised brand values that say "no brand" in words instead of null."""


def canonical_color(value: object) -> str | None:
    """The canonical colour name for a free-text colour, or None if no colour word is recognised.

    Reads left to right and returns the first recognised word or phrase, preferring the longest
    phrase at each position ("rose gold" -> pink before "rose"; "dark blue" -> blue).
    """
    words = text_key(value).split()
    for start in range(len(words)):
        for length in range(min(_MAX_COLOR_PHRASE_WORDS, len(words) - start), 0, -1):
            canonical = COLOR_SYNONYMS.get(" ".join(words[start : start + length]))
            if canonical:
                return canonical
    return None


# --- per-field rules -------------------------------------------------------------------------


def score_category(expected: object, output: object) -> FieldScore:
    exp, out = text_key(expected), text_key(output)
    if exp == out:
        return FieldScore(1.0, True)
    return FieldScore(0.0, False, f"expected {expected!r}, got {output!r}")


def score_condition(expected: object, output: object) -> tuple[FieldScore, bool]:
    """(score, within one step). Unknown slugs score 0 and are not within one step."""
    if is_blank(expected) and is_blank(output):
        return FieldScore(1.0, True), True
    if expected == output:
        return FieldScore(1.0, True), True
    if expected not in CONDITION_ORDER or output not in CONDITION_ORDER:
        return FieldScore(0.0, False, f"expected {expected!r}, got {output!r} (unknown)"), False
    steps = condition_distance(expected, output)
    score = CONDITION_NEIGHBOUR_SCORE if steps == 1 else 0.0
    note = f"expected {expected!r}, got {output!r} ({steps} steps)"
    return FieldScore(score, False, note), steps <= 1


def score_brand(expected: object, output: object) -> tuple[FieldScore, bool]:
    """(score, invented): invented means a brand was given where none is expected.

    A placeholder ("Unknown", "N/A", "unbranded") in the output is wrong, since the seller has to
    delete it, but it is not an invented brand; in the expected value it means no brand.
    """
    exp, out = normalize_brand(expected), normalize_brand(output)
    if exp in BRAND_PLACEHOLDERS:
        exp = ""
    if not exp and not out:
        return FieldScore(1.0, True), False
    if out in BRAND_PLACEHOLDERS:
        return FieldScore(0.0, False, f"placeholder {output!r} instead of null"), False
    if not exp:
        return FieldScore(0.0, False, f"invented brand {output!r}"), True
    if not out:
        return FieldScore(0.0, False, f"missed brand {expected!r}"), False
    ratio = fuzz.ratio(exp, out)
    correct = ratio >= BRAND_MATCH_RATIO
    note = "" if exp == out else f"expected {expected!r}, got {output!r} (ratio {ratio:.0f})"
    return FieldScore(ratio / 100, correct, note), False


def score_color(expected: object, output: object) -> FieldScore:
    exp_blank, out_blank = is_blank(expected), is_blank(output)
    if exp_blank and out_blank:
        return FieldScore(1.0, True)
    if exp_blank or out_blank:
        return FieldScore(0.0, False, f"expected {expected!r}, got {output!r}")
    exp, out = canonical_color(expected), canonical_color(output)
    if exp is not None and out is not None:
        if exp == out:
            return FieldScore(1.0, True)
        return FieldScore(0.0, False, f"expected {exp!r}, got {out!r} (from {output!r})")
    # At least one side has no recognised colour word: only identical text counts.
    if text_key(expected) == text_key(output):
        return FieldScore(1.0, True, "compared as text (no recognised colour word)")
    unknown = output if out is None else expected
    return FieldScore(0.0, False, f"unrecognised colour {unknown!r}")


def text_similarity(expected: object, output: object) -> float:
    """rapidfuzz token_set_ratio / 100 on normalised text (1.0 when both are empty)."""
    exp, out = text_key(expected), text_key(output)
    if not exp and not out:
        return 1.0
    return fuzz.token_set_ratio(exp, out) / 100


def attribute_found(attribute: str, text: str) -> bool:
    """Is the key attribute mentioned in `text`? (See the module docstring for the rule.)"""
    attr = text_key(attribute)
    if not attr:
        return True
    words = text_key(text).split()
    if not words:
        return False
    numbers = set(re.findall(r"\d+", " ".join(words)))
    if any(number not in numbers for number in re.findall(r"\d+", attr)):
        return False
    size = len(attr.split())
    for length in range(max(1, size - 1), size + 2):
        for start in range(len(words) - length + 1):
            candidate = " ".join(words[start : start + length])
            if fuzz.ratio(attr, candidate, score_cutoff=ATTRIBUTE_MATCH_RATIO):
                return True
    return False


def key_attribute_recall(key_attributes: list[str], text: str) -> float | None:
    """Fraction of the key attributes found in `text`; None when there are none."""
    attributes = [a for a in key_attributes if text_key(a)]
    if not attributes:
        return None
    return sum(attribute_found(a, text) for a in attributes) / len(attributes)


def score_text(expected: object, output: object, recall: float | None) -> FieldScore:
    if is_blank(expected) and is_blank(output):
        return FieldScore(1.0, True)
    similarity = text_similarity(expected, output)
    if recall is None:
        score = similarity
        note = f"similarity {similarity:.2f}"
    else:
        score = 0.5 * similarity + 0.5 * recall
        note = f"similarity {similarity:.2f}, key-attribute recall {recall:.2f}"
    return FieldScore(score, score >= TEXT_CORRECT_THRESHOLD, note)


def _as_price(value: object) -> float | None:
    """A finite float (from int, float, Decimal or numeric text), or None for null/blank.

    Raises ValueError for anything else (bools, NaN, infinities, non-numeric text).
    """
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a price: {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"not a price: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"not a price: {value!r}")
    return number


def score_price(expected: object, output: object, tolerance: float = 0.30) -> FieldScore:
    exp = _as_price(expected)
    try:
        out = _as_price(output)
    except ValueError:
        return FieldScore(0.0, False, f"invalid price {output!r}")
    if exp is None and out is None:
        return FieldScore(1.0, True)
    if exp is None or out is None:
        return FieldScore(0.0, False, f"expected {exp!r}, got {out!r}")
    if exp == 0:
        correct = 0 <= out <= 1
        return FieldScore(float(correct), correct, "" if correct else f"expected free, got {out}")
    rel_err = abs(out - exp) / abs(exp)
    correct = rel_err <= tolerance + _PRICE_EPSILON
    return FieldScore(max(0.0, 1.0 - rel_err), correct, f"relative error {rel_err:.2f}")


# --- a whole case ----------------------------------------------------------------------------


def score_case(
    *,
    expected: dict,
    output: dict | None,
    key_attributes: list[str],
    price_tolerance: float = 0.30,
) -> CaseScore:
    """Score one case. `output is None` is a provider or schema failure: all fields 0 and wrong."""
    if output is None:
        failed = FieldScore(0.0, False, "no output (provider or schema failure)")
        return CaseScore(
            fields=dict.fromkeys(FIELDS, failed),
            all_correct=False,
            condition_within_one=False,
            invented_brand=False,
            failed=True,
        )

    exp, out = expected.get, output.get
    recall = key_attribute_recall(
        list(key_attributes or []),
        f"{out('title') or ''} {out('description') or ''}",
    )
    condition, within_one = score_condition(exp("condition"), out("condition"))
    brand, invented = score_brand(exp("brand"), out("brand"))
    fields = {
        "title": score_text(exp("title"), out("title"), recall),
        "description": score_text(exp("description"), out("description"), recall),
        "category": score_category(exp("category"), out("category")),
        "condition": condition,
        "brand": brand,
        "color": score_color(exp("color"), out("color")),
        "price_eur": score_price(exp("price_eur"), out("price_eur"), price_tolerance),
    }
    # The same value as expected is always right, whatever a rule's partial credit would say: a
    # seller would not correct it, nor an annotator (ai_prefill/fields.py).
    for name in FIELDS:
        if same_value(name, exp(name), out(name)):
            fields[name] = FieldScore(1.0, True)
    invented = invented and not same_value("brand", exp("brand"), out("brand"))
    within_one = within_one or same_value("condition", exp("condition"), out("condition"))
    return CaseScore(
        fields=fields,
        all_correct=all(f.correct for f in fields.values()),
        condition_within_one=within_one,
        invented_brand=invented,
        failed=False,
    )


def confusion_matrix(pairs: list[tuple[str, str | None]]) -> dict[str, dict[str, int]]:
    """Category confusion counts: {expected: {predicted: n}}; a None prediction is '(failed)'.

    Sparse (zero cells left out); rows and columns sorted, '(failed)' last in each row.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for expected, predicted in pairs:
        counts[expected][FAILED_CATEGORY if predicted is None else predicted] += 1

    def column_order(label: str) -> tuple[bool, str]:
        return (label == FAILED_CATEGORY, label)

    return {
        expected: {p: row[p] for p in sorted(row, key=column_order)}
        for expected, row in sorted(counts.items())
    }
