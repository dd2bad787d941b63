"""Record the outbox delivery's replay fixture: `python -m tests.workflows.histories.record_outbox`.

Two histories: a teardown notice queued in the outbox and delivered at once to a real SMTP
server; and a webhook event paced by its own backoff, refused twice (500) by a real receiver
then accepted. Re-record it in place when the workflow changes (nothing is released yet).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.outbox import start_delivery
from contracts.outbox import SENT, OutboxDeliveryInput, delivery_input
from core import standard_webhooks
from core.binaries import temporal_test_server
from core.settings import Settings
from services.seeding import BARE_ORG, seed_org
from store import webhooks
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import OutboxMessage
from tests.support.sweep_support import (
    Hooks,
    add_endpoint,
    local_webhooks,
    smtp_server,
    webhook_receiver,
)
from tests.support.teardown_support import teardown_worker

HERE = Path(__file__).parent
KEY = "org-teardown-recorded:run:requested"


async def record() -> None:
    with tempfile.TemporaryDirectory() as tmp, smtp_server() as (inbox, port):
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = local_webhooks(Settings(database_url=url, data_dir=Path(tmp),
                                           smtp_port=port))
        sessions = make_session_factory(make_engine(url))
        with sessions.begin() as session:
            session.add(OutboxMessage(idempotency_key=KEY, channel="email",
                                      recipient="admin@example.com",
                                      subject="Your organization is scheduled for deletion",
                                      body="Organization recorded: scheduled for deletion.\n"))
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server())
        async with env, teardown_worker(env.client, settings, sessions) as queue:
            handle = await start_delivery(env.client, queue, OutboxDeliveryInput(KEY))
            result = await handle.result()
            assert result.status == SENT and len(inbox.all()) == 1, (result, inbox.all())
            (HERE / "outbox_delivery.json").write_text((await handle.fetch_history()).to_json())
            await _record_paced(env, settings, sessions, queue)


async def _record_paced(env: WorkflowEnvironment, settings: Settings,
                        sessions: sessionmaker[Session], queue: str) -> None:
    hooks = Hooks(secret=standard_webhooks.new_secret(), refuse_first=2, refuse_status=500)
    with webhook_receiver(hooks) as url:
        with sessions.begin() as session:
            org = seed_org(session, BARE_ORG, settings.pepper_bytes)
        add_endpoint(sessions, settings, org.org_id, url, hooks.secret)
        with sessions.begin() as session:
            (key,) = webhooks.emit(session, org.org_id, "webhook.test", "recorded",
                                   {}).message_keys
        handle = await start_delivery(env.client, queue, delivery_input(key))
        result = await handle.result()
        assert result.status == SENT and hooks.requests == 3, (result, hooks.requests)
        (HERE / "outbox_webhook_paced.json").write_text(
            (await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(record())
