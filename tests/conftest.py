"""Shared fixtures (the repository root and small configs) and the order the tests run in."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICK_CONFIG = REPO / "config" / "quick.yaml"


@pytest.fixture
def quick_config() -> dict:
    """The quick config as a fresh, unvalidated dict (tests may mutate it)."""
    return copy.deepcopy(yaml.safe_load(QUICK_CONFIG.read_text()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end workflow tests first; of the quick study's readers, one first, the rest after.

    Workflow tests are the longest (a Snakemake run each, minutes for a file). ``make test`` hands
    whole files to its processes in this order, so starting the long ones first keeps one process
    from running a long file alone at the end while the others idle. The files that read the
    shared quick study (``tests/workflow/quick_study.py``) wait for whichever process runs it, so
    one of them starts it and the others come after the workflow files that do not need it.
    """
    from tests.workflow.quick_study import quick_study

    def reads_quick_study(item: pytest.Item) -> bool:
        return getattr(getattr(item, "module", None), "quick_study", None) is quick_study

    first_reader = next((item.path for item in items if reads_quick_study(item)), None)

    def rank(item: pytest.Item) -> int:
        if item.path == first_reader:
            return 0
        if item.get_closest_marker("workflow") is None:
            return 3
        return 2 if reads_quick_study(item) else 1

    items.sort(key=rank)
