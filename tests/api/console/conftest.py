"""Prints the browser tests' page load times at the end of the run (measured, never asserted)."""

from __future__ import annotations

import pytest

from tests.support.console_support import REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in REPORTS:
        terminalreporter.write_line(report)
