"""The one registry of checks.

A check registers under a stable id (duplicates raise). Three kinds:
- ``record``: ``fn(record, ctx) -> Iterable[Finding]``, pure, run in the driver;
- ``image``:  ``fn(row, ctx) -> Iterable[Finding]`` over one image's measured row (never pixels);
- ``dataset``: ``fn(dataset, images_table, ctx) -> Iterable[Finding]``: cross-record and distribution checks.
Each spec carries its severity rule and parameters so a run can record them in its metadata.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from harness.checks.findings import Finding

KINDS = ("record", "image", "dataset")


@dataclass(frozen=True)
class CheckSpec:
    id: str
    kind: str
    severity: str
    description: str
    fn: Callable[..., Iterable[Finding]]
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "severity": self.severity,
                "description": self.description, "params": self.params}


class Registry:
    """Check specs by id. The catalogue uses the module's default instance; tests may make their own."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}

    def register(self, id: str, *, kind: str, severity: str, description: str, **params: Any) -> Callable:
        """Decorator: add a check under ``id``; a second check with the same id is a bug and raises."""
        if kind not in KINDS:
            raise ValueError(f"unknown check kind {kind!r}")

        def wrap(fn: Callable) -> Callable:
            if id in self._specs:
                raise ValueError(f"check id {id!r} registered twice")
            self._specs[id] = CheckSpec(id=id, kind=kind, severity=severity, description=description, fn=fn,
                                        params=dict(params))
            return fn

        return wrap

    def specs(self, kind: str | None = None) -> list[CheckSpec]:
        return [c for c in self._specs.values() if kind is None or c.kind == kind]

    def __getitem__(self, id: str) -> CheckSpec:
        return self._specs[id]


_DEFAULT = Registry()
register = _DEFAULT.register


def checks(kind: str | None = None) -> list[CheckSpec]:
    """Registered checks, in registration order, optionally of one kind. Only what has been imported is
    registered: import ``harness.checks.catalogue`` for the whole catalogue."""
    return _DEFAULT.specs(kind)


def get(id: str) -> CheckSpec:
    return _DEFAULT[id]
