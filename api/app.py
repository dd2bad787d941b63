"""The application factory: `uvicorn api.app:create_app --factory`.

A factory rather than a module-level `app`, so importing the module reads no environment and
opens nothing, and each test builds an app around its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from temporalio.client import Client

from api import console, docs, health, instrument, metrics, openapi, problems
from api.deliveries import DeliverQueued
from api.routes import (
    audit,
    billing,
    certificates,
    contacts,
    dataset_files,
    datasets,
    keys,
    members,
    ops,
    ops_sweep,
    org_directory,
    orgs,
    permissions,
    project_deletion,
    projects,
    quotas,
    secret_scanning,
    subscriptions,
    teardown,
    webhooks,
)
from api.security_headers import SecurityHeaders
from api.temporal import TemporalConnection
from api.text_guard import refuse_hostile_text
from core.settings import Settings, load_settings, refuse_unsafe
from core.temporal import TemporalSecurity
from store.db import make_session_factory, settings_engine
from store.objects import configured_store

log = logging.getLogger("lifecycle.api")


def create_app(settings: Settings | None = None,
               temporal_client: Client | None = None) -> FastAPI:
    """Build the app; with no `settings`, read them from the `LIFECYCLE_*` environment.

    `temporal_client` replaces the lazily connected client (tests pass the time-skipping
    server's); workflows start on `settings.task_queue` either way.
    """
    settings = settings if settings is not None else load_settings()
    refuse_unsafe(settings)
    engine = settings_engine(settings)  # connects on first use only
    temporal = TemporalConnection(settings.effective_temporal_address,
                                  settings.temporal_namespace, temporal_client,
                                  TemporalSecurity.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("database %s; Temporal %s", settings.shown_database_url,
                 settings.effective_temporal_address)
        yield
        temporal.forget()
        engine.dispose()

    app = FastAPI(title="Org Lifecycle Engine",
                  summary="Org teardown, key expiry and the account lifecycle, run on Temporal",
                  version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(refuse_hostile_text)],
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    metrics.install(app, app.state.session_factory)
    app.state.temporal = temporal
    app.state.objects = configured_store(settings)  # None: dataset files are off
    instrument.instrument(app, settings)
    problems.install(app)
    app.include_router(health.router)
    for module in (org_directory, orgs, members, projects, project_deletion, datasets,
                   dataset_files, keys,
                   quotas, permissions, contacts, subscriptions, billing, audit, teardown,
                   certificates, ops, ops_sweep, webhooks, secret_scanning):
        app.include_router(module.router)
    console.install(app, settings)
    app.add_middleware(DeliverQueued, temporal=temporal, task_queue=settings.task_queue)
    app.add_middleware(SecurityHeaders, extras={console.PREFIX: console.HEADERS})
    docs.install(app)
    openapi.install(app)
    return app
