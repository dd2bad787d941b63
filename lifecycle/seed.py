"""`lifecycle seed`: realistic demo data (to be built)."""

from __future__ import annotations

import argparse

from lifecycle.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `lifecycle seed`."""


def run_seed(settings: Settings, args: argparse.Namespace) -> int:
    raise NotImplementedError
