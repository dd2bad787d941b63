"""`lifecycle erasures reapply`: delete again the orgs a restored backup brought back.

For every entry of the erasure ledger (`LIFECYCLE_ERASURE_LEDGER_DIR`) whose org exists in the
database again, the teardown's purge runs again in one transaction, with no grace (the deletion
was decided and certified), the verifier counts the org's rows in every registered table, and
the certificate row is put back from the ledger when the restore lost it (so the name
quarantine holds again). An entry whose signature does not verify against the trusted keys is
reported and left alone: the ledger is not a way to delete orgs at will.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from core import erasure_ledger
from core.settings import Settings
from core.signing import SignatureInvalid, verify
from lifecycle.certificate_cli import trusted_keys
from store import teardown as teardown_store
from store.db import make_engine, make_session_factory
from store.models import DeletionCertificate, Organization
from store.plan import owned_counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="erasures_command", required=True)
    reapply = sub.add_parser("reapply", help="purge again every org of the ledger that "
                                             "exists in the database (after a restore)")
    reapply.add_argument("--dry-run", action="store_true",
                         help="only say which orgs are back, delete nothing")


def _payload(document: bytes, settings: Settings) -> dict[str, Any]:
    keys = trusted_keys(settings)
    if json.loads(document).get("signature") is None or not keys:
        raise SignatureInvalid("unsigned, or no trusted keys to check it with")
    body, _ = verify(document, keys)
    return body


def run(args: argparse.Namespace, settings: Settings) -> int:
    ledger = settings.erasure_ledger_path
    if ledger is None:
        print("lifecycle: no erasure ledger: set LIFECYCLE_ERASURE_LEDGER_DIR", file=sys.stderr)
        return 2
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    refused = back = 0
    try:
        for org_id, document in erasure_ledger.entries(ledger):
            try:
                payload = _payload(document, settings)
            except (SignatureInvalid, ValueError) as exc:
                print(f"{org_id}: entry NOT VALID, left alone: {exc}")
                refused += 1
                continue
            with sessions.begin() as session:
                if session.get(Organization, org_id) is None:
                    continue
                back += 1
                if args.dry_run:
                    print(f"{org_id}: back in the database (dry run: nothing deleted)")
                    continue
                removed = teardown_store.purge_again(session, org_id)
                left = {t: n for t, n in owned_counts(session, org_id).items() if n}
                if left:
                    raise SystemExit(f"{org_id}: rows left after the purge {left}; "
                                     "nothing was deleted")
                if teardown_store.certificate_of(session, org_id) is None:
                    _restore_certificate(session, payload, document)
            print(f"{org_id}: purged again, {sum(removed.values())} rows "
                  f"({', '.join(f'{t}={n}' for t, n in removed.items())}); verified: "
                  "nothing left")
    finally:
        engine.dispose()
    print(f"{back} org(s) back from a restore, {refused} ledger entr(ies) refused")
    return 1 if refused else 0


def _restore_certificate(session: Any, payload: dict[str, Any], document: bytes) -> None:
    session.add(DeletionCertificate(
        id=payload["certificate_id"], org_id=payload["org_id"],
        org_name_hash=payload["org_name_hash"], requested_by=payload["requested_by"],
        workflow_id=payload["workflow_id"], run_id=payload["run_id"], steps=payload["steps"],
        counts=payload["counts"], verification=payload["verification"]["leftover_rows"],
        created_at=datetime.fromisoformat(payload["issued_at"]),
        signed=document.decode("ascii").rstrip("\n")))
