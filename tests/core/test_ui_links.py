"""Temporal UI links follow one setting, whatever port or host the UI is served on."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.routes.ops import ui_url
from core.settings import Settings
from lifecycle.devstack import DevPlan


def test_links_use_the_ui_port_or_the_configured_base_url(tmp_path: Path) -> None:
    moved = Settings(data_dir=tmp_path, temporal_ui_port=18233)
    assert ui_url(moved, "default", "org-teardown-1") == \
        "http://127.0.0.1:18233/namespaces/default/workflows/org-teardown-1"
    public = Settings(data_dir=tmp_path, temporal_ui_url="https://temporal.example.org/")
    assert ui_url(public, "default", "a/b") == \
        "https://temporal.example.org/namespaces/default/workflows/a%2Fb"


def test_lifecycle_dev_hands_its_ui_port_to_the_api(tmp_path: Path) -> None:
    args = argparse.Namespace(api_host=None, api_port=None, temporal_port=None, ui_port=18233)
    env = DevPlan.resolve(Settings(data_dir=tmp_path), args).child_env()
    assert env["LIFECYCLE_TEMPORAL_UI_PORT"] == "18233"
    assert env["LIFECYCLE_TEMPORAL_UI_URL"] == "http://127.0.0.1:18233"
    assert Settings.model_validate({}).model_copy(
        update={"temporal_ui_url": env["LIFECYCLE_TEMPORAL_UI_URL"]}
    ).effective_temporal_ui_url == "http://127.0.0.1:18233"
