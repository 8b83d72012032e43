"""The listing draft: the one contract between the model and the Sell form.

Its JSON schema is what the provider enforces (strict structured outputs), so every property is
required; optional values are nullable instead. Categories and conditions are enums taken from
the taxonomy. Change the schema on purpose: its hash is part of every prompt version.
"""

import functools
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.taxonomy import Category, Condition

CategorySlug = Literal[tuple(Category.values)]  # type: ignore[valid-type]
ConditionSlug = Literal[tuple(Condition.values)]  # type: ignore[valid-type]


class ListingDraft(BaseModel):
    """What the model suggests for a listing, from one photo."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="Short listing title a buyer would search for, max 80 chars.")
    description: str = Field(description="2-4 honest sentences about the item as seen.")
    category: CategorySlug = Field(description="Category slug.")
    condition: ConditionSlug = Field(description="Condition slug, judged from the photo.")
    brand: str | None = Field(description="Brand if visible or certain, else null.")
    color: str | None = Field(description="Main colour in plain English, e.g. 'blue'.")
    price_eur: float | None = Field(description="Fair second-hand asking price in EUR, or null.")


DRAFT_FIELDS = tuple(ListingDraft.model_fields)
"""The seven field names, in the form's order: spelled once, by the model above."""


def draft_schema() -> dict:
    return ListingDraft.model_json_schema()


@functools.cache
def draft_json_schema_format() -> dict:
    """The strict structured-output format for the draft: name, schema, strict.

    Built once per process. The model already meets strict mode's rules as it is (every property
    required, no extra keys, no defaults); letting the SDK convert the pydantic class on every
    call (`parse(text_format=...)`) cost ~3.5 ms of CPU per pre-fill for the same dictionary.
    """
    return {"name": ListingDraft.__name__, "schema": draft_schema(), "strict": True}


def draft_schema_hash() -> str:
    canonical = json.dumps(draft_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
