"""``harness dryrun``: the seed's four tests, measured, then analysis, estimates, tables and the report.

Test 1-2: ``harness.checks.runner.run_checks``; test 3: ``harness.loader.check.check_loader``; test 4:
``harness.train.check.check_training``. Each test is one function beside its subject; this module only
runs them in order and writes what they return.
"""
from __future__ import annotations

import time

import pyarrow as pa

from harness.checks.runner import run_checks
from harness.config import DryrunConfig
from harness.estimate.proxy import proxy_estimates
from harness.execution import LocalExecutor, make_executor
from harness.loader.check import TEST_ID as LOADER_TEST
from harness.loader.check import LoaderCheck, check_loader
from harness.progress import SILENT, Progress
from harness.results import contact_sheet, schema
from harness.results.metadata import run_metadata
from harness.results.plots import loss_plot_png
from harness.results.report.dryrun import dryrun_report
from harness.results.run import RunResult
from harness.results.write import write_run
from harness.runs.clean import write_clean
from harness.runs.defaults import open_dataset
from harness.runs.gallery import flagged_gallery
from harness.train.check import check_training
from harness.train.device import describe


def loader_row(lc: LoaderCheck) -> dict:
    """Test 3's result as one ``LOADER`` row."""
    return {"status": lc.status, "seconds": lc.seconds, "batches": lc.batches, "samples": lc.samples,
            "batch_size": lc.batch_size, "image_shape": list(lc.image_shape), "image_dtype": lc.image_dtype,
            "token_shape": list(lc.token_shape), "pairs_checked": lc.pairs_checked, "pairs_ok": lc.pairs_ok,
            "max_pixel_error": lc.max_pixel_error, "decoded_by_kernel": lc.paths.get("kernel", 0),
            "decoded_by_pillow": lc.paths.get("pillow", 0), "blank_images": lc.paths.get("blank", 0)}


def dryrun(cfg: DryrunConfig, progress: Progress = SILENT) -> RunResult:
    """Run all four tests; write every table and the report into the run folder; never raise on bad data."""
    t_start = time.perf_counter()
    paths, out, dataset = open_dataset(cfg, "dryrun", progress)

    # Tests 1 and 2: in this process unless a cluster or several workers were asked for; a 3,300-image
    # set measures in seconds, less than a Ray start-up.
    progress("test 1-2: validating records and images")
    use_ray = cfg.ray_address is not None or (cfg.workers or 1) > 1
    executor = make_executor(workers=cfg.workers, ray_address=cfg.ray_address) if use_ray else LocalExecutor()
    with executor:
        checks = run_checks(dataset, cfg.checks, executor=executor, progress=progress)
    tests = [dict(t) for t in checks.tests]
    findings = [checks.findings]

    progress("test 3: data loader")
    sound, tc = checks.sound, cfg.train_cfg
    loader_res = None
    if sum(len(v) for v in sound.values()) == 0:
        tests.append({"test": LOADER_TEST, "status": "skipped", "seconds": 0.0, "summary": "no sound record to load"})
    else:
        loader_res = check_loader(dataset, sound, batch_size=tc.batch_size, image_size=tc.image_size,
                                  seq_len=cfg.checks.max_length, samples=cfg.checks.loader_samples,
                                  workers=tc.workers)
        findings.append(pa.Table.from_pylist([f.as_row() for f in loader_res.findings], schema=schema.FINDINGS))
        tests.append({"test": LOADER_TEST, "status": loader_res.status, "seconds": loader_res.seconds,
                      "summary": loader_res.summary()})

    progress("test 4: training simulation")
    training = check_training(tc, dataset, sound)
    tests.append(training.test)
    train_res = training.result

    # Estimates: the proxy's measured step time over the full dataset and the 1K/10K/50K scales.
    estimates = []
    if train_res is not None:
        estimates = proxy_estimates(step_seconds=train_res.steady_step_seconds, batch_size=tc.batch_size,
                                    epochs=cfg.full_epochs, dataset_conversations=len(dataset.records["train"]),
                                    views=len(cfg.checks.views), device=train_res.device)

    tables = {
        "findings": pa.concat_tables(findings),
        "tests": pa.Table.from_pylist(tests, schema=schema.TESTS),
        "images": checks.images,
        "records": checks.records,
        "loader": pa.Table.from_pylist([loader_row(loader_res)] if loader_res else [], schema=schema.LOADER),
        "batches": pa.Table.from_pylist(train_res.batches if train_res else [], schema=schema.BATCHES),
        "epochs": pa.Table.from_pylist(train_res.epochs if train_res else [], schema=schema.EPOCHS),
        "estimates": pa.Table.from_pylist(estimates, schema=schema.ESTIMATES),
    }
    # test 2's stats carry the formula behind each memory estimate
    meta = run_metadata("dryrun", cfg, device=describe(train_res.device if train_res else None),
                        checks=checks.check_specs, stats=checks.stats)
    # The clean copy after test 3: its error findings on records put those records out too.
    clean = (write_clean(cfg.write_clean, dataset, tables["findings"], tables["records"], meta)
             if cfg.write_clean is not None else None)
    gallery, sheet = flagged_gallery(tables, paths.images, max_pixels=cfg.checks.max_pixels)
    report = dryrun_report(cfg=cfg, paths=paths, meta=meta, tables=tables, checks=checks,
                           train=train_res, analysis=training.analysis, gallery=gallery, clean=clean)
    files = write_run(out, meta, tables, report=report, files={"loss.png": loss_plot_png(tables["epochs"]),
                                                               contact_sheet.FILE: sheet})
    if clean is not None:
        files.update({f"clean_{k}": v for k, v in clean.files.items()})
    return RunResult(command="dryrun", out=out, tables=tables, files=files, seconds=time.perf_counter() - t_start,
                     notes=[clean.line()] if clean is not None else [])
