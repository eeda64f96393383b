"""The one terminal summary of a run: tests, findings by check, the command's own lines, the verdict."""
from __future__ import annotations

import click
import pyarrow as pa

from harness.results.run import SEVERITY_ORDER, RunResult

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def findings_by_check(findings: pa.Table) -> list[tuple[str, str, int, str]]:
    """(severity, check, count, first message) sorted errors first, then by count. Counted in Arrow: a
    million findings never become Python rows here."""
    if findings.num_rows == 0:
        return []
    g = findings.select(["severity", "check", "message"]).group_by(["severity", "check"], use_threads=False)
    rows = g.aggregate([("message", "first"), ("message", "count")]).to_pylist()
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(((r["severity"], r["check"], r["message_count"], r["message_first"]) for r in rows),
                  key=lambda x: (order[x[0]], -x[2], x[1]))


def summary_lines(result: RunResult, *, max_checks: int = 12) -> list[str]:
    lines = [f"harness {result.command} -> {result.out}"]
    for t in result.tests:
        lines.append(f"  {_MARK.get(t['status'], t['status']):4s} {t['test']:22s} {t['seconds']:6.1f}s  {t['summary']}")
    if "findings" in result.tables:
        sev = result.severity_counts()
        lines.append(f"findings: {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info")
        shown = [r for r in findings_by_check(result.findings) if r[0] != "info"]
        for s, c, n, msg in shown[:max_checks]:
            lines.append(f"  {s:7s} {c:32s} x{n:<6d} {msg[:70]}")
        if len(shown) > max_checks:
            lines.append(f"  ... {len(shown) - max_checks} more checks in findings.arrow")
    lines += result.notes
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append(f"{verdict} in {result.seconds:.1f}s; report: {result.report_path}")
    return lines


def print_summary(result: RunResult) -> None:
    click.echo("\n".join(summary_lines(result)))
