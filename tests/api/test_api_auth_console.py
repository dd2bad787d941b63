"""The auth matrix over every route of the console's domain: projects, datasets and records,
project deletion, subscribe, usage and invoices, on both databases.

Every route is called with every kind of credential the rules tell apart: none or a bad one,
the operator token (not a key), the admin's and a member's team keys, the project's own key
and a project key of another project, another org's admin key, the keys of a frozen org, and
the key (and, for project routes, the admin's key) of a project being deleted. Refused calls
must leave no audit event; allowed ones exactly their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import keyformat
from core.settings import Settings
from services import datasets as dataset_service
from services import projects as project_service
from services.seeding import SEED_ACTOR, OrgShape
from store.models import AuditEvent, Dataset, KeyScope, OrgStatus, Project, ProjectStatus
from tests.support.api_support import (
    OPERATOR_TOKEN,
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    mint,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=3, datasets_per_project=1, records_per_dataset=2,
                 project_keys_per_project=0)
UNAUTHENTICATED = ("none", "malformed", "wrong", "operator", "expired", "revoked")
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@dataclass
class Org:
    """An org seen by the matrix: its keys, and the projects each placeholder stands for."""

    keys: OrgKeys
    own: str  # project_ids[0], the project of `keys.project`
    frozen: str  # project_ids[1], being deleted (status frozen)
    other: str  # project_ids[2]
    frozen_key: str = ""  # a key of the frozen project
    deletions: dict[str, str] = field(default_factory=dict)  # placeholder -> project id

    @property
    def id(self) -> str:
        return self.keys.org.org_id


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    needs: str  # team | admin | project_read | project_write
    ok: int
    body: Callable[[], Any] | None = None
    headers: Callable[[], dict[str, str]] = dict


ROUTES = [
    Route("POST", "/orgs/{org}/projects", "admin", 201, lambda: {"name": unique("p")}),
    Route("GET", "/orgs/{org}/projects", "team", 200),
    Route("GET", "/orgs/{org}/projects/{project}", "project_read", 200),
    Route("PATCH", "/orgs/{org}/projects/{project}", "admin", 200, lambda: {"name": unique("r")}),
    Route("POST", "/orgs/{org}/projects/{project}/datasets", "project_write", 201,
          lambda: {"name": unique("d")}),
    Route("GET", "/orgs/{org}/projects/{project}/datasets", "project_read", 200),
    Route("GET", "/orgs/{org}/projects/{project}/datasets/{dataset}", "project_read", 200),
    Route("DELETE", "/orgs/{org}/projects/{project}/datasets/{fresh_dataset}", "project_write",
          200),
    Route("POST", "/orgs/{org}/projects/{project}/datasets/{dataset}/records", "project_write",
          201, lambda: [{"n": 1}, {"n": 2}]),
    Route("GET", "/orgs/{org}/projects/{project}/datasets/{dataset}/records", "project_read",
          200),
    Route("POST", "/orgs/{org}/projects/{fresh_project}/deletion", "admin", 202,
          lambda: {"confirm_name": "to-delete", "grace_seconds": 3600}),
    Route("GET", "/orgs/{org}/projects/{watched}/deletion", "admin", 200),
    Route("POST", "/orgs/{org}/projects/{cancelled}/deletion/cancel", "admin", 200),
    Route("POST", "/orgs/{org}/projects/{expedited}/deletion/expedite", "admin", 200),
    Route("POST", "/orgs/{org}/subscriptions", "admin", 201,
          lambda: {"kind": "job_plan", "plan": "job-plan-gpu"},
          lambda: {"Idempotency-Key": unique("order")}),
    Route("GET", "/orgs/{org}/usage", "admin", 200),
    Route("GET", "/orgs/{org}/invoices", "admin", 200),
]


def _expected(route: Route, case: str) -> int:
    if case in UNAUTHENTICATED:
        return 401
    if case == "admin":
        return route.ok
    if case == "member":
        return route.ok if route.needs in ("team", "project_read") else 403
    if case == "project_own":
        return route.ok if route.needs.startswith("project_") else 403
    if case == "admin_on_frozen_project":
        return route.ok if route.method == "GET" else 403
    return 403  # another project's key, another org's key, a frozen org's or project's key


def _fresh(sessions: sessionmaker[Session], org: Org, project: str, kind: str) -> str:
    """A project (named "to-delete") or a dataset made for one call that consumes it."""
    with sessions.begin() as session:
        if kind == "project":
            return project_service.create_project(session, org.id, unique("to-delete"),
                                                  actor="test").id
        return dataset_service.create_dataset(session, org.id, project, unique("gone"),
                                              actor="test").id


def _dataset(sessions: sessionmaker[Session], project: str) -> str:
    with sessions() as session:
        return str(session.scalars(select(Dataset.id).where(Dataset.project_id == project)
                                   .order_by(Dataset.id)).first())


def _path(sessions: sessionmaker[Session], route: Route, org: Org, project: str,
          frozen_org: bool) -> tuple[str, Any]:
    body = route.body() if route.body else None
    values = {"org": org.id, "project": project,
              **{p: org.own for p in ("watched", "cancelled", "expedited")}, **org.deletions}
    if "{dataset}" in route.path or "{fresh_dataset}" in route.path:
        values["dataset"] = _dataset(sessions, project)
        values["fresh_dataset"] = values["dataset"] if frozen_org or project == org.frozen \
            else _fresh(sessions, org, project, "dataset")
    if "{fresh_project}" in route.path:
        if frozen_org:
            values["fresh_project"] = org.own
        else:
            values["fresh_project"] = _fresh(sessions, org, project, "project")
            with sessions() as session:
                made = session.get(Project, values["fresh_project"])
                assert made is not None
                body = {**(body or {}), "confirm_name": made.name}
    return route.path.format(**values), body


async def _call(api: httpx.AsyncClient, sessions: sessionmaker[Session], route: Route,
                org: Org, key: str | None, project: str, frozen_org: bool = False
                ) -> httpx.Response:
    path, body = _path(sessions, route, org, project, frozen_org)
    headers = {**route.headers(), **(bearer(key) if key is not None else {})}
    return await api.request(route.method, path, json=body, headers=headers)


def _org(sessions: sessionmaker[Session], settings: Settings) -> Org:
    keys = seed_with_keys(sessions, settings, SHAPE)
    own, frozen, other = keys.org.project_ids
    org = Org(keys, own=own, frozen=frozen, other=other)
    org.frozen_key = mint(sessions, settings, org.id, keys.org.admin_member_id,
                          scope=KeyScope.PROJECT, project_id=frozen)
    with sessions.begin() as session:
        row = session.get(Project, frozen)
        assert row is not None
        row.status = ProjectStatus.FROZEN  # as a deletion's freeze leaves it
    return org


async def _start_deletions(api: httpx.AsyncClient, sessions: sessionmaker[Session],
                           org: Org) -> None:
    """Deletions in grace for the status, cancel and expedite routes to act on."""
    for placeholder in ("watched", "cancelled", "expedited"):
        project = _fresh(sessions, org, org.own, "project")
        with sessions() as session:
            made = session.get(Project, project)
            assert made is not None
            name = made.name
        started = await api.post(f"/orgs/{org.id}/projects/{project}/deletion",
                                 headers=bearer(org.keys.admin),
                                 json={"confirm_name": name, "grace_seconds": 3600})
        assert started.status_code == 202, started.text
        await eventually(lambda p=project: api.get(  # type: ignore[misc]
            f"/orgs/{org.id}/projects/{p}/deletion", headers=bearer(org.keys.admin)),
            lambda r: r.status_code == 200 and r.json()["status"] == "grace")
        org.deletions[placeholder] = project


def _actors(sessions: sessionmaker[Session], org_id: str) -> dict[str, set[str]]:
    """Actions per actor among the org's events (the seed's and the workflows' left out)."""
    found: dict[str, set[str]] = {}
    with sessions() as session:
        for actor, action in session.execute(select(AuditEvent.actor, AuditEvent.action).where(
                AuditEvent.org_id == org_id, AuditEvent.actor != SEED_ACTOR,
                AuditEvent.actor != "test", AuditEvent.actor.not_like("workflow:%"))):
            found.setdefault(actor, set()).add(action)
    return found


