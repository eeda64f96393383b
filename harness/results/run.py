"""What every command returns: where its outputs went, its tables, and the lines its summary adds.

``RunResult`` is the one result base; ``harness.results.summary.print_summary`` is the one terminal
summary, and ``harness.results.write.write_run`` the one way its tables, ``run.json`` and report are written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from harness.results.schema import FINDINGS

SEVERITY_ORDER = ("error", "warning", "info")


@dataclass(kw_only=True)
class RunResult:
    command: str
    out: Path
    tables: dict[str, pa.Table] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)     # name -> path written (tables, report, plots)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)          # lines the terminal summary adds after findings

    @property
    def tests(self) -> list[dict]:
        t = self.tables.get("tests")
        return t.to_pylist() if t is not None else []

    @property
    def findings(self) -> pa.Table:
        t = self.tables.get("findings")
        return t if t is not None else FINDINGS.empty_table()

    @property
    def passed(self) -> bool:
        return all(t["status"] != "failed" for t in self.tests)

    @property
    def exit_code(self) -> int:
        """0 when every test passed, 1 when one failed (the CLI's contract; 2 is a usage error)."""
        return 0 if self.passed else 1

    @property
    def report_path(self) -> Path | None:
        return self.files.get("report")

    def severity_counts(self) -> dict[str, int]:
        sev = self.findings.column("severity").to_pylist()
        return {s: sev.count(s) for s in SEVERITY_ORDER}
