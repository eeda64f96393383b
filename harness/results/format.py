"""Small Markdown and table helpers shared by the report modules."""
from __future__ import annotations

from typing import Any

import pyarrow as pa


def col(table: pa.Table, name: str) -> list:
    return [v for v in table.column(name).to_pylist() if v is not None] if name in table.column_names else []


def min_mean_max(values: list, fmt: str = "{:,.0f}") -> str:
    if not values:
        return "n/a"
    return f"{fmt.format(min(values))} / {fmt.format(sum(values) / len(values))} / {fmt.format(max(values))}"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def fmt(v: float | None, spec: str = ".4f") -> str:
    return "n/a" if v is None else format(v, spec)


def count_checks(findings: pa.Table, prefixes: tuple[str, ...]) -> int:
    return sum(1 for c in col(findings, "check") if c.startswith(prefixes))


# Supervised-token coverage bins: the share of an answer's tokens that the template's masking trains on.
COVERAGE_BINS = ((0.0, 0.0, "nothing (0%)"), (0.0, 0.5, "under 50%"), (0.5, 0.999, "50-99.9%"), (0.999, 9e9, "all"))


def coverage_histogram(records: pa.Table) -> list[list[str]]:
    """Rows (coverage, samples, share, bar) over the records with answer tokens, from ``records.arrow``'s
    ``supervised_tokens_template`` and ``answer_tokens``; empty when nothing was counted."""
    if "supervised_tokens_template" not in records.column_names:
        return []
    pairs = [(s, a) for s, a in zip(records.column("supervised_tokens_template").to_pylist(),
                                    records.column("answer_tokens").to_pylist()) if s is not None and a]
    if not pairs:
        return []
    counts = [sum(1 for s, a in pairs if (lo < s / a <= hi) or (hi == 0.0 and s == 0)) for lo, hi, _ in COVERAGE_BINS]
    return [[label, f"{n:,}", f"{100 * n / len(pairs):.1f}%", "#" * round(30 * n / len(pairs))]
            for (_, _, label), n in zip(COVERAGE_BINS, counts)]


def duration(seconds: float) -> str:
    """Seconds as the unit a reader wants: s below 2 minutes, min below 2 hours, else h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
