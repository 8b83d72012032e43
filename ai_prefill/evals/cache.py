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


def cache_lookup(keys: list[str]) -> dict[str, EvalCacheEntry]:
    """The cached answers among `keys`, in one query."""
    return {entry.key: entry for entry in EvalCacheEntry.objects.filter(key__in=keys)}


def cache_store(entries: list[EvalCacheEntry]) -> None:
    """Insert or overwrite in one statement (a refresh replaces what was there)."""
    EvalCacheEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["draft", "raw_response", "input_tokens", "output_tokens", "latency_ms"],
        batch_size=200,
    )
