"""Run the whole catalogue over a dataset: record checks, the image pass, image and dataset checks -> tables.

Tests 1 ("dataset_validation") and 2 ("data_statistics") of the dry run. Record checks run in the driver;
the image pass (one row per image file, referenced or orphan, each exactly once) runs through an executor,
in-process or on Ray; a chunk that fails after its retries becomes rows marked ``worker_failed``.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from harness.checks.dataset import model_and_view
from harness.checks.findings import Finding
from harness.checks.image_pass import measure_images_chunk
from harness.checks.registry import checks
from harness.config import CheckConfig
from harness.data.layout import UnsafePath, safe_image_path
from harness.data.records import Dataset, Record
from harness.execution import Executor, LocalExecutor, chunked
from harness.results.schema import FINDINGS, IMAGES, RECORDS
from harness.results.write import rows_to_table
from harness.stats import compute_stats
from harness.text.labels import make_context, token_columns

CHUNK_IMAGES = 32   # images per task: small enough to spread over workers, large enough to amortise a task
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class CheckContext:
    """What checks may consult besides their subject: the config, the image folder, and the label
    analyses (``harness.text.labels.LabelContext``: one tokenised analysis per record)."""

    cfg: CheckConfig
    root: Path
    labels: Any = None

    # The label checks (harness.checks.labels) read their LabelContext's interface from the ctx they get.
    def analysis(self, record: Record):
        return self.labels.analysis(record)

    def prefill(self, records) -> None:
        self.labels.prefill(records)

    @property
    def template(self):
        return self.labels.template

    @property
    def tokenizer(self):
        return self.labels.tokenizer


@dataclass
class CheckResult:
    findings: pa.Table
    images: pa.Table
    records: pa.Table
    sound: dict[str, list[Record]]
    tests: list[dict]
    stats: dict
    check_specs: list[dict]
    image_paths: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        sev = self.findings.column("severity").to_pylist()
        return {s: sev.count(s) for s in ("error", "warning", "info")}


def image_list(dataset: Dataset) -> list[tuple[str, str | None, bool]]:
    """(image, split of its first record, referenced) for every referenced image with a safe path, then
    every image file in the folder no record uses (orphans), each once."""
    out: dict[str, tuple[str, str | None, bool]] = {}
    for r in dataset.all_records():
        if r.image is None or r.image in out:
            continue
        try:
            safe_image_path(dataset.images, r.image)
        except UnsafePath:
            continue   # reported by record.image_path_unsafe; never opened
        out[r.image] = (r.image, r.split, True)
    # Every name a record writes, safe or not: a symlink a record points at is not an orphan.
    used = {os.path.normpath(r.image) for r in dataset.all_records() if r.image is not None}
    root = dataset.images
    for dirpath, _dirs, files in sorted(os.walk(root)):
        for f in sorted(files):
            rel = Path(dirpath, f).relative_to(root).as_posix()
            if f.lower().endswith(IMAGE_SUFFIXES) and os.path.normpath(rel) not in used:
                out[rel] = (rel, None, False)
    return list(out.values())


def _measure_all(dataset, cfg, executor, progress) -> list[dict]:
    items = image_list(dataset)
    names = [i[0] for i in items]
    chunks = chunked(names, CHUNK_IMAGES)
    fn = functools.partial(measure_images_chunk, str(dataset.images), cfg.max_pixels)
    rows: list[dict | None] = [None] * len(names)
    done = 0
    for res in executor.map_chunks(fn, chunks):
        start = res.index * CHUNK_IMAGES
        got = res.value if res.error is None else None
        for k, name in enumerate(chunks[res.index]):
            row = got[k] if got is not None else {
                "image": name, "decode_ok": False, "decode_problem": "worker_failed",
                "decode_error": f"worker failed: {res.error}"}
            row["node"] = row.get("node") or res.node
            rows[start + k] = row
        done += len(chunks[res.index])
        if progress is not None:
            progress(done, len(names))
    for i, (name, split, referenced) in enumerate(items):
        if rows[i] is None:   # an executor that lost a chunk: still reported, once
            rows[i] = {"image": name, "decode_ok": False, "decode_problem": "worker_failed",
                       "decode_error": "worker failed: no result came back"}
        rows[i].update(split=split, referenced=referenced)
    return rows


def _record_rows(dataset, ctx: CheckContext, unsound: set) -> list[dict]:
    cfg = ctx.cfg
    rows = []
    for r in dataset.all_records():
        turns = r.turns or ()
        row = {"split": r.split, "record_index": r.index, "id": r.id, "image": r.image,
               "model": model_and_view(cfg.model_pattern, r.image)[0],
               "sound": (r.split, r.index) not in unsound,
               "turns": len(turns) if r.turns is not None else None,
               "prompt_chars": len(r.prompt), "answer_chars": len(r.answer),
               "text_bytes": sum(len(v.encode()) for _, v in turns)}
        # Token counts as TinyLLaVA formats the sample (template, image as image_tokens); null where
        # its turns cannot be paired.
        row.update(token_columns(ctx.analysis(r)))
        rows.append(row)
    return rows


def _unsound(dataset: Dataset, findings: list[Finding], image_errors: set[str]) -> set:
    keys = {(f.split, f.record_index) for f in findings if f.severity == "error" and f.record_index is not None}
    keys |= {(r.split, r.index) for r in dataset.all_records() if r.image in image_errors}
    return keys


def run_checks(dataset: Dataset, cfg: CheckConfig, *, executor: Executor | None = None,
               progress: Callable[[int, int], None] | None = None) -> CheckResult:
    t0 = time.perf_counter()
    ctx = CheckContext(cfg=cfg, root=dataset.images, labels=make_context(cfg))
    ctx.prefill(dataset.all_records())   # batched tokenising, shared by label checks and columns
    findings: list[Finding] = []
    for spec in checks("record"):
        for r in dataset.all_records():
            findings.extend(spec.fn(r, ctx))
    rows = _measure_all(dataset, cfg, executor or LocalExecutor(), progress)
    image_errors: set[str] = set()
    for spec in checks("image"):
        for row in rows:
            # An orphan's damage never reaches training (its orphan warning covers it); a failed worker
            # is reported for every image so none goes unchecked silently.
            if row["referenced"] or spec.id == "image.worker_failed":
                found = list(spec.fn(row, ctx))
                image_errors |= {f.image for f in found if f.severity == "error"}
                findings.extend(found)
    images = rows_to_table(rows, IMAGES)
    for spec in checks("dataset"):
        findings.extend(spec.fn(dataset, images, ctx))
    unsound = _unsound(dataset, findings, image_errors)
    records = rows_to_table(_record_rows(dataset, ctx, unsound), RECORDS)
    sound = {s: [r for r in recs if (s, r.index) not in unsound] for s, recs in dataset.records.items()}
    findings_tbl = rows_to_table((f.as_row() for f in findings), FINDINGS)
    t1 = time.perf_counter()
    tokenizer = str(cfg.tokenizer) if cfg.tokenizer is not None else f"proxy ({cfg.template} template)"
    stats = compute_stats(images, records, cfg=cfg, tokenizer=tokenizer)
    t2 = time.perf_counter()
    result = CheckResult(findings=findings_tbl, images=images, records=records, sound=sound, tests=[],
                         stats=stats, check_specs=[s.describe() for s in checks()],
                         image_paths={p: sum(1 for r in rows if r.get("decode_path") == p)
                                      for p in ("kernel", "pillow")})
    result.tests = _test_rows(result, t1 - t0, t2 - t1)
    return result


def _test_rows(res: CheckResult, t_validate: float, t_stats: float) -> list[dict]:
    c = res.counts()
    n_rec = res.records.num_rows
    n_img = res.images.num_rows
    measured = sum(res.images.column("decode_ok").to_pylist())
    n_sound = sum(len(v) for v in res.sound.values())
    t1 = {"test": "dataset_validation", "status": "failed" if c["error"] else "passed", "seconds": t_validate,
          "summary": f"{n_rec} records, {n_img} images: {c['error']} errors, {c['warning']} warnings, "
                     f"{c['info']} info; {n_sound} records sound"}
    ok = measured > 0 and n_sound > 0
    t2 = {"test": "data_statistics", "status": "passed" if ok else "failed", "seconds": t_stats,
          "summary": f"{measured} of {n_img} images measured, {n_sound} sound records"
                     + ("" if ok else ": nothing to compute statistics on")}
    return [t1, t2]
