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
    "provider_modules_load",
    "provider_request_build",
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


def provider_modules_load() -> None:
    """Import now what the first pre-fill of a process would import: Pillow's format plugins and,
    for the openai provider, the SDK's HTTP transport and API modules (built with a client).

    A prefork worker calls this in its parent, so that the pool's children share these modules
    instead of each importing its own copy on its first task (memory and ~0.1 s of CPU each).
    The client itself is dropped: each child builds its own, with its own connection pool.
    """
    Image.init()
    provider_get(settings.AI_PROVIDER)
    _openai_provider.cache_clear()
