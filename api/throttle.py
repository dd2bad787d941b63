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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from fastapi import Request
from sqlalchemy import ScalarSelect
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
    # the one-shot form: the same HMAC, without a Python object per bucket on every request
    return hmac.digest(settings.pepper_bytes, f"auth:{kind}:{value}".encode(),
                       hashlib.sha256).hex()


def buckets(settings: Settings, client: str, token: str) -> list[str]:
    """The address's bucket, and the presented key prefix's (any string of a key's length)."""
    found = [_bucket(settings, "addr", client)]
    if len(token) >= keyformat.PREFIX_LEN:
        found.append(_bucket(settings, "prefix", token[:keyformat.PREFIX_LEN]))
    return found


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Throttle:
    """One credential check's throttle: its buckets, the refusal when one is full, and the
    count of a failure.

    The counts are read either by `read` or, on the key check's hot path, as columns of the
    key check's own statement (`columns`, then `enforce` with their values): the same answer,
    with no round trip of its own.
    """

    def __init__(self, request: Request, settings: Settings, token: str) -> None:
        self.sessions = cast("sessionmaker[Session]", request.app.state.session_factory)
        self.settings = settings
        self.window = timedelta(seconds=settings.auth_failure_window_seconds)
        self.names = buckets(settings, _client(request), token)
        self.now = utcnow()

    def columns(self) -> tuple[ScalarSelect[Any], ...]:
        """The counts as columns on bound parameters (valued by `params`)."""
        return auth_failures.window_columns(len(self.names))

    def params(self) -> dict[str, Any]:
        return auth_failures.window_params(self.names, self.now - self.window)

    def enforce(self, values: Sequence[Any]) -> None:
        """429 with Retry-After when a bucket is full, on the values of `columns`."""
        self._refuse_full(auth_failures.read_columns(self.names, values))

    def read(self, session: Session | None = None) -> None:
        """`enforce` on counts read in `session`, or in a session of its own."""
        if session is None:
            with self.sessions() as own:
                self.read(own)
            return
        self._refuse_full(auth_failures.failures(session, self.names, self.now, self.window))

    def _refuse_full(self, counts: dict[str, tuple[int, datetime | None]]) -> None:
        over = [oldest for count, oldest in counts.values()
                if count >= self.settings.auth_failure_limit and oldest is not None]
        if over:
            wait = max(1, math.ceil((min(over) + self.window - self.now).total_seconds()))
            raise TooManyFailures(f"too many failed authentications from this client or for "
                                  f"this key; retry after {wait} seconds", retry_after=wait)

    def run(self, check: Callable[[], T]) -> T:
        """Run the credential `check`; a failure is recorded in a transaction of its own,
        committed whatever becomes of the request's."""
        try:
            return check()
        except Unauthorized:
            with self.sessions.begin() as session:
                auth_failures.record_failure(session, self.names, utcnow(), self.window)
            raise


def guarded(request: Request, settings: Settings, token: str, check: Callable[[], T],
            session: Session | None = None) -> T:
    """Run the credential `check` unless the caller is throttled; count it if it fails.

    The counts are read in `session` when given (the request's own: no second connection on
    the hot path).
    """
    throttle = Throttle(request, settings, token)
    throttle.read(session)
    return throttle.run(check)
