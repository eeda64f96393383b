"""``harness labels``: the label checks over both splits; findings, records and tests tables, the report."""
from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from harness.checks.catalogue.dataset import load_error, split_bom, split_jsonl, split_object
from harness.checks.catalogue.labels import run_label_checks
from harness.config import LabelsConfig
from harness.data import load_dataset
from harness.progress import SILENT, Progress
from harness.results.format import coverage_histogram, md_table
from harness.results.metadata import default_out, run_metadata
from harness.results.report.dryrun import findings_table
from harness.results.run import RunResult
from harness.results.schema import FINDINGS, RECORDS, TESTS
from harness.results.write import write_run
from harness.runs.defaults import dataset_paths
from harness.text.labels import make_context, token_columns

TEST_ID = "label_masking"


def labels(cfg: LabelsConfig, progress: Progress = SILENT) -> RunResult:
    """Simulate the template's label masking on every record with the tokenizer; an error finding (or a
    split file that cannot be read) fails the run."""
    t_start = time.perf_counter()
    paths = dataset_paths(cfg.dataset, train=cfg.train, val=cfg.val, images=cfg.images, progress=progress)
    out = Path(cfg.out) if cfg.out else default_out("labels")
    ds = load_dataset(paths)
    records = ds.all_records()
    ctx = make_context(cfg.checks)
    progress(f"{len(records):,} records: simulating the {ctx.template.name} template's masking")
    t0 = time.perf_counter()
    file_checks = (load_error, split_bom, split_jsonl, split_object)   # what json.load makes of the files
    findings = [f for fn in file_checks for f in fn(ds, None, ctx)] + list(run_label_checks(records, ctx))
    seconds = time.perf_counter() - t0
    analyses = [ctx.analysis(r) for r in records]
    rows = [{"split": r.split, "record_index": r.index, "id": r.id, "image": r.image,
             "turns": len(r.turns) if r.turns is not None else None, "prompt_chars": len(r.prompt),
             "answer_chars": len(r.answer), **token_columns(a)} for r, a in zip(records, analyses)]
    errors = sum(f.severity == "error" for f in findings)
    tokenizer = f"{ctx.tokenizer.kind}:{ctx.tokenizer.name}"
    rate = len(records) / max(seconds, 1e-9)
    test = {"test": TEST_ID, "status": "failed" if errors else "passed", "seconds": seconds,
            "summary": f"{len(records):,} records, template {ctx.template.name}, tokenizer {tokenizer}: "
                       f"{errors} error findings ({rate:,.0f} records/s)"}
    tables = {"findings": pa.Table.from_pylist([f.as_row() for f in findings], schema=FINDINGS),
              "records": pa.Table.from_pylist(rows, schema=RECORDS),
              "tests": pa.Table.from_pylist([test], schema=TESTS)}
    meta = run_metadata("labels", cfg, tokenizer=tokenizer, template=ctx.template.name)
    hist = coverage_histogram(tables["records"])
    files = write_run(out, meta, tables, report=_report(tables, meta, hist))
    counted = [a for a in analyses if a is not None]
    nothing = sum(a.supervised_tokens_template == 0 for a in counted)
    notes = [f"train on nothing: {nothing} of {len(counted)} samples "
             f"({100 * nothing / max(len(counted), 1):.1f}%)",
             "supervised-token coverage (answer tokens the template trains on):"]
    notes += [f"  {label:>13s} {n:>8s} {share:>6s} {bar}" for label, n, share, bar in hist]
    return RunResult(command="labels", out=out, tables=tables, files=files, notes=notes,
                     seconds=time.perf_counter() - t_start)


def _report(tables: dict[str, pa.Table], meta: dict, hist: list[list[str]]) -> str:
    test = tables["tests"].to_pylist()[0]
    lines = [f"# Label masking: {test['status'].upper()}", "",
             f"- **Date (UTC)**: {meta['created_utc']}",
             f"- **Template**: `{meta['template']}`; **tokenizer**: `{meta['tokenizer']}`",
             f"- **Result**: {test['summary']}",
             f"- **Tables**: {', '.join(tables)} (`*.arrow` beside this file; `run.json`: the run's metadata)", ""]
    if hist:
        lines += ["## Supervised-token coverage", "", "Answer tokens the template's masking trains on "
                  "('nothing' = every label ignored: TinyLLaVA's tokenization-mismatch case).", "",
                  md_table(["coverage", "samples", "share", ""], hist), ""]
    lines += ["## Findings by check", "", findings_table(tables["findings"]) or "No findings."]
    return "\n".join(lines) + "\n"
