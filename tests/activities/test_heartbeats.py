"""An activity's heartbeats, throttled: at most one per interval, and the ones forced."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.heartbeats import Heartbeat


def _beats(every_s: float, calls: int, force_last: bool) -> list[object]:
    env = ActivityEnvironment()
    sent: list[object] = []
    env.on_heartbeat = lambda *details: sent.append(details[0])

    def work() -> None:
        beat = Heartbeat(every_s)
        for n in range(1, calls + 1):
            beat(n, force=force_last and n == calls)

    env.run(work)
    return sent


def test_within_the_interval_only_a_forced_heartbeat_is_sent() -> None:
    assert _beats(3600, 5, force_last=True) == [5]
    assert _beats(3600, 5, force_last=False) == []


def test_with_no_interval_every_call_heartbeats() -> None:
    assert _beats(0, 5, force_last=False) == [1, 2, 3, 4, 5]
