from dataclasses import dataclass, field
from typing import Protocol

from ..image_prep import ModelImage
from ..schema import ListingDraft


@dataclass(frozen=True)
class ProviderRequest:
    image: ModelImage
    instructions: str
    user_text: str
    model: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True)
class ProviderResult:
    draft: ListingDraft
    raw: dict
    usage: Usage
    http_status: int | None = 200


class Provider(Protocol):
    name: str

    def describe(self) -> dict:
        """How this provider is reached, recorded in the run's params (never secrets)."""
        ...

    def generate(self, request: ProviderRequest) -> ProviderResult:
        """Return a validated draft, or raise ai_prefill.errors.ProviderError."""
        ...
