"""The secret-scanning partner endpoint: a scanner reports our keys it found in public.

No API key authenticates the caller: the scanner signs the raw body with ECDSA P-256 under one
of the public keys configured in `LIFECYCLE_SECRET_SCANNING_PUBLIC_KEYS`, and a request whose
signature does not verify is a 401 before anything is read or written. The body carries the
leaked keys themselves, so the app-wide guard that refuses keys in bodies steps aside here
(`checks_own_text`): nothing of a token is kept, only the stored key's prefix in the audit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.deps import SessionDep, SettingsDep
from api.one_hop import OneHopRoute
from api.problems import InvalidInput, Unauthorized, problem_responses
from api.text_guard import checks_own_text
from core import secret_scanning
from services import secret_scanning as service

router = APIRouter(route_class=OneHopRoute, tags=["secret scanning"])
MAX_FINDINGS = 1000
EXAMPLE_TOKEN = "olt_" + "0" * 49


class FindingIn(BaseModel):
    """One string the scanner found, where, and what it takes it for."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(max_length=1000)
    type: str = Field(max_length=200)
    url: str = Field("", max_length=4000)
    source: str = Field("", max_length=200)


class VerdictOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token_raw": EXAMPLE_TOKEN, "token_type": "lifecycle_team_key",
        "label": "true_positive"}]})

    token_raw: str
    token_type: str
    label: str = Field(description="true_positive: one of our keys (revoked if it still "
                                   "worked) | false_positive: anything else")


FINDINGS = TypeAdapter(list[FindingIn])
REQUEST_BODY: dict[str, Any] = {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "maxItems": MAX_FINDINGS,
               "items": FindingIn.model_json_schema()},
    "example": [{"token": EXAMPLE_TOKEN, "type": "lifecycle_team_key",
                 "url": "https://github.com/octo/app/blob/main/.env", "source": "content"}]}}}


async def signed_findings(request: Request, settings: SettingsDep) -> list[FindingIn]:
    """The findings of a correctly signed request; 401 otherwise, before any parsing."""
    body = await request.body()
    if not secret_scanning.verify(settings.secret_scanning_public_keys,
                                  request.headers.get(secret_scanning.KEY_ID_HEADER),
                                  request.headers.get(secret_scanning.SIGNATURE_HEADER), body):
        raise Unauthorized("the request is not signed by a configured secret-scanning key")
    try:
        findings = FINDINGS.validate_python(json.loads(body))
    except (ValueError, ValidationError, RecursionError):
        raise InvalidInput('the body must be a JSON list of {"token", "type", "url", '
                           '"source"}') from None
    if len(findings) > MAX_FINDINGS:
        raise InvalidInput(f"at most {MAX_FINDINGS} findings per request")
    return findings


@router.post("/secret-scanning/github", response_model=list[VerdictOut],
             responses=problem_responses(Unauthorized, InvalidInput),
             openapi_extra={"requestBody": REQUEST_BODY},
             summary="Report leaked keys (secret-scanning partner protocol); live ones are "
                     "revoked")
@checks_own_text
def report_leaks(findings: Annotated[list[FindingIn], Depends(signed_findings)],
                 session: SessionDep, settings: SettingsDep) -> list[VerdictOut]:
    verdicts = service.report(session, [service.Finding(f.token, f.type, f.url, f.source)
                                        for f in findings], pepper=settings.pepper_bytes)
    return [VerdictOut(token_raw=v.token_raw, token_type=v.token_type, label=v.label)
            for v in verdicts]
