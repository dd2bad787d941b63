"""Alembic environment: the URL comes from the caller's config, else from the settings."""

from __future__ import annotations

from alembic import context

import store.models  # noqa: F401  (registers every table on the metadata)
from core.settings import load_settings
from store.base import Base
from store.db import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().effective_database_url


def run() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
