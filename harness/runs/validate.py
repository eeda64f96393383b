"""``harness validate``: tests 1 and 2 (records and images) at scale, in this process, on a private local
Ray or on a Ray cluster; four tables written atomically with the run's metadata.

Where the images are read: by default every worker reads them from the image folder's path, so on a
cluster that path must hold the same files on every node (a shared or copied folder). ``ship_bytes``
makes the driver read each chunk's files and send their bytes with the task instead: no shared folder is
needed, at the price of every byte passing through the driver.
"""
from __future__ import annotations

import functools
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from harness.config import ValidateConfig, to_dict
from harness.execution import ChunkResult, Executor, MeteredExecutor, make_executor
from harness.results import schema
from harness.results.write import write_json, write_table

Progress = Callable[[str], None]
TABLES = ("findings", "tests", "images", "records")
# Default: in this process below this many records. Ray costs ~5 s to start on 2 cores, and one core
# measures ~300 images/s: a second core only pays for itself from about 3,000 images.
LOCAL_BELOW_RECORDS = 3000


@dataclass
class ValidateResult:
    out: Path
    tests: list[dict]
    tables: dict[str, pa.Table]
    executor: str                      # "local" or "ray"
    nodes: dict[str, int]              # node -> images it measured
    images_measured: int
    chunk_errors: int                  # chunks that failed after every retry (each is also a finding)
    startup_seconds: float | None      # making the executor (Ray start) + wait for the first image result
    images_per_s: float | None         # past start-up: images after the first result / time after it
    wall_seconds: float
    stats: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(t["status"] != "failed" for t in self.tests)

    def severity_counts(self) -> dict[str, int]:
        sev = self.tables["findings"].column("severity").to_pylist()
        return {s: sev.count(s) for s in ("error", "warning", "info")}

    def top_checks(self, n: int = 8) -> list[tuple[str, str, int]]:
        """(check, severity, findings) for the checks with most findings."""
        f = self.tables["findings"]
        if f.num_rows == 0:
            return []
        g = f.group_by(["check", "severity"]).aggregate([("check", "count")]).sort_by(
            [("check_count", "descending"), ("check", "ascending")])
        return [(r["check"], r["severity"], r["check_count"]) for r in g.slice(0, n).to_pylist()]

    def summary_lines(self) -> list[str]:
        """One screen: tests, findings per severity, the checks with most findings, speed, where it ran."""
        lines = [f"harness validate -> {self.out}"]
        lines += [f"  {t['status'].upper():7} {t['test']}: {t['summary']}" for t in self.tests]
        lines.append("findings: " + ", ".join(f"{n} {s}" for s, n in self.severity_counts().items()))
        lines += [f"  {n:8d}  {sev:7}  {check}" for check, sev, n in self.top_checks()]
        ips = f"{self.images_per_s:,.0f} images/s past start-up" if self.images_per_s else "images/s n/a"
        start = f"{self.startup_seconds:.1f}s" if self.startup_seconds is not None else "n/a"
        lines.append(f"images: {self.images_measured:,} measured, {ips}; start-up {start}; "
                     f"wall {self.wall_seconds:.1f}s")
        lines.append(f"executor: {self.executor} on {len(self.nodes)} node(s)"
                     + (f"; {self.chunk_errors} chunk(s) failed after retries" if self.chunk_errors else ""))
        return lines


def _noop(_: str) -> None:
    pass


def validate(cfg: ValidateConfig, progress: Progress = _noop) -> ValidateResult:
    """Run tests 1 and 2 on the dataset; write findings, tests, images and records tables into the run
    folder. Bad data becomes findings; only a dataset that is not there (UsageError) raises."""
    from harness.checks.runner import run_checks
    from harness.data import load_dataset, resolve_dataset

    t0 = time.perf_counter()
    root = cfg.dataset
    if root is None and cfg.train is None:
        from harness.data.defaults import default_dataset

        root = default_dataset(progress)
    paths = resolve_dataset(root, train=cfg.train, val=cfg.val, images=cfg.images)
    out = Path(cfg.out) if cfg.out else _default_out()

    dataset = load_dataset(paths)
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
        checks = run_checks(dataset, cfg.checks, executor=meter, progress=_every_tenth(progress))
    wall = time.perf_counter() - t0

    tables = {"findings": checks.findings, "tests": _table(checks.tests, schema.TESTS),
              "images": checks.images, "records": checks.records}
    result = ValidateResult(
        out=out, tests=[dict(t) for t in checks.tests], tables=tables, executor=meter.name,
        nodes=dict(meter.nodes), images_measured=meter.items, chunk_errors=len(meter.errors),
        startup_seconds=meter.startup_seconds, images_per_s=meter.items_per_s, wall_seconds=wall)
    result.stats = {k: getattr(result, k) for k in ("executor", "nodes", "images_measured", "chunk_errors",
                                                    "startup_seconds", "images_per_s", "wall_seconds")}
    meta = _metadata(cfg, result, getattr(checks, "check_specs", None))
    for name in TABLES:
        t = tables[name]
        write_table(out / f"{name}.arrow", t.cast(schema.with_metadata(t.schema.remove_metadata(), meta)))
    write_json(out / "run.json", meta)
    return result


