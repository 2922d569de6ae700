"""Shared fixtures: the repository root and small configs."""

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
