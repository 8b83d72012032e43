"""Logging filters wired in settings.LOGGING."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404

# Answers the site gives on purpose: a user asked for something that is not theirs or not there.
EXPECTED_REFUSALS = (PermissionDenied, Http404)


class ExpectedRefusalWithoutTraceback(logging.Filter):
    """On `django.request`: keep the one-line warning ("Forbidden (Permission denied): /path")
    of an expected refusal but drop its traceback, which Django attaches to every 403 and which
    would bury the real errors. DRF answers its refusals (401, 403, 404, 429) inside the view, so
    they already arrive here as one line with no exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        exception = record.exc_info[1] if record.exc_info else None
        if isinstance(exception, EXPECTED_REFUSALS):
            record.exc_info = None
            record.exc_text = None
        return True
