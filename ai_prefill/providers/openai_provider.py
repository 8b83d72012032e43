"""OpenAI (or any compatible server) through the official SDK, with strict structured outputs.

The SDK builds and sends the request with the strict JSON schema of the pydantic draft
(`draft_json_schema_format`, built once per process). The answer is read from the raw body here,
so that every failure keeps the provider's exact response and gets one of our error types
instead of whatever the SDK's parser happens to raise.
"""

import email.utils
import json
import math
from datetime import UTC, datetime

import openai
from pydantic import ValidationError

from ..errors import ErrorType, ProviderError
from ..schema import ListingDraft, draft_json_schema_format
from .base import ProviderRequest, ProviderResult, Usage

# Statuses worth another try besides 429 and 5xx: request timeout and conflict (OpenAI docs).
_TRANSIENT_STATUSES = {408, 409}


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None, api_style: str, timeout: float):
        if api_style not in ("responses", "chat"):
            raise ValueError("OPENAI_API_STYLE must be 'responses' or 'chat'.")
        self.api_style = api_style
        self.timeout = timeout
        # max_retries=0: the Celery task owns retries, so one call never outlives its time limit.
        self.client = openai.OpenAI(
            api_key=api_key or "no-key", base_url=base_url, timeout=timeout, max_retries=0
        )
        # The SDK imports an API's resource module on first use (~120 ms). Do it here, once,
        # rather than inside the first calls, where every thread of an eval run waited for it.
        _ = self.client.responses if api_style == "responses" else self.client.chat.completions

    def describe(self) -> dict:
        return {
            "api_style": self.api_style,
            "base_url": str(self.client.base_url),
            "timeout_s": self.timeout,
        }

    def generate(self, request: ProviderRequest) -> ProviderResult:
        call = self._call_responses if self.api_style == "responses" else self._call_chat
        read = _read_responses if self.api_style == "responses" else _read_chat
        try:
            raw = call(request)
        except openai.APIError as exc:
            raise _classify_sdk_error(exc) from exc
        body = _json_body(raw.http_response)
        text, usage = read(body)
        return ProviderResult(
            draft=_parse_draft(text, body),
            raw=body,
            usage=usage,
            http_status=raw.http_response.status_code,
        )

    def _call_responses(self, request: ProviderRequest):
        params = request.params
        image = {
            "type": "input_image",
            "image_url": request.image.data_url,
            "detail": params.get("image_detail", "low"),
        }
        return self.client.responses.with_raw_response.create(
            model=request.model,
            instructions=request.instructions,
            input=[
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": request.user_text}, image],
                }
            ],
            text={"format": {"type": "json_schema", **draft_json_schema_format()}},
            store=False,  # sellers' photos are not kept by the provider
            **_optional(
                temperature=params.get("temperature"),
                max_output_tokens=params.get("max_output_tokens"),
            ),
        )

    def _call_chat(self, request: ProviderRequest):
        params = request.params
        image = {
            "type": "image_url",
            "image_url": {
                "url": request.image.data_url,
                "detail": params.get("image_detail", "low"),
            },
        }
        return self.client.chat.completions.with_raw_response.create(
            model=request.model,
            messages=[
                {"role": "system", "content": request.instructions},
                {"role": "user", "content": [{"type": "text", "text": request.user_text}, image]},
            ],
            response_format={"type": "json_schema", "json_schema": draft_json_schema_format()},
            # max_tokens, not max_completion_tokens: Chat style exists for compatible servers.
            **_optional(
                temperature=params.get("temperature"), max_tokens=params.get("max_output_tokens")
            ),
        )


def _optional(**kwargs) -> dict:
    return {key: value for key, value in kwargs.items() if value is not None}


def _json_body(http_response) -> dict:
    try:
        return http_response.json()
    except ValueError:
        raise ProviderError(
            ErrorType.INVALID_JSON,
            "The provider's HTTP body is not JSON.",
            http_status=http_response.status_code,
            raw={"body": http_response.text[:2000]},
        ) from None


def _read_responses(body: dict) -> tuple[str, Usage]:
    usage = body.get("usage") or {}
    parsed_usage = Usage(
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens"),
    )
    status = body.get("status")
    if status == "incomplete":
        reason = (body.get("incomplete_details") or {}).get("reason", "unknown")
        raise ProviderError(ErrorType.INCOMPLETE, f"Incomplete answer: {reason}.", raw=body)
    if status == "failed":
        message = (body.get("error") or {}).get("message", "The provider failed the response.")
        raise ProviderError(ErrorType.SERVER_ERROR, message, raw=body)
    texts = []
    for item in body.get("output") or []:
        for part in item.get("content") or [] if item.get("type") == "message" else []:
            if part.get("type") == "refusal":
                raise ProviderError(ErrorType.REFUSAL, part.get("refusal") or "Refused.", raw=body)
            if part.get("type") == "output_text":
                texts.append(part.get("text") or "")
    return "".join(texts), parsed_usage


def _read_chat(body: dict) -> tuple[str, Usage]:
    usage = body.get("usage") or {}
    parsed_usage = Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
    )
    choices = body.get("choices") or []
    if not choices:
        raise ProviderError(ErrorType.INVALID_JSON, "The answer has no choices.", raw=body)
    choice = choices[0]
    message = choice.get("message") or {}
    if message.get("refusal"):
        raise ProviderError(ErrorType.REFUSAL, message["refusal"], raw=body)
    if choice.get("finish_reason") in ("length", "content_filter"):
        reason = choice["finish_reason"]
        raise ProviderError(ErrorType.INCOMPLETE, f"Incomplete answer: {reason}.", raw=body)
    return message.get("content") or "", parsed_usage


def _parse_draft(text: str, body: dict) -> ListingDraft:
    if not text.strip():
        raise ProviderError(ErrorType.INVALID_JSON, "The answer is empty.", raw=body)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderError(
            ErrorType.INVALID_JSON, f"The answer is not valid JSON: {exc}", raw=body
        ) from None
    try:
        return ListingDraft.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ProviderError(
            ErrorType.SCHEMA, f"The answer breaks the schema: {problems}", raw=body
        ) from None


def _classify_sdk_error(exc: openai.APIError) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError, its parent
        return ProviderError(ErrorType.TIMEOUT, "The provider did not answer in time.")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(ErrorType.CONNECTION, f"Could not reach the provider: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc)
    return ProviderError(ErrorType.INTERNAL, f"Unexpected SDK error: {exc}")


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    raw = _error_body(exc.response)
    if status == 429:
        error_type = ErrorType.RATE_LIMITED
    elif status >= 500 or status in _TRANSIENT_STATUSES:
        error_type = ErrorType.SERVER_ERROR
    elif status in (401, 403):
        error_type = ErrorType.AUTH
    else:
        error_type = ErrorType.BAD_REQUEST
    return ProviderError(
        error_type,
        f"HTTP {status}: {exc.message}",
        http_status=status,
        raw=raw,
        retry_after=_retry_after(exc.response),
    )


def _error_body(response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"body": response.text[:2000]}


def _retry_after(response) -> float | None:
    """Seconds the provider asks us to wait: `retry-after-ms` (OpenAI's, more precise) first,
    then `retry-after` as seconds or an HTTP date (RFC 9110 10.2.3). None when neither parses."""
    headers = response.headers
    milliseconds = _non_negative_float(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; a sloppy server may leave that out
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _non_negative_float(value: str | None) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, number) if math.isfinite(number) else None
