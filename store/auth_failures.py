"""Failed authentications, counted per bucket so every API replica throttles the same guesses.

A bucket is a keyed hash (HMAC under the server pepper) of what is counted: the client's
address, or the public prefix of the key that was tried. No address or prefix is stored in the
clear, and rows older than the window are deleted as new ones arrive, so the table stays the
size of the current attack.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, ScalarSelect, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, BigIntPK, created_column


class AuthFailure(Base):
    """One failed authentication in one bucket."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_bucket_at", "bucket", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()


def window_columns(buckets: list[str], since: datetime) -> list[ScalarSelect[Any]]:
    """Per bucket, its failures since `since` and the oldest of them, as scalar subqueries:
    the key check selects them in its own statement, so the throttle costs no round trip."""
    columns: list[ScalarSelect[Any]] = []
    for bucket in buckets:
        within = (AuthFailure.bucket == bucket, AuthFailure.created_at >= since)
        columns.append(select(func.count()).where(*within).scalar_subquery())
        columns.append(select(func.min(AuthFailure.created_at)).where(*within)
                       .scalar_subquery())
    return columns


def read_columns(buckets: list[str],
                 values: Sequence[Any]) -> dict[str, tuple[int, datetime | None]]:
    """`window_columns`' values, as `failures` answers them."""
    return {bucket: (int(values[2 * i] or 0), values[2 * i + 1])
            for i, bucket in enumerate(buckets)}


def failures(session: Session, buckets: list[str], now: datetime,
             window: timedelta) -> dict[str, tuple[int, datetime | None]]:
    """Per bucket: its failures within `window` and the oldest of them (when the count will
    first go down)."""
    values = session.execute(select(*window_columns(buckets, now - window))).one()
    return read_columns(buckets, values)


def record_failure(session: Session, buckets: list[str], now: datetime,
                   window: timedelta) -> None:
    """Count one failure in each bucket, dropping what fell out of the window."""
    session.execute(delete(AuthFailure).where(AuthFailure.created_at < now - window))
    session.add_all(AuthFailure(bucket=bucket, created_at=now) for bucket in buckets)
    session.flush()
