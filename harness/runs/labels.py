"""``harness labels`` as a library call: the label checks over both splits, tables written, a summary."""
from __future__ import annotations

import pyarrow as pa
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.checks.findings import Finding
from harness.config import CheckConfig
from harness.data import DatasetPaths, load_dataset
from harness.results.schema import FINDINGS, RECORDS, with_metadata
from harness.results.write import write_table
from harness.text.analysis import RecordAnalysis
from harness.text.labels import make_context, token_columns

EDGES = (0.25, 0.5, 0.75, 0.999)   # coverage bins: learned tokens / answer tokens


@dataclass
class LabelRun:
    records: int
    seconds: float                      # analysis and checks, not loading
    findings: list[Finding]
    analyses: list[RecordAnalysis | None]
    out: Path
    tokenizer: str
    template: str
    load_errors: list[tuple[str, str]]   # split files that could not be read at all

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings) + len(self.load_errors)

    def summary_lines(self) -> list[str]:
        done = [a for a in self.analyses if a is not None]
        nothing = sum(a.supervised_tokens_template == 0 for a in done)
        lines = [f"{self.records} records, template {self.template}, tokenizer {self.tokenizer}: "
                 f"{self.seconds:.2f} s ({self.records / max(self.seconds, 1e-9):,.0f} records/s)"]
        lines += [f"  error    {split}: {msg}" for split, msg in self.load_errors]
        by = Counter((f.check, f.severity) for f in self.findings)
        lines += [f"  {n:6d}  {sev:7s}  {check}" for (check, sev), n in sorted(by.items())] or ["  no finding"]
        if done:
            lines.append(f"train on nothing: {nothing} of {len(done)} samples ({100 * nothing / len(done):.1f}%)")
            lines.append("supervised-token coverage (learned by the template / answer tokens):")
            lines += _histogram([a.supervised_tokens_template / a.answer_tokens if a.answer_tokens else 0.0
                                 for a in done])
        lines.append(f"tables: {self.out}")
        return lines


def _histogram(values: list[float], width: int = 40) -> list[str]:
    labels = ["0-25%", "25-50%", "50-75%", "75-99.9%", "99.9-100%", ">100%"]
    counts = [0] * len(labels)
    for v in values:
        counts[bisect_right(EDGES, v) if v <= 1.0 else len(labels) - 1] += 1
    top = max(counts) or 1
    return [f"  {lab:>9s} {n:6d} {'#' * round(width * n / top)}" for lab, n in zip(labels, counts)]


def run_labels(paths: DatasetPaths, cfg: CheckConfig, out: Path, *, meta: dict | None = None) -> LabelRun:
    from harness.checks.catalogue.labels import run_label_checks

    ds = load_dataset(paths)
    records = ds.all_records()
    ctx = make_context(cfg)
    t0 = time.perf_counter()
    findings = run_label_checks(records, ctx)
    seconds = time.perf_counter() - t0
    analyses = [ctx.analysis(r) for r in records]
    rows = [{"split": r.split, "record_index": r.index, "id": r.id,
             "image": r.image, "turns": len(r.turns) if r.turns is not None else None,
             "prompt_chars": len(r.prompt), "answer_chars": len(r.answer), **token_columns(a)}
            for r, a in zip(records, analyses)]
    meta = meta or {}
    write_table(out / "findings.arrow", pa.Table.from_pylist([f.as_row() for f in findings], schema=with_metadata(FINDINGS, meta)))
    write_table(out / "records.arrow", pa.Table.from_pylist(rows, schema=with_metadata(RECORDS, meta)))
    return LabelRun(records=len(records), seconds=seconds, findings=findings, analyses=analyses, out=out,
                    tokenizer=f"{ctx.tokenizer.kind}:{ctx.tokenizer.name}", template=ctx.template.name,
                    load_errors=list(ds.load_errors))

