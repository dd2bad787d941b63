"""Free text never holds a card number, whoever sends it: API, console, and what reaches Temporal.

Names, descriptions, key names and a teardown's cancel reason (which Temporal keeps in the
workflow's history, beyond the reach of any database purge) once took card numbers as typed.
Every request model's text fields are declared with `core.text`'s types, and the last test
here fails the build when a new field is a bare `str`.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import uuid
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

import api
from api.app import create_app
from contracts.teardown import teardown_workflow_id
from core.settings import Settings
from core.text import GUARDS
from lifecycle.cli import main
from services.seeding import OrgShape, seed_org
from store.models import Organization
from tests.security.scan import database_texts, findings, history_texts
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.console_support import csrf_of, http_sign_in
from tests.support.db_snapshot import changed, fingerprint
from tests.support.teardown_support import eventually, teardown_worker

GRACE = 3 * 86400


async def test_names_descriptions_and_key_names_refuse_card_numbers(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    before = fingerprint(session_factory)
    async with api_client(api_settings(settings)) as api:
        answers = [
            await api.patch(f"/orgs/{org_id}", headers=admin,
                            json={"description": "card 4111-1111-1111-1111 exp 12/30"}),
            await api.patch(f"/orgs/{org_id}", headers=admin, json={"name": "4111111111111111"}),
            await api.patch(f"/orgs/{org_id}", headers=admin,
                            json={"name": "Acme", "website": "https://x.example/4111_1111_1111_1111"}),
            await api.post(f"/orgs/{org_id}/keys", headers=admin,
                           json={"name": "5555 5555 5555 4444", "expires_in_days": 30}),
            await api.post(f"/orgs/{org_id}/keys", headers=admin,
                           json={"name": "ci 5555_5555_5555_4444", "expires_in_days": 30}),
            await api.post(f"/orgs/{org_id}/projects", headers=admin,
                           json={"name": "4242.4242.4242.4242"}),
        ]
        after = fingerprint(session_factory)
        fine = await api.patch(f"/orgs/{org_id}", headers=admin,
                               json={"description": "order 4111, invoice 2026-12-01"})
    for answer in answers:
        problem(answer, 422)
        assert "4242" not in answer.text and "1111" not in answer.text
    assert fine.status_code == 200, fine.text
    assert set(changed(before, after)) <= {"api_keys"}  # the admin key's last use, no more
    assert findings(database_texts(session_factory)) == []


async def test_console_forms_refuse_card_numbers_in_any_field(
        session_factory: sessionmaker[Session], settings: Settings,
        time_skipping_env: WorkflowEnvironment) -> None:
    shape = OrgShape(projects=1, datasets_per_project=0, records_per_dataset=0, members=1,
                     team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                     invoices=0)
    with session_factory.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes)
    own = settings.model_copy(update={"task_queue": f"free-text-{uuid.uuid4().hex[:8]}"})
    async with api_client(own, time_skipping_env.client) as client:
        await http_sign_in(client, session_factory, org.admin_email)
        page = await client.get("/console/settings")
        before = fingerprint(session_factory)
        for field, value in (("description", "4111_1111_1111_1111"),
                             ("name", "Acme 4111--1111--1111--1111")):
            sent = await client.post("/console/settings/basic", data={
                "name": org.name, "description": "", "contact_email": "", "website": "",
                "timezone": "UTC", field: value, "csrf_token": csrf_of(page.text)})
            assert sent.status_code == 422, (field, sent.status_code)
            assert "1111" not in sent.text
    assert changed(before, fingerprint(session_factory)) == []


async def test_a_cancel_reason_with_a_card_number_never_reaches_the_history(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as api:
        started = await api.post(f"/orgs/{org_id}/teardown", headers=admin,
                                 json={"confirm_name": org.org.name, "grace_seconds": GRACE})
        assert started.status_code == 202, started.text
        await eventually(lambda: _status(api, org_id, admin), lambda s: s == "grace")
        refused = await api.post(f"/orgs/{org_id}/teardown/cancel", headers=admin,
                                 json={"reason": "refund to 4242 4242 4242 4242"})
        problem(refused, 422)
        kept = await api.post(f"/orgs/{org_id}/teardown/cancel", headers=admin,
                              json={"reason": "kept after all, ticket 77"})
        assert kept.status_code == 200 and kept.json()["accepted"], kept.text
        await eventually(lambda: _status(api, org_id, admin), lambda s: s == "cancelled")
    history = await temporal.get_workflow_handle(teardown_workflow_id(org_id)).fetch_history()
    texts = history_texts(history)
    assert any("kept after all, ticket 77" in text for text in texts), "the scan sees nothing"
    assert findings(("history", text) for text in texts) == []
    with session_factory() as session:
        assert session.get(Organization, org_id) is not None


async def _status(api: Any, org_id: str, headers: dict[str, str]) -> str:
    response = await api.get(f"/orgs/{org_id}/teardown", headers=headers)
    return str(response.json().get("status"))


def _unguarded(annotation: Any, guarded: bool, seen: set[type]) -> list[str]:
    """Where in `annotation` a `str` is not wrapped in one of the text guards."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return _unguarded(base, guarded or any(m in GUARDS for m in meta), seen)
    if annotation is str:
        return [] if guarded else ["str"]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_holes(annotation, seen)
    if origin in (Union, types.UnionType, list, dict, tuple, set, frozenset):
        return [hole for arg in get_args(annotation) for hole in _unguarded(arg, guarded, seen)]
    return []


def _model_holes(model: type[BaseModel], seen: set[type]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    holes = []
    for name, field in model.model_fields.items():
        guarded = any(m in GUARDS for m in field.metadata)
        holes += [f"{model.__name__}.{name}"
                  for _ in _unguarded(field.annotation, guarded, seen)[:1]]
    return holes


def _request_models(settings: Settings) -> list[str]:
    """The schema name of every JSON request body the API's OpenAPI document declares."""
    app = create_app(settings)
    try:
        document = app.openapi()
    finally:
        app.state.engine.dispose()
    names = []
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                names.append(ref.rsplit("/", 1)[-1])
    return sorted(set(names))


def _api_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.walk_packages(api.__path__, "api."):
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, type) and issubclass(value, BaseModel) \
                    and value.__module__.startswith("api."):
                found[value.__name__] = value
    return found


def test_every_text_field_of_every_request_model_is_guarded(settings: Settings) -> None:
    names = _request_models(settings)
    assert len(names) >= 10, f"the walk found only {names}: it would pass on anything"
    models = _api_models()
    seen: set[type] = set()
    holes = [hole for name in names for hole in _model_holes(models[name], seen)]
    assert holes == [], f"text fields without core.text's guard: {holes}"


@pytest.mark.parametrize("argv", [
    ["keys", "create", "some-org", "--name", "4111_1111_1111_1111"],
    ["projects", "create", "some-org", "--name", "ci\r\nBcc: x@evil.example"],
    ["teardown", "cancel", "some-org", "--reason", "refund 4242 4242 4242 4242"],
    ["members", "invite", "some-org", "5555.5555.5555.4444@acme.example"],
])
def test_the_command_line_refuses_before_sending(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2  # a usage error: no request was made
    err = capsys.readouterr().err
    assert "card number" in err or "one line" in err, err
    assert "4242" not in err and "1111" not in err and "evil" not in err
