"""The grace window of a deletion: asked for, defaulted, and within the policy's bounds.

One rule for the org teardown and the project deletion, API and console alike: a window
shorter than `LIFECYCLE_MIN_GRACE_SECONDS` is refused, so one click (or one stolen admin key)
never deletes at once; the same minimum bounds `expedite` (see the workflows). A window longer
than `LIFECYCLE_MAX_GRACE_SECONDS` is refused too: a deletion the org asked for must happen
within the time the operator promises (a privacy policy's "deleted within 30 days").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.problems import InvalidInput

# The largest maximum the settings accept, and the schema's bound on `grace_seconds`.
GRACE_CEILING = 365 * 24 * 3600


def grace_window(requested: int | None, default: int, minimum: int, maximum: int) -> int:
    """The window to use: the one asked for (refused outside `minimum`..`maximum`), else the
    default brought within them."""
    if requested is None:
        return min(max(default, minimum), maximum)
    if requested < minimum:
        raise InvalidInput(f"the grace window must be at least {minimum} seconds",
                           field="grace_seconds", minimum=minimum)
    if requested > maximum:
        raise InvalidInput(f"the grace window must be at most {maximum} seconds",
                           field="grace_seconds", maximum=maximum)
    return requested


@dataclass(frozen=True)
class DeletionTimes:
    """When a deletion started at `now` happens: at the end of its window (`scheduled`), or
    at the soonest when the window is ended early (`earliest`: `expedite` waits the minimum)."""

    earliest: datetime
    scheduled: datetime


def deletion_times(now: datetime, window: int, minimum: int) -> DeletionTimes:
    return DeletionTimes(earliest=now + timedelta(seconds=min(minimum, window)),
                         scheduled=now + timedelta(seconds=window))


def expedite_refusal(elapsed_seconds: float, minimum: int) -> str | None:
    """Why the grace window cannot be ended now, or None when it can: not before `minimum`
    seconds of it have passed."""
    if elapsed_seconds >= minimum:
        return None
    left = int(minimum - elapsed_seconds) + 1
    return (f"the grace window cannot be ended before its minimum of {minimum} seconds "
            f"has passed ({left} seconds left)")


@dataclass(frozen=True)
class GraceWindow:
    """A start's default window with its bounds, and when a deletion started now happens."""

    seconds: int
    minimum: int
    maximum: int
    times: DeletionTimes

    @classmethod
    def of(cls, now: datetime, default: int, minimum: int, maximum: int) -> GraceWindow:
        seconds = grace_window(None, default, minimum, maximum)
        return cls(seconds, minimum, maximum, deletion_times(now, seconds, minimum))
