"""The check catalogue: importing this package registers every check, module by module, in this order
(the order findings are made in). The registry never imports it; the runner does, explicitly. ``loader``
only declares test 3's checks (``harness.loader.check`` makes their findings; the runner skips them)."""
from __future__ import annotations

from harness.checks.catalogue import (  # noqa: F401  (imported for their registrations)
    cadcode,
    dataset,
    distribution,
    duplicates,
    images,
    labels,
    loader,
    records,
)
