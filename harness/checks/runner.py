"""Run the whole catalogue over a dataset: record checks, the image pass, image and dataset checks -> tables.

Tests 1 ("dataset_validation") and 2 ("data_statistics") of the dry run. Record checks run in the driver;
the image pass (one row per image file, referenced or orphan, each exactly once; orphans listed, not
decoded) runs through an executor, in-process or on Ray; a chunk that fails after its retries becomes
rows marked ``worker_failed``.

The image pass starts first, on a thread of its own that submits chunks and collects their columnar
batches, so the workers measure while the driver runs the record checks (the image kernels release the
GIL, so even in-process the two overlap). Batches are compacted as they come and put in image order once;
image checks then read the rows in slices, never the whole table as dicts.
"""
from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.catalogue.dataset import model_of
from harness.checks.catalogue.images import worker_failed
from harness.checks.findings import Finding
from harness.checks.image_pass import measure_images_chunk, rows_to_batch
from harness.checks.registry import checks
from harness.checks.stats import compute_stats
from harness.config import CheckConfig
from harness.data.layout import UnsafePath, safe_image_path
from harness.data.records import Dataset, Record
from harness.execution import Executor, LocalExecutor, chunked
from harness.progress import SILENT, Progress
from harness.results.schema import FINDINGS, IMAGES, RECORDS
from harness.text.labels import make_context, token_columns

