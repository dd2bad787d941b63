"""The grace window of a deletion: asked for, defaulted, and never below the minimum.

One rule for the org teardown and the project deletion, API and console alike: a window
shorter than `LIFECYCLE_MIN_GRACE_SECONDS` is refused, so one click (or one stolen admin key)
never deletes at once; the same minimum bounds `expedite` (see the workflows).
"""

from __future__ import annotations

from core.problems import InvalidInput


def grace_window(requested: int | None, default: int, minimum: int) -> int:
    """The window to use: the one asked for (refused below `minimum`), else the default
    raised to the minimum."""
    if requested is None:
        return max(default, minimum)
    if requested < minimum:
        raise InvalidInput(f"the grace window must be at least {minimum} seconds",
                           field="grace_seconds", minimum=minimum)
    return requested


def expedite_refusal(elapsed_seconds: float, minimum: int) -> str | None:
    """Why the grace window cannot be ended now, or None when it can: not before `minimum`
    seconds of it have passed."""
    if elapsed_seconds >= minimum:
        return None
    left = int(minimum - elapsed_seconds) + 1
    return (f"the grace window cannot be ended before its minimum of {minimum} seconds "
            f"has passed ({left} seconds left)")
