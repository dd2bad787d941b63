"""Prints the browser tests' page load times at the end of the run (measured, never asserted),
and gives Playwright's assertions a deadline that holds on a busy 2-core machine: `expect`
polls until its condition holds, so a longer deadline slows nothing that passes, while the
default 5 s failed pages that rendered in 6 s under a full suite's load."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.console_support import REPORTS

expect.set_options(timeout=20_000)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in REPORTS:
        terminalreporter.write_line(report)
