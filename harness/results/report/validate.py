"""The validation report (``harness validate``): tests 1 and 2 as the dry run reports them, plus where the
work ran and how fast. A view of the tables, like every report."""
from __future__ import annotations

from harness.results.report.actions import section_clean, section_flagged
from harness.results.report.assessment import section_caught, section_quality, section_risk
from harness.results.report.dryrun import report_head, section_statistics, section_tests, section_validation


def validate_report(*, cfg, paths, meta, tables, checks, speed: list[str], gallery=None, clean=None) -> str:
    failed = any(t["status"] == "failed" for t in tables["tests"].to_pylist())
    execution = "## Execution\n\n" + "\n".join(f"- {line}" for line in speed)
    parts = [report_head("Validation", paths=paths, meta=meta, tables=tables), section_tests(tables),
             section_validation(tables, checks), section_flagged(gallery), section_clean(clean),
             section_statistics(tables, cfg, checks.stats), execution, section_quality(tables),
             section_caught(tables), section_risk(tables, None),
             "## Next steps\n\n" + ("Fix or drop the error findings (`findings.arrow`: split, record_index, image) "
                                    "and rerun; then `harness dryrun` for the loader and training tests."
                                    if failed else "Run `harness dryrun` for the loader and training tests, and "
                                    "`harness bench` for the training time.")]
    return "\n\n".join(p for p in parts if p) + "\n"
