"""Providers turn (image, prompt version, model, params) into a draft plus usage.

`openai` talks to OpenAI or any compatible server through the official SDK; `baseline` works
offline with no key and is the floor every model must beat in evals.
"""

import functools

from django.conf import settings
from PIL import Image

from .base import (
    Provider,
    ProviderRequest,
    ProviderResult,
    Usage,
    model_image_from_photo,
    model_image_options,
    provider_request_build,
)
from .baseline import BaselineProvider
from .openai_provider import OpenAIProvider

__all__ = [
    "Provider",
    "ProviderRequest",
    "ProviderResult",
    "Usage",
    "model_image_from_photo",
    "model_image_options",
    "provider_get",
    "provider_request_build",
    "provider_warm_up",
]


def provider_get(name: str) -> Provider:
    if name == BaselineProvider.name:
        return BaselineProvider()
    if name == OpenAIProvider.name:
        return _openai_provider(
            settings.OPENAI_API_KEY,
            settings.OPENAI_BASE_URL,
            settings.OPENAI_API_STYLE,
            settings.AI_REQUEST_TIMEOUT_SECONDS,
        )
    raise ValueError(f"Unknown AI provider {name!r}; use 'openai' or 'baseline'.")


@functools.lru_cache(maxsize=8)
def _openai_provider(api_key: str, base_url: str | None, api_style: str, timeout: float):
    """One client per configuration and process: its connection pool is reused between calls
    (a new client per call paid for a new connection every time; see benchmarks/README.md)."""
    return OpenAIProvider(api_key=api_key, base_url=base_url, api_style=api_style, timeout=timeout)


def provider_warm_up() -> None:
    """Build the configured provider now, with all that its first call would load: Pillow's
    format plugins and, for the openai provider, its client (the SDK's transport and API modules
    and an SSL context, ~20 ms of CPU).

    A prefork worker calls this in its parent before the pool starts, so the children inherit
    the modules and the client instead of each building its own on its first task: less memory
    per child, and no cold child when 50 sellers arrive at once. The client opens no connection
    until it is used, and the parent never uses it, so no connection is shared across a fork:
    each child opens its own on its first call.
    """
    Image.init()
    provider_get(settings.AI_PROVIDER)
