"""Browser tests: the marker, and where the browser is."""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "browser: loads the study's HTML outputs in headless Chromium (skipped without one)"
    )
