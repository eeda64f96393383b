"""The one registry of checks.

A check registers under a stable id (duplicates raise). Four kinds:
- ``record``: ``fn(record, ctx) -> Iterable[Finding]``, pure, run in the driver;
- ``image``:  ``fn(row, ctx) -> Iterable[Finding]`` over one image's measured row (never pixels);
- ``dataset``: ``fn(dataset, images_table, ctx) -> Iterable[Finding]``: cross-record and distribution checks;
- ``loader``: declared only (no ``fn``): test 3 (``harness.loader.check``) makes these findings itself.
Each spec carries its severity rule and parameters so a run can record them in its metadata.

``register`` used as a decorator returns the ``CheckSpec``, callable like the function it wraps; a check
makes its findings through its own spec (``spec.finding``, ``spec.on_record``, ``spec.on_image``), so its
id is written once, in its registration, and everything else names it as ``spec.id``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checks.findings import SEVERITIES, Finding

KINDS = ("record", "image", "dataset", "loader")


@dataclass(frozen=True, eq=False)   # one spec per id: compared and hashed by identity
class CheckSpec:
    id: str
    kind: str
    severity: str
    description: str
    fn: Callable[..., Iterable[Finding]] | None
    params: dict[str, Any] = field(default_factory=dict)
    # Its findings are about what an image looks like (every image check; pixel statistics and duplicates
    # among dataset checks): the report's contact sheet shows their images, not those of text findings.
    pictures: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Iterable[Finding]:
        """Run the check (``fn``): a registered check is called like the function it decorates."""
        if self.fn is None:
            raise TypeError(f"check {self.id!r} is declared only: it has no function to call")
        return self.fn(*args, **kwargs)

    def finding(self, message: str, *, severity: str | None = None, split: str | None = None,
                record_index: int | None = None, image: str | None = None) -> Finding:
        """A finding of this check; ``severity`` defaults to the spec's."""
        return Finding(severity=severity or self.severity, check=self.id, message=message, split=split,
                       record_index=record_index, image=image)

    def on_record(self, record: Any, message: str, severity: str | None = None) -> Finding:
        """A finding about one ``Record``: its split, index and image."""
        return self.finding(message, severity=severity, split=record.split, record_index=record.index,
                            image=record.image)

    def on_image(self, row: dict, message: str, severity: str | None = None) -> Finding:
        """A finding about one ``IMAGES`` row: its image and split."""
        return self.finding(message, severity=severity, split=row.get("split"), image=row["image"])

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "severity": self.severity,
                "description": self.description, "params": self.params, "pictures": self.pictures}


class Registry:
    """Check specs by id. The catalogue uses the module's default instance; tests may make their own."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}

    def register(self, id: str, *, kind: str, severity: str, description: str, pictures: bool | None = None,
                 **params: Any) -> Callable[[Callable], CheckSpec]:
        """Decorator: add a check under ``id`` and return its spec (callable like ``fn``); a second check
        with the same id is a bug and raises."""
        _check_kind_severity(kind, severity)

        def wrap(fn: Callable) -> CheckSpec:
            return self._add(CheckSpec(id=id, kind=kind, severity=severity, description=description, fn=fn,
                                       params=dict(params),
                                       pictures=kind == "image" if pictures is None else pictures))

        return wrap

    def declare(self, id: str, *, kind: str, severity: str, description: str, **params: Any) -> CheckSpec:
        """Add a check that is run elsewhere (no ``fn``: the ``loader`` kind) and return its spec, so that it
        is in the catalogue and its findings are made through it; duplicates raise as for ``register``."""
        _check_kind_severity(kind, severity)
        return self._add(CheckSpec(id=id, kind=kind, severity=severity, description=description, fn=None,
                                   params=dict(params)))

    def _add(self, spec: CheckSpec) -> CheckSpec:
        if spec.id in self._specs:
            raise ValueError(f"check id {spec.id!r} registered twice")
        self._specs[spec.id] = spec
        return spec

    def specs(self, kind: str | None = None) -> list[CheckSpec]:
        return [c for c in self._specs.values() if kind is None or c.kind == kind]

    def __getitem__(self, id: str) -> CheckSpec:
        return self._specs[id]


def _check_kind_severity(kind: str, severity: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown check kind {kind!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")


_DEFAULT = Registry()
register = _DEFAULT.register
declare = _DEFAULT.declare


def checks(kind: str | None = None) -> list[CheckSpec]:
    """Registered checks, in registration order, optionally of one kind. Only what has been imported is
    registered: import ``harness.checks.catalogue`` for the whole catalogue."""
    return _DEFAULT.specs(kind)


def get(id: str) -> CheckSpec:
    return _DEFAULT[id]
