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
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import DEV_PEPPER, DEV_WEBHOOK_SECRET_KEY, Settings, SettingsError
from tests.support.deploy_support import COMPOSE, ROOT
from worker import run_worker


@dataclass(frozen=True)
class DevSecret:
    """A development value the servers refuse: its setting, variable and the worker's words."""

    field: str
    variable: str
    value: str
    worker_says: str


DEV_SECRETS = [
    DevSecret("key_pepper", "LIFECYCLE_KEY_PEPPER", DEV_PEPPER, "development pepper"),
    DevSecret("webhook_secret_key", "LIFECYCLE_WEBHOOK_SECRET_KEY", DEV_WEBHOOK_SECRET_KEY,
              "development key that seals webhook"),
]
BY_NAME = pytest.mark.parametrize("secret", DEV_SECRETS, ids=[d.variable for d in DEV_SECRETS])


def _with_dev_secret(settings: Settings, secret: DevSecret, **changes: object) -> Settings:
    return settings.model_copy(update={secret.field: SecretStr(secret.value),
                                       "development": False, **changes})


@BY_NAME
def test_the_api_refuses_to_start_with_a_development_secret(settings: Settings,
                                                             secret: DevSecret) -> None:
    assert getattr(settings, secret.field).get_secret_value() != secret.value
    with pytest.raises(SettingsError, match=secret.variable):
        create_app(_with_dev_secret(settings, secret))
    app = create_app(_with_dev_secret(settings, secret, development=True))  # `lifecycle dev`
    app.state.engine.dispose()


@BY_NAME
async def test_the_worker_refuses_to_start_with_a_development_secret(
        settings: Settings, secret: DevSecret) -> None:
    with pytest.raises(SettingsError, match=secret.worker_says):
        await run_worker(_with_dev_secret(settings, secret))


@BY_NAME
def test_the_worker_process_exits_naming_the_secret(settings: Settings,
                                                    secret: DevSecret) -> None:
    env = {**os.environ, secret.variable: secret.value,
           "LIFECYCLE_DATABASE_URL": settings.effective_database_url,
           "LIFECYCLE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    env.pop("LIFECYCLE_DEVELOPMENT", None)
    done = subprocess.run([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert secret.variable in done.stderr
    assert secret.value not in done.stderr  # the message names it, never shows it


def test_compose_has_no_default_for_a_secret() -> None:
    text = COMPOSE.read_text()
    for name in ("POSTGRES_PASSWORD", "LIFECYCLE_KEY_PEPPER", "LIFECYCLE_WEBHOOK_SECRET_KEY"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") and len(use) > 10 for use in uses), \
            f"{name} must be required with a message, found {uses}"
    assert "-lifecycle}" not in text
