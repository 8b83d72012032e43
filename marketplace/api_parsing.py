"""How the API reads a request: body limits that hold for every parser, and `?format=`.

Kept apart from marketplace/api.py: DRF imports these while it builds APIView itself, so this
module must not import rest_framework.views.
"""

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.negotiation import DefaultContentNegotiation


class RequestTooLarge(exceptions.APIException):
    """413 Content Too Large (RFC 9110 15.5.14): the body is larger than the server will read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        super().__init__(
            f"The request is too large: form fields or JSON may take at most {megabytes:g} MB "
            "(uploaded photos have their own limit)."
        )


# --- request bodies ---------------------------------------------------------------------------
# Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when it parses a body itself; DRF's JSON and
# form parsers read the stream directly, so they check the declared length first.


class _BodyLimit:
    def parse(self, stream, media_type=None, parser_context=None):
        meta = parser_context["request"].META
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise RequestTooLarge()
        return super().parse(stream, media_type, parser_context)


class JSONParser(_BodyLimit, parsers.JSONParser):
    pass


class FormParser(_BodyLimit, parsers.FormParser):
    pass


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is a 400 with a sentence, not DRF's bare 404."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            formats = ", ".join(renderer.format for renderer in renderers)
            raise exceptions.ValidationError({"format": [f"Use one of: {formats}."]})
        return matching
