"""The OpenAPI document, made to tell the truth about errors and auth.

FastAPI describes error bodies as `application/json` and adds its own `HTTPValidationError`
for 422, but every error this API sends is an RFC 9457 `application/problem+json` body (see
`api.problems`). This rewrites each operation's 4xx/5xx responses to that media type and schema,
adds the 401/422/429 every authenticated route can answer, and declares the bearer scheme, so a
client generator or a schema fuzzer sees what the server really does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import MEDIA_TYPE, ProblemDetails

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
PUBLIC = {"/healthz", "/readyz"}


def _fix_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if path not in PUBLIC:
        responses.setdefault("401", {"description": "Authentication required"})
        responses.setdefault("422", {"description": "Invalid input"})
        responses.setdefault("429", {"description": "Too many failed authentications "
                                                    "(`Retry-After` says when to try again)"})
        operation["security"] = [{"bearer": []}]
    for code, response in responses.items():
        if code[0] in "45":
            if response.get("description") == "Validation Error":
                response["description"] = "Invalid input"
            response["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "an API key (olt_... team, olp_... project) or, for /ops, the "
                           "operator token"}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _fix_operation(path, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
