"""Production refuses development secrets: the public pepper and the public webhook secret key
stop the API and the worker, and compose will not start without its secrets.

Why: the development pepper is in the source, so key hashes made with it can be recomputed by
anyone holding a database dump; the development webhook key likewise opens every endpoint's
sealed signing secret; a compose default password is a password everyone knows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import DEV_PEPPER, DEV_WEBHOOK_SECRET_KEY, Settings, SettingsError
from tests.support.deploy_support import COMPOSE, ROOT
from worker import run_worker


def _dev_pepper_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"key_pepper": SecretStr(DEV_PEPPER),
                                       "development": False, **changes})


def test_the_api_refuses_to_start_with_the_development_pepper(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="LIFECYCLE_KEY_PEPPER"):
        create_app(_dev_pepper_settings(settings))
    app = create_app(_dev_pepper_settings(settings, development=True))  # `lifecycle dev`
    app.state.engine.dispose()


async def test_the_worker_refuses_to_start_with_the_development_pepper(
        settings: Settings) -> None:
    with pytest.raises(SettingsError, match="development pepper"):
        await run_worker(_dev_pepper_settings(settings))


def test_the_worker_process_exits_naming_the_pepper(settings: Settings) -> None:
    env = {**os.environ, "LIFECYCLE_KEY_PEPPER": DEV_PEPPER,
           "LIFECYCLE_DATABASE_URL": settings.effective_database_url,
           "LIFECYCLE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    env.pop("LIFECYCLE_DEVELOPMENT", None)
    done = subprocess.run([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "LIFECYCLE_KEY_PEPPER" in done.stderr


def _dev_webhook_key_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={
        "webhook_secret_key": SecretStr(DEV_WEBHOOK_SECRET_KEY), "development": False,
        **changes})


def test_the_api_refuses_to_start_with_the_development_webhook_key(settings: Settings) -> None:
    assert settings.webhook_secret_key.get_secret_value() != DEV_WEBHOOK_SECRET_KEY
    with pytest.raises(SettingsError, match="LIFECYCLE_WEBHOOK_SECRET_KEY"):
        create_app(_dev_webhook_key_settings(settings))
    app = create_app(_dev_webhook_key_settings(settings, development=True))  # `lifecycle dev`
    app.state.engine.dispose()


async def test_the_worker_refuses_to_start_with_the_development_webhook_key(
        settings: Settings) -> None:
    with pytest.raises(SettingsError, match="development key that seals webhook"):
        await run_worker(_dev_webhook_key_settings(settings))


def test_the_worker_process_exits_naming_the_webhook_key(settings: Settings) -> None:
    env = {**os.environ, "LIFECYCLE_WEBHOOK_SECRET_KEY": DEV_WEBHOOK_SECRET_KEY,
           "LIFECYCLE_DATABASE_URL": settings.effective_database_url,
           "LIFECYCLE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    env.pop("LIFECYCLE_DEVELOPMENT", None)
    done = subprocess.run([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "LIFECYCLE_WEBHOOK_SECRET_KEY" in done.stderr
    assert DEV_WEBHOOK_SECRET_KEY not in done.stderr  # the message names it, never shows it


def test_compose_has_no_default_for_a_secret() -> None:
    text = COMPOSE.read_text()
    for name in ("POSTGRES_PASSWORD", "LIFECYCLE_KEY_PEPPER", "LIFECYCLE_WEBHOOK_SECRET_KEY"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") and len(use) > 10 for use in uses), \
            f"{name} must be required with a message, found {uses}"
    assert "-lifecycle}" not in text
