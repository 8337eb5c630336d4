from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here rather than in pytest.ini: the marker belongs to these tests.
    config.addinivalue_line(
        "markers", "load: runs a real load test (backend, Locust, probes); about a minute"
    )
