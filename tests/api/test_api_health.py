"""The app factory's probes and error rendering, against a real SQLite file and real closed ports.

Temporal "down" is a port nothing listens on, so the client really fails to connect; the
database "down" is a PostgreSQL URL on such a port, so psycopg2 really raises OperationalError.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from api.app import create_app
from api.deps import SessionDep
from api.problems import MEDIA_TYPE, Conflict, InvalidInput, NotFound, Unavailable
from core.settings import Settings


def _closed_port() -> int:
    """A port that was free a moment ago and that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}",
                    temporal_address=f"127.0.0.1:{_closed_port()}")


@pytest.fixture
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_problem(response: Response, status: int, type_uri: str,
                    instance: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == type_uri
    assert body["status"] == status
    assert body["instance"] == instance
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_healthz_answers_even_when_every_dependency_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path,
                        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/x",
                        temporal_address=f"127.0.0.1:{_closed_port()}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_naming_temporal_when_only_temporal_is_down(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] != "ready"
    assert body["checks"]["database"] == {"ok": True}
    temporal = body["checks"]["temporal"]
    assert temporal["ok"] is False
    assert "Connection refused" in temporal["error"]
    assert len(temporal["error"]) <= 200  # a short reason, not the bridge's debug dump


def test_readyz_reports_the_database_when_it_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path,
                        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/x",
                        temporal_address=f"127.0.0.1:{_closed_port()}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"]
    assert checks["temporal"]["ok"] is False


def test_validation_error_is_a_422_problem_that_does_not_echo_the_input(
        app: FastAPI, client: TestClient) -> None:
    @app.get("/probe/{number}")
    def probe(number: int) -> dict[str, int]:
        return {"number": number}

    response = client.get("/probe/4111111111111111x")

    body = _assert_problem(response, 422, InvalidInput.type_uri(), "/probe/4111111111111111x")
    errors = body["errors"]
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0]["loc"] == ["path", "number"]
    assert "input" not in errors[0]
    assert "4111111111111111" not in str(errors)


def test_a_raised_problem_renders_with_its_extensions(app: FastAPI, client: TestClient) -> None:
    @app.get("/probe/orgs/{org_id}")
    def probe(org_id: str) -> None:
        raise NotFound(f"organization {org_id} does not exist", org_id=org_id)

    body = _assert_problem(client.get("/probe/orgs/o-42"), 404, NotFound.type_uri(),
                           "/probe/orgs/o-42")
    assert body["detail"] == "organization o-42 does not exist"
    assert body["org_id"] == "o-42"


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    _assert_problem(client.get("/no/such/route"), 404, "about:blank", "/no/such/route")


def test_unreachable_database_is_a_503_problem_not_a_500(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path,
                        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/x",
                        temporal_address=f"127.0.0.1:{_closed_port()}")
    app = create_app(settings)

    @app.get("/probe/db")
    def probe(session: SessionDep) -> int:
        return int(session.execute(text("SELECT 1")).scalar_one())

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/probe/db")

    _assert_problem(response, 503, Unavailable.type_uri(), "/probe/db")
    assert response.headers["retry-after"]


def test_unexpected_error_is_a_500_problem_without_internals(app: FastAPI,
                                                             client: TestClient) -> None:
    @app.get("/probe/boom")
    def probe() -> None:
        raise RuntimeError("internal secret detail")

    response = client.get("/probe/boom")

    _assert_problem(response, 500, "urn:org-lifecycle:problem:internal", "/probe/boom")
    assert "internal secret detail" not in response.text
    assert "Traceback" not in response.text


def test_session_dep_commits_on_success_and_rolls_back_on_a_problem(
        app: FastAPI, client: TestClient) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe_rows (name TEXT NOT NULL)"))

    @app.post("/probe/rows/{name}")
    def add(name: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        session.execute(text("INSERT INTO probe_rows (name) VALUES (:n)"), {"n": name})
        if fail:
            raise Conflict(f"{name} already exists")
        return {"name": name}

    assert client.post("/probe/rows/kept").status_code == 200
    _assert_problem(client.post("/probe/rows/dropped", params={"fail": True}), 409,
                    Conflict.type_uri(), "/probe/rows/dropped")

    with app.state.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM probe_rows")).scalars().all()
    assert names == ["kept"]