async def test_every_console_route_refuses_every_bad_credential(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org, other, cold = (_org(session_factory, settings) for _ in range(3))
    never_stored = keyformat.generate("team", settings.pepper_bytes).secret
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), client) as api:
        await _start_deletions(api, session_factory, org)
        before = {o.id: _actors(session_factory, o.id) for o in (org, other, cold)}
        set_status(session_factory, cold.id, OrgStatus.FROZEN)
        k = org.keys
        cases: list[tuple[str, Org, str | None, str, bool]] = [
            ("none", org, None, org.own, False),
            ("malformed", org, "olt_not-a-real-key", org.own, False),
            ("wrong", org, never_stored, org.own, False),
            ("operator", org, OPERATOR_TOKEN, org.own, False),
            ("expired", org, k.expired, org.own, False),
            ("revoked", org, k.revoked, org.own, False),
            ("member", org, k.member, org.own, False),
            ("project_own", org, k.project, org.own, False),
            ("project_other", org, k.project, org.other, False),
            ("other_org", org, other.keys.admin, org.own, False),
            ("frozen_member", cold, cold.keys.member, cold.own, True),
            ("frozen_admin", cold, cold.keys.admin, cold.own, True),
            ("frozen_project_key", org, org.frozen_key, org.frozen, False),
            ("admin_on_frozen_project", org, k.admin, org.frozen, False),
        ]
        for route in ROUTES:
            for case, target, key, project, frozen_org in cases:
                if case == "admin_on_frozen_project" and not route.needs.startswith("project_"):
                    continue
                response = await _call(api, session_factory, route, target, key, project,
                                       frozen_org)
                want = _expected(route, case)
                assert response.status_code == want, (route.method, route.path, case,
                                                      response.text)
                if want >= 400:
                    problem(response, want)
                    if key is not None:
                        assert key not in response.text
            # and the admin's own call is answered (after every refusal, so those were not
            # refused for want of something the admin's call would have used up)
            response = await _call(api, session_factory, route, org, k.admin, org.own)
            assert response.status_code == _expected(route, "admin"), (route.path,
                                                                        response.text)
    admin, project = f"key:{k.admin[:12]}", f"key:{k.project[:12]}"
    after = _actors(session_factory, org.id)
    assert set(after) - set(before[org.id]) <= {admin, project}
    assert after.get(project, set()) <= {"dataset.created", "dataset.deleted",
                                         "dataset.records_appended", "api_key.created"}
    for quiet in (other, cold):
        assert _actors(session_factory, quiet.id) == before[quiet.id]
