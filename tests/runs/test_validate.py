"""``harness validate``: tables written with metadata, exit codes, usage errors without a traceback; the
same findings in this process, on a private local Ray, and with the driver shipping the bytes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.config import ValidateConfig
from harness.results.schema import FINDINGS, IMAGES, RECORDS, TESTS, read_metadata
from harness.results.write import read_table
from harness.runs.validate import TABLES, validate
from tests.support.datasets import make_clean_dataset

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only


def finding_set(out: Path) -> list[tuple]:
    return sorted(tuple(r.values()) for r in read_table(out / "findings.arrow").to_pylist())


def image_rows(out: Path) -> list[dict]:
    """Image rows without what may differ between runs (timing, the node)."""
    rows = read_table(out / "images.arrow").to_pylist()
    return sorted(({k: v for k, v in r.items() if k not in ("node", "measure_seconds")} for r in rows),
                  key=lambda r: r["image"])


def run_cli(*args: str):
    return CliRunner().invoke(main, ["validate", *args], catch_exceptions=False)


def test_tables_metadata_and_exit_1_on_defects(defect_dataset, tmp_path):
    out = tmp_path / "run"
    res = run_cli(str(defect_dataset.root), "--out", str(out), "--workers", "1")
    assert res.exit_code == 1, res.output
    assert "FAIL dataset_validation" in res.output and "images/s" in res.output
    for name, sch in zip(TABLES, (FINDINGS, TESTS, IMAGES, RECORDS)):
        t = read_table(out / f"{name}.arrow")
        assert t.schema.remove_metadata().equals(sch), name
        meta = read_metadata(t.schema)
        assert meta["command"] == "validate" and meta["execution"]["executor"] == "local"
    assert not list(out.glob(".*.tmp")), "no temporary file left"
    images = read_table(out / "images.arrow").to_pylist()
    assert all(r["node"] for r in images if r["referenced"]), "every measured image row names its node"
    assert not any(r["node"] for r in images if not r["referenced"]), "orphans are listed, not measured"
    found = read_table(out / "findings.arrow").to_pylist()
    for p in defect_dataset.planted:
        assert any(p.matches(f) for f in found), p.name


def test_exit_0_on_clean_dataset(tmp_path):
    root = make_clean_dataset(tmp_path / "clean", models=6, val_models=2)
    res = run_cli(str(root), "--out", str(tmp_path / "run"), "--workers", "1")
    assert res.exit_code == 0, res.output
    assert "PASS dataset_validation" in res.output and "PASS data_statistics" in res.output
    out = tmp_path / "run"
    report = (out / "report.md").read_text()
    for section in ("# Validation: PASSED", "### Test 1: Dataset validation", "### Test 2: Data statistics",
                    "## Execution", "## Risk assessment"):
        assert section in report, section
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "validate" and run["execution"]["images_measured"] == 18


def test_outputs_get_the_users_usual_permissions(tmp_path):
    root = make_clean_dataset(tmp_path / "clean", models=2, val_models=1)
    old = os.umask(0o022)
    try:
        assert run_cli(str(root), "--out", str(tmp_path / "run"), "--workers", "1").exit_code == 0
    finally:
        os.umask(old)
    modes = {f.name: f.stat().st_mode & 0o777 for f in (tmp_path / "run").iterdir()}
    assert set(modes) >= {"findings.arrow", "tests.arrow", "images.arrow", "records.arrow", "run.json", "report.md"}
    assert set(modes.values()) == {0o644}, modes   # a teammate or an artifact server can read them


@pytest.mark.parametrize("args, words", [
    (["/no/such/dataset"], "dataset folder not found"),
    (["--workers", "0"], "--workers"),
    (["--max-length", "-1"], "--max-length must be positive"),
    (["--ray-address", "127.0.0.1:1"], "no Ray cluster reachable at 127.0.0.1:1"),
])
def test_usage_errors_exit_2_without_traceback(clean_dataset, tmp_path, args, words):
    full = args if args[0].startswith("/") else [str(clean_dataset), *args]
    res = CliRunner().invoke(main, ["validate", *full, "--out", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.ray
@pytest.mark.slow
def test_local_ray_and_shipped_bytes_agree_with_in_process(defect_dataset, tmp_path):
    root = defect_dataset.root
    ref = validate(ValidateConfig(dataset=root, out=tmp_path / "local", workers=1))
    on_ray = validate(ValidateConfig(dataset=root, out=tmp_path / "ray", workers=2))
    shipped = validate(ValidateConfig(dataset=root, out=tmp_path / "ship", workers=2, ship_bytes=True))
    assert on_ray.executor == shipped.executor == "ray" and ref.executor == "local"
    for run in (on_ray, shipped):
        assert finding_set(run.out) == finding_set(ref.out)
        assert image_rows(run.out) == image_rows(ref.out)
        referenced = sum(read_table(ref.out / "images.arrow").column("referenced").to_pylist())
        assert run.images_measured == ref.images_measured == referenced   # orphans are listed, not measured
        assert run.startup_seconds is not None and run.passed == ref.passed is False


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.ray
@pytest.mark.slow
def test_sigterm_stops_cleanly(tmp_path):
    root = make_clean_dataset(tmp_path / "clean", models=60, val_models=6, size=(256, 256))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from harness.cli import main; main()", "validate", str(root), "--out",
         str(out), "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ray_procs: set[int] = set()
    for line in proc.stderr:   # wait until the image pass runs, then stop the run
        if "images measured" in line:
            ray_procs = _descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            break
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() or not [p for p in out.iterdir()], "no table, whole or partial"
    assert ray_procs, "Ray had worker processes"
    deadline = time.time() + 15
    while any(_alive(p) for p in ray_procs) and time.time() < deadline:
        time.sleep(0.2)
    assert not [p for p in ray_procs if _alive(p)], "Ray shut down with the run"
