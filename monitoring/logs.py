"""Log lines as JSON objects, one a line, each with the request id (and run and task ids) of
the work it belongs to. Configured in settings.LOGGING; LOG_FORMAT picks json or text.

A small formatter of our own rather than a dependency: it writes the fields below plus any
`extra={...}` a caller passes (the request line's method, path, status and duration).
"""

import json
import logging
from datetime import UTC, datetime

from marketplace.log_context import log_context

CONTEXT_FIELDS = ("request_id", "run_id", "task_id")
# What every LogRecord has: the rest of a record's attributes came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class LogContextFilter(logging.Filter):
    """Copies the current log context onto each record (on the handler, so it sees every
    record, whichever logger sent it). Fields not known are "" (the text format shows "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context()
        for field in CONTEXT_FIELDS:
            if not getattr(record, field, ""):
                setattr(record, field, context.get(field, ""))
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "request_id", ["run_id", "task_id",] ["exception",]
    extras...}: time in UTC ISO 8601 with milliseconds; request_id null outside a request."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
        }
        for field in ("run_id", "task_id"):
            if getattr(record, field, ""):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in CONTEXT_FIELDS and key not in line:
                line[key] = value
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format for a terminal (`make run`): time, level, logger, [request id] message."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", ""):
            record.request_id = "-"
        return super().format(record)
