"""`lifecycle dev`: Temporal dev server, worker and API in one command (to be built)."""

from __future__ import annotations

import argparse

from lifecycle.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `lifecycle dev`."""


def run_dev(settings: Settings, args: argparse.Namespace) -> int:
    raise NotImplementedError
