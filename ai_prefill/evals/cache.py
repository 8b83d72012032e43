"""Provider answers cached by everything that determines them; a rerun of an unchanged
configuration costs nothing. Errors are never cached: a flaky provider gets another chance."""

import hashlib
import json

from ..models import EvalCacheEntry


def cache_key(
    *,
    provider: str,
    model: str,
    params: dict,
    prompt_hash: str,
    image_sha256: str,
    schema_hash: str,
    repeat: int,
) -> str:
    payload = {
        "provider": provider,
        "model": model,
        "params": params,
        "prompt": prompt_hash,
        "image": image_sha256,
        "schema": schema_hash,
        "repeat": repeat,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def cache_get(key: str) -> EvalCacheEntry | None:
    return EvalCacheEntry.objects.filter(key=key).first()


def cache_put(*, key: str, provider: str, model: str, draft: dict, raw, usage, latency_ms) -> None:
    EvalCacheEntry.objects.update_or_create(
        key=key,
        defaults={
            "provider": provider,
            "model": model,
            "draft": draft,
            "raw_response": raw,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "latency_ms": latency_ms,
        },
    )
