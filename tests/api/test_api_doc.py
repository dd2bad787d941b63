"""docs/api.md lists every route the app serves, each once, and no route it does not serve.

Routes come from the app itself (`create_app()`): every operation of its OpenAPI document, plus
`/metrics`, which is kept out of that document on purpose. A route added without a row in the
page, or a row left behind by a removed route, fails here.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (/\S*)`\s*\|")
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
OUTSIDE_OPENAPI = {"GET /metrics"}


def documented(text: str) -> Counter[str]:
    """`METHOD /path` of each table row whose first cell is a route."""
    return Counter(f"{m.group(1)} {m.group(2)}" for line in text.splitlines()
                   if (m := ROW.match(line)))


def operations(app: FastAPI) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items()
            for method in item if method in HTTP_METHODS}


def test_every_route_is_listed_once(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'doc.db'}"))
    with TestClient(app) as client:  # the routes kept out of the OpenAPI document exist
        for route in OUTSIDE_OPENAPI:
            method, path = route.split(" ", 1)
            assert client.request(method, path).status_code == 200, route
    routes = operations(app) | OUTSIDE_OPENAPI
    rows = documented(PAGE.read_text(encoding="utf-8"))
    assert sorted(routes - set(rows)) == [], "routes missing from docs/api.md"
    assert sorted(set(rows) - routes) == [], "rows in docs/api.md for routes the app lacks"
    assert sorted(r for r, c in rows.items() if c > 1) == [], "routes listed twice"


def test_the_parser_reads_route_rows_only() -> None:
    table = ("| route | who | what |\n|---|---|---|\n"
             "| `GET /orgs/{org_id}` | team key | info |\n"
             "| `GET /orgs/{org_id}` | again | twice |\n"
             "| 401 | `unauthorized` | not a route |\n"
             "Prose naming `POST /orgs/{org_id}/teardown` is not a row.\n")
    assert documented(table) == Counter({"GET /orgs/{org_id}": 2})