CHUNK_IMAGES = 32   # images per task: small enough to spread over workers, large enough to amortise a task
COMPACT_BATCHES = 256   # chunk batches merged into one contiguous table at a time (bounds per-batch overhead)
CHECK_SLICE = 4096      # IMAGES rows turned into dicts at a time for the image checks
ROW_BATCH = 8192        # record and finding rows held as dicts at a time on their way into a table
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class CheckContext:
    """What checks may consult besides their subject: the config, the image folder, and the label
    analyses (``harness.text.labels.LabelContext``: one tokenised analysis per record)."""

    cfg: CheckConfig
    root: Path
    labels: Any = None
    memo: dict = field(default_factory=dict)

    def once(self, key, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed once per ``key`` in this run: a model's views share their answer, so a check
        of the answer text alone (``record.code_does_not_parse``) keys on the text and runs once per text."""
        try:
            return self.memo[key]
        except KeyError:
            value = self.memo[key] = fn()
            return value

    def unsafe_image(self, image: str) -> str | None:
        """Why ``image`` may not be opened under the image folder (``safe_image_path``), None if it may;
        resolved once per name in a run (the image list and ``record.image_path_unsafe`` both ask)."""
        def why() -> str | None:
            if image in self.once("plain_files", self._plain_files):
                return None   # a regular file (not a link) right in the folder: cannot lead out of it
            try:
                safe_image_path(self.root, image)
            except UnsafePath as e:
                return str(e)
            return None
        return self.once(("unsafe_image", image), why)

    def _plain_files(self) -> frozenset[str]:
        """Names of the regular files directly in the image folder, from one listing (no stat, no
        resolve per file: resolving 150,000 paths one by one costs ~30 s)."""
        try:
            with os.scandir(self.root) as it:
                return frozenset(e.name for e in it if e.is_file(follow_symlinks=False))
        except (OSError, TypeError):   # no folder (or none given): every name takes the full check
            return frozenset()

    # The label checks (harness.checks.catalogue.labels) read their LabelContext's interface from the ctx they get.
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


def image_list(dataset: Dataset, ctx: CheckContext | None = None) -> list[tuple[str, str | None, bool]]:
    """(image, split of its first record, referenced) for every referenced image with a safe path, then
    every image file in the folder no record uses (orphans), each once. ``ctx`` shares its path checks."""
    ctx = ctx or CheckContext(cfg=None, root=dataset.images)
    out: dict[str, tuple[str, str | None, bool]] = {}
    for r in dataset.all_records():
        if r.image is None or r.image in out:
            continue
        if ctx.unsafe_image(r.image) is not None:
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


def _failed_rows(names, error: str | None, node: str | None) -> pa.RecordBatch:
    return rows_to_batch([{"image": n, "decode_ok": False, "decode_problem": "worker_failed",
                           "decode_error": f"worker failed: {error}", "node": node} for n in names])


class _Batches:
    """Chunk batches as they arrive (any order), compacted every ``COMPACT_BATCHES``; ``table()`` puts the
    rows in chunk order with each chunk's node where its rows left it null."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.pending: list[pa.RecordBatch] = []
        self.index: list[int] = []       # chunk index of each batch, in arrival order
        self.nodes: list[str | None] = []
        self.sizes: list[int] = []

    def add(self, index: int, batch: pa.RecordBatch, node: str | None) -> None:
        self.pending.append(batch)
        self.index.append(index)
        self.nodes.append(node)
        self.sizes.append(batch.num_rows)
        if len(self.pending) >= COMPACT_BATCHES:
            self._compact()

    def _compact(self) -> None:
        if self.pending:
            self.parts.append(pa.Table.from_batches(self.pending, IMAGES).combine_chunks())
            self.pending = []

    def table(self) -> pa.Table:
        self._compact()
        t = pa.concat_tables(self.parts) if self.parts else IMAGES.empty_table()
        sizes = np.array(self.sizes, np.int64)
        chunk_of_row = np.repeat(np.array(self.index, np.int64), sizes)
        node = pa.array(np.repeat(np.array(self.nodes, dtype=object), sizes), pa.string())
        t = t.set_column(t.schema.get_field_index("node"), "node", pc.coalesce(t.column("node"), node))
        # Stable sort on the chunk index keeps each chunk's own order: rows end up in image order.
        return t.take(np.argsort(chunk_of_row, kind="stable")).combine_chunks()


def _orphan_rows(root: Path, names: list[str]) -> pa.Table:
    """Rows for the files no record uses: listed with their size, never decoded (``decode_ok`` null), so
    pointing ``--images`` at a large shared folder costs a listing, not a decode of every file in it."""
    rows = []
    for n in names:
        try:
            size = os.stat(root / n).st_size
        except OSError:
            size = None
        rows.append({"image": n, "exists": size is not None, "file_bytes": size, "decode_ok": None})
    return pa.Table.from_pylist(rows, schema=IMAGES)


def _measure_all(dataset, cfg, executor, progress, items, stop: threading.Event) -> pa.Table:
    names = [i[0] for i in items if i[2]]
    orphans = [i[0] for i in items if not i[2]]
    chunks = chunked(names, CHUNK_IMAGES)
    fn = functools.partial(measure_images_chunk, str(dataset.images), cfg.max_pixels)
    got = _Batches()
    seen: set[int] = set()
    done = 0
    results = executor.map_chunks(fn, chunks)
    try:
        for res in results:
            names_i = chunks[res.index]
            value = res.value
            if res.error is not None or value is None:
                batch = _failed_rows(names_i, res.error, res.node)
            else:   # an executor or function may hand back rows as dicts: the same table either way
                batch = value if isinstance(value, pa.RecordBatch) else rows_to_batch(list(value))
            got.add(res.index, batch, res.node)
            seen.add(res.index)
            done += len(names_i)
            progress.count(done, len(names), "images measured")
            if stop.is_set():   # the driver failed or was interrupted: stop submitting, cancel the rest
                return IMAGES.empty_table()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    for i in sorted(set(range(len(chunks))) - seen):   # an executor that lost a chunk: still reported, once
        got.add(i, _failed_rows(chunks[i], "no result came back", None), None)
    # image_list puts orphans last: the rows stay in its order.
    table = pa.concat_tables([got.table(), _orphan_rows(Path(dataset.images), orphans)])
    split = pa.array([i[1] for i in items], pa.string())
    referenced = pa.array([i[2] for i in items], pa.bool_())
    table = table.set_column(IMAGES.get_field_index("split"), "split", split)
    return table.set_column(IMAGES.get_field_index("referenced"), "referenced", referenced)


def _image_findings(images: pa.Table, ctx) -> tuple[list[Finding], set[str]]:
    findings: list[Finding] = []
    errors: set[str] = set()
    specs = checks("image")
    for start in range(0, images.num_rows, CHECK_SLICE):
        for row in images.slice(start, CHECK_SLICE).to_pylist():
            for spec in specs:
                # An orphan's damage never reaches training (its orphan warning covers it); a failed worker
                # is reported for every image so none goes unchecked silently.
                if row["referenced"] or spec.id == worker_failed.id:
                    found = list(spec.fn(row, ctx))
                    errors |= {f.image for f in found if f.severity == "error"}
                    findings.extend(found)
    return findings, errors


def _record_rows(dataset, ctx: CheckContext, unsound: set) -> Iterator[dict]:
    for r in dataset.all_records():
        turns = r.turns or ()
        row = {"split": r.split, "record_index": r.index, "id": r.id, "image": r.image,
               "model": model_of(dataset, ctx, r.image),
               "sound": (r.split, r.index) not in unsound,
               "turns": len(turns) if r.turns is not None else None,
               "prompt_chars": len(r.prompt), "answer_chars": len(r.answer),
               "text_bytes": sum(len(v.encode()) for _, v in turns)}
        # Token counts as TinyLLaVA formats the sample (template, image as image_tokens); null where
        # its turns cannot be paired.
        row.update(token_columns(ctx.analysis(r)))
        yield row


def _table(rows: Iterable[dict], schema: pa.Schema) -> pa.Table:
    """Rows as a table, ``ROW_BATCH`` dicts at a time: a million records never exist as a million dicts."""
    rows = iter(rows)
    batches = []
    while chunk := list(itertools.islice(rows, ROW_BATCH)):
        batches.append(pa.RecordBatch.from_pylist(chunk, schema=schema))
    return pa.Table.from_batches(batches, schema=schema).combine_chunks()


def _unsound(dataset: Dataset, findings: list[Finding], image_errors: set[str]) -> set:
    keys = {(f.split, f.record_index) for f in findings if f.severity == "error" and f.record_index is not None}
    keys |= {(r.split, r.index) for r in dataset.all_records() if r.image in image_errors}
    return keys


def run_checks(dataset: Dataset, cfg: CheckConfig, *, executor: Executor | None = None,
               progress: Progress = SILENT) -> CheckResult:
    t0 = time.perf_counter()
    ctx = CheckContext(cfg=cfg, root=dataset.images, labels=make_context(cfg))
    items = image_list(dataset, ctx)
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="image-pass") as pool:
        # The image pass first: workers measure while this thread runs the record checks.
        measuring = pool.submit(_measure_all, dataset, cfg, executor or LocalExecutor(), progress, items, stop)
        try:
            ctx.prefill(dataset.all_records())   # batched tokenising, shared by label checks and columns
            findings: list[Finding] = []
            for spec in checks("record"):
                for r in dataset.all_records():
                    findings.extend(spec.fn(r, ctx))
            images = measuring.result()
        finally:
            stop.set()   # a failure or Ctrl-C here: the image pass stops at its next result
    found, image_errors = _image_findings(images, ctx)
    findings.extend(found)
    for spec in checks("dataset"):
        findings.extend(spec.fn(dataset, images, ctx))
    unsound = _unsound(dataset, findings, image_errors)
    records = _table(_record_rows(dataset, ctx, unsound), RECORDS)
    sound = {s: [r for r in recs if (s, r.index) not in unsound] for s, recs in dataset.records.items()}
    findings_tbl = _table((f.as_row() for f in findings), FINDINGS)
    t1 = time.perf_counter()
    tokenizer = str(cfg.tokenizer) if cfg.tokenizer is not None else f"proxy ({cfg.template} template)"
    stats = compute_stats(images, records, cfg=cfg, tokenizer=tokenizer)
    t2 = time.perf_counter()
    paths = images.column("decode_path").to_pylist()
    result = CheckResult(findings=findings_tbl, images=images, records=records, sound=sound, tests=[],
                         stats=stats, check_specs=[s.describe() for s in checks()],
                         image_paths={p: paths.count(p) for p in ("kernel", "pillow")})
    result.tests = _test_rows(result, t1 - t0, t2 - t1)
    return result


def _test_rows(res: CheckResult, t_validate: float, t_stats: float) -> list[dict]:
    c = res.counts()
    n_rec = res.records.num_rows
    n_img = res.images.num_rows
    measured = pc.sum(res.images.column("decode_ok").cast(pa.int64())).as_py() or 0
    n_sound = sum(len(v) for v in res.sound.values())
    t1 = {"test": "dataset_validation", "status": "failed" if c["error"] else "passed", "seconds": t_validate,
          "summary": f"{n_rec} records, {n_img} images: {c['error']} errors, {c['warning']} warnings, "
                     f"{c['info']} info; {n_sound} records sound"}
    ok = measured > 0 and n_sound > 0
    t2 = {"test": "data_statistics", "status": "passed" if ok else "failed", "seconds": t_stats,
          "summary": f"{measured} of {n_img} images measured, {n_sound} sound records"
                     + ("" if ok else ": nothing to compute statistics on")}
    return [t1, t2]
