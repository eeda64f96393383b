"""``harness dryrun``: the seed's four tests, measured, then analysis, estimates, tables and the report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa

from harness.config import DryrunConfig
from harness.data import load_dataset, resolve_dataset
from harness.results import schema
from harness.results.write import write_table, write_text
from harness.results.metadata import default_out, run_metadata

Progress = Callable[[str], None]


@dataclass
class DryrunResult:
    out: Path
    tests: list[dict]
    findings: pa.Table
    tables: dict[str, pa.Table] = field(default_factory=dict)
    report_path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(t["status"] != "failed" for t in self.tests)


def _noop(_: str) -> None:
    pass


def dryrun(cfg: DryrunConfig, progress: Progress = _noop) -> DryrunResult:
    """Run all four tests; write every table and the report into the run folder; never raise on bad data."""
    from harness.checks.runner import run_checks
    from harness.data.defaults import default_dataset
    from harness.execution import LocalExecutor, make_executor

    root = cfg.dataset
    if root is None and cfg.train is None:
        root = default_dataset(progress)
    paths = resolve_dataset(root, train=cfg.train, val=cfg.val, images=cfg.images)
    out = Path(cfg.out) if cfg.out else default_out("dryrun")
    meta = run_metadata("dryrun", cfg)
    dataset = load_dataset(paths)

    # Tests 1 and 2: in this process unless a cluster or several workers were asked for; a 3,300-image
    # set measures in seconds, less than a Ray start-up.
    progress("test 1-2: validating records and images")
    use_ray = cfg.ray_address is not None or (cfg.workers or 1) > 1
    executor = make_executor(workers=cfg.workers, ray_address=cfg.ray_address) if use_ray else LocalExecutor()
    with executor:
        checks = run_checks(dataset, cfg.checks, executor=executor, progress=_image_progress(progress))
    tests = [dict(t) for t in checks.tests]
    findings_rows = [r for r in checks.findings.to_pylist()]

    # Test 3: the loader over every sound record.
    progress("test 3: data loader")
    from harness.loader.check import TEST_ID as LOADER_TEST, check_loader

    sound = checks.sound
    tc = cfg.train_cfg
    if sum(len(v) for v in sound.values()) == 0:
        loader_res = None
        tests.append({"test": LOADER_TEST, "status": "skipped", "seconds": 0.0,
                      "summary": "no sound record to load"})
    else:
        loader_res = check_loader(dataset, sound, batch_size=tc.batch_size, image_size=tc.image_size,
                                  seq_len=cfg.checks.max_length, samples=cfg.checks.loader_samples,
                                  workers=tc.workers)
        findings_rows += [f.as_row() for f in loader_res.findings]
        tests.append({"test": LOADER_TEST, "status": loader_res.status, "seconds": loader_res.seconds,
                      "summary": loader_res.summary()})

    # Test 4: the proxy model, on sound records only.
    progress("test 4: training simulation")
    from harness.train.analysis import analyse
    from harness.train.loop import simulate

    train_recs, val_recs = _pick_samples(sound, tc)
    train_res = analysis = None
    if len(train_recs) == 0:
        tests.append({"test": "training_simulation", "status": "skipped", "seconds": 0.0,
                      "summary": "no sound train record"})
    else:
        t0 = time.perf_counter()
        train_res = simulate(tc, dataset, train_recs, val_recs)
        analysis = analyse(train_res.epochs, train_res.batches)
        ok = analysis.converging
        summary = (f"{train_res.params:,} params on {train_res.device}: loss {analysis.train_losses[0]:.3f} -> "
                   f"{analysis.train_losses[-1]:.3f} ({analysis.train_reduction_pct:.0f}% lower), {analysis.verdict}")
        tests.append({"test": "training_simulation", "status": "passed" if ok else "failed",
                      "seconds": time.perf_counter() - t0, "summary": summary})

    # Estimates: the proxy's measured step time over the full dataset and the 1K/10K/50K scales.
    from harness.estimate.proxy import proxy_estimates

    estimates = []
    if train_res is not None:
        estimates = proxy_estimates(step_seconds=train_res.steady_step_seconds, batch_size=tc.batch_size,
                                    epochs=cfg.full_epochs, dataset_conversations=len(dataset.records["train"]),
                                    views=len(cfg.checks.views), device=train_res.device)

    tables = {
        "findings": pa.Table.from_pylist(findings_rows, schema=schema.FINDINGS),
        "tests": pa.Table.from_pylist(tests, schema=schema.TESTS),
        "images": checks.images,
        "records": checks.records,
        "batches": pa.Table.from_pylist(train_res.batches if train_res else [], schema=schema.BATCHES),
        "epochs": pa.Table.from_pylist(train_res.epochs if train_res else [], schema=schema.EPOCHS),
        "estimates": pa.Table.from_pylist(estimates, schema=schema.ESTIMATES),
    }
    meta["checks"] = checks.check_specs
    meta["stats"] = checks.stats   # test 2, with the formula behind each memory estimate
    for name, table in tables.items():
        write_table(out / f"{name}.arrow", table.replace_schema_metadata(None).cast(
            schema.with_metadata(table.schema.remove_metadata(), meta)))

    from harness.results.report.dryrun import dryrun_report, loss_plot

    loss_plot(out / "loss.png", tables["epochs"])
    text = dryrun_report(cfg=cfg, paths=paths, meta=meta, tables=tables, checks=checks, loader=loader_res,
                         train=train_res, analysis=analysis)
    report_path = write_text(out / "report.md", text)
    return DryrunResult(out=out, tests=tests, findings=tables["findings"], tables=tables, report_path=report_path)


def _image_progress(progress: Progress) -> Callable[[int, int], None]:
    """Adapt the runner's (done, total) image counts to stage lines, one per tenth of the images."""
    state = {"next": 0.0}

    def report(done: int, total: int) -> None:
        if total and (done / total >= state["next"] or done == total):
            progress(f"  images measured: {done:,}/{total:,}")
            state["next"] = done / total + 0.1

    return report


def _pick_samples(sound, tc):
    """The seed's 20 samples: 16 train and 4 val, from the sound records; ``all``: both whole splits."""
    n_train, n_val = tc.split_counts()
    train, val = sound.get("train", []), sound.get("val", [])
    if n_train is None:
        return train, val
    if not val:  # no val split: hold out the tail of train, as the seed did with its 20 samples
        return train[:n_train], train[n_train:n_train + n_val]
    return train[:n_train], val[:n_val]
