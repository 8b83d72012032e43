"""Eval scoring rules, field by field (pure functions, no database)."""

import json
from decimal import Decimal

import pytest

from ai_prefill.evals.scoring import (
    COLOR_SYNONYMS,
    FAILED_CATEGORY,
    FIELDS,
    TEXT_CORRECT_THRESHOLD,
    CaseScore,
    FieldScore,
    attribute_found,
    canonical_color,
    confusion_matrix,
    key_attribute_recall,
    normalize_brand,
    score_brand,
    score_case,
    score_category,
    score_color,
    score_condition,
    score_price,
    score_text,
    text_similarity,
)
from ai_prefill.schema import DRAFT_FIELDS
from marketplace.colors import NAMED_COLORS

EXPECTED = {
    "title": "Solid oak dining chair",
    "description": "A solid oak dining chair with a curved back. Light scratches on the seat.",
    "category": "furniture",
    "condition": "good",
    "brand": None,
    "color": "brown",
    "price_eur": 40.0,
}
KEY_ATTRIBUTES = ["oak", "chair", "curved back"]


def test_fields_are_the_draft_fields():
    assert FIELDS == DRAFT_FIELDS


# --- whole case ------------------------------------------------------------------------------


def test_perfect_output_is_all_correct():
    result = score_case(expected=EXPECTED, output=dict(EXPECTED), key_attributes=KEY_ATTRIBUTES)
    assert result.all_correct
    assert not result.failed and not result.invented_brand
    assert result.condition_within_one
    assert set(result.fields) == set(FIELDS)
    assert all(f.score == pytest.approx(1.0) and f.correct for f in result.fields.values())


def test_failure_scores_every_field_zero_and_wrong():
    result = score_case(expected=EXPECTED, output=None, key_attributes=KEY_ATTRIBUTES)
    assert result.failed
    assert not result.all_correct
    assert not result.condition_within_one
    assert not result.invented_brand
    assert set(result.fields) == set(FIELDS)
    assert all(f.score == 0.0 and not f.correct for f in result.fields.values())
    assert "failure" in result.fields["title"].note


def test_empty_dict_output_is_not_a_failure_but_scores_missing_fields_as_none():
    result = score_case(expected=EXPECTED, output={}, key_attributes=KEY_ATTRIBUTES)
    assert not result.failed
    assert result.fields["brand"].correct  # None expected, nothing given
    assert not result.fields["category"].correct
    assert not result.fields["price_eur"].correct


def test_one_wrong_field_breaks_all_correct():
    output = dict(EXPECTED, condition="fair")
    result = score_case(expected=EXPECTED, output=output, key_attributes=KEY_ATTRIBUTES)
    assert not result.all_correct
    assert result.condition_within_one
    assert result.fields["condition"].score == 0.5


def test_invented_brand_is_flagged_on_the_case():
    output = dict(EXPECTED, brand="IKEA")
    result = score_case(expected=EXPECTED, output=output, key_attributes=KEY_ATTRIBUTES)
    assert result.invented_brand
    assert not result.fields["brand"].correct
    assert not result.all_correct


def test_price_tolerance_is_passed_through():
    output = dict(EXPECTED, price_eur=50.0)  # 25% off
    assert (
        score_case(expected=EXPECTED, output=output, key_attributes=[]).fields["price_eur"].correct
    )
    strict = score_case(expected=EXPECTED, output=output, key_attributes=[], price_tolerance=0.2)
    assert not strict.fields["price_eur"].correct


def test_to_dict_is_json_ready():
    result = score_case(
        expected=EXPECTED, output=dict(EXPECTED, brand="Ikea"), key_attributes=KEY_ATTRIBUTES
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {
        "fields",
        "all_correct",
        "condition_within_one",
        "invented_brand",
        "failed",
    }
    assert set(data["fields"]) == set(FIELDS)
    assert set(data["fields"]["brand"]) == {"score", "correct", "note"}
    assert data["invented_brand"] is True
    failed = score_case(expected=EXPECTED, output=None, key_attributes=[]).to_dict()
    assert json.loads(json.dumps(failed))["failed"] is True


def test_scores_are_frozen():
    result = score_case(expected=EXPECTED, output=dict(EXPECTED), key_attributes=[])
    assert isinstance(result, CaseScore)
    with pytest.raises(AttributeError):
        result.failed = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        FieldScore(1.0, True).score = 0.0  # type: ignore[misc]


# --- category --------------------------------------------------------------------------------


def test_category_exact_match_only():
    assert score_category("furniture", "furniture") == FieldScore(1.0, True)
    wrong = score_category("furniture", "home-kitchen")
    assert (wrong.score, wrong.correct) == (0.0, False)
    assert score_category("furniture", None).score == 0.0


# --- condition -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "output", "score", "correct", "within_one"),
    [
        ("good", "good", 1.0, True, True),
        ("good", "like-new", 0.5, False, True),
        ("good", "fair", 0.5, False, True),
        ("new", "good", 0.0, False, False),
        ("new", "for-parts", 0.0, False, False),
        ("good", "used", 0.0, False, False),  # not a slug
        ("good", None, 0.0, False, False),
    ],
)
def test_condition(expected, output, score, correct, within_one):
    field, near = score_condition(expected, output)
    assert (field.score, field.correct, near) == (score, correct, within_one)


