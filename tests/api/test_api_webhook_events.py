"""Domain events reach an org's endpoint: a member's removal and a teardown's request and
cancel, each delivered by the real workflow and verified by the reference `standardwebhooks`
package on the receiving side."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import standard_webhooks
from core.settings import Settings
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    seed_with_keys,
    teardown_status,
)
from tests.support.sweep_support import (
    Hooks,
    add_endpoint,
    local_webhooks,
    smtp_server,
    webhook_receiver,
)
from tests.support.teardown_support import eventually, teardown_worker


async def _accepted(hooks: Hooks) -> list[dict[str, Any]]:
    return list(hooks.unique().values())


async def test_member_removed_and_teardown_requested_and_cancelled_reach_the_endpoint(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret=standard_webhooks.new_secret())
    org = seed_with_keys(session_factory, settings)
    org_id, member_id, admin = org.org.org_id, org.member_id, bearer(org.admin)
    temporal = time_skipping_env.client
    with smtp_server() as (_, port), webhook_receiver(hooks) as url:
        settings = local_webhooks(settings, smtp_port=port)
        add_endpoint(session_factory, settings, org_id, url, hooks.secret)
        async with teardown_worker(temporal, settings, session_factory,
                                   deliver_at_once=True) as queue, \
                api_client(api_settings(settings, task_queue=queue), temporal) as client:
            removed = await client.delete(f"/orgs/{org_id}/members/{member_id}",
                                          headers=admin)
            assert removed.status_code == 202, removed.text
            first = await eventually(lambda: _accepted(hooks),
                                     lambda got: any(e["type"] == "member.removed"
                                                     for e in got))
            started = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                        json={"confirm_name": org.org.name,
                                              "grace_seconds": 3600})
            assert started.status_code == 202, started.text
            await eventually(lambda: teardown_status(client, org_id, admin),
                             lambda s: s["status"] == "grace")
            cancelled = await client.post(f"/orgs/{org_id}/teardown/cancel", headers=admin,
                                          json={"reason": "changed our mind"})
            assert cancelled.status_code == 200, cancelled.text
            events = await eventually(
                lambda: _accepted(hooks),
                lambda got: {"org.teardown.requested", "org.teardown.cancelled"}
                <= {e["type"] for e in got})
    assert hooks.bad_signatures == 0
    (gone,) = [e for e in first if e["type"] == "member.removed"]
    assert gone["org_id"] == org_id and gone["data"]["member_id"] == member_id
    assert gone["data"]["request_id"] and gone["id"].startswith("evt_")
    by_type = {e["type"]: e for e in events}
    assert by_type["org.teardown.requested"]["data"]["teardown_id"] == \
        by_type["org.teardown.cancelled"]["data"]["teardown_id"]
    assert sorted(e["type"] for e in events) == [
        "member.removed", "org.teardown.cancelled", "org.teardown.requested"]
