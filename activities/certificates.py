"""Issuing deletion certificates: the payload that is signed, and the signing itself.

Why a separate object: the org teardown and the project deletion both issue certificates, and
both must sign the same canonical form with the same key (core.signing). The payload holds
ids, a name hash, the actor, times and counts only: a certificate outlives the org and may be
handed to anyone, so it carries no personal data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from core import erasure_ledger
from core.signing import Signer, canonical
from store.models import DeletionCertificate, ProjectDeletionCertificate

ORG_DELETION = "org-deletion"
PROJECT_DELETION = "project-deletion"


def _when(at: datetime) -> str:
    return at.isoformat()


def _verification(leftovers: dict[str, int]) -> dict[str, Any]:
    return {"passed": not any(leftovers.values()), "leftover_rows": leftovers}


def org_payload(cert: DeletionCertificate) -> dict[str, Any]:
    return {"kind": ORG_DELETION, "certificate_id": cert.id, "org_id": cert.org_id,
            "org_name_hash": cert.org_name_hash, "requested_by": cert.requested_by,
            "issued_at": _when(cert.created_at), "workflow_id": cert.workflow_id,
            "run_id": cert.run_id, "steps": cert.steps, "counts": cert.counts,
            "verification": _verification(cert.verification)}


def project_payload(cert: ProjectDeletionCertificate) -> dict[str, Any]:
    return {"kind": PROJECT_DELETION, "certificate_id": cert.id, "org_id": cert.org_id,
            "project_id": cert.project_id, "project_name_hash": cert.project_name_hash,
            "requested_by": cert.requested_by, "issued_at": _when(cert.created_at),
            "workflow_id": cert.workflow_id, "run_id": cert.run_id, "steps": cert.steps,
            "counts": cert.counts, "verification": _verification(cert.verification)}


class Issuer:
    """Signs certificates with the configured key (without one, they stay unsigned), and keeps
    org deletion certificates in the erasure ledger when one is configured."""

    def __init__(self, signer: Signer | None = None, ledger_dir: Path | None = None) -> None:
        self.signer = signer
        self.ledger_dir = ledger_dir

    def sign(self, payload: dict[str, Any]) -> str | None:
        return self.signer.sign(payload).decode("ascii") if self.signer else None

    def keep(self, org_id: str, signed: str | None, payload: dict[str, Any]) -> None:
        """Write the ledger entry: the signed document, or the canonical payload unsigned."""
        if self.ledger_dir is not None:
            erasure_ledger.record(self.ledger_dir, org_id,
                                  signed.encode("ascii") if signed else canonical(payload))
