"""The runner over whole datasets: planted defects are all found at the right severity, clean data is
quiet, every image is reported once, worker failures are findings, soundness follows the errors."""
from __future__ import annotations

import io

import pyarrow as pa

from harness.checks.runner import image_list, run_checks
from harness.config import CheckConfig
from harness.execution import ChunkResult, Executor, LocalExecutor
from harness.progress import Progress
from harness.results.schema import FINDINGS, IMAGES, RECORDS
from tests.support.datasets import load, make_clean_dataset

CFG = CheckConfig()


def test_every_planted_defect_is_found_at_its_severity_and_nothing_clean_errs(defect_dataset):
    res = run_checks(load(defect_dataset.root), CFG)
    findings = res.findings.to_pylist()
    for p in defect_dataset.planted:
        assert any(p.matches(f) for f in findings), f"planted {p.name!r}: no {p.severity} {p.check}"
    # Nothing clean errs: every error is a planted finding or lands on a planted record or image (another
    # check may see the same defect, e.g. the label checks also see a prompt without <image>).
    bad_records = {(p.split, p.record_index) for p in defect_dataset.planted if p.record_index is not None}
    bad_images = {p.image for p in defect_dataset.planted if p.image is not None}
    errors = [f for f in findings if f["severity"] == "error"]
    unexpected = [f for f in errors if not any(p.matches(f) for p in defect_dataset.planted)
                  and (f["split"], f["record_index"]) not in bad_records and f["image"] not in bad_images]
    assert unexpected == []
    assert len({p.name for p in defect_dataset.planted if p.severity == "error"}) == 15
    assert res.tests[0]["test"] == "dataset_validation" and res.tests[0]["status"] == "failed"
    assert res.tests[1]["test"] == "data_statistics" and res.tests[1]["status"] == "passed"


def test_tables_have_the_declared_schemas_and_one_row_per_image_and_record(defect_dataset):
    ds = load(defect_dataset.root)
    res = run_checks(ds, CFG)
    assert res.findings.schema.equals(FINDINGS) and res.images.schema.equals(IMAGES)
    assert res.records.schema.equals(RECORDS)
    names = res.images.column("image").to_pylist()
    assert len(names) == len(set(names)) == len(image_list(ds))
    assert "orphan_front.png" in names and "../outside.png" not in names   # unsafe paths are never opened
    assert res.records.num_rows == len(ds.all_records())
    assert res.image_paths["kernel"] > 0 and sum(res.image_paths.values()) <= len(names)
    assert {s["id"] for s in res.check_specs} >= {"record.turn_structure", "image.truncated", "dataset.dark"}


def test_soundness_excludes_records_with_errors_on_them_or_their_image(defect_dataset):
    ds = load(defect_dataset.root)
    res = run_checks(ds, CFG)
    sound = {(r.split, r.index) for recs in res.sound.values() for r in recs}
    rows = {(r["split"], r["record_index"]): r for r in res.records.to_pylist()}
    assert {k for k, r in rows.items() if r["sound"]} == sound
    by_image = {r.image: (r.split, r.index) for r in ds.all_records() if r.image}
    for p in defect_dataset.planted:
        if p.severity != "error" or p.check.startswith("dataset."):   # split-level: samples still load
            continue
        key = (p.split, p.record_index) if p.record_index is not None else by_image[p.image]
        assert key not in sound, p.name
    assert len(sound) >= 40   # the clean records


def test_clean_dataset_passes_with_no_error_and_no_warning(clean_dataset):
    res = run_checks(load(clean_dataset), CFG)
    assert [f for f in res.findings.to_pylist() if f["severity"] != "info"] == []
    assert [t["status"] for t in res.tests] == ["passed", "passed"]
    assert all(res.records.column("sound").to_pylist())
    assert res.records.column("model").to_pylist()[:3] == ["00000000"] * 3
    assert all(n > 0 for n in res.records.column("total_tokens").to_pylist())


class FlakyExecutor(Executor):
    """Fails every chunk holding a given image, as an executor does after its retries run out."""

    def __init__(self, poison: str):
        self.poison = poison

    def map_chunks(self, fn, chunks):
        for i, chunk in reversed(list(enumerate(chunks))):   # out of order, as Ray returns them
            if self.poison in chunk:
                yield ChunkResult(index=i, error="RayTaskError: worker died", node="node-7")
            else:
                yield ChunkResult(index=i, value=fn(chunk), node="node-1")


def test_failed_chunk_becomes_error_findings_for_each_of_its_images(tmp_path):
    root = make_clean_dataset(tmp_path, models=14, val_models=2)   # 42 images: two chunks
    ds = load(root)
    res = run_checks(ds, CFG, executor=FlakyExecutor("00000000_front.png"))
    rows = res.images.to_pylist()
    failed = [r for r in rows if r["decode_problem"] == "worker_failed"]
    assert 0 < len(failed) < len(rows) and all(r["node"] == "node-7" for r in failed)
    worker = [f for f in res.findings.to_pylist() if f["check"] == "image.worker_failed"]
    assert sorted(f["image"] for f in worker) == sorted(r["image"] for r in failed)
    assert all(f["severity"] == "error" for f in worker) and res.tests[0]["status"] == "failed"
    assert [r["image"] for r in rows] == [i[0] for i in image_list(ds)]   # order kept, each once
    assert {r["node"] for r in rows} == {"node-1", "node-7"}


def test_progress_reports_every_image(clean_dataset):
    log = io.StringIO()
    run_checks(load(clean_dataset), CFG, executor=LocalExecutor(), progress=Progress(log, live=False))
    assert log.getvalue().splitlines()[-1].split("] ")[1].startswith("images measured: 18 of 18")


def test_statistics_test_fails_when_nothing_can_be_measured(tmp_path):
    root = make_clean_dataset(tmp_path, models=2, val_models=1)
    for f in (root / "images").iterdir():
        f.write_bytes(b"broken")
    res = run_checks(load(root), CFG)
    assert res.tests[1]["status"] == "failed" and res.stats["images"]["measured"] == 0


def test_orphan_damage_is_not_an_error(tmp_path):
    root = make_clean_dataset(tmp_path, models=2, val_models=1)
    (root / "images" / "sub").mkdir()
    (root / "images" / "sub" / "stray_front.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    res = run_checks(load(root), CFG)
    f = [x for x in res.findings.to_pylist() if x["image"] == "sub/stray_front.png"]
    assert [(x["check"], x["severity"]) for x in f] == [("dataset.orphan_image", "warning")]
    assert isinstance(res.images, pa.Table)


def test_orphans_are_listed_without_being_decoded(tmp_path):
    root = make_clean_dataset(tmp_path, models=2, val_models=1)
    (root / "images" / "sub").mkdir()
    stray = root / "images" / "sub" / "stray_front.png"
    stray.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    calls: list[list[str]] = []

    class Recording(LocalExecutor):   # the real local executor, noting which images it was given
        def map_chunks(self, fn, chunks):
            calls.extend(list(c) for c in chunks)
            return super().map_chunks(fn, chunks)

    res = run_checks(load(root), CFG, executor=Recording())
    assert "sub/stray_front.png" not in {n for c in calls for n in c}, "an orphan was sent to be decoded"
    row = next(r for r in res.images.to_pylist() if r["image"] == "sub/stray_front.png")
    assert row["referenced"] is False and row["exists"] is True and row["file_bytes"] == stray.stat().st_size
    assert row["decode_ok"] is None and row["pixel_hash"] is None and row["decode_problem"] is None
    assert res.stats["images"]["orphans"] == 1 and res.stats["images"]["measured"] == res.images.num_rows - 1
