"""The one-screen terminal summary of a run: tests, findings by check, where the tables are."""
from __future__ import annotations

from collections import Counter

import click

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def findings_by_check(findings_rows: list[dict]) -> list[tuple[str, str, int, str]]:
    """(severity, check, count, first message) sorted errors first, then by count."""
    counts: Counter = Counter()
    first: dict[tuple[str, str], str] = {}
    for r in findings_rows:
        key = (r["severity"], r["check"])
        counts[key] += 1
        first.setdefault(key, r["message"])
    order = {"error": 0, "warning": 1, "info": 2}
    rows = [(s, c, n, first[(s, c)]) for (s, c), n in counts.items()]
    return sorted(rows, key=lambda x: (order[x[0]], -x[2], x[1]))


def print_summary(result, *, seconds: float, max_lines: int = 12) -> None:
    for t in result.tests:
        click.echo(f"  {_MARK.get(t['status'], t['status']):4s} {t['test']:22s} {t['seconds']:6.1f}s  {t['summary']}")
    rows = result.findings.to_pylist()
    sev = Counter(r["severity"] for r in rows)
    click.echo(f"findings: {sev.get('error', 0)} errors, {sev.get('warning', 0)} warnings, {sev.get('info', 0)} info")
    shown = [r for r in findings_by_check(rows) if r[0] != "info"]
    for s, c, n, msg in shown[:max_lines]:
        click.echo(f"  {s:7s} {c:32s} x{n:<5d} {msg[:70]}")
    if len(shown) > max_lines:
        click.echo(f"  ... {len(shown) - max_lines} more checks in findings.arrow")
    verdict = "PASSED" if result.passed else "FAILED"
    click.echo(f"{verdict} in {seconds:.1f}s; report: {result.report_path}")
