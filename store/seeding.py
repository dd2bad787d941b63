"""Rows for bulk loading without the domain operations: keys by the million for the sweep.

Whole orgs are seeded through the services (`services.seeding`), so they look exactly like
orgs made through the API; what is here feeds `store.bulk` directly, for benchmarks and scale
tests that need a million keys in seconds and sign in with none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from store.models import KeyScope


def expiring_keys(owners: Sequence[tuple[str, str]], count: int,
                  expires_at: Callable[[int], datetime], *, created_at: datetime,
                  revoked_every: int = 0) -> Iterator[dict[str, Any]]:
    """`count` team key rows for `store.bulk.insert_keys`, dealt round-robin to `owners`
    (org id, creator member id); key `i` expires at `expires_at(i)` and every
    `revoked_every`-th key (from the first) is revoked at `created_at`.

    Ids, names and prefixes derive from `i`, so seeding twice gives the same keys (a benchmark
    compares two sweeps of one state). The secret hash is zeros: nobody signs in with these.
    """
    for i in range(count):
        org_id, creator = owners[i % len(owners)]
        revoked = revoked_every > 0 and i % revoked_every == 0
        yield dict(id=f"k{i:031d}", org_id=org_id, scope=KeyScope.TEAM, project_id=None,
                   name=f"key-{i}", prefix=f"olt_{i:08d}", secret_hash=bytes(32),
                   created_by=creator, created_at=created_at, expires_at=expires_at(i),
                   revoked_at=created_at if revoked else None)
