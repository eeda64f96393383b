"""A finding: one thing a check has to say about one record, image, split or the whole dataset."""
from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(kw_only=True, frozen=True)
class Finding:
    severity: str
    check: str
    message: str
    split: str | None = None
    record_index: int | None = None
    image: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def as_row(self) -> dict:
        return asdict(self)
