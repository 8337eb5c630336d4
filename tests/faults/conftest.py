"""The fault suite's table of outcomes, printed at the end of the run."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from faults import report

    if report.OUTCOMES:
        terminalreporter.write_sep("=", "fault scenarios")
        terminalreporter.write_line(report.table())
