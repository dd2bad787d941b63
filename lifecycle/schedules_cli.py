"""`lifecycle schedules sync|show|pause|unpause|trigger`: the operator's handle on the sweep.

Kept apart from `schedules` so the Temporal calls stay testable without argparse, and the CLI
stays a thin shell: connect, call, print one line (or JSON for `show`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from clients import schedules
from core.settings import Settings
from core.temporal import (
    TemporalSecurity,
    TemporalUnavailableError,
    short_error,
    wait_until_serving,
)

ACTIONS = ("sync", "show", "pause", "unpause", "trigger")
CONNECT_DEADLINE_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="sync: create or update it from the settings; show: its state and "
                             "next runs (JSON); pause, unpause (with --note); trigger: run a "
                             "sweep now (skipped while one runs)")
    parser.add_argument("--note", default="", help="reason recorded with pause/unpause")


async def _run(args: argparse.Namespace, settings: Settings) -> str:
    client = await wait_until_serving(settings.effective_temporal_address,
                                      settings.temporal_namespace,
                                      deadline_s=CONNECT_DEADLINE_S,
                                      security=TemporalSecurity.from_settings(settings))
    if args.action == "sync":
        return f"schedule {schedules.SCHEDULE_ID} {await schedules.sync(client, settings)}"
    if args.action == "show":
        view = await schedules.show(client)
        return json.dumps(dataclasses.asdict(view), default=str, indent=2)
    if args.action == "pause":
        await schedules.pause(client, args.note or "paused by operator")
        return f"schedule {schedules.SCHEDULE_ID} paused"
    if args.action == "unpause":
        await schedules.unpause(client, args.note or "unpaused by operator")
        return f"schedule {schedules.SCHEDULE_ID} unpaused"
    await schedules.trigger(client)
    return f"schedule {schedules.SCHEDULE_ID} triggered"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from temporalio.service import RPCError

    try:
        print(asyncio.run(_run(args, settings)))
    except TemporalUnavailableError as exc:
        print(f"lifecycle schedules: {exc}", file=sys.stderr)
        return 1
    except RPCError as exc:
        print(f"lifecycle schedules {args.action}: {short_error(exc)}", file=sys.stderr)
        return 1
    return 0
