"""``harness validate``: tests 1 and 2 (records and images) at scale, in this process, on a private local
Ray or on a Ray cluster; tables, ``run.json`` and the report written atomically.

Where the images are read: by default every worker reads them from the image folder's path, so on a
cluster that path must hold the same files on every node (a shared or copied folder). ``ship_bytes``
makes the driver read each chunk's files and send their bytes with the task instead
(``harness.checks.shipping``): no shared folder is needed, at the price of every byte passing through
the driver.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa

from harness.checks.runner import run_checks
from harness.checks.shipping import ShippingExecutor
from harness.config import ValidateConfig
from harness.execution import MeteredExecutor, make_executor
from harness.progress import SILENT, Progress
from harness.results import contact_sheet, schema
from harness.results.metadata import run_metadata
from harness.results.report.validate import validate_report
from harness.results.run import RunResult
from harness.results.write import write_run
from harness.runs.clean import write_clean
from harness.runs.defaults import open_dataset
from harness.runs.gallery import flagged_gallery

TABLES = ("findings", "tests", "images", "records")
# Default: in this process below this many records. Ray costs ~5 s to start on 2 cores, and one core
# measures ~300 images/s: a second core only pays for itself from about 3,000 images.
LOCAL_BELOW_RECORDS = 3000


@dataclass(kw_only=True)
class ValidateResult(RunResult):
    executor: str = "local"                # "local" or "ray"
    nodes: dict[str, int]                  # node -> images it measured
    images_measured: int = 0
    chunk_errors: int = 0                  # chunks that failed after every retry (each is also a finding)
    startup_seconds: float | None = None   # making the executor (Ray start) + wait for the first image result
    images_per_s: float | None = None      # past start-up: images after the first result / time after it

    @property
    def execution(self) -> dict:
        return {"executor": self.executor, "nodes": self.nodes, "images_measured": self.images_measured,
                "chunk_errors": self.chunk_errors, "startup_seconds": self.startup_seconds,
                "images_per_s": self.images_per_s, "wall_seconds": self.seconds}

    def speed_lines(self) -> list[str]:
        ips = f"{self.images_per_s:,.0f} images/s past start-up" if self.images_per_s else "images/s n/a"
        start = f"{self.startup_seconds:.1f}s" if self.startup_seconds is not None else "n/a"
        return [f"images: {self.images_measured:,} measured, {ips}; start-up {start}; wall {self.seconds:.1f}s",
                f"executor: {self.executor} on {len(self.nodes)} node(s)"
                + (f"; {self.chunk_errors} chunk(s) failed after retries" if self.chunk_errors else "")]


def validate(cfg: ValidateConfig, progress: Progress = SILENT) -> ValidateResult:
    """Run tests 1 and 2 on the dataset; write findings, tests, images and records tables, run.json,
    report.md and the flagged images' contact sheet into the run folder, and with ``write_clean`` the sound
    records (``harness.runs.clean``). Bad data becomes findings; only a dataset that is not there or a
    clean folder that would touch the input (UsageError) raises."""
    t0 = time.perf_counter()
    paths, out, dataset = open_dataset(cfg, "validate", progress)
    n_records = sum(len(v) for v in dataset.records.values())
    progress(f"loaded {n_records:,} records from {paths.train.parent}")
    workers = cfg.workers
    if workers is None and cfg.ray_address is None and n_records < LOCAL_BELOW_RECORDS:
        workers = 1   # a private Ray's start-up would cost more than a second core saves
    # The executor before the checks: Ray workers warm up (imports, JIT caches) during the record checks.
    started = time.perf_counter()
    inner = make_executor(workers=workers, ray_address=cfg.ray_address, preload=("harness.checks.image_pass",))
    meter = MeteredExecutor(ShippingExecutor(inner, paths.images) if cfg.ship_bytes else inner,
                            init_seconds=time.perf_counter() - started)
    with meter:  # closed (Ray shut down, if this run started it) however the run ends, Ctrl-C included
        progress(f"executor: {meter.name} ({meter.init_seconds:.1f}s to start)")
        checks = run_checks(dataset, cfg.checks, executor=meter, progress=progress)

    tables = {"findings": checks.findings, "tests": pa.Table.from_pylist(checks.tests, schema=schema.TESTS),
              "images": checks.images, "records": checks.records}
    result = ValidateResult(
        command="validate", out=out, tables=tables, executor=meter.name, nodes=dict(meter.nodes),
        images_measured=meter.items, chunk_errors=len(meter.errors), startup_seconds=meter.startup_seconds,
        images_per_s=meter.items_per_s, seconds=time.perf_counter() - t0)
    result.notes = result.speed_lines()
    meta = run_metadata("validate", cfg, execution=result.execution, checks=checks.check_specs, stats=checks.stats)
    clean = None
    if cfg.write_clean is not None:
        clean = write_clean(cfg.write_clean, dataset, tables["findings"], tables["records"], meta)
        result.notes.append(clean.line())
    gallery, sheet = flagged_gallery(tables, paths.images, max_pixels=cfg.checks.max_pixels)
    report = validate_report(cfg=cfg, paths=paths, meta=meta, tables=tables, checks=checks,
                             speed=result.speed_lines(), gallery=gallery, clean=clean)
    result.files = write_run(out, meta, tables, report=report, files={contact_sheet.FILE: sheet})
    if clean is not None:
        result.files.update({f"clean_{k}": v for k, v in clean.files.items()})
    return result
