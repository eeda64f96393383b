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


_REGISTRY: dict[str, CheckSpec] = {}


def register(id: str, *, kind: str, severity: str, description: str, **params: Any) -> Callable:
    """Decorator: add a check under ``id``; a second check with the same id is a bug and raises."""
    if kind not in KINDS:
        raise ValueError(f"unknown check kind {kind!r}")

    def wrap(fn: Callable) -> Callable:
        if id in _REGISTRY:
            raise ValueError(f"check id {id!r} registered twice")
        _REGISTRY[id] = CheckSpec(id=id, kind=kind, severity=severity, description=description, fn=fn,
                                  params=dict(params))
        return fn

    return wrap


def checks(kind: str | None = None) -> list[CheckSpec]:
    """Registered checks, in registration order, optionally of one kind."""
    _load_catalogue()
    return [c for c in _REGISTRY.values() if kind is None or c.kind == kind]


def get(id: str) -> CheckSpec:
    _load_catalogue()
    return _REGISTRY[id]


def _load_catalogue() -> None:
    # Importing the catalogue modules registers their checks; done lazily so the registry has no import cycle.
    from harness.checks import catalogue  # noqa: F401