def _every_tenth(progress: Progress) -> Callable[[int, int], None]:
    """The runner counts images done; say so at every tenth of the way, not at every chunk."""
    said = [-1]

    def tick(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != said[0]:
            said[0] = tenth
            progress(f"images measured: {done:,} of {total:,}")

    return tick


def _table(rows: list[dict], sch: pa.Schema) -> pa.Table:
    
    return pa.Table.from_pylist(rows, schema=sch)


def _default_out() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / f"{stamp}-validate"


def _metadata(cfg: ValidateConfig, result: ValidateResult, check_specs) -> dict:
    # Built without runinfo.device_description: it imports torch, seconds of start-up validate never needs.
    from harness.results.metadata import git_commit, pil_flavour, versions

    return {"command": "validate", "config": to_dict(cfg), "versions": versions(), "pil": pil_flavour(),
            "device": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
            "git_commit": git_commit(), "host": platform.node(),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "execution": result.stats, "checks": check_specs}


# Shipping bytes ---------------------------------------------------------------------------------------
def measure_shipped(max_pixels: int, payload: list[tuple[str, bytes | dict]]):
    """The image pass over bytes sent by the driver: each file is put back under a private folder
    (tmpfs when there is one) at its relative name and measured there, so the rows are exactly those
    the file-reading pass makes, in the same columnar ``IMAGES`` batch. An entry whose value is a dict is a
    row the driver already made (a path it could not read or that leaves the image folder), kept as is."""
    from harness.checks.image_pass import measure_images, rows_to_batch

    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmp = tempfile.mkdtemp(prefix="harness-ship-", dir=base)
    try:
        for name, data in payload:
            if isinstance(data, bytes):
                p = Path(tmp, name)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
        shipped = [name for name, data in payload if isinstance(data, bytes)]
        rows = iter(measure_images(tmp, shipped, max_pixels=max_pixels))
        return rows_to_batch([next(rows) if isinstance(data, bytes) else data for _, data in payload])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_payload(root: Path, names, max_pixels: int) -> list[tuple[str, bytes | dict]]:
    from harness.checks.image_pass import measure_image
    from harness.data.layout import UnsafePath, safe_image_path

    payload: list[tuple[str, bytes | dict]] = []
    for name in names:
        try:
            payload.append((name, safe_image_path(root, name).read_bytes()))
        except (UnsafePath, OSError):  # the row says why, made here by the same code the workers run
            payload.append((name, measure_image(str(root), name, max_pixels=max_pixels)))
    return payload


class ShippingExecutor(Executor):
    """Runs the image pass with the driver reading the files: ``fn`` must be the image pass
    (``functools.partial(measure_images_chunk, root, max_pixels)``); anything else runs unchanged.
    Chunks are read only as the inner executor asks for them, so driver memory stays bounded."""

    def __init__(self, inner: Executor, root: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.root = Path(root)

    def map_chunks(self, fn, chunks) -> Iterator[ChunkResult]:
        from harness.checks.image_pass import measure_images_chunk

        if not (isinstance(fn, functools.partial) and fn.func is measure_images_chunk and len(fn.args) == 2):
            yield from self.inner.map_chunks(fn, chunks)
            return
        root, max_pixels = Path(fn.args[0]), fn.args[1]
        payloads = (_read_payload(root, names, max_pixels) for names in chunks)
        yield from self.inner.map_chunks(functools.partial(measure_shipped, max_pixels), payloads)

    def close(self) -> None:
        self.inner.close()

