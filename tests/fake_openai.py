"""A fake OpenAI server on 127.0.0.1, for tests and benchmarks that drive the real `openai` SDK.

Stdlib only (no pytest, Django or openai import at module level), so a benchmark script can use it
as well as a pytest fixture. It speaks enough of the wire protocol for the SDK's
`client.responses.parse(...)` (`POST /v1/responses`) and `client.chat.completions.parse(...)`
(`POST /v1/chat/completions`) to parse its answers exactly as it parses OpenAI's.

    with FakeOpenAI(latency=0.0) as server:           # binds 127.0.0.1 on a free port
        client = OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=2)
        server.script(Behaviour.rate_limited(), Behaviour.success(draft={...}))
        ...                                           # each request takes the next scripted one,
        server.default = Behaviour.server_error()     # then `default` once the script is empty
        server.requests[-1].body["store"]             # what the SDK sent, parsed
        server.counts["/v1/responses"]

`FakeOpenAI.start()` / `.stop()` do the same as the `with` block; `stop()` returns within about a
second even while requests hang or the SDK keeps idle keep-alive connections open.

In-process, the server shares the GIL with the code under test: the SDK spends ~4 ms of CPU per
call, so 100 concurrent calls arrive over ~0.4 s. When a benchmark must measure the client alone,
run the server as its own process: `python -m tests.fake_openai --latency 0.5` prints
`base_url http://127.0.0.1:PORT/v1` and serves success until SIGINT/SIGTERM.

What the REAL SDK (openai 3.51.0 on httpx2) does with each behaviour, proven for both APIs by
tests/test_fake_openai.py. R = `client.responses.parse(..., text_format=Draft)`,
C = `client.chat.completions.parse(..., response_format=Draft)`; exceptions without a module are
`openai.`'s:

| Behaviour                 | R (Responses API)                 | C (Chat Completions)             |
|---------------------------|-----------------------------------|----------------------------------|
| success(draft)            | `.output_parsed ==                | `message.parsed ==               |
|                           | Draft(**draft)`, status           | Draft(**draft)`, finish_reason   |
|                           | "completed", `.usage`             | "stop", `.usage`                 |
| rate_limited()            | `RateLimitError` (429)            | `RateLimitError` (429)           |
| server_error(500/503)     | `InternalServerError`             | `InternalServerError`            |
| bad_request()             | `BadRequestError` (400)           | `BadRequestError` (400)          |
| bad_request(status=401)   | `AuthenticationError`             | `AuthenticationError`            |
| (an unknown path)         | `NotFoundError` (404)             | `NotFoundError` (404)            |
| hang(s), s > timeout      | `APITimeoutError` (cause httpx2   | `APITimeoutError`                |
|                           | ReadTimeout)                      |                                  |
| connection_reset()        | `APIConnectionError` itself, not  | `APIConnectionError` itself      |
|                           | the timeout subclass (cause       |                                  |
|                           | httpx2 ReadError, ECONNRESET)     |                                  |
| refusal(text)             | no exception: status "completed", | no exception: `message.refusal   |
|                           | `.output_parsed is None`, text in | == text`, `message.parsed is     |
|                           | `.output[0].content[0].refusal`   | None`, `message.content is None` |
| truncated_json()          | `pydantic.ValidationError`, one   | `pydantic.ValidationError`, one  |
|                           | error of type "json_invalid"      | error of type "json_invalid"     |
| invalid_enum()            | `pydantic.ValidationError`, one   | `pydantic.ValidationError`, one  |
|                           | "literal_error" at ("category",)  | "literal_error" at ("category",) |
| incomplete()              | `pydantic.ValidationError`        | `LengthFinishReasonError`,       |
| (max_output_tokens,       | "json_invalid": the SDK parses    | raised before parsing;           |
| partial text)             | the partial text anyway; status   | `.completion` keeps the raw      |
|                           | "incomplete" is lost with the     | completion and usage             |
|                           | exception                         |                                  |
| incomplete(partial=False) | NO exception: status              | `LengthFinishReasonError`        |
|                           | "incomplete", `.output_parsed is  |                                  |
|                           | None`                             |                                  |
| incomplete(               | with partial text as              | `ContentFilterFinishReasonError` |
|   reason="content_filter")| incomplete(); without, status     |                                  |
|                           | "incomplete" and no exception     |                                  |

Exception families: `APITimeoutError` subclasses `APIConnectionError` (catch the timeout first);
the status errors are `APIStatusError` (`.status_code`, `.response.headers`, `.code`, and `.body`
is the inner "error" object); `LengthFinishReasonError` and `ContentFilterFinishReasonError` are
`OpenAIError` but not `APIError`; `pydantic.ValidationError` is not an `OpenAIError` at all, so
code that catches only `openai.OpenAIError` lets a malformed answer through as a crash. A
Responses answer can be unusable without any exception (refusal, incomplete without text): check
`status` and `output_parsed is None`.

With `max_retries > 0` the SDK retries 408/409/429/5xx and connection errors (timeouts included)
itself, waiting `retry-after-ms` / `retry-after` when it is > 0 and <= 120 s, else backing off
from 0.5 s; a retry carries the header `x-stainless-retry-count: N`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "CATEGORIES",
    "CONDITIONS",
    "DEFAULT_DRAFT",
    "Behaviour",
    "FakeOpenAI",
    "RecordedRequest",
    "Usage",
]

# The taxonomy of marketplace/taxonomy.py, copied so this module needs no Django; the tests check
# that the two stay equal.
CATEGORIES = (
    "electronics",
    "phones-tablets",
    "computers",
    "home-kitchen",
    "furniture",
    "fashion",
    "baby-kids",
    "sports-outdoors",
    "bikes",
    "books-music-film",
    "toys-games",
    "tools-diy",
    "other",
)
CONDITIONS = ("new", "like-new", "good", "fair", "for-parts")

DEFAULT_DRAFT: dict[str, Any] = {
    "title": "City bike, 28 inch, 7 gears",
    "description": "Aluminium frame, hub dynamo lights and a rear rack. Tyres replaced last "
    "spring; a few scratches on the mudguards.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "dark blue",
    "price_eur": 180.0,
}

RESPONSES_PATH = "/v1/responses"
CHAT_PATH = "/v1/chat/completions"

Draft = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts to report, as the API counts them (`output_tokens` includes the reasoning
    tokens). None: estimated from the request (4 characters a token, 85 an image) and answer."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """How the server answers one request. Build one with the class methods below.

    `delay` is slept before answering, on top of the server's `latency`; `delayed(s)` adds it to
    any behaviour (a slow 429, say). Sleeps end early when the server stops.
    """

    kind: str
    status: int = 200
    draft: Draft | None = None
    text: str | None = None
    reason: str | None = None
    partial: bool = True
    retry_after: float | None = None
    headers: dict[str, str] | None = None
    delay: float = 0.0
    usage: Usage | None = dataclasses.field(default_factory=Usage)

    # --- 200 answers -------------------------------------------------------------------------

    @classmethod
    def success(
        cls, draft: Draft | None = None, *, usage: Usage | None = None, include_usage: bool = True
    ) -> Behaviour:
        """A completed structured answer whose text is `json.dumps(draft)`.

        `draft` is a dict, or a callable taking the parsed request body and returning one (to
        echo something back); default DEFAULT_DRAFT. `include_usage=False` leaves `usage` out,
        as some OpenAI-compatible servers do.
        """
        return cls("success", draft=draft, usage=(usage or Usage()) if include_usage else None)

    @classmethod
    def refusal(cls, text: str = "I'm sorry, I can't help with that.") -> Behaviour:
        """A completed answer that is a refusal instead of JSON."""
        return cls("refusal", text=text)

    @classmethod
    def truncated_json(cls, draft: Draft | None = None) -> Behaviour:
        """Claims to be complete ("completed" / finish_reason "stop"); the JSON is cut in half."""
        return cls("truncated_json", draft=draft)

    @classmethod
    def incomplete(cls, reason: str = "max_output_tokens", *, partial: bool = True) -> Behaviour:
        """Responses: status "incomplete" with `incomplete_details.reason`; Chat: finish_reason
        "length" (or "content_filter" when reason is "content_filter"). With `partial`, the output
        holds the first half of a draft's JSON; without, no output message at all (Responses) and
        empty content (Chat)."""
        return cls("incomplete", reason=reason, partial=partial)

    @classmethod
    def invalid_enum(cls) -> Behaviour:
        """Well-formed JSON that breaks the schema: `category: "spaceships"`."""
        return cls("invalid_enum", draft={**DEFAULT_DRAFT, "category": "spaceships"})

    # --- errors ------------------------------------------------------------------------------

    @classmethod
    def rate_limited(
        cls, retry_after: float | None = 0, *, headers: dict[str, str] | None = None
    ) -> Behaviour:
        """429 with OpenAI's error body and `retry-after` / `retry-after-ms` (None: no header).

        `headers` replaces both with exactly these (one of the two, or an HTTP date, say)."""
        return cls("rate_limited", status=429, retry_after=retry_after, headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Behaviour:
        """A 5xx with OpenAI's error body."""
        return cls("server_error", status=status)

    @classmethod
    def bad_request(cls, status: int = 400) -> Behaviour:
        """A 4xx with OpenAI's error body: 400 invalid request, 401 bad key, 404, 422..."""
        return cls("bad_request", status=status)

    @classmethod
    def hang(cls, seconds: float, then: Behaviour | None = None) -> Behaviour:
        """Wait `seconds` (a client timeout should fire first), then answer with `then`
        (default: success)."""
        return (then or cls.success()).delayed(seconds)

    @classmethod
    def connection_reset(cls) -> Behaviour:
        """Reset the TCP connection (RST) without sending any HTTP answer."""
        return cls("connection_reset")

    def delayed(self, seconds: float) -> Behaviour:
        """This behaviour, answered `seconds` later."""
        return dataclasses.replace(self, delay=self.delay + seconds)


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body; None when absent or not JSON
    raw_body: bytes
    received_at: float  # time.monotonic() when the request had been read
    received_wall: float  # time.time(), same moment
    behaviour: str  # Behaviour.kind that answered it


