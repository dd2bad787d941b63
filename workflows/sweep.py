"""`KeyExpirySweepWorkflow`: claim due reminders, write digests, deliver them; page by page.

Five phases, each a keyset walk of one activity per page: keys (by `(expires_at, id)`), unused
keys (by org and key id, orgs with an unused-key policy only), cards (by id), compose (by org
id), deliver (by outbox id). The sweep's clock is fixed once, at the
start of the first run, and handed to every page and every continued run, so all pages agree
on which keys are due. After `pages_per_run` pages (or when Temporal suggests it) the workflow
continues as new with its phase, cursor and totals, so a sweep of a million keys keeps every
run's history bounded, however many keys and orgs there are.

Pages run with the shared `RETRY` policy: a database page is retried forever with capped backoff,
so a sweep finishes once the database is back; a delivery page fails on purpose while a receiver
refuses, the backoff spaces its retries and each message's own attempt limit ends them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.digests import DigestActivities
    from activities.sweep import SweepClaimActivities
    from contracts.sweep import (
        CARDS,
        COMPOSE,
        DELIVER,
        DONE,
        KEYS,
        UNUSED,
        PageInput,
        PageResult,
        SweepInput,
        SweepResult,
        SweepTotals,
    )
    from workflows.policies import RETRY

# The page activity of each phase: classes differ, the signature (one page in, its counts out)
# is the same.
ACTIVITY: dict[str, Callable[[Any, PageInput], PageResult]] = {
    KEYS: SweepClaimActivities.claim_keys, UNUSED: SweepClaimActivities.claim_unused_keys,
    CARDS: SweepClaimActivities.claim_cards,
    COMPOSE: DigestActivities.compose, DELIVER: DeliveryActivities.deliver}
NEXT = {KEYS: UNUSED, UNUSED: CARDS, CARDS: COMPOSE, COMPOSE: DELIVER, DELIVER: DONE}


def _add(totals: SweepTotals, phase: str, page: PageResult) -> None:
    if phase == KEYS:
        totals.keys_due += page.due
    elif phase == UNUSED:
        totals.keys_unused_noticed += page.noticed
        totals.keys_revoked_unused += page.revoked
    elif phase == CARDS:
        totals.cards_due += page.due
    totals.reminders_queued += page.queued_reminders
    totals.messages_queued += page.queued_messages
    totals.messages_sent += page.sent
    totals.messages_failed += page.failed


@workflow.defn
class KeyExpirySweepWorkflow:
    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        info = workflow.info()
        if not sweep.sweep_id:
            # First run: fix identity and clock; both survive continue-as-new unchanged.
            sweep = replace(sweep, sweep_id=f"{info.workflow_id}/{info.run_id}",
                            now=sweep.now or workflow.now())
        assert sweep.now is not None
        phase, cursor, totals = sweep.phase, sweep.cursor, sweep.totals
        pages = 0
        while phase != DONE:
            if phase == DELIVER and not sweep.deliver:
                phase, cursor = DONE, ""
                break
            if pages >= sweep.pages_per_run or info.is_continue_as_new_suggested():
                workflow.continue_as_new(replace(sweep, phase=phase, cursor=cursor,
                                                 runs=sweep.runs + 1, totals=totals))
            limit = {COMPOSE: sweep.compose_page_size,
                     DELIVER: sweep.deliver_page_size}.get(phase, sweep.page_size)
            page = await workflow.execute_activity_method(
                ACTIVITY[phase],
                PageInput(sweep_id=sweep.sweep_id, now=sweep.now,
                          windows_days=sweep.windows_days, cursor=cursor, limit=limit),
                start_to_close_timeout=timedelta(seconds=sweep.page_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=sweep.heartbeat_timeout_seconds),
                retry_policy=RETRY)
            pages += 1
            _add(totals, phase, page)
            if page.done:
                phase, cursor = NEXT[phase], ""
            else:
                cursor = page.cursor
        return SweepResult(sweep_id=sweep.sweep_id, now=sweep.now, runs=sweep.runs + 1,
                           totals=totals)
