"""Throttling failed authentication, per client address and per key prefix, in the database.

Why in the database: the API runs as several replicas, and a guesser spread over them must
meet one count. A failure (a malformed, unknown, wrong, revoked or expired key; a wrong
operator token) is recorded in two buckets, the client's address and the presented key's
prefix, each an HMAC under the pepper so no address is stored. When either bucket holds
`LIFECYCLE_AUTH_FAILURE_LIMIT` failures within `LIFECYCLE_AUTH_FAILURE_WINDOW_SECONDS`, every
attempt in it gets a 429 with `Retry-After` (when the oldest failure leaves the window) before
any key is looked up, whether the prefix exists or not: the throttle answers the same for a
known and an unknown prefix, so it is no prefix oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar, cast

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from core import keyformat
from core.problems import Problem, Unauthorized
from core.settings import Settings
from store import auth_failures
from store.base import utcnow

T = TypeVar("T")


class TooManyFailures(Problem):
    status = 429
    slug = "too-many-failures"
    title = "Too many failed authentications"


def _bucket(settings: Settings, kind: str, value: str) -> str:
    return hmac.new(settings.pepper_bytes, f"auth:{kind}:{value}".encode(),
                    hashlib.sha256).hexdigest()


def buckets(settings: Settings, client: str, token: str) -> list[str]:
    """The address's bucket, and the presented key prefix's (any string of a key's length)."""
    found = [_bucket(settings, "addr", client)]
    if len(token) >= keyformat.PREFIX_LEN:
        found.append(_bucket(settings, "prefix", token[:keyformat.PREFIX_LEN]))
    return found


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def guarded(request: Request, settings: Settings, token: str, check: Callable[[], T],
            session: Session | None = None) -> T:
    """Run the credential `check` unless the caller is throttled; count it if it fails.

    The counts are read in `session` when given (the request's own: no second connection on
    the hot path); a failure is recorded in a transaction of its own, committed whatever
    becomes of the request's.
    """
    sessions = cast(sessionmaker[Session], request.app.state.session_factory)
    window = timedelta(seconds=settings.auth_failure_window_seconds)
    names = buckets(settings, _client(request), token)
    now = utcnow()
    if session is not None:
        counts = auth_failures.failures(session, names, now, window)
    else:
        with sessions() as own:
            counts = auth_failures.failures(own, names, now, window)
    over = [oldest for count, oldest in counts.values()
            if count >= settings.auth_failure_limit and oldest is not None]
    if over:
        wait = max(1, math.ceil((min(over) + window - now).total_seconds()))
        raise TooManyFailures(f"too many failed authentications from this client or for this "
                              f"key; retry after {wait} seconds", retry_after=wait)
    try:
        return check()
    except Unauthorized:
        with sessions.begin() as session:
            auth_failures.record_failure(session, names, utcnow(), window)
        raise
