"""The deletion certificate read with the receipt the teardown's start answered with, and the
public keys anyone checks its signature with.

The admin's keys are revoked by the teardown itself, so this route takes the receipt instead
of a key (see `core.receipts`); operators read the same certificate through the status route.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import bearer_token
from api.deps import SessionDep, SettingsDep
from api.one_hop import OneHopRoute
from api.params import OrgId
from api.problems import NotFound, NotPermitted, Unauthorized, problem_responses
from api.routes.teardown import _certificate_out
from api.teardown_models import TeardownStatus, status_from_certificate
from core.receipts import receipt_org

router = APIRouter(route_class=OneHopRoute, tags=["teardown"])
# Where anyone fetches the public keys of the certificates' signatures.
KEYS_PATH = "/.well-known/lifecycle-certificate-keys"


@router.get("/orgs/{org_id}/teardown/certificate", response_model=TeardownStatus,
            summary="The deletion certificate, read with the receipt from the start "
                    "(`Authorization: Bearer olc_...`); 404 until it is issued",
            responses=problem_responses(Unauthorized, NotPermitted, NotFound))
async def certificate(org_id: OrgId, request: Request, session: SessionDep,
                      settings: SettingsDep) -> TeardownStatus:
    owner = receipt_org(bearer_token(request), settings.pepper_bytes, int(time.time()))
    if owner is None:
        raise Unauthorized("the certificate receipt is not valid or has expired")
    if owner != org_id:
        raise NotPermitted("this receipt is for another organization's certificate")
    cert = await _certificate_out(session, org_id)
    if cert is None:
        raise NotFound("no deletion certificate yet: the teardown is still running")
    return status_from_certificate(cert)


class PublishedKey(BaseModel):
    key_id: str = Field(description="the `signing_key_id` a certificate names")
    algorithm: str = Field(description="always Ed25519")
    public_key: str = Field(description="the raw 32-byte public key, base64url")


class PublishedKeys(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"keys": [{
        "key_id": "ed25519-6f1d0c2b9a7e4d31", "algorithm": "Ed25519",
        "public_key": "Jm0pV9N4c2lZbqK8gQ1rT3xYw7uE5sA6dF0hJ2kL4mO"}]}]})

    keys: list[PublishedKey]


@router.get(KEYS_PATH, response_model=PublishedKeys,
            summary="The public keys deletion certificates are signed with (no key needed): "
                    "save this document to check certificates offline")
def certificate_keys(settings: SettingsDep) -> PublishedKeys:
    return PublishedKeys(keys=[PublishedKey(**k.published())
                               for k in settings.certificate_keys.values()])