_ERRORS = {
    400: ("invalid_request_error", None, "Invalid value for 'input': the request is malformed."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: test."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Not allowed."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Try again later."),
}


_SERVER_ERROR = ("server_error", None, "The server had an error processing your request.")


def _error_body(status: int) -> dict[str, Any]:
    default = _SERVER_ERROR if status >= 500 else ("invalid_request_error", None, "Bad request.")
    kind, code, message = _ERRORS.get(status, default)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._connection_opened(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.server.fake
        behaviour = fake._next_behaviour()
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=_parse_json(raw),
            raw_body=raw,
            received_at=time.monotonic(),
            received_wall=time.time(),
            behaviour=behaviour.kind,
        )
        fake._record(request)
        try:
            if fake._stopping.wait(fake.latency + behaviour.delay):
                self._reset()  # stopping: drop the request rather than hold shutdown up
                return
            self._answer(request, behaviour)
        except OSError:  # the client gave up (timeout) and closed; nothing left to tell it
            self.close_connection = True
        finally:
            fake._request_done()

    def _answer(self, request: RecordedRequest, behaviour: Behaviour) -> None:
        if behaviour.kind == "connection_reset":
            self._reset()
            return
        if request.method != "POST" or request.path not in (RESPONSES_PATH, CHAT_PATH):
            self._send_json(404, _error_body(404))
            return
        if not isinstance(request.body, dict):
            self._send_json(400, _error_body(400))
            return
        if behaviour.status != 200:
            headers = dict(behaviour.headers or {})
            if behaviour.headers is None and behaviour.retry_after is not None:
                headers["retry-after"] = f"{behaviour.retry_after:g}"
                headers["retry-after-ms"] = str(round(behaviour.retry_after * 1000))
            self._send_json(behaviour.status, _error_body(behaviour.status), headers)
            return
        build = _responses_answer if request.path == RESPONSES_PATH else _chat_answer
        self._send_json(200, build(request.body, behaviour, next(self.server.fake._ids)))

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_fake{next(self.server.fake._ids):08d}")
        self.send_header("openai-processing-ms", str(round(self.server.fake.latency * 1000)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        """Close with SO_LINGER 0, so the kernel sends RST and the client reads no answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The buffered reader holds a reference to the socket: the fd closes with the last.
            self.rfile.close()
            self.connection.close()


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _draft_text(behaviour: Behaviour, body: dict[str, Any]) -> str:
    draft = behaviour.draft if behaviour.draft is not None else DEFAULT_DRAFT
    if callable(draft):
        draft = draft(body)
    text = json.dumps(draft)
    if behaviour.kind in ("truncated_json", "incomplete"):
        text = text[: len(text) // 2]
    return text


def _estimate_input_tokens(body: Any) -> int:
    """About 4 characters a token for the text (schema included), 85 per image ("low" detail)."""
    if isinstance(body, dict):
        if body.get("type") in ("input_image", "image_url"):
            return 85
        return sum(_estimate_input_tokens(value) for value in body.values())
    if isinstance(body, list):
        return sum(_estimate_input_tokens(value) for value in body)
    if isinstance(body, str) and not body.startswith("data:"):
        return len(body) // 4
    return 0


def _usage_numbers(behaviour: Behaviour, body: dict[str, Any], text: str) -> dict[str, int]:
    usage = behaviour.usage or Usage()
    input_tokens = usage.input_tokens
    if input_tokens is None:
        input_tokens = max(1, _estimate_input_tokens(body))
    output_tokens = usage.output_tokens
    if output_tokens is None:
        output_tokens = _tokens(text) + usage.reasoning_tokens
    return {
        "input": input_tokens,
        "output": output_tokens,
        "cached": usage.cached_tokens,
        "reasoning": usage.reasoning_tokens,
    }


def _responses_answer(body: dict[str, Any], behaviour: Behaviour, n: int) -> dict[str, Any]:
    status, incomplete_details, content = "completed", None, []
    text = ""
    if behaviour.kind == "refusal":
        content = [{"type": "refusal", "refusal": behaviour.text}]
    elif behaviour.kind != "incomplete" or behaviour.partial:
        text = _draft_text(behaviour, body)
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    if behaviour.kind == "incomplete":
        status, incomplete_details = "incomplete", {"reason": behaviour.reason}
    output = []
    if content:
        output.append(
            {
                "id": f"msg_fake{n:08d}",
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": content,
            }
        )
    now = time.time()
    answer: dict[str, Any] = {
        "id": f"resp_fake{n:08d}",
        "object": "response",
        "created_at": int(now),
        "completed_at": int(now) if status == "completed" else None,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete_details,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": body.get("model", "gpt-fake"),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text", {"format": {"type": "text"}}),
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "user": None,
        "metadata": {},
        "usage": None,
    }
    if behaviour.usage is not None:
        u = _usage_numbers(behaviour, body, text or (behaviour.text or ""))
        answer["usage"] = {
            "input_tokens": u["input"],
            "input_tokens_details": {"cached_tokens": u["cached"]},
            "output_tokens": u["output"],
            "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
            "total_tokens": u["input"] + u["output"],
        }
    return answer


def _chat_answer(body: dict[str, Any], behaviour: Behaviour, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish_reason = "stop"
    if behaviour.kind == "refusal":
        message["refusal"] = behaviour.text
    elif behaviour.kind != "incomplete" or behaviour.partial:
        message["content"] = _draft_text(behaviour, body)
    else:
        message["content"] = ""
    if behaviour.kind == "incomplete":
        finish_reason = "content_filter" if behaviour.reason == "content_filter" else "length"
    message["annotations"] = []
    answer: dict[str, Any] = {
        "id": f"chatcmpl-fake{n:08d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "gpt-fake"),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
        "usage": None,
    }
    if behaviour.usage is not None:
        u = _usage_numbers(behaviour, body, message["content"] or message["refusal"] or "")
        answer["usage"] = {
            "prompt_tokens": u["input"],
            "completion_tokens": u["output"],
            "total_tokens": u["input"] + u["output"],
            "prompt_tokens_details": {"cached_tokens": u["cached"], "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": u["reasoning"],
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
    return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # FakeOpenAI.stop() joins its handler threads itself, with a bound
    request_queue_size = 1024  # listen backlog: 50+ clients connect at once in the benchmarks
    allow_reuse_address = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.fake.verbose:
            super().handle_error(request, client_address)


class FakeOpenAI:
    """A local OpenAI-protocol server in a daemon thread. See the module docstring.

    Thread-safe: requests are served concurrently, one thread per connection, and `script()`,
    `default`, `requests`, `counts` may be used from any thread while it runs.
    """

    def __init__(
        self, latency: float = 0.0, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
    ) -> None:
        self.latency = latency  # seconds slept before every answer, errors included
        self.default = Behaviour.success()  # answers when the script is empty
        self.verbose = verbose  # log each request and handler errors to stderr
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._script: collections.deque[Behaviour] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._counts: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already started")
        self._stopping.clear()
        self._server = _Server((self._host, self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving: ends sleeping requests, resets open connections, joins the threads."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a handler waiting on a keep-alive read
        deadline = time.monotonic() + timeout
        for thread in [self._thread, *connections.values()]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """For `OpenAI(base_url=...)`: "http://127.0.0.1:PORT/v1"."""
        return f"http://{self._host}:{self.port}/v1"

    def client(self, **kwargs: Any) -> Any:
        """An `openai.OpenAI` for this server (imported here, so the module stays stdlib-only)."""
        import openai

        return openai.OpenAI(**{"base_url": self.base_url, "api_key": "test", **kwargs})

    # --- behaviour -----------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each request takes the next, whatever its endpoint."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        """Scripted behaviours not used yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the counters; `default` is success."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._counts.clear()
            self._max_in_flight = self._in_flight
        self.default = Behaviour.success()

    # --- what happened --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in order of arrival."""
        with self._lock:
            return list(self._requests)

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per path, e.g. {"/v1/responses": 3}."""
        with self._lock:
            return dict(self._counts)

    @property
    def max_in_flight(self) -> int:
        """The most requests being answered at the same moment (concurrency actually reached)."""
        with self._lock:
            return self._max_in_flight

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least `n` requests have arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._requests) >= n:
                    return True
            time.sleep(0.005)
        return False

    # --- called by the handler threads ----------------------------------------------------------

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._counts[request.path] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _request_done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections[conn] = threading.current_thread()

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.pop(conn, None)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print the base URL first and the request counts last."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_openai", description="A fake OpenAI server on 127.0.0.1."
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with FakeOpenAI(latency=args.latency, host=args.host, port=args.port) as server:
        print(f"base_url {server.base_url}", flush=True)
        while not done.wait(0.5):
            pass
        counts = server.counts
    print(f"requests {json.dumps(counts, sort_keys=True)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
