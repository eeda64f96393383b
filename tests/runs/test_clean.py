"""``--write-clean DIR``: the sound records written as new split files, a table of what was left out and
why, the input never touched; run as a user runs it (click's runner), files written and read back."""
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.results.write import read_table
from tests.support.datasets import _turns, jpeg_bytes, make_mixed_dataset, png_bytes, render_cad

FAST = ["--samples", "6", "--epochs", "1", "--batch-size", "2", "--image-size", "64", "--loader-samples", "4"]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def fingerprint(root: Path) -> dict[str, str]:
    """Every file under the dataset folder, by content: the input must come out byte for byte the same."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def make_mixed_with_errors(root: Path) -> tuple[Path, list[tuple[str, int]]]:
    """The LLaVA-style mix plus four records TinyLLaVA crashes on or spoils: a truncated JPEG in a nested
    folder, a PNG with transparent pixels (``convert("RGB")`` shows black), an ``images`` key (the picture
    is never opened) and a text-only val record with ``<image>`` (a blank picture is fed). Returns the
    folder and the (split, index) of each planted record."""
    root = make_mixed_dataset(root)
    img = root / "images"
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val.json").read_text())
    ask = lambda answer: _turns(("human", "<image>\nWhat is shown?"), ("gpt", answer))  # noqa: E731
    data = jpeg_bytes(render_cad(900, "top", (640, 480)))
    (img / "coco/train2017/000000900001.jpg").write_bytes(data[: len(data) // 2])
    train.append({"id": "truncated", "image": "coco/train2017/000000900001.jpg", "conversations": ask("A shape.")})
    rgba = render_cad(901, "front", (256, 256)).convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    (img / "renders/00000901_front.png").write_bytes(png_bytes(rgba))
    train.append({"id": "transparent", "image": "renders/00000901_front.png", "conversations": ask("A render.")})
    train.append({"id": "misnamed", "images": "coco/train2017/000000033471.jpg", "conversations": ask("A photo.")})
    val.append({"conversations": ask("Nothing to see."), "id": "blank"})   # key order kept on the way out
    (root / "train.json").write_text(json.dumps(train, indent=2))
    (root / "val.json").write_text(json.dumps(val, indent=2))
    n = len(train)
    return root, [("train", n - 3), ("train", n - 2), ("train", n - 1), ("val", len(val) - 1)]


def left_out(clean: Path) -> list[dict]:
    return read_table(clean / "left_out.arrow").to_pylist()


def assert_clean_copy(root: Path, clean: Path, planted: list[tuple[str, int]]) -> None:
    """The clean split files are the input's records minus exactly those left out, objects and key order
    as they came; every planted record is left out."""
    rows = left_out(clean)
    out = {(r["split"], r["record_index"]) for r in rows}
    assert set(planted) <= out, (planted, rows)
    for split in ("train", "val"):
        original = json.loads((root / f"{split}.json").read_text())
        written = json.loads((clean / f"{split}.json").read_text())
        assert written == [r for i, r in enumerate(original) if (split, i) not in out]
        assert [list(r) for r in written] == [list(r) for i, r in enumerate(original) if (split, i) not in out]


def revalidate(clean: Path, images: Path, out: Path) -> list[dict]:
    """The clean copy through ``harness validate`` again (same images): its findings."""
    result = run("validate", "--train", clean / "train.json", "--val", clean / "val.json", "--images", images,
                 "--out", out)
    assert result.exit_code == 0, result.output
    return read_table(out / "findings.arrow").to_pylist()


def test_validate_writes_the_sound_records_and_names_each_planted_error(defect_dataset, tmp_path):
    root, clean = defect_dataset.root, tmp_path / "clean"
    before = fingerprint(root)
    result = run("validate", root, "--out", tmp_path / "run", "--write-clean", clean)
    assert result.exit_code == 1 and "clean copy:" in result.output, result.output
    assert fingerprint(root) == before                       # the input is never touched
    rows = left_out(clean)
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val.json").read_text())
    recs = {"train": train, "val": val}
    for p in (p for p in defect_dataset.planted if p.severity == "error"):
        named = [r for r in rows if r["check"] == p.check and r["split"] == (p.split or r["split"])
                 and (p.record_index is None or r["record_index"] == p.record_index)
                 and (p.image is None or r["image"] == p.image)]
        assert named, f"{p.name}: {p.check} names no left-out record"
        for r in named:   # id and image are the record's own
            assert r["id"] == recs[r["split"]][r["record_index"]].get("id") and r["message"]
    # model leakage names the val record of the model that is also in train; the train side stays
    leak = [r for r in rows if r["check"] == "dataset.model_leakage"]
    assert [(r["split"], r["image"]) for r in leak] == [("val", "40000002_front.png")]
    assert any(r.get("image", "").startswith("40000002_") for r in json.loads((clean / "train.json").read_text()))
    # the same set the run calls unsound (records.arrow), and no row for a warning: warnings are kept
    unsound = {(r["split"], r["record_index"]) for r in read_table(tmp_path / "run" / "records.arrow").to_pylist()
               if not r["sound"]}
    assert {(r["split"], r["record_index"]) for r in rows} == unsound
    kept = {r.get("image") for r in json.loads((clean / "train.json").read_text())}
    for p in (p for p in defect_dataset.planted if p.severity == "warning" and p.split == "train"):
        assert p.image in kept, p.name
    assert_clean_copy(root, clean, [(p.split, p.record_index) for p in defect_dataset.planted
                                    if p.severity == "error" and p.record_index is not None])
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Clean copy (`--write-clean`)" in report and str(clean) in report
    # the clean copy validates with no error (orphaned image files are warnings)
    again = revalidate(clean, root / "images", tmp_path / "again")
    assert not [f for f in again if f["severity"] == "error"]


def test_dryrun_writes_the_clean_copy_of_a_mixed_dataset(tmp_path):
    root, planted = make_mixed_with_errors(tmp_path / "mixed")
    clean = tmp_path / "clean"
    before = fingerprint(root)
    result = run("dryrun", root, "--out", tmp_path / "run", "--write-clean", clean, *FAST)
    assert "Traceback" not in result.output and "clean copy:" in result.output, result.output
    assert fingerprint(root) == before
    assert_clean_copy(root, clean, planted)
    rows = left_out(clean)
    assert {(r["split"], r["record_index"]) for r in rows} == set(planted)
    assert {r["check"] for r in rows} >= {"image.truncated", "image.transparency", "record.image_key_misnamed",
                                          "labels.placeholders"}
    assert {r["id"] for r in rows} == {"truncated", "transparent", "misnamed", "blank"}
    # text-only records, multi-turn records, repeated ids and the record without an id are all kept
    written = json.loads((clean / "train.json").read_text())
    assert any("image" not in r for r in written) and any("id" not in r for r in written)
    again = revalidate(clean, root / "images", tmp_path / "again")
    assert not [f for f in again if f["severity"] == "error"]


def test_a_clean_dataset_is_written_whole(clean_dataset, tmp_path):
    clean = tmp_path / "sound"   # the fixture's own folder is tmp_path / "clean"
    assert run("validate", clean_dataset, "--out", tmp_path / "run", "--write-clean", clean).exit_code == 0
    assert left_out(clean) == []
    for split in ("train", "val"):
        assert json.loads((clean / f"{split}.json").read_text()) == \
            json.loads((clean_dataset / f"{split}.json").read_text())


@pytest.mark.parametrize("where", ["root", "images", "inside images", "a file", "train file's folder"])
def test_write_clean_refuses_to_touch_the_input(clean_dataset, tmp_path, where):
    (tmp_path / "a_file").write_text("x")
    split_dir = tmp_path / "splits"
    split_dir.mkdir()
    (split_dir / "train.json").write_bytes((clean_dataset / "train.json").read_bytes())
    target, extra = {
        "root": (clean_dataset, []),
        "images": (clean_dataset / "images", []),
        "inside images": (clean_dataset / "images" / "clean", []),
        "a file": (tmp_path / "a_file", []),
        "train file's folder": (split_dir, ["--train", split_dir / "train.json"]),
    }[where]
    before = fingerprint(clean_dataset)
    for command in ("validate", "dryrun"):
        result = run(command, clean_dataset, *extra, "--out", tmp_path / "run", "--write-clean", target)
        assert result.exit_code == 2, result.output
        assert "--write-clean" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "run").exists()   # refused before any work
    assert fingerprint(clean_dataset) == before
    assert (split_dir / "train.json").read_bytes() == (clean_dataset / "train.json").read_bytes()
