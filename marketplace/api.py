"""What every API endpoint shares: its error answers.

Every error answer of the API has one shape, built in one place (`error_body`):

    {"detail": "One or more sentences for people.", "<field>": ["message", ...], ...}

`detail` is always there (the Sell page shows it to sellers); a 400 for invalid input also lists
each field's messages under the field's name (`non_field_errors` for the others), as DRF does.
Body limits and `?format=` are read in `marketplace/api_parsing.py`; the OpenAPI side of the
error shape is in `marketplace/api_schema.py`.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from .api_parsing import RequestTooLarge


class TooManyFields(exceptions.ParseError):
    def __init__(self):
        super().__init__(
            f"The request has too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} "
            f"fields and {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
        )


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: DRF's answer, in the one error shape.

    Django's own refusals of a request body (too large, too many fields) would otherwise escape
    DRF and become Django's HTML 400 page."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = TooManyFields()
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data)
    return response


def error_body(data) -> dict:
    """The error shape from what DRF puts in an error response: a detail, a list or field lists."""
    if isinstance(data, dict) and set(data) == {"detail"} and isinstance(data["detail"], str):
        return {"detail": str(data["detail"])}
    if not isinstance(data, dict):
        return {"detail": _sentences(_messages(data))}
    fields = {name: _messages(value) for name, value in data.items() if name != "detail"}
    detail = data.get("detail")
    if not isinstance(detail, str):
        detail = _sentences(
            [f"{_label(name)}{text}" for name, messages in fields.items() for text in messages]
        )
    return {"detail": str(detail), **fields}


def _label(name: str) -> str:
    return "" if name == api_settings.NON_FIELD_ERRORS_KEY else f"{name}: "


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [message for item in value.values() for message in _messages(item)]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def _sentences(messages: list[str]) -> str:
    return " ".join(messages) or "The request is not valid."


def query_form(form_class, params, *, blank_allowed=()):
    """The API's query parameters read by a site form, valid, or a 400 with a sentence.

    Stricter than the site's pages, whose forms send their empty fields to mean "any": here a
    parameter that is given needs a value (`min_price=` is an error), except those in
    `blank_allowed`."""
    form = form_class(params)
    for name, field in form.fields.items():
        if name in params and name not in blank_allowed:
            field.required = True
            field.error_messages = {
                **field.error_messages,
                "required": "Give a value, or leave the parameter out.",
            }
    if not form.is_valid():
        raise form_validation_error(form)
    return form


def form_validation_error(form) -> exceptions.ValidationError:
    """A bound, invalid Django form's errors as a DRF 400, in the one error shape."""
    return exceptions.ValidationError(
        {
            (api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name): [
                exceptions.ErrorDetail(message, code=error.code)
                for error in errors
                for message in error.messages
            ]
            for name, errors in form.errors.as_data().items()
        }
    )


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([permissions.AllowAny])
def api_not_found(request):
    """Any /api/ address no endpoint matches (an id that is not one, say): a JSON 404."""
    raise exceptions.NotFound("There is no API endpoint at this address.")
