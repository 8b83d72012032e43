from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

from ..image_prep import ModelImage, image_prepare_for_model
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


def model_image_options(params: dict) -> dict:
    """Size and quality of the model image, as a run or an eval recorded them in its params."""
    return {
        "max_side": params.get("image_max_side", settings.AI_IMAGE_MAX_SIDE),
        "quality": params.get("image_jpeg_quality", settings.AI_IMAGE_JPEG_QUALITY),
    }


def model_image_from_photo(photo: bytes, params: dict) -> ModelImage:
    """The model image of a stored photo, prepared as `params` say (evals; older runs)."""
    return image_prepare_for_model(photo, **model_image_options(params))


def provider_request_build(
    *, image: ModelImage, prompt_version, model: str, params: dict
) -> ProviderRequest:
    """The one way a model image and a prompt version become a request (runs and evals alike)."""
    return ProviderRequest(
        image=image,
        instructions=prompt_version.instructions,
        user_text=prompt_version.user_text,
        model=model,
        params=params,
    )
