"""The check catalogue: importing this module registers every check (the registry imports it lazily)."""
from __future__ import annotations

import importlib

from harness.checks import cadcode, dataset, distribution, duplicates, images, records  # noqa: F401

# The label checks live with the tokenizers (harness.text); the catalogue runs without them until then.
try:
    importlib.import_module("harness.checks.labels")
except ModuleNotFoundError as e:
    if e.name != "harness.checks.labels":   # a missing dependency inside labels is a real error
        raise