# --- brand -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "output", "correct", "invented"),
    [
        (None, None, True, False),
        ("", None, True, False),
        (None, "", True, False),
        ("  ", None, True, False),
        (None, "Sony", False, True),
        ("", "IKEA", False, True),
        ("Black+Decker", "black & decker", True, False),
        ("Black+Decker", "Black and Decker", True, False),
        ("Black+Decker", "BLACK+DECKER", True, False),
        (" Sony ", "sony", True, False),
        ("Nestlé", "Nestle", True, False),
        ("Samsung", "Samsnug", False, False),  # transposition: ratio 86 < 90
        ("Sony", "Sonos", False, False),
        ("Sony", None, False, False),  # missed, not invented
        (None, "Unknown", False, False),  # placeholder: wrong, not invented
        ("Sony", "N/A", False, False),
        ("Unbranded", None, True, False),
    ],
)
def test_brand(expected, output, correct, invented):
    field, was_invented = score_brand(expected, output)
    assert (field.correct, was_invented) == (correct, invented)


def test_brand_score_is_normalised_similarity():
    assert normalize_brand("Black+Decker") == normalize_brand("black & decker") == "blackdecker"
    field, _ = score_brand("Black+Decker", "black & decker")
    assert field.score == 1.0
    # Indel ratio: a dropped letter costs 1, a substituted letter 2 (delete + insert).
    dropped, _ = score_brand("Hewlett-Packard", "Hewlet Packard")
    assert dropped.correct and 0.9 < dropped.score < 1.0
    substituted, _ = score_brand("Panasonic", "Panasonik")  # 16/18 = 0.889
    assert not substituted.correct
    assert substituted.score == pytest.approx(16 / 18)
    assert score_brand("Sony", None)[0].score == 0.0
    assert score_brand(None, "Sony")[0].score == 0.0


# --- colour ----------------------------------------------------------------------------------


