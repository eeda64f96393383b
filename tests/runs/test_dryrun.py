"""End to end: ``harness dryrun`` as a user runs it, through the installed console entry point's code."""
import json

import pyarrow.ipc as ipc
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.results.schema import read_metadata
from tests.support.datasets import make_mixed_dataset

FAST = ["--samples", "6", "--epochs", "2", "--batch-size", "2", "--image-size", "64", "--loader-samples", "6"]


def run(args):
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result


def table(path):
    with open(path, "rb") as f:
        return ipc.open_file(f).read_all()


def test_clean_dataset_writes_every_table_and_the_report(clean_dataset, tmp_path):
    out = tmp_path / "run"
    result = run(["dryrun", str(clean_dataset), "--out", str(out), *FAST, "--epochs", "4"])
    assert "Traceback" not in result.output
    for name in ("findings", "tests", "images", "records", "loader", "batches", "epochs", "estimates"):
        assert (out / f"{name}.arrow").exists(), name
    loader = table(out / "loader.arrow").to_pylist()
    assert len(loader) == 1 and loader[0]["pairs_ok"] == loader[0]["pairs_checked"] == 6
    assert loader[0]["image_shape"] == [3, 64, 64]
    assert json.loads((out / "run.json").read_text())["command"] == "dryrun"
    tests = table(out / "tests.arrow").to_pylist()
    assert [t["test"] for t in tests] == ["dataset_validation", "data_statistics", "data_loader",
                                          "training_simulation"]
    # every test passes on clean data, the proxy's convergence included (a fixed seed: not a coin toss)
    assert [t["status"] for t in tests] == ["passed"] * 4, tests
    assert "converging" in tests[3]["summary"] and "not converging" not in tests[3]["summary"]
    findings = table(out / "findings.arrow").to_pylist()
    assert not [f for f in findings if f["severity"] == "error"]
    meta = read_metadata(table(out / "findings.arrow").schema)
    assert meta["command"] == "dryrun" and meta["config"]["train_cfg"]["epochs"] == 4
    assert {c["id"] for c in meta["checks"]} >= {"record.turn_structure", "dataset.model_leakage", "labels.blanked"}
    report = (out / "report.md").read_text()
    for section in ("## Test suite summary", "### Test 1: Dataset validation", "### Test 2: Data statistics",
                    "### Test 3: Data loader", "### Test 4: Training simulation", "## Convergence analysis",
                    "## Deviation & precision metrics", "## Estimated full training", "## Risk assessment"):
        assert section in report, section
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    epochs = table(out / "epochs.arrow").to_pylist()
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    estimates = table(out / "estimates.arrow").to_pylist()
    assert {e["scale"] for e in estimates} == {"dataset", "1K", "10K", "50K"}
    dataset_row = next(e for e in estimates if e["scale"] == "dataset")
    assert dataset_row["conversations"] == len(json.loads((clean_dataset / "train.json").read_text()))
    assert result.exit_code == 0, result.output


def test_planted_defects_fail_with_a_finding_for_each(defect_dataset, tmp_path):
    out = tmp_path / "run"
    result = run(["dryrun", str(defect_dataset.root), "--out", str(out), *FAST])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    findings = table(out / "findings.arrow").to_pylist()
    missing = [p.name for p in defect_dataset.planted if not any(p.matches(f) for f in findings)]
    assert missing == []
    tests = {t["test"]: t["status"] for t in table(out / "tests.arrow").to_pylist()}
    assert tests["dataset_validation"] == "failed"
    # the loader and the proxy ran on the records test 1 found sound, and the report says how many were set aside
    assert tests["data_loader"] == "passed"
    assert "set aside" in (out / "report.md").read_text()


@pytest.mark.parametrize("args", [
    ["dryrun", "/no/such/dataset"],
    ["dryrun", "--epochs", "0"],
    ["dryrun", "--samples", "many"],
    ["dryrun", "--device", "tpu"],
])
def test_usage_errors_exit_2_without_a_traceback(args, tmp_path):
    result = run(args + ["--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_unreadable_json_is_a_finding_not_a_crash(clean_dataset, tmp_path):
    (clean_dataset / "val.json").write_text("{ this is not json")
    out = tmp_path / "run"
    result = run(["dryrun", str(clean_dataset), "--out", str(out), *FAST])
    assert result.exit_code == 1
    checks = {f["check"] for f in table(out / "findings.arrow").to_pylist()}
    assert "dataset.load_error" in checks


def test_a_mixed_llava_dataset_runs_clean(tmp_path):
    """A LLaVA mix made here (COCO-like JPEGs in nested folders, PNG renders, multi-turn records, text-only
    records without 'image' or <image>, a record without an id, a repeated id): TinyLLaVA trains every
    record as meant, so the dry run exits 0 with no error finding; the text-only records go through the
    loader as TinyLLaVA's blank image, counted in the loader table."""
    root = make_mixed_dataset(tmp_path / "mixed")
    out = tmp_path / "run"
    result = run(["dryrun", str(root), "--out", str(out), *FAST, "--epochs", "4"])
    assert "Traceback" not in result.output
    findings = table(out / "findings.arrow").to_pylist()
    assert [f for f in findings if f["severity"] == "error"] == []
    assert any(f["check"] == "dataset.duplicate_id" and f["severity"] == "info" for f in findings)
    text_only = sum("image" not in r for s in ("train", "val") for r in json.loads((root / f"{s}.json").read_text()))
    [loader] = table(out / "loader.arrow").to_pylist()
    assert loader["blank_images"] == text_only > 0 and loader["pairs_ok"] == loader["pairs_checked"]
    assert result.exit_code == 0, result.output


def test_planted_llava_format_problems_each_give_their_error(tmp_path):
    """The mix with train.json as JSON Lines behind a UTF-8 BOM (json.load: 'Unexpected UTF-8 BOM', and
    'Extra data' once that is stripped), val.json as {"data": [...]} (KeyError: 0 when indexed), a record
    with <image> but no image (its image slot sees a blank) and one with 'images' for 'image' (the picture
    is never used): the dry run fails with one error per case, and still checks the records it read."""
    root = make_mixed_dataset(tmp_path / "mixed")
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val.json").read_text())
    prompt = [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A part."}]
    train += [{"id": "noimg", "conversations": prompt},
              {"id": "plural", "images": "renders/00000000_front.png", "conversations": prompt}]
    (root / "train.json").write_bytes(b"\xef\xbb\xbf" + "\n".join(map(json.dumps, train)).encode())
    (root / "val.json").write_text(json.dumps({"data": val}))
    out = tmp_path / "run"
    result = run(["dryrun", str(root), "--out", str(out), *FAST])
    assert "Traceback" not in result.output and result.exit_code == 1, result.output
    errors = {(f["check"], f["split"], f["record_index"]) for f in table(out / "findings.arrow").to_pylist()
              if f["severity"] == "error"}
    n = len(train)
    assert {("dataset.split_bom", "train", None), ("dataset.split_jsonl", "train", None),
            ("dataset.split_object", "val", None), ("labels.placeholders", "train", n - 2),
            ("record.image_key_misnamed", "train", n - 1)} <= errors
    records = table(out / "records.arrow").to_pylist()
    assert sum(r["split"] == "train" for r in records) == n and sum(r["split"] == "val" for r in records) == len(val)
