"""Fixtures shared by every test folder: tiny datasets (``tests/support/datasets.py``) and tokenizers
trained here (``tests/support/text.py``). Helpers live in ``tests/support/``; this file only registers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.datasets import DefectDataset, make_clean_dataset, make_defect_dataset
from tests.support.text import bpe_path, bytelevel_path, sp_path  # noqa: F401  (fixtures)

# No test may reach the network or a cluster it did not start.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture
def clean_dataset(tmp_path) -> Path:
    return make_clean_dataset(tmp_path / "clean")


@pytest.fixture
def defect_dataset(tmp_path) -> DefectDataset:
    return make_defect_dataset(tmp_path / "defects")