def test_every_synonym_maps_to_a_named_color_and_names_map_to_themselves():
    assert set(COLOR_SYNONYMS.values()) <= set(NAMED_COLORS)
    for name in NAMED_COLORS:
        assert canonical_color(name) == name


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("gray", "grey"),
        ("Dark Blue", "blue"),
        ("navy", "blue"),
        ("light blue", "blue"),
        ("Sky-Blue", "blue"),
        ("turquoise", "blue"),
        ("cream", "white"),
        ("Off-White", "white"),
        ("ivory", "white"),
        ("burgundy", "red"),
        ("maroon", "red"),
        ("gold", "yellow"),
        ("tan", "beige"),
        ("khaki", "beige"),
        ("khaki green", "green"),
        ("charcoal", "grey"),
        ("stone grey", "grey"),
        ("rose gold", "pink"),
        ("stainless steel", "silver"),
        ("steel blue", "blue"),
        ("blue and white", "blue"),
        ("white/blue", "white"),
        ("  BLACK  ", "black"),
        ("greyish", "grey"),
        ("multicolour", None),
        ("transparent", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_color(text, canonical):
    assert canonical_color(text) == canonical


@pytest.mark.parametrize(
    ("expected", "output", "correct"),
    [
        ("grey", "gray", True),
        ("blue", "Dark Blue", True),
        ("blue", "navy blue", True),
        ("white", "cream", True),
        ("blue", "blue and white", True),
        ("white", "blue and white", False),  # first colour word wins
        ("brown", "beige", False),
        (None, None, True),
        ("", None, True),
        ("blue", None, False),
        (None, "blue", False),
        ("blue", "sparkly", False),  # unknown word
        ("multicolour", "Multicolour", True),  # neither recognised: compared as text
        ("multicolour", "multicolor", False),
    ],
)
def test_color(expected, output, correct):
    field = score_color(expected, output)
    assert field.correct == correct
    assert field.score == (1.0 if correct else 0.0)


# --- title and description -------------------------------------------------------------------


def test_similarity_ignores_case_punctuation_and_word_order():
    assert text_similarity("Oak dining chair", "Dining chair, OAK!") == 1.0
    assert text_similarity("", "") == 1.0
    assert text_similarity("Oak dining chair", "") == 0.0
    assert text_similarity("Oak dining chair", "Red kettle") < 0.5


@pytest.mark.parametrize(
    ("attribute", "text", "found"),
    [
        ("oak", "Solid OAK chair", True),
        ("chair", "two dining chairs", True),  # plural
        ("leather", "brown leathr sofa", True),  # typo
        ("curved back", "with a curved-back design", True),
        ("black decker", "black and decker drill", True),  # one word more
        ("usb-c", "usbc cable", True),  # one word fewer
        ("red", "covered in fabric", False),  # not inside another word
        ("blue", "bluetooth speaker", False),
        ("oak", "a book", False),
        ("iphone 12", "iPhone 13 Pro", False),  # numbers must match
        ("iphone 12", "Apple iPhone 12, 64 GB", True),
        ("oak", "", False),
    ],
)
def test_attribute_found(attribute, text, found):
    assert attribute_found(attribute, text) is found


def test_key_attribute_recall():
    assert key_attribute_recall(["oak", "chair"], "oak chair") == 1.0
    assert key_attribute_recall(["oak", "chair"], "pine chair") == 0.5
    assert key_attribute_recall([], "anything") is None
    assert key_attribute_recall(["", "  "], "anything") is None


def test_text_score_combines_similarity_and_recall():
    field = score_text("Oak dining chair", "Dining chair oak", recall=0.5)
    assert field.score == pytest.approx(0.75)
    assert field.correct
    only_similarity = score_text("Oak dining chair", "Dining chair oak", recall=None)
    assert only_similarity.score == 1.0


def test_text_threshold_boundary():
    # similarity 1.0 and recall 0.2 -> exactly the threshold
    assert score_text("oak chair", "oak chair", recall=0.2).correct
    assert TEXT_CORRECT_THRESHOLD == 0.6
    assert not score_text("oak chair", "oak chair", recall=0.19).correct


def test_text_empty_cases():
    assert score_text("", "", recall=0.0) == FieldScore(1.0, True)
    assert score_text(None, "  ", recall=None) == FieldScore(1.0, True)
    assert not score_text("Oak chair", "", recall=None).correct
    assert not score_text("", "Oak chair", recall=None).correct


def test_subset_title_is_caught_by_key_attributes():
    # token_set_ratio gives a subset full similarity; missing key attributes pull it down.
    result = score_case(
        expected=EXPECTED,
        output=dict(EXPECTED, title="Chair", description="A chair."),
        key_attributes=["oak", "curved back", "scratches"],
    )
    assert result.fields["title"].score == pytest.approx(0.5)
    assert not result.fields["title"].correct


def test_key_attributes_count_from_title_and_description_together():
    output = dict(EXPECTED, title="Dining chair", description="Solid oak, curved back.")
    result = score_case(expected=EXPECTED, output=output, key_attributes=KEY_ATTRIBUTES)
    assert "recall 1.00" in result.fields["title"].note
    assert "recall 1.00" in result.fields["description"].note


# --- price -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "output", "correct", "score"),
    [
        (100, 100, True, 1.0),
        (100, 130, True, 0.7),  # exactly at +30%
        (100, 70, True, 0.7),  # exactly at -30%
        (100, 131, False, 0.69),
        (100, 69.5, False, 0.695),
        (100, 250, False, 0.0),  # score floors at 0
        (Decimal("40.00"), 44.0, True, 0.9),
        (40, "44", True, 0.9),
        (None, None, True, 1.0),
        (100, None, False, 0.0),
        (None, 100, False, 0.0),
        (0, 0, True, 1.0),
        (0, 1, True, 1.0),
        (0, 1.5, False, 0.0),
        (0, -1, False, 0.0),
        (100, float("nan"), False, 0.0),
        (100, "cheap", False, 0.0),
        (100, True, False, 0.0),
    ],
)
def test_price(expected, output, correct, score):
    field = score_price(expected, output)
    assert field.correct is correct
    assert field.score == pytest.approx(score)


def test_price_custom_tolerance():
    assert score_price(100, 115, tolerance=0.15).correct
    assert not score_price(100, 116, tolerance=0.15).correct


# --- confusion matrix ------------------------------------------------------------------------


def test_confusion_matrix():
    matrix = confusion_matrix(
        [
            ("furniture", "furniture"),
            ("furniture", "home-kitchen"),
            ("furniture", None),
            ("furniture", "furniture"),
            ("bikes", "bikes"),
            ("bikes", None),
        ]
    )
    assert matrix == {
        "bikes": {"bikes": 1, FAILED_CATEGORY: 1},
        "furniture": {"furniture": 2, "home-kitchen": 1, FAILED_CATEGORY: 1},
    }
    assert list(matrix) == ["bikes", "furniture"]
    assert list(matrix["furniture"])[-1] == "(failed)"
    assert confusion_matrix([]) == {}
    json.dumps(matrix)
