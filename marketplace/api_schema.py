"""The OpenAPI schema's side of the API's error answers (drf-spectacular's DEFAULT_SCHEMA_CLASS).

Every operation documents the error answers its view can give, all with the one `Error` shape of
`marketplace/api.py`, derived from what the view is made of (so a new endpoint is documented
without anyone remembering to): its authentication (401 with WWW-Authenticate), its permissions
(403), a path parameter or a page number (404), a request body (413, 415), its throttles (429 with
Retry-After), and 400 everywhere (a malformed query string or body). A view documents what cannot
be derived (a 503, say) in its own `extend_schema(responses=...)` with `api_error(...)`.
"""

from types import SimpleNamespace

import uritemplate
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every error answer of the API. `detail` is one or more sentences for people (the Sell "
        "page shows it to sellers). A 400 for invalid input also lists each field's or query "
        "parameter's messages under its name (`non_field_errors` for the others)."
    ),
    "properties": {"detail": {"type": "string", "description": "What went wrong, in sentences."}},
    "required": ["detail"],
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "How to authenticate: `Token` (send `Authorization: Token <key>`).",
            "required": True,
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "Seconds to wait before trying again.",
        }
    },
}
BODY_METHODS = ("POST", "PUT", "PATCH")

# Someone signed in who is neither staff nor the owner of anything the probe asks about.
_SIGNED_IN = SimpleNamespace(
    is_authenticated=True, is_anonymous=False, is_active=True, is_staff=False,
    is_superuser=False, pk=None, id=None, has_perm=lambda *args, **kwargs: False,
)  # fmt: skip
_ANONYMOUS = SimpleNamespace(
    is_authenticated=False, is_anonymous=True, is_active=False, is_staff=False,
    is_superuser=False, pk=None, id=None, has_perm=lambda *args, **kwargs: False,
)  # fmt: skip


def api_error(description: str) -> OpenApiResponse:
    """An error answer in the `Error` shape, for a view's own extend_schema(responses=...)."""
    return OpenApiResponse(response=ERROR_REF, description=description)


class ApiAutoSchema(AutoSchema):
    def get_auth(self):
        auths = super().get_auth()
        if {} not in auths and not self._may_refuse(_ANONYMOUS):
            auths.append({})  # e.g. POST /api/auth/token/: anyone may call it
        return auths

    # drf-spectacular 0.30's hook for an operation's responses (it is what extend_schema feeds).
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        self.registry.register_on_missing(
            ResolvedComponent(
                name=ERROR_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                object=ERROR_COMPONENT,
                schema=ERROR_SCHEMA,
            )
        )
        for code, description in self._error_statuses().items():
            if code not in responses:
                responses[code] = self._error_response(code, description)
        for code, headers in HEADERS.items():
            if code in responses:
                responses[code].setdefault("headers", {}).update(headers)
        return responses

    def _error_response(self, code: str, description: str) -> dict:
        # JSON everywhere; a view that renders other types (the CSV report) renders errors there.
        content = {}
        for media_type in self.map_renderers("media_type"):
            schema = ERROR_REF if "json" in media_type else {"type": "string"}
            content[media_type] = {"schema": schema}
        return {"content": content, "description": description}

    def _error_statuses(self) -> dict[str, str]:
        statuses = {
            "400": "The request is not valid; `detail` says why, and invalid fields or query "
            "parameters list their messages."
        }
        if self.view.get_authenticators():
            statuses["401"] = (
                "Not signed in, or the token is not valid: sign in, or send "
                "`Authorization: Token <key>` (from POST /api/auth/token/)."
            )
        csrf = self.method in (*BODY_METHODS, "DELETE") and any(
            isinstance(auth, SessionAuthentication) for auth in self.view.get_authenticators()
        )
        if csrf or self._may_refuse(_SIGNED_IN):
            statuses["403"] = (
                "Not allowed for this user (or, when signed in with the session, no CSRF token)."
            )
        if uritemplate.variables(self.path) or (self._is_list_view() and self._get_paginator()):
            statuses["404"] = "Not found: no such object for this user, or no such page."
        if self.method in BODY_METHODS:
            statuses["413"] = "The request body is over the size limit."
            statuses["415"] = "The request body's Content-Type is not one this operation reads."
        if self.view.get_throttles():
            statuses["429"] = "Too many requests; try again after `Retry-After` seconds."
        return statuses

    def _may_refuse(self, user) -> bool:
        """Whether the view's permissions may refuse this kind of user for this method."""
        request = SimpleNamespace(method=self.method, user=user, auth=None)
        has_object = bool(uritemplate.variables(self.path))
        for permission in self.view.get_permissions():
            try:
                if not permission.has_permission(request, self.view):
                    return True
                # The probe has no object: a check that needs one may refuse (it raises here).
                if has_object and not permission.has_object_permission(request, self.view, None):
                    return True
            except Exception:  # an object-dependent check (no object here) may refuse
                return True
        return False
