"""The sign-in mail: written to the outbox in the request's transaction, sent right after.

The message is queued with the link in the same transaction, so a link exists only if its mail
will go out. Its delivery workflow starts once the response is sent (the row is committed by
then); if that start fails, the sweep's delivery phase still sends the pending message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session
from temporalio.service import RPCError

from api.temporal import TemporalConnection
from clients.outbox import start_deliveries
from store.console_auth import SIGN_IN_MESSAGE_PREFIX
from store.models import OutboxMessage

log = logging.getLogger("lifecycle.console")

SUBJECT = "Your sign-in link for the Org Lifecycle console"


def queue_sign_in_mail(session: Session, *, link_id: str, org_id: str, org_name: str,
                       recipient: str, url: str, minutes: int) -> str:
    """Queue one sign-in mail; its idempotency key."""
    key = SIGN_IN_MESSAGE_PREFIX + link_id
    body = (f"Sign in to {org_name} on the Org Lifecycle console:\n\n{url}\n\n"
            f"The link works once, within {minutes} minutes. If you did not ask to sign in, "
            "ignore this mail: nobody can sign in without it.")
    session.add(OutboxMessage(idempotency_key=key, org_id=org_id, channel="email",
                              recipient=recipient, subject=SUBJECT, body=body))
    return key


async def deliver_now(temporal: TemporalConnection, task_queue: str,
                      keys: Sequence[str]) -> None:
    """Start the queued mails' delivery workflows (after the commit: they read the rows).

    Runs after the response, so a slow or absent Temporal never delays the sign-in page nor
    tells a stranger from a member; a start that fails is logged and the sweep's delivery
    phase sends the mail.
    """
    if not keys:
        return
    try:
        await start_deliveries(await temporal.get(), task_queue, keys)
    except (ConnectionError, RPCError) as exc:
        log.warning("console: sign-in mail left to the sweep's delivery: %s", exc)
