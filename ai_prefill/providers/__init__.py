"""Providers turn (image, prompt version, model, params) into a draft plus usage.

`openai` talks to OpenAI or any compatible server through the official SDK; `baseline` works
offline with no key and is the floor every model must beat in evals.
"""

from django.conf import settings

from .base import Provider, ProviderRequest, ProviderResult, Usage, provider_request_build
from .baseline import BaselineProvider
from .openai_provider import OpenAIProvider

__all__ = [
    "Provider",
    "ProviderRequest",
    "ProviderResult",
    "Usage",
    "provider_get",
    "provider_request_build",
]


def provider_get(name: str) -> Provider:
    if name == BaselineProvider.name:
        return BaselineProvider()
    if name == OpenAIProvider.name:
        return OpenAIProvider(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            api_style=settings.OPENAI_API_STYLE,
            timeout=settings.AI_REQUEST_TIMEOUT_SECONDS,
        )
    raise ValueError(f"Unknown AI provider {name!r}; use 'openai' or 'baseline'.")
